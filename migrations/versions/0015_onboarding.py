"""cases.intake_reference: a shelter's own pseudonymous file number for a resident brought in by bulk import,
so that uploading the same file again finds the residents it brought in already

Revision ID: 0015_onboarding
Revises: 0013_field_ready
Create Date: 2026-12-03 19:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015_onboarding'
down_revision = '0013_field_ready'
branch_labels = None
depends_on = None


def upgrade():
    # A unique index rather than a constraint: both SQLite and PostgreSQL add and drop it in place, where a batch
    # copy of `cases` would be refused by the foreign keys of the stays and requests pointing at it.
    op.add_column('cases', sa.Column('intake_reference', sa.String(length=60), nullable=True))
    op.create_index(op.f('ix_cases_intake_reference'), 'cases', ['intake_reference'], unique=True)


def downgrade():
    op.drop_index(op.f('ix_cases_intake_reference'), table_name='cases')
    op.drop_column('cases', 'intake_reference')
