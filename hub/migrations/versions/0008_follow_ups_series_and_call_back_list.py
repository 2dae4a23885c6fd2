"""follow-up series and call-back list

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 02:17:13.687214
"""

from alembic import op
import sqlalchemy as sa
import hub.domain.common.models


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('follow_up_series',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('doctor_id', sa.Integer(), nullable=False),
    sa.Column('service', sa.String(length=32), nullable=False),
    sa.Column('origin_visit_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('reason', sa.String(length=300), nullable=True),
    sa.Column('planned', sa.Integer(), nullable=False),
    sa.Column('interval_days', sa.Integer(), nullable=True),
    sa.Column('mode', sa.String(length=8), nullable=False),
    sa.Column('preferred_time', sa.Time(), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('ordered_by', sa.String(length=64), nullable=False),
    sa.Column('ordered_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['doctor_id'], ['doctors.id'], name=op.f('fk_follow_up_series_doctor_id_doctors')),
    sa.ForeignKeyConstraint(['origin_visit_id'], ['visits.id'], name=op.f('fk_follow_up_series_origin_visit_id_visits')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_follow_up_series_patient_id_patients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_follow_up_series'))
    )
    with op.batch_alter_table('follow_up_series', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_follow_up_series_ordered_at'), ['ordered_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_follow_up_series_origin_visit_id'), ['origin_visit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_follow_up_series_patient_id'), ['patient_id'], unique=False)

    op.create_table('follow_up_callbacks',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('appointment_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('show_from', sa.Date(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('resolution', sa.String(length=12), nullable=True),
    sa.Column('resolved_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolved_by', sa.String(length=64), nullable=True),
    sa.Column('rebooked_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['appointment_id'], ['appointments.id'], name=op.f('fk_follow_up_callbacks_appointment_id_appointments')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_follow_up_callbacks_patient_id_patients')),
    sa.ForeignKeyConstraint(['rebooked_id'], ['appointments.id'], name=op.f('fk_follow_up_callbacks_rebooked_id_appointments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_follow_up_callbacks')),
    sa.UniqueConstraint('appointment_id', name=op.f('uq_follow_up_callbacks_appointment_id'))
    )
    with op.batch_alter_table('follow_up_callbacks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_follow_up_callbacks_patient_id'), ['patient_id'], unique=False)
        batch_op.create_index('ix_follow_up_callbacks_state_show', ['state', 'show_from'], unique=False)

    op.create_table('follow_up_items',
    sa.Column('appointment_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('series_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('replaces_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('slot_set_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('moves', sa.Integer(), nullable=False),
    sa.Column('patient_confirmed_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['appointment_id'], ['appointments.id'], name=op.f('fk_follow_up_items_appointment_id_appointments')),
    sa.ForeignKeyConstraint(['replaces_id'], ['appointments.id'], name=op.f('fk_follow_up_items_replaces_id_appointments')),
    sa.ForeignKeyConstraint(['series_id'], ['follow_up_series.id'], name=op.f('fk_follow_up_items_series_id_follow_up_series')),
    sa.PrimaryKeyConstraint('appointment_id', name=op.f('pk_follow_up_items'))
    )
    with op.batch_alter_table('follow_up_items', schema=None) as batch_op:
        batch_op.create_index('ix_follow_up_items_series_seq', ['series_id', 'seq'], unique=False)

    op.create_table('follow_up_calls',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('callback_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('outcome', sa.String(length=12), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.Column('call_back_on', sa.Date(), nullable=True),
    sa.Column('appointment_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['appointment_id'], ['appointments.id'], name=op.f('fk_follow_up_calls_appointment_id_appointments')),
    sa.ForeignKeyConstraint(['callback_id'], ['follow_up_callbacks.id'], name=op.f('fk_follow_up_calls_callback_id_follow_up_callbacks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_follow_up_calls'))
    )
    with op.batch_alter_table('follow_up_calls', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_follow_up_calls_callback_id'), ['callback_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('follow_up_calls', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_follow_up_calls_callback_id'))

    op.drop_table('follow_up_calls')
    with op.batch_alter_table('follow_up_items', schema=None) as batch_op:
        batch_op.drop_index('ix_follow_up_items_series_seq')

    op.drop_table('follow_up_items')
    with op.batch_alter_table('follow_up_callbacks', schema=None) as batch_op:
        batch_op.drop_index('ix_follow_up_callbacks_state_show')
        batch_op.drop_index(batch_op.f('ix_follow_up_callbacks_patient_id'))

    op.drop_table('follow_up_callbacks')
    with op.batch_alter_table('follow_up_series', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_follow_up_series_patient_id'))
        batch_op.drop_index(batch_op.f('ix_follow_up_series_origin_visit_id'))
        batch_op.drop_index(batch_op.f('ix_follow_up_series_ordered_at'))

    op.drop_table('follow_up_series')
