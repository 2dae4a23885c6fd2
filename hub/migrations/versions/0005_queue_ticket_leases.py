"""ticket leases

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 01:54:17.519779
"""

from alembic import op
import sqlalchemy as sa
import hub.domain.common.models


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    
    op.create_table('ticket_leases',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('first_seq', sa.Integer(), nullable=False),
    sa.Column('last_seq', sa.Integer(), nullable=False),
    sa.Column('holder', sa.String(length=64), nullable=False),
    sa.Column('created_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_ticket_leases_service_id_services')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ticket_leases'))
    )
    with op.batch_alter_table('ticket_leases', schema=None) as batch_op:
        batch_op.create_index('ix_ticket_leases_service_day', ['service_id', 'day'], unique=False)



def downgrade() -> None:
    
    with op.batch_alter_table('ticket_leases', schema=None) as batch_op:
        batch_op.drop_index('ix_ticket_leases_service_day')

    op.drop_table('ticket_leases')
