"""why shelters stand empty: each stored exclusion reason keeps its values beside its code

Revision ID: 0012_why_empty
Revises: 0010_location_secrecy
Create Date: 2026-12-03 19:10:00.000000

Requests stored before this revision hold each exclusion's English messages and codes, not the values the
messages quote. The values are read back from those messages once, here (the engine's wording of that time is
fixed), so pages and the funnel word and count old rows as they do new ones. A message this does not recognise
keeps empty values: it is still counted by its code.
"""
import json
import re

import sqlalchemy as sa
from alembic import op

import database  # noqa: F401  (our column types)

# revision identifiers, used by Alembic.
revision = '0012_why_empty'
down_revision = '0010_location_secrecy'
branch_labels = None
depends_on = None

requests_t = sa.table('placement_requests', sa.column('id', sa.Integer), sa.column('excluded', database.JSONType))

_SERVICES = {"no psychological care": "psychological", "no medical care": "medical", "no legal aid": "legal",
             "no interpretation": "interpretation", "no vocational training": "vocational",
             "no disability access": "disability_access"}
_PEOPLE = {"does not take women": ("female", False), "does not take men": ("male", False),
           "does not take girls": ("female", True), "does not take boys": ("male", True)}


def values_of(code, message):
    """The values the engine of 0010 quoted in `message` for a reason of `code` ({} when not recognised)."""
    if code == "status":
        return {"status": message}
    if code == "no_free_beds":
        found = re.fullmatch(r"not enough free beds: (\d+) free, (\d+) needed", message)
        if found:
            return {"free": int(found[1]), "needed": int(found[2])}
        found = re.fullmatch(r"no free bed: (\d+) of (\d+) taken", message)
        if found:
            return {"free": 0, "taken": int(found[1]), "usable": int(found[2])}
        return {"free": 0} if message == "no free bed: no usable beds" else {}
    if code == "sex" and message in _PEOPLE:
        sex, minor = _PEOPLE[message]
        return {"sex": sex, "minor": minor}
    if code == "age":
        return {"group": "minors" if message.endswith("minors") else "adults"}
    if code == "children":
        found = re.fullmatch(r"(?:no beds|only (\d+) beds?) for accompanying children, (\d+) needed", message)
        if found:
            return {"capacity": int(found[1] or 0), "needed": int(found[2])}
        return {}
    if code == "service":
        if message in _SERVICES:
            return {"service": _SERVICES[message]}
        found = re.fullmatch(r"no ([\w ]+) service", message)
        return {"service": found[1].replace(" ", "_")} if found else {}
    if code == "security":
        found = re.fullmatch(r"security (\w+), high risk needs high", message)
        return {"level": found[1], "needed": "high"} if found else {}
    return {}


def upgrade():
    conn = op.get_bind()
    rows = conn.execute(sa.select(requests_t.c.id, requests_t.c.excluded)).all()
    for request_id, excluded in rows:
        if isinstance(excluded, str):
            excluded = json.loads(excluded)
        if not excluded or all("values" in e for e in excluded):
            continue
        for exclusion in excluded:
            if "values" not in exclusion:
                exclusion["values"] = [values_of(code, message) for code, message in
                                       zip(exclusion.get("codes", []), exclusion.get("reasons", []))]
        conn.execute(requests_t.update().where(requests_t.c.id == request_id).values(excluded=excluded))


def downgrade():
    conn = op.get_bind()
    for request_id, excluded in conn.execute(sa.select(requests_t.c.id, requests_t.c.excluded)).all():
        if isinstance(excluded, str):
            excluded = json.loads(excluded)
        if excluded and any("values" in e for e in excluded):
            conn.execute(requests_t.update().where(requests_t.c.id == request_id)
                         .values(excluded=[{k: v for k, v in e.items() if k != "values"} for e in excluded]))
