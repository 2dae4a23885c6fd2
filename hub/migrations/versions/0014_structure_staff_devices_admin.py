"""clinic structure edited on the admin pages; staff password reset and disabling; retired devices

Revision ID: 0014
Revises: 0010
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

import hub.domain.common.models

revision = '0014'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'clinic_structure',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('document', sa.JSON(), nullable=False),
        sa.Column('updated_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_by', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_clinic_structure')),
    )
    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('must_change_password', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('password_changed_at', hub.domain.common.models.UTCDateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('disabled_at', hub.domain.common.models.UTCDateTime(timezone=True),
                                      nullable=True))
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retired_at', hub.domain.common.models.UTCDateTime(timezone=True),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.drop_column('retired_at')
    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.drop_column('disabled_at')
        batch_op.drop_column('password_changed_at')
        batch_op.drop_column('must_change_password')
    op.drop_table('clinic_structure')
