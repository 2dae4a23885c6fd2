"""staff users

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 01:33:49.337962
"""

from alembic import op
import sqlalchemy as sa
import hub.domain.common.models


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    
    op.create_table('staff_users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('full_name', sa.String(length=120), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('counter', sa.String(length=32), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_login_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_users')),
    sa.UniqueConstraint('username', name=op.f('uq_staff_users_username'))
    )
    


def downgrade() -> None:
    
    op.drop_table('staff_users')
    
