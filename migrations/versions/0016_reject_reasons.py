"""placement_events.reason: a shelter's rejection reason as a code (REJECT_REASONS), its free text staying in
`note`; rejections recorded before keep their text as the note under the code `other`, and a rejected request's
`reason` becomes that code too.

Revision ID: 0016_reject_reasons
Revises: 0015_onboarding
Create Date: 2026-12-03 20:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016_reject_reasons'
down_revision = '0015_onboarding'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('placement_events', sa.Column('reason', sa.String(length=40), nullable=True))
    op.execute("UPDATE placement_events SET reason = 'other' WHERE to_status = 'rejected'")
    op.execute("UPDATE placement_requests SET reason = 'other' WHERE reason = 'rejected_by_shelter'")


def downgrade():
    # The free text stayed in `note`; only the codes go (a rejected request's reason reads as before).
    op.execute("UPDATE placement_requests SET reason = 'rejected_by_shelter' WHERE status = 'rejected'")
    op.drop_column('placement_events', 'reason')
