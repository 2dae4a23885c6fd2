"""ticket status_since: when the current status began

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

import hub.domain.common.models

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status_since', hub.domain.common.models.UTCDateTime(timezone=True), nullable=True))
    # Existing tickets: the current period began at their latest transition.
    op.execute("UPDATE tickets SET status_since = (SELECT max(tt.at) FROM ticket_transitions tt "
               "WHERE tt.ticket_id = tickets.id)")


def downgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_column('status_since')
