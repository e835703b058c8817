"""location secrecy: a shelter's telephone and opening day, and the case each bed hold is for

Revision ID: 0010_location_secrecy
Revises: 0009_user_sessions
Create Date: 2026-12-03 16:00:00.000000

"""
from datetime import UTC, datetime, time

import sqlalchemy as sa
from alembic import op

import database  # noqa: F401  (our column types)

# revision identifiers, used by Alembic.
revision = '0010_location_secrecy'
down_revision = '0009_user_sessions'
branch_labels = None
depends_on = None


shelters_t = sa.table('shelters', sa.column('id', sa.Integer), sa.column('created_at', database.UTCDateTime()),
                      sa.column('opened_on', sa.Date))
stays_t = sa.table('stays', sa.column('shelter_id', sa.Integer), sa.column('admitted_at', database.UTCDateTime()))
changes_t = sa.table('capacity_changes', sa.column('id', sa.Integer), sa.column('shelter_id', sa.Integer),
                     sa.column('effective_at', database.UTCDateTime()))


def upgrade():
    with op.batch_alter_table('shelters', schema=None) as batch_op:
        batch_op.add_column(sa.Column('telephone', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('opened_on', sa.Date(), nullable=True))
    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('case_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_reservations_case_id'), ['case_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_reservations_case_id_cases'), 'cases', ['case_id'], ['id'])

    conn = op.get_bind()
    # A shelter opened when it was registered, or earlier when the records hold a stay from before that day.
    # Its capacity history then starts on that day, so the backdated stays count against beds that existed.
    first_admissions = dict(conn.execute(
        sa.select(stays_t.c.shelter_id, sa.func.min(stays_t.c.admitted_at)).group_by(stays_t.c.shelter_id)).all())
    for shelter_id, created_at in conn.execute(sa.select(shelters_t.c.id, shelters_t.c.created_at)).all():
        opened = created_at.date()
        if shelter_id in first_admissions:
            opened = min(opened, first_admissions[shelter_id].date())
        conn.execute(shelters_t.update().where(shelters_t.c.id == shelter_id).values(opened_on=opened))
        first = conn.execute(sa.select(changes_t.c.id, changes_t.c.effective_at)
                             .where(changes_t.c.shelter_id == shelter_id)
                             .order_by(changes_t.c.effective_at, changes_t.c.id).limit(1)).first()
        if first is not None and first.effective_at.date() > opened:
            conn.execute(changes_t.update().where(changes_t.c.id == first.id)
                         .values(effective_at=datetime.combine(opened, time(), UTC)))
    with op.batch_alter_table('shelters', schema=None) as batch_op:
        batch_op.alter_column('opened_on', existing_type=sa.Date(), nullable=False)

    # The case of each hold made through a placement request.
    conn.execute(sa.text(
        "UPDATE reservations SET case_id = (SELECT pr.case_id FROM placement_requests pr "
        "WHERE pr.reservation_id = reservations.id) "
        "WHERE id IN (SELECT reservation_id FROM placement_requests WHERE reservation_id IS NOT NULL)"))
    # Timeline notes named the shelter of a direct admission in their text; the shelter is the event's own
    # field, which pages show only to those who may know it.
    for event_id, note in conn.execute(sa.text(
            "SELECT id, note FROM placement_events WHERE note LIKE 'admitted directly to %'")).all():
        conn.execute(sa.text("UPDATE placement_events SET note = 'admitted directly', shelter_code = :code "
                             "WHERE id = :id"), {"code": note.removeprefix("admitted directly to ")[:16],
                                                 "id": event_id})


def downgrade():
    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_reservations_case_id_cases'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_reservations_case_id'))
        batch_op.drop_column('case_id')
    with op.batch_alter_table('shelters', schema=None) as batch_op:
        batch_op.drop_column('opened_on')
        batch_op.drop_column('telephone')
