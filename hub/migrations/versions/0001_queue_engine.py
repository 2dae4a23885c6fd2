"""queue engine

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 01:19:00.036483
"""

from alembic import op
import sqlalchemy as sa
import hub.domain.common.models


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    op.create_table('audit_log',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=48), nullable=False),
    sa.Column('subject', sa.String(length=64), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_at'), ['at'], unique=False)

    op.create_table('counters',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('name_en', sa.String(length=120), nullable=False),
    sa.Column('zone', sa.String(length=32), nullable=False),
    sa.Column('state', sa.String(length=8), nullable=False),
    sa.Column('pause_reason', sa.String(length=200), nullable=True),
    sa.Column('state_since', hub.domain.common.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('current_ticket_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('priority_streak', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    # counters <-> tickets reference each other: on PostgreSQL the key is added once both exist.
    *([sa.ForeignKeyConstraint(['current_ticket_id'], ['tickets.id'],
                               name=op.f('fk_counters_current_ticket_id_tickets'))] if _sqlite() else []),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_counters')),
    sa.UniqueConstraint('code', name=op.f('uq_counters_code'))
    )
    op.create_table('patients',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('full_name', sa.String(length=120), nullable=False),
    sa.Column('date_of_birth', sa.Date(), nullable=True),
    sa.Column('sex', sa.String(length=8), nullable=True),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('email', sa.String(length=120), nullable=True),
    sa.Column('address', sa.String(length=300), nullable=True),
    sa.Column('national_id', sa.String(length=12), nullable=True),
    sa.Column('insurance_no', sa.String(length=20), nullable=True),
    sa.Column('created_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patients')),
    sa.UniqueConstraint('code', name=op.f('uq_patients_code')),
    sa.UniqueConstraint('national_id', name=op.f('uq_patients_national_id'))
    )
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patients_phone'), ['phone'], unique=False)

    op.create_table('services',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('name_en', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('prefix', sa.String(length=2), nullable=False),
    sa.Column('fee', sa.BigInteger(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_services')),
    sa.UniqueConstraint('code', name=op.f('uq_services_code'))
    )
    op.create_table('counter_services',
    sa.Column('counter_id', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['counter_id'], ['counters.id'], name=op.f('fk_counter_services_counter_id_counters')),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_counter_services_service_id_services')),
    sa.PrimaryKeyConstraint('counter_id', 'service_id', name=op.f('pk_counter_services'))
    )
    op.create_table('service_time_stats',
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('scope', sa.String(length=48), nullable=False),
    sa.Column('samples', sa.Integer(), nullable=False),
    sa.Column('mean', sa.Float(), nullable=False),
    sa.Column('var', sa.Float(), nullable=False),
    sa.Column('updated_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_service_time_stats_service_id_services')),
    sa.PrimaryKeyConstraint('service_id', 'scope', name=op.f('pk_service_time_stats'))
    )
    op.create_table('ticket_sequences',
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('last_seq', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_ticket_sequences_service_id_services')),
    sa.PrimaryKeyConstraint('service_id', 'day', name=op.f('pk_ticket_sequences'))
    )
    op.create_table('visits',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=True),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('started_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_visits_patient_id_patients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_visits'))
    )
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_visits_day'), ['day'], unique=False)
        batch_op.create_index(batch_op.f('ix_visits_patient_id'), ['patient_id'], unique=False)

    op.create_table('tickets',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=8), nullable=False),
    sa.Column('priority', sa.String(length=32), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('source_device', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('visit_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('counter_id', sa.Integer(), nullable=True),
    sa.Column('queue_key_ms', sa.BigInteger(), nullable=False),
    sa.Column('issued_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('first_called_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_called_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('call_count', sa.Integer(), nullable=False),
    sa.Column('served_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('slot_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('appointment_id', sa.BigInteger(), nullable=True),
    sa.Column('transferred_from_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('offline', sa.Boolean(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=64), nullable=True),
    sa.Column('note', sa.String(length=200), nullable=True),
    sa.Column('estimate_p50_min', sa.Float(), nullable=True),
    sa.Column('estimate_p90_min', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['counter_id'], ['counters.id'], name=op.f('fk_tickets_counter_id_counters')),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_tickets_service_id_services')),
    sa.ForeignKeyConstraint(['transferred_from_id'], ['tickets.id'], name=op.f('fk_tickets_transferred_from_id_tickets')),
    sa.ForeignKeyConstraint(['visit_id'], ['visits.id'], name=op.f('fk_tickets_visit_id_visits')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tickets')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_tickets_idempotency_key')),
    sa.UniqueConstraint('service_id', 'day', 'seq', name='uq_tickets_service_day_seq')
    )
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.create_index('ix_tickets_issued', ['service_id', 'issued_at'], unique=False)
        batch_op.create_index('ix_tickets_queue', ['service_id', 'day', 'status', 'queue_key_ms'], unique=False)
        batch_op.create_index(batch_op.f('ix_tickets_visit_id'), ['visit_id'], unique=False)

    op.create_table('ticket_transitions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('ticket_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('from_status', sa.String(length=12), nullable=True),
    sa.Column('to_status', sa.String(length=12), nullable=False),
    sa.Column('started_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('duration_ms', sa.BigInteger(), nullable=False),
    sa.Column('counter_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['counter_id'], ['counters.id'], name=op.f('fk_ticket_transitions_counter_id_counters')),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_ticket_transitions_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ticket_transitions'))
    )
    with op.batch_alter_table('ticket_transitions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ticket_transitions_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_ticket_transitions_ticket_id'), ['ticket_id'], unique=False)
    if not _sqlite():
        op.create_foreign_key(op.f('fk_counters_current_ticket_id_tickets'), 'counters', 'tickets',
                              ['current_ticket_id'], ['id'])


def downgrade() -> None:
    if not _sqlite():
        op.drop_constraint(op.f('fk_counters_current_ticket_id_tickets'), 'counters', type_='foreignkey')
    with op.batch_alter_table('ticket_transitions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ticket_transitions_ticket_id'))
        batch_op.drop_index(batch_op.f('ix_ticket_transitions_at'))

    op.drop_table('ticket_transitions')
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tickets_visit_id'))
        batch_op.drop_index('ix_tickets_queue')
        batch_op.drop_index('ix_tickets_issued')

    op.drop_table('tickets')
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_visits_patient_id'))
        batch_op.drop_index(batch_op.f('ix_visits_day'))

    op.drop_table('visits')
    op.drop_table('ticket_sequences')
    op.drop_table('service_time_stats')
    op.drop_table('counter_services')
    op.drop_table('services')
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patients_phone'))

    op.drop_table('patients')
    op.drop_table('counters')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_at'))

    op.drop_table('audit_log')
    op.drop_table('api_tokens')
