"""staff messages: the staffing advice for admins who opt in (in-app inbox, Zalo)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

import hub.domain.common.models

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'staff_message_preferences',
        sa.Column('staff_id', sa.Integer(), nullable=False),
        sa.Column('advice', sa.Boolean(), nullable=False),
        sa.Column('zalo_phone', sa.String(length=20), nullable=True),
        sa.Column('updated_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_by', sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(['staff_id'], ['staff_users.id'],
                                name=op.f('fk_staff_message_preferences_staff_id_staff_users')),
        sa.PrimaryKeyConstraint('staff_id', name=op.f('pk_staff_message_preferences')),
    )
    op.create_table(
        'staff_messages',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('staff_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=24), nullable=False),
        sa.Column('key', sa.String(length=120), nullable=False),
        sa.Column('title', sa.String(length=300), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('created_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('read_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('cleared_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['staff_id'], ['staff_users.id'], name=op.f('fk_staff_messages_staff_id_staff_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_messages')),
    )
    with op.batch_alter_table('staff_messages', schema=None) as batch_op:
        batch_op.create_index('ix_staff_messages_staff_key', ['staff_id', 'key'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('staff_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_staff_messages_staff_key')
    op.drop_table('staff_messages')
    op.drop_table('staff_message_preferences')
