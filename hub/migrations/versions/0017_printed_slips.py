"""slips saved before printing (order slip, return to the doctor)

Revision ID: 0017
Revises: 0014
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

import hub.domain.common.models

revision = '0017'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'printed_slips',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('visit_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('counter', sa.String(length=32), nullable=True),
        sa.Column('printer', sa.String(length=64), nullable=True),
        sa.Column('content', sa.JSON(), nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('error', sa.String(length=300), nullable=True),
        sa.Column('created_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('printed_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['visit_id'], ['visits.id'], name=op.f('fk_printed_slips_visit_id_visits')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_printed_slips')),
    )
    with op.batch_alter_table('printed_slips', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_printed_slips_visit_id'), ['visit_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('printed_slips', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_printed_slips_visit_id'))
    op.drop_table('printed_slips')
