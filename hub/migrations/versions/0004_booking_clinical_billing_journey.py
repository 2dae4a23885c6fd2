"""outpatient journey

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 01:52:05.515070
"""

from alembic import op
import sqlalchemy as sa
import hub.domain.common.models


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    
    op.create_table('doctors',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('service', sa.String(length=32), nullable=False),
    sa.Column('room', sa.String(length=32), nullable=True),
    sa.Column('username', sa.String(length=64), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_doctors')),
    sa.UniqueConstraint('code', name=op.f('uq_doctors_code'))
    )
    op.create_table('document_sequences',
    sa.Column('series', sa.String(length=24), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('last_number', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('series', 'year', name=op.f('pk_document_sequences'))
    )
    op.create_table('doctor_schedules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('doctor_id', sa.Integer(), nullable=False),
    sa.Column('weekday', sa.Integer(), nullable=False),
    sa.Column('start', sa.Time(), nullable=False),
    sa.Column('end', sa.Time(), nullable=False),
    sa.Column('slot_minutes', sa.Integer(), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('room', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['doctor_id'], ['doctors.id'], name=op.f('fk_doctor_schedules_doctor_id_doctors')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_doctor_schedules'))
    )
    with op.batch_alter_table('doctor_schedules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_doctor_schedules_doctor_id'), ['doctor_id'], unique=False)

    op.create_table('schedule_exceptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('doctor_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('closed', sa.Boolean(), nullable=False),
    sa.Column('start', sa.Time(), nullable=True),
    sa.Column('end', sa.Time(), nullable=True),
    sa.Column('note', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['doctor_id'], ['doctors.id'], name=op.f('fk_schedule_exceptions_doctor_id_doctors')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_schedule_exceptions')),
    sa.UniqueConstraint('doctor_id', 'day', name='uq_schedule_exceptions_doctor_day')
    )
    op.create_table('slot_counts',
    sa.Column('doctor_id', sa.Integer(), nullable=False),
    sa.Column('slot_start', hub.domain.common.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('booked', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['doctor_id'], ['doctors.id'], name=op.f('fk_slot_counts_doctor_id_doctors')),
    sa.PrimaryKeyConstraint('doctor_id', 'slot_start', name=op.f('pk_slot_counts'))
    )
    op.create_table('invoices',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('number', sa.String(length=24), nullable=False),
    sa.Column('visit_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('items', sa.JSON(), nullable=False),
    sa.Column('total', sa.BigInteger(), nullable=False),
    sa.Column('deposits', sa.BigInteger(), nullable=False),
    sa.Column('due', sa.BigInteger(), nullable=False),
    sa.Column('issued_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('issued_by', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['visit_id'], ['visits.id'], name=op.f('fk_invoices_visit_id_visits')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoices')),
    sa.UniqueConstraint('number', name=op.f('uq_invoices_number'))
    )
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoices_visit_id'), ['visit_id'], unique=False)

    op.create_table('appointments',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('doctor_id', sa.Integer(), nullable=False),
    sa.Column('service', sa.String(length=32), nullable=False),
    sa.Column('slot_start', hub.domain.common.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('slot_minutes', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('reason', sa.String(length=300), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('booked_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ticket_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('visit_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('origin_visit_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('series_id', sa.BigInteger(), nullable=True),
    sa.Column('confirmed_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['doctor_id'], ['doctors.id'], name=op.f('fk_appointments_doctor_id_doctors')),
    sa.ForeignKeyConstraint(['origin_visit_id'], ['visits.id'], name=op.f('fk_appointments_origin_visit_id_visits')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_appointments_patient_id_patients')),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_appointments_ticket_id_tickets')),
    sa.ForeignKeyConstraint(['visit_id'], ['visits.id'], name=op.f('fk_appointments_visit_id_visits')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_appointments')),
    sa.UniqueConstraint('code', name=op.f('uq_appointments_code'))
    )
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.create_index('ix_appointments_doctor_slot', ['doctor_id', 'slot_start'], unique=False)
        batch_op.create_index(batch_op.f('ix_appointments_patient_id'), ['patient_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_appointments_series_id'), ['series_id'], unique=False)

    op.create_table('clinical_orders',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('visit_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('item_code', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('service', sa.String(length=32), nullable=False),
    sa.Column('price', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('ordered_by', sa.String(length=64), nullable=False),
    sa.Column('ordering_service', sa.String(length=32), nullable=False),
    sa.Column('ordering_counter', sa.String(length=32), nullable=True),
    sa.Column('ticket_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('note', sa.String(length=300), nullable=True),
    sa.Column('created_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('resulted_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('result_values', sa.JSON(), nullable=True),
    sa.Column('result_report', sa.Text(), nullable=True),
    sa.Column('resulted_by', sa.String(length=64), nullable=True),
    sa.Column('released', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_clinical_orders_ticket_id_tickets')),
    sa.ForeignKeyConstraint(['visit_id'], ['visits.id'], name=op.f('fk_clinical_orders_visit_id_visits')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clinical_orders'))
    )
    with op.batch_alter_table('clinical_orders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clinical_orders_visit_id'), ['visit_id'], unique=False)

    op.create_table('exam_records',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('visit_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('doctor_id', sa.Integer(), nullable=True),
    sa.Column('ticket_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('diagnosis_code', sa.String(length=10), nullable=True),
    sa.Column('diagnosis_text', sa.String(length=300), nullable=True),
    sa.Column('prescription', sa.Text(), nullable=True),
    sa.Column('author', sa.String(length=64), nullable=False),
    sa.Column('created_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['doctor_id'], ['doctors.id'], name=op.f('fk_exam_records_doctor_id_doctors')),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_exam_records_ticket_id_tickets')),
    sa.ForeignKeyConstraint(['visit_id'], ['visits.id'], name=op.f('fk_exam_records_visit_id_visits')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_exam_records'))
    )
    with op.batch_alter_table('exam_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_exam_records_visit_id'), ['visit_id'], unique=False)

    op.create_table('payments',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('visit_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('method', sa.String(length=12), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('provider_ref', sa.String(length=64), nullable=True),
    sa.Column('receipt_no', sa.String(length=24), nullable=True),
    sa.Column('invoice_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=True),
    sa.Column('voided_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('voided_by', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_payments_invoice_id_invoices')),
    sa.ForeignKeyConstraint(['visit_id'], ['visits.id'], name=op.f('fk_payments_visit_id_visits')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments')),
    sa.UniqueConstraint('receipt_no', name=op.f('uq_payments_receipt_no'))
    )
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payments_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_payments_visit_id'), ['visit_id'], unique=False)

    op.create_table('appointment_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('appointment_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('from_status', sa.String(length=12), nullable=True),
    sa.Column('to_status', sa.String(length=12), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['appointment_id'], ['appointments.id'], name=op.f('fk_appointment_events_appointment_id_appointments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_appointment_events'))
    )
    with op.batch_alter_table('appointment_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_appointment_events_appointment_id'), ['appointment_id'], unique=False)

    op.create_table('visit_intakes',
    sa.Column('visit_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('reason', sa.String(length=300), nullable=True),
    sa.Column('symptoms', sa.Text(), nullable=True),
    sa.Column('service', sa.String(length=32), nullable=True),
    sa.Column('doctor_id', sa.Integer(), nullable=True),
    sa.Column('appointment_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('recorded_by', sa.String(length=64), nullable=False),
    sa.Column('recorded_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['appointment_id'], ['appointments.id'], name=op.f('fk_visit_intakes_appointment_id_appointments')),
    sa.ForeignKeyConstraint(['doctor_id'], ['doctors.id'], name=op.f('fk_visit_intakes_doctor_id_doctors')),
    sa.ForeignKeyConstraint(['visit_id'], ['visits.id'], name=op.f('fk_visit_intakes_visit_id_visits')),
    sa.PrimaryKeyConstraint('visit_id', name=op.f('pk_visit_intakes'))
    )
    


def downgrade() -> None:
    
    op.drop_table('visit_intakes')
    with op.batch_alter_table('appointment_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_appointment_events_appointment_id'))

    op.drop_table('appointment_events')
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payments_visit_id'))
        batch_op.drop_index(batch_op.f('ix_payments_at'))

    op.drop_table('payments')
    with op.batch_alter_table('exam_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_exam_records_visit_id'))

    op.drop_table('exam_records')
    with op.batch_alter_table('clinical_orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clinical_orders_visit_id'))

    op.drop_table('clinical_orders')
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_appointments_series_id'))
        batch_op.drop_index(batch_op.f('ix_appointments_patient_id'))
        batch_op.drop_index('ix_appointments_doctor_slot')

    op.drop_table('appointments')
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoices_visit_id'))

    op.drop_table('invoices')
    op.drop_table('slot_counts')
    op.drop_table('schedule_exceptions')
    with op.batch_alter_table('doctor_schedules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_doctor_schedules_doctor_id'))

    op.drop_table('doctor_schedules')
    op.drop_table('document_sequences')
    op.drop_table('doctors')
    
