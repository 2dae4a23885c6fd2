"""insurance claims: the prescription lines left out of XML2, with why (not in the catalogue, not covered)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('insurance_claims', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lines_left_out', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('insurance_claims', schema=None) as batch_op:
        batch_op.drop_column('lines_left_out')
