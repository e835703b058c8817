"""field-ready pages: a form posted after its session ran out is kept with that session until the user signs in

Revision ID: 0013_field_ready
Revises: 0012_why_empty
Create Date: 2026-12-03 19:30:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0013_field_ready'
down_revision = '0012_why_empty'
branch_labels = None
depends_on = None


def upgrade():
    # Encrypted by the model (database.EncryptedText), stored as text. A plain ADD COLUMN (nullable), not a batch copy of a table other rows reference.
    op.add_column('user_sessions', sa.Column('kept_form', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.drop_column('kept_form')
