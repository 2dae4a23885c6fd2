"""BHYT: coverage periods per patient, each visit's insurance decision, claims

Revision ID: 0018
Revises: 0014
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

import hub.domain.common.models

revision = '0018'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'insurance_coverages',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('patient_id', sa.Integer(), nullable=False),
        sa.Column('card_code', sa.String(length=15), nullable=True),
        sa.Column('national_id', sa.String(length=12), nullable=True),
        sa.Column('benefit_level', sa.Integer(), nullable=True),
        sa.Column('valid_from', sa.Date(), nullable=False),
        sa.Column('valid_to', sa.Date(), nullable=False),
        sa.Column('facility_code', sa.String(length=5), nullable=False),
        sa.Column('five_years_from', sa.Date(), nullable=True),
        sa.Column('source', sa.String(length=16), nullable=False),
        sa.Column('created_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('created_by', sa.String(length=64), nullable=False),
        sa.Column('superseded_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['patient_id'], ['patients.id'],
                                name=op.f('fk_insurance_coverages_patient_id_patients')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_insurance_coverages')),
    )
    with op.batch_alter_table('insurance_coverages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_insurance_coverages_patient_id'), ['patient_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_insurance_coverages_card_code'), ['card_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_insurance_coverages_national_id'), ['national_id'], unique=False)
    op.create_table(
        'visit_coverages',
        sa.Column('visit_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('card_code', sa.String(length=15), nullable=True),
        sa.Column('national_id', sa.String(length=12), nullable=True),
        sa.Column('benefit_level', sa.Integer(), nullable=True),
        sa.Column('route_reason', sa.String(length=20), nullable=True),
        sa.Column('reason', sa.String(length=32), nullable=True),
        sa.Column('check', sa.JSON(), nullable=True),
        sa.Column('checked_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('override_by', sa.String(length=64), nullable=True),
        sa.Column('override_reason', sa.String(length=200), nullable=True),
        sa.Column('updated_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['visit_id'], ['visits.id'], name=op.f('fk_visit_coverages_visit_id_visits')),
        sa.PrimaryKeyConstraint('visit_id', name=op.f('pk_visit_coverages')),
    )
    with op.batch_alter_table('visit_coverages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_visit_coverages_status'), ['status'], unique=False)
    op.create_table(
        'insurance_claims',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('visit_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('state', sa.String(length=10), nullable=False),
        sa.Column('reason', sa.String(length=300), nullable=True),
        sa.Column('file_name', sa.String(length=200), nullable=True),
        sa.Column('insurance_pays', sa.BigInteger(), nullable=False),
        sa.Column('exports', sa.Integer(), nullable=False),
        sa.Column('updated_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_by', sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(['visit_id'], ['visits.id'], name=op.f('fk_insurance_claims_visit_id_visits')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_insurance_claims')),
        sa.UniqueConstraint('visit_id', name=op.f('uq_insurance_claims_visit_id')),
    )
    with op.batch_alter_table('insurance_claims', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_insurance_claims_day'), ['day'], unique=False)
        batch_op.create_index(batch_op.f('ix_insurance_claims_state'), ['state'], unique=False)


def downgrade() -> None:
    op.drop_table('insurance_claims')
    op.drop_table('visit_coverages')
    op.drop_table('insurance_coverages')
