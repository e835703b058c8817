"""cases.intake_reference: a shelter's own pseudonymous file number for a resident brought in by bulk import,
so that uploading the same file again finds the residents it brought in already

Revision ID: 0015_onboarding
Revises: 0010_location_secrecy
Create Date: 2026-12-03 19:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015_onboarding'
down_revision = '0010_location_secrecy'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('intake_reference', sa.String(length=60), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_cases_intake_reference'), ['intake_reference'])


def downgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_cases_intake_reference'), type_='unique')
        batch_op.drop_column('intake_reference')
