"""notifications: users' e-mail addresses and time zones, organisations' webhooks, and the outbox

Revision ID: 0011_notifications
Revises: 0010_location_secrecy
Create Date: 2026-12-03 19:30:00.000000

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import database  # noqa: F401  (our column types)

# revision identifiers, used by Alembic.
revision = '0011_notifications'
down_revision = '0010_location_secrecy'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ALTER TABLE (nullable columns), not a batch copy of tables other tables reference.
    op.add_column('users', sa.Column('email', sa.String(length=254), nullable=True))
    op.add_column('users', sa.Column('timezone', sa.String(length=64), nullable=True))
    op.add_column('organisations', sa.Column('webhook_url', sa.String(length=500), nullable=True))
    op.add_column('organisations', sa.Column('webhook_secret', sa.Text(), nullable=True))
    op.create_table('notifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('event', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=True),
    sa.Column('facts', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('once_key', sa.String(length=120), nullable=True),
    sa.Column('created_at', database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('due_at', database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.String(length=300), nullable=True),
    sa.Column('claimed_by', sa.String(length=64), nullable=True),
    sa.Column('claimed_until', database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('sent_at', database.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['request_id'], ['placement_requests.id'],
                            name=op.f('fk_notifications_request_id_placement_requests')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notifications_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications')),
    sa.UniqueConstraint('once_key', name=op.f('uq_notifications_once_key'))
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index('ix_notifications_pending', ['sent_at', 'due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_notifications_request_id'), ['request_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_notifications_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notifications_user_id'))
        batch_op.drop_index(batch_op.f('ix_notifications_request_id'))
        batch_op.drop_index('ix_notifications_pending')
    op.drop_table('notifications')
    op.drop_column('organisations', 'webhook_secret')
    op.drop_column('organisations', 'webhook_url')
    op.drop_column('users', 'timezone')
    op.drop_column('users', 'email')
