"""report rollups: one stored figure set per closed day and group; indexes for the report queries

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22 02:20:19.990025
"""

from alembic import op
import sqlalchemy as sa
import hub.domain.common.models


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('report_rollups',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('dim', sa.String(length=8), nullable=False),
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('figures', sa.JSON(), nullable=False),
    sa.Column('computed_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('day', 'dim', 'key', name=op.f('pk_report_rollups'))
    )
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.create_index('ix_appointments_kind_slot', ['kind', 'slot_start'], unique=False)

    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.create_index('ix_tickets_day', ['day'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_tickets_day')

    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.drop_index('ix_appointments_kind_slot')

    op.drop_table('report_rollups')
