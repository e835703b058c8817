"""initial schema: accounts, shelters, cases, stays, audit log

Revision ID: 0001_initial
Revises: 
Create Date: 2026-11-29 02:06:30.604171

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import database

# revision identifiers, used by Alembic.
revision = '0001_initial'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
  
    op.create_table('audit_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('object_type', sa.String(length=32), nullable=False),
    sa.Column('object_id', sa.String(length=64), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('ip', sa.String(length=64), nullable=True),
    sa.Column('detail', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events')),
    sa.UniqueConstraint('hash', name=op.f('uq_audit_events_hash'))
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_events_actor_id'), ['actor_id'], unique=False)
        batch_op.create_index('ix_audit_events_object', ['object_type', 'object_id'], unique=False)

    op.create_table('organisations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('mou_in_force', sa.Boolean(), nullable=False),
    sa.Column('mou_since', sa.Date(), nullable=True),
    sa.Column('created_at', database.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_organisations')),
    sa.UniqueConstraint('code', name=op.f('uq_organisations_code'))
    )
    op.create_table('shelters',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('operator_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('region', sa.String(length=64), nullable=False),
    sa.Column('municipality', sa.String(length=64), nullable=True),
    sa.Column('lat', sa.Double(), nullable=True),
    sa.Column('lon', sa.Double(), nullable=True),
    sa.Column('address', sa.Text(), nullable=True),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('out_of_service', sa.Integer(), nullable=False),
    sa.Column('sexes', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('ages', sa.String(length=16), nullable=False),
    sa.Column('children_capacity', sa.Integer(), nullable=False),
    sa.Column('services', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('languages', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('security', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('last_headcount_at', database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint('capacity >= 0', name=op.f('ck_shelters_capacity_non_negative')),
    sa.CheckConstraint('children_capacity >= 0', name=op.f('ck_shelters_children_capacity_non_negative')),
    sa.CheckConstraint('out_of_service >= 0 AND out_of_service <= capacity', name=op.f('ck_shelters_out_of_service_in_range')),
    sa.ForeignKeyConstraint(['operator_id'], ['organisations.id'], name=op.f('fk_shelters_operator_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shelters')),
    sa.UniqueConstraint('code', name=op.f('uq_shelters_code'))
    )
    with op.batch_alter_table('shelters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shelters_region'), ['region'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=True),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('session_version', sa.Integer(), nullable=False),
    sa.Column('created_at', database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_login_at', database.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_users_organisation_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('username', name=op.f('uq_users_username'))
    )
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=12), nullable=False),
    sa.Column('created_at', database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', database.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_tokens_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_user_id'), ['user_id'], unique=False)

    op.create_table('capacity_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('shelter_id', sa.Integer(), nullable=False),
    sa.Column('effective_at', database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('out_of_service', sa.Integer(), nullable=False),
    sa.Column('changed_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['changed_by_id'], ['users.id'], name=op.f('fk_capacity_changes_changed_by_id_users')),
    sa.ForeignKeyConstraint(['shelter_id'], ['shelters.id'], name=op.f('fk_capacity_changes_shelter_id_shelters'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_capacity_changes'))
    )
    with op.batch_alter_table('capacity_changes', schema=None) as batch_op:
        batch_op.create_index('ix_capacity_changes_shelter_time', ['shelter_id', 'effective_at'], unique=False)

    op.create_table('cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('sex', sa.String(length=8), nullable=False),
    sa.Column('birth_year', sa.Integer(), nullable=False),
    sa.Column('nationality', sa.String(length=2), nullable=False),
    sa.Column('languages', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('exploitation', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('needs', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('children', sa.Integer(), nullable=False),
    sa.Column('risk', sa.String(length=8), nullable=False),
    sa.Column('trafficker_regions', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('region', sa.String(length=64), nullable=True),
    sa.Column('identified_on', sa.Date(), nullable=False),
    sa.Column('identified_by_org_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('resolution', sa.String(length=24), nullable=True),
    sa.Column('created_at', database.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('children >= 0', name=op.f('ck_cases_children_non_negative')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_cases_created_by_id_users')),
    sa.ForeignKeyConstraint(['identified_by_org_id'], ['organisations.id'], name=op.f('fk_cases_identified_by_org_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cases')),
    sa.UniqueConstraint('code', name=op.f('uq_cases_code'))
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cases_created_by_id'), ['created_by_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_identified_on'), ['identified_on'], unique=False)

    op.create_table('headcounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('shelter_id', sa.Integer(), nullable=False),
    sa.Column('at', database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reported', sa.Integer(), nullable=False),
    sa.Column('recorded', sa.Integer(), nullable=False),
    sa.Column('by_user_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['by_user_id'], ['users.id'], name=op.f('fk_headcounts_by_user_id_users')),
    sa.ForeignKeyConstraint(['shelter_id'], ['shelters.id'], name=op.f('fk_headcounts_shelter_id_shelters')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_headcounts'))
    )
    with op.batch_alter_table('headcounts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_headcounts_shelter_id'), ['shelter_id'], unique=False)

    op.create_table('reservations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('shelter_id', sa.Integer(), nullable=False),
    sa.Column('beds', sa.Integer(), nullable=False),
    sa.Column('created_at', database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('held_until', database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('released_at', database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('release_reason', sa.String(length=24), nullable=True),
    sa.CheckConstraint('beds >= 1', name=op.f('ck_reservations_beds_positive')),
    sa.ForeignKeyConstraint(['shelter_id'], ['shelters.id'], name=op.f('fk_reservations_shelter_id_shelters')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reservations'))
    )
    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.create_index('ix_reservations_live', ['shelter_id', 'released_at', 'held_until'], unique=False)

    op.create_table('shelter_managers',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('shelter_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['shelter_id'], ['shelters.id'], name=op.f('fk_shelter_managers_shelter_id_shelters'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_shelter_managers_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'shelter_id', name=op.f('pk_shelter_managers'))
    )
    op.create_table('stays',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('shelter_id', sa.Integer(), nullable=False),
    sa.Column('beds', sa.Integer(), nullable=False),
    sa.Column('admitted_at', database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('admitted_by_id', sa.Integer(), nullable=True),
    sa.Column('discharged_at', database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('discharged_by_id', sa.Integer(), nullable=True),
    sa.Column('discharge_reason', sa.String(length=24), nullable=True),
    sa.Column('discharge_note', sa.Text(), nullable=True),
    sa.CheckConstraint('beds >= 1', name=op.f('ck_stays_beds_positive')),
    sa.CheckConstraint('discharged_at IS NULL OR discharged_at >= admitted_at', name=op.f('ck_stays_discharge_after_admission')),
    sa.ForeignKeyConstraint(['admitted_by_id'], ['users.id'], name=op.f('fk_stays_admitted_by_id_users')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_stays_case_id_cases')),
    sa.ForeignKeyConstraint(['discharged_by_id'], ['users.id'], name=op.f('fk_stays_discharged_by_id_users')),
    sa.ForeignKeyConstraint(['shelter_id'], ['shelters.id'], name=op.f('fk_stays_shelter_id_shelters')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stays'))
    )
    with op.batch_alter_table('stays', schema=None) as batch_op:
        batch_op.create_index('ix_stays_shelter_open', ['shelter_id', 'discharged_at'], unique=False)
        batch_op.create_index('uq_stays_one_open_per_case', ['case_id'], unique=True, sqlite_where=sa.text('discharged_at IS NULL'), postgresql_where=sa.text('discharged_at IS NULL'))

    # ### end Alembic commands ###


def downgrade():
  
    with op.batch_alter_table('stays', schema=None) as batch_op:
        batch_op.drop_index('uq_stays_one_open_per_case', sqlite_where=sa.text('discharged_at IS NULL'), postgresql_where=sa.text('discharged_at IS NULL'))
        batch_op.drop_index('ix_stays_shelter_open')

    op.drop_table('stays')
    op.drop_table('shelter_managers')
    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.drop_index('ix_reservations_live')

    op.drop_table('reservations')
    with op.batch_alter_table('headcounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_headcounts_shelter_id'))

    op.drop_table('headcounts')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_identified_on'))
        batch_op.drop_index(batch_op.f('ix_cases_created_by_id'))

    op.drop_table('cases')
    with op.batch_alter_table('capacity_changes', schema=None) as batch_op:
        batch_op.drop_index('ix_capacity_changes_shelter_time')

    op.drop_table('capacity_changes')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_user_id'))

    op.drop_table('api_tokens')
    op.drop_table('users')
    with op.batch_alter_table('shelters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shelters_region'))

    op.drop_table('shelters')
    op.drop_table('organisations')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_object')
        batch_op.drop_index(batch_op.f('ix_audit_events_actor_id'))

    op.drop_table('audit_events')
    # ### end Alembic commands ###
