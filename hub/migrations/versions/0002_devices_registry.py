"""device registry

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 01:29:22.740065
"""

from alembic import op
import sqlalchemy as sa
import hub.domain.common.models


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    
    op.create_table('devices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('zone', sa.String(length=32), nullable=True),
    sa.Column('counter', sa.String(length=32), nullable=True),
    sa.Column('display', sa.String(length=32), nullable=True),
    sa.Column('secret_hash', sa.String(length=200), nullable=True),
    sa.Column('online', sa.Boolean(), nullable=False),
    sa.Column('status_since', hub.domain.common.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_seen', hub.domain.common.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('model', sa.String(length=64), nullable=True),
    sa.Column('firmware', sa.String(length=64), nullable=True),
    sa.Column('ip', sa.String(length=64), nullable=True),
    sa.Column('paper', sa.String(length=8), nullable=True),
    sa.Column('info', sa.JSON(), nullable=True),
    sa.Column('from_config', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_devices')),
    sa.UniqueConstraint('code', name=op.f('uq_devices_code'))
    )
    op.create_table('device_requests',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('req_id', sa.String(length=64), nullable=False),
    sa.Column('claimed_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('response', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_device_requests_device_id_devices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_device_requests')),
    sa.UniqueConstraint('device_id', 'req_id', name='uq_device_requests_device_req')
    )
    with op.batch_alter_table('device_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_device_requests_claimed_at'), ['claimed_at'], unique=False)

    


def downgrade() -> None:
    
    with op.batch_alter_table('device_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_device_requests_claimed_at'))

    op.drop_table('device_requests')
    op.drop_table('devices')
    
