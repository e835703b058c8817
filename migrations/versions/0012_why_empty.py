"""why shelters stand empty: exclusion values beside their codes, identifying units, the action plan

Revision ID: 0012_why_empty
Revises: 0011_notifications
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
down_revision = '0011_notifications'
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
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('identifying_unit', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('identification_method', sa.String(length=24), nullable=True))
    op.create_table(
        'actions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('title', sa.String(length=200), nullable=False),
        sa.Column('owner_org_id', sa.Integer(), nullable=False),
        sa.Column('due_on', sa.Date(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('created_at', database.UTCDateTime(), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('updated_at', database.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_actions_created_by_id_users')),
        sa.ForeignKeyConstraint(['owner_org_id'], ['organisations.id'],
                                name=op.f('fk_actions_owner_org_id_organisations')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_actions')),
    )
    op.create_index(op.f('ix_actions_owner_org_id'), 'actions', ['owner_org_id'], unique=False)
    op.create_table(
        'action_shelters',
        sa.Column('action_id', sa.Integer(), nullable=False),
        sa.Column('shelter_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['action_id'], ['actions.id'], name=op.f('fk_action_shelters_action_id_actions'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['shelter_id'], ['shelters.id'],
                                name=op.f('fk_action_shelters_shelter_id_shelters'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('action_id', 'shelter_id', name=op.f('pk_action_shelters')),
    )
    op.create_index(op.f('ix_action_shelters_shelter_id'), 'action_shelters', ['shelter_id'], unique=False)
    op.create_table(
        'action_alerts',
        sa.Column('action_id', sa.Integer(), nullable=False),
        sa.Column('alert_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['action_id'], ['actions.id'], name=op.f('fk_action_alerts_action_id_actions'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], name=op.f('fk_action_alerts_alert_id_alerts'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('action_id', 'alert_id', name=op.f('pk_action_alerts')),
    )
    op.create_index(op.f('ix_action_alerts_alert_id'), 'action_alerts', ['alert_id'], unique=False)

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
    op.drop_index(op.f('ix_action_alerts_alert_id'), table_name='action_alerts')
    op.drop_table('action_alerts')
    op.drop_index(op.f('ix_action_shelters_shelter_id'), table_name='action_shelters')
    op.drop_table('action_shelters')
    op.drop_index(op.f('ix_actions_owner_org_id'), table_name='actions')
    op.drop_table('actions')
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+ as well): a batch copy of `cases` would drop the table
    # that stays and requests point at, which SQLite's enforced foreign keys refuse once there is data.
    op.drop_column('cases', 'identification_method')
    op.drop_column('cases', 'identifying_unit')
    conn = op.get_bind()
    for request_id, excluded in conn.execute(sa.select(requests_t.c.id, requests_t.c.excluded)).all():
        if isinstance(excluded, str):
            excluded = json.loads(excluded)
        if excluded and any("values" in e for e in excluded):
            conn.execute(requests_t.update().where(requests_t.c.id == request_id)
                         .values(excluded=[{k: v for k, v in e.items() if k != "values"} for e in excluded]))
