"""placement requests and their timelines

Revision ID: 0003_placement
Revises: 0002_alerts
Create Date: 2026-11-29 02:43:47.381575

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy import Text  # noqa: F401  (JSONB columns render with it)

import database  # noqa: F401  (our column types)
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0003_placement'
down_revision = '0002_alerts'
branch_labels = None
depends_on = None


def upgrade():
  
    op.create_table('placement_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=False),
    sa.Column('urgency', sa.String(length=16), nullable=False),
    sa.Column('region', sa.String(length=64), nullable=True),
    sa.Column('exclude', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('shelter_id', sa.Integer(), nullable=True),
    sa.Column('reservation_id', sa.Integer(), nullable=True),
    sa.Column('stay_id', sa.Integer(), nullable=True),
    sa.Column('transfer_from_stay_id', sa.Integer(), nullable=True),
    sa.Column('suggestions', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('excluded', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('reason', sa.String(length=40), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', database.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_placement_requests_case_id_cases')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_placement_requests_requested_by_id_users')),
    sa.ForeignKeyConstraint(['reservation_id'], ['reservations.id'], name=op.f('fk_placement_requests_reservation_id_reservations')),
    sa.ForeignKeyConstraint(['shelter_id'], ['shelters.id'], name=op.f('fk_placement_requests_shelter_id_shelters')),
    sa.ForeignKeyConstraint(['stay_id'], ['stays.id'], name=op.f('fk_placement_requests_stay_id_stays')),
    sa.ForeignKeyConstraint(['transfer_from_stay_id'], ['stays.id'], name=op.f('fk_placement_requests_transfer_from_stay_id_stays')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_placement_requests'))
    )
    with op.batch_alter_table('placement_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_placement_requests_requested_by_id'), ['requested_by_id'], unique=False)
        batch_op.create_index('ix_placement_requests_shelter_status', ['shelter_id', 'status'], unique=False)
        batch_op.create_index('ix_placement_requests_status', ['status'], unique=False)
        batch_op.create_index('uq_placement_requests_one_active_per_case', ['case_id'], unique=True, sqlite_where=sa.text("status IN ('open', 'reserved', 'accepted', 'rejected', 'expired')"), postgresql_where=sa.text("status IN ('open', 'reserved', 'accepted', 'rejected', 'expired')"))

    op.create_table('placement_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('at', database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('from_status', sa.String(length=16), nullable=True),
    sa.Column('to_status', sa.String(length=16), nullable=False),
    sa.Column('shelter_code', sa.String(length=16), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_placement_events_actor_id_users')),
    sa.ForeignKeyConstraint(['request_id'], ['placement_requests.id'], name=op.f('fk_placement_events_request_id_placement_requests')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_placement_events'))
    )
    with op.batch_alter_table('placement_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_placement_events_request_id'), ['request_id'], unique=False)

    # ### end Alembic commands ###


def downgrade():
  
    with op.batch_alter_table('placement_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_placement_events_request_id'))

    op.drop_table('placement_events')
    with op.batch_alter_table('placement_requests', schema=None) as batch_op:
        batch_op.drop_index('uq_placement_requests_one_active_per_case', sqlite_where=sa.text("status IN ('open', 'reserved', 'accepted', 'rejected', 'expired')"), postgresql_where=sa.text("status IN ('open', 'reserved', 'accepted', 'rejected', 'expired')"))
        batch_op.drop_index('ix_placement_requests_status')
        batch_op.drop_index('ix_placement_requests_shelter_status')
        batch_op.drop_index(batch_op.f('ix_placement_requests_requested_by_id'))

    op.drop_table('placement_requests')
    # ### end Alembic commands ###
