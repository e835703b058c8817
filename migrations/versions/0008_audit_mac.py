"""audit log: keyed MACs (audit_events.key_id), contiguous ids given by the chain, no id sequence

Revision ID: 0008_audit_mac
Revises: 0007_figures_indexes
Create Date: 2026-11-29 07:00:00.000000

The existing chain of plain SHA-256 hashes is checked first (a broken one is refused, never
re-signed), then every event is renumbered 1, 2, 3, ... in its order (a PostgreSQL sequence left
gaps where transactions rolled back) and re-chained with HMAC-SHA256 under the newest audit key,
the one create_app bound (SAFEHAVEN_AUDIT_KEYS, else instance/audit_key), as the app does. The
append-only triggers are lifted around the rewrite and put back. The downgrade does the reverse:
it checks the keyed chain and re-chains it with plain hashes.
"""
import hashlib
import hmac
import json

from alembic import op
import sqlalchemy as sa

import database
from accounts.audit import GENESIS, audit_keys, event_mac
from accounts.models import APPEND_ONLY_DDL, DROP_APPEND_ONLY_DDL


# revision identifiers, used by Alembic.
revision = '0008_audit_mac'
down_revision = '0007_figures_indexes'
branch_labels = None
depends_on = None

BATCH = 5000


def _events_table(*extra):
    return sa.table(
        'audit_events',
        sa.column('id', sa.Integer()), sa.column('at', database.UTCDateTime(timezone=True)),
        sa.column('actor_id', sa.Integer()), sa.column('actor', sa.String()), sa.column('action', sa.String()),
        sa.column('object_type', sa.String()), sa.column('object_id', sa.String()),
        sa.column('outcome', sa.String()), sa.column('ip', sa.String()), sa.column('detail', database.JSONType),
        sa.column('prev_hash', sa.String()), sa.column('hash', sa.String()), *extra)


plain_events = _events_table()
keyed_events = _events_table(sa.column('key_id', sa.String()))


def _plain_hash(values, prev_hash):
    """The hash of revisions 0001-0007, kept here as it was: SHA-256 of the event without its id."""
    body = {name: values[name] for name in ("actor_id", "actor", "action", "object_type", "object_id", "outcome",
                                            "ip", "detail")}
    body["at"] = values["at"].isoformat()
    body["prev_hash"] = prev_hash
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _keyed_hash_is_right(values):
    key = audit_keys.get(values["key_id"])
    return key is not None and hmac.compare_digest(event_mac(key, values), values["hash"])


def _events(conn, table):
    """Every event in id order, in batches; safe while earlier events are renumbered downwards."""
    last_id = 0
    while rows := conn.execute(sa.select(table).where(table.c.id > last_id).order_by(table.c.id).limit(BATCH)).all():
        yield from (dict(row._mapping) for row in rows)
        last_id = rows[-1].id


def _check(conn, table, hash_is_right):
    prev = GENESIS
    for values in _events(conn, table):
        if values["prev_hash"] != prev or not hash_is_right(values):
            raise RuntimeError(f"the audit chain is broken at event {values['id']}: it is not converted, so "
                               "as not to sign what was tampered with; investigate before upgrading")
        prev = values["hash"]


def _rechain(conn, table, sign):
    """Renumber the events 1, 2, 3, ... in order and chain them again with `sign(values) -> values`.

    Each event's new id is at most its old one and earlier events are done first, so no two ids
    ever collide on the way."""
    rewritten = [name for name in ('id', 'prev_hash', 'hash', 'key_id') if name in table.c]
    statement = table.update().where(table.c.id == sa.bindparam('old_id')).values(
        {name: sa.bindparam(f'new_{name}') for name in rewritten})
    prev, batch = GENESIS, []
    for new_id, values in enumerate(_events(conn, table), start=1):
        signed = sign(values | {"id": new_id, "prev_hash": prev})
        prev = signed["hash"]
        batch.append({'old_id': values["id"], **{f'new_{name}': signed[name] for name in rewritten}})
        if len(batch) == BATCH:
            conn.execute(statement, batch)
            batch = []
    if batch:
        conn.execute(statement, batch)


def _sign_keyed(values):
    kid, key = audit_keys.signing
    values = values | {"key_id": kid}
    return values | {"hash": event_mac(key, values)}


def _sign_plain(values):
    return values | {"hash": _plain_hash(values, values["prev_hash"])}


def _guard(statements):
    for statement in statements.get(op.get_bind().dialect.name, []):
        op.execute(statement)


def upgrade():
    conn = op.get_bind()
    _check(conn, plain_events, lambda values: _plain_hash(values, values["prev_hash"]) == values["hash"])
    _guard(DROP_APPEND_ONLY_DDL)
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('key_id', sa.String(length=16), nullable=True))
    _rechain(conn, keyed_events, _sign_keyed)
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.alter_column('key_id', existing_type=sa.String(length=16), nullable=False)
    if conn.dialect.name == 'postgresql':
        # Ids come from the chain (previous + 1, under its lock); a sequence would leave gaps on rollback.
        sequence = conn.scalar(sa.text("SELECT pg_get_serial_sequence('audit_events', 'id')"))
        if sequence:
            op.execute("ALTER TABLE audit_events ALTER COLUMN id DROP DEFAULT")
            op.execute(f"DROP SEQUENCE {sequence}")
    _guard(APPEND_ONLY_DDL)


def downgrade():
    conn = op.get_bind()
    _check(conn, keyed_events, _keyed_hash_is_right)
    _guard(DROP_APPEND_ONLY_DDL)
    if conn.dialect.name == 'postgresql':
        op.execute("CREATE SEQUENCE audit_events_id_seq OWNED BY audit_events.id")
        op.execute("SELECT setval('audit_events_id_seq', COALESCE(MAX(id), 0) + 1, false) FROM audit_events")
        op.execute("ALTER TABLE audit_events ALTER COLUMN id SET DEFAULT nextval('audit_events_id_seq')")
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_column('key_id')
    _rechain(conn, plain_events, _sign_plain)
    _guard(APPEND_ONLY_DDL)
