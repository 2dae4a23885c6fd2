"""structured prescription lines, weight and height on the examination record

Revision ID: 0020
Revises: 0017
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = '0020'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('exam_records', schema=None) as batch_op:
        # Existing records have no lines: an empty list, so readers never meet NULL.
        batch_op.add_column(sa.Column('prescription_lines', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('weight_kg', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('height_cm', sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('exam_records', schema=None) as batch_op:
        batch_op.drop_column('height_cm')
        batch_op.drop_column('weight_kg')
        batch_op.drop_column('prescription_lines')
