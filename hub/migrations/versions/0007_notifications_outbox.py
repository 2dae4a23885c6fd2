"""notification outbox

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 01:58:42.279836
"""

from alembic import op
import sqlalchemy as sa
import hub.domain.common.models


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('scheduler_jobs',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('last_started_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_finished_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_ok', sa.Boolean(), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('runs', sa.Integer(), nullable=False),
    sa.Column('owner', sa.String(length=80), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_scheduler_jobs'))
    )
    op.create_table('scheduler_leases',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('owner', sa.String(length=80), nullable=False),
    sa.Column('acquired_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_scheduler_leases'))
    )
    op.create_table('notification_consents',
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('granted', sa.Boolean(), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('updated_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_notification_consents_patient_id_patients')),
    sa.PrimaryKeyConstraint('patient_id', 'channel', name=op.f('pk_notification_consents'))
    )
    op.create_table('notifications',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('recipient', sa.String(length=200), nullable=False),
    sa.Column('template', sa.String(length=48), nullable=False),
    sa.Column('language', sa.String(length=2), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('due_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('sent_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('dedupe_key', sa.String(length=160), nullable=True),
    sa.Column('patient_id', sa.Integer(), nullable=True),
    sa.Column('appointment_id', sa.BigInteger(), nullable=True),
    sa.Column('claimed_by', sa.String(length=80), nullable=True),
    sa.Column('lease_until', hub.domain.common.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('provider_ref', sa.String(length=120), nullable=True),
    sa.Column('subject', sa.String(length=300), nullable=True),
    sa.Column('body', sa.Text(), nullable=True),
    sa.Column('created_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('updated_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_notifications_patient_id_patients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications')),
    sa.UniqueConstraint('dedupe_key', 'channel', name='uq_notifications_dedupe_key_channel')
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notifications_appointment_id'), ['appointment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_notifications_patient_id'), ['patient_id'], unique=False)
        batch_op.create_index('ix_notifications_state_due', ['state', 'due_at'], unique=False)

    op.create_table('patient_messages',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('notification_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('link', sa.String(length=500), nullable=True),
    sa.Column('created_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('read_at', hub.domain.common.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['notification_id'], ['notifications.id'], name=op.f('fk_patient_messages_notification_id_notifications')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_patient_messages_patient_id_patients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patient_messages')),
    sa.UniqueConstraint('notification_id', name=op.f('uq_patient_messages_notification_id'))
    )
    with op.batch_alter_table('patient_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patient_messages_patient_id'), ['patient_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('patient_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patient_messages_patient_id'))

    op.drop_table('patient_messages')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_state_due')
        batch_op.drop_index(batch_op.f('ix_notifications_patient_id'))
        batch_op.drop_index(batch_op.f('ix_notifications_appointment_id'))

    op.drop_table('notifications')
    op.drop_table('notification_consents')
    op.drop_table('scheduler_leases')
    op.drop_table('scheduler_jobs')
