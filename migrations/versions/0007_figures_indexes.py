"""a covering index for the shared figures (occupancy, utilisation), replacing ix_stays_discharged_at

Revision ID: 0007_figures_indexes
Revises: 0006_locale_idempotency
Create Date: 2026-11-29 06:00:00.000000

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0007_figures_indexes'
down_revision = '0006_locale_idempotency'
branch_labels = None
depends_on = None


def upgrade():
    # shelters.figures reads open stays and stays discharged since a window began from this index alone.
    with op.batch_alter_table('stays', schema=None) as batch_op:
        batch_op.create_index('ix_stays_figures', ['discharged_at', 'shelter_id', 'beds', 'admitted_at'],
                              unique=False)
        # Its leading column: the new index serves every scan the old one did.
        batch_op.drop_index('ix_stays_discharged_at')


def downgrade():
    with op.batch_alter_table('stays', schema=None) as batch_op:
        batch_op.create_index('ix_stays_discharged_at', ['discharged_at'], unique=False)
        batch_op.drop_index('ix_stays_figures')
