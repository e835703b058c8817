"""page sessions kept on the server (user_sessions), replacing users.session_version

Revision ID: 0009_user_sessions
Revises: 0008_audit_mac
Create Date: 2026-12-01 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import database  # noqa: F401  (our column types)


# revision identifiers, used by Alembic.
revision = '0009_user_sessions'
down_revision = '0008_audit_mac'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('user_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('end_reason', sa.String(length=16), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_sessions_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_sessions')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_user_sessions_token_hash'))
    )
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_sessions_user_id'), ['user_id'], unique=False)

    # Sessions now end on the server (user_sessions); the per-user counter they were signed with goes, and
    # every cookie made before this release is refused: everyone signs in once more. A plain ALTER TABLE
    # (SQLite 3.35+), not a batch copy of `users`, whose rows other tables reference.
    op.drop_column('users', 'session_version')


def downgrade():
    op.add_column('users', sa.Column('session_version', sa.Integer(), nullable=False, server_default='1'))
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_sessions_user_id'))

    op.drop_table('user_sessions')
