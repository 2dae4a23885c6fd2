"""portal one-time sign-in codes (hashed)

Revision ID: 0016
Revises: 0014
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

import hub.domain.common.models

revision = '0016'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'portal_codes',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('patient_id', sa.Integer(), nullable=False),
        sa.Column('purpose', sa.String(length=16), nullable=False),
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.Column('client', sa.String(length=40), nullable=False),
        sa.Column('sent_to', sa.String(length=120), nullable=False),
        sa.Column('created_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('expires_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('used_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_portal_codes_patient_id_patients')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_codes')),
    )
    op.create_index('ix_portal_codes_patient_created', 'portal_codes', ['patient_id', 'created_at'])
    op.create_index('ix_portal_codes_client_created', 'portal_codes', ['client', 'created_at'])


def downgrade() -> None:
    op.drop_index('ix_portal_codes_client_created', table_name='portal_codes')
    op.drop_index('ix_portal_codes_patient_created', table_name='portal_codes')
    op.drop_table('portal_codes')
