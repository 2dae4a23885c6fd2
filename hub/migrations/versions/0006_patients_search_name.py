"""patient search name, appointments by visit

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 03:10:00.000000
"""

import unicodedata

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def _fold(name: str) -> str:
    # A frozen copy of hub.domain.patients.records.fold_name: a migration must not change when the app does.
    text = unicodedata.normalize("NFC", name).replace("đ", "d").replace("Đ", "D")
    bare = "".join(ch for ch in unicodedata.normalize("NFD", text) if not unicodedata.combining(ch))
    return " ".join(bare.casefold().split())


def upgrade() -> None:
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('search_name', sa.String(length=120), nullable=True))
        batch_op.create_index(batch_op.f('ix_patients_search_name'), ['search_name'], unique=False)
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_appointments_visit_id'), ['visit_id'], unique=False)
    patients = sa.table('patients', sa.column('id', sa.Integer), sa.column('full_name', sa.String),
                        sa.column('search_name', sa.String))
    connection = op.get_bind()
    for patient_id, full_name in connection.execute(sa.select(patients.c.id, patients.c.full_name)).all():
        connection.execute(sa.update(patients).where(patients.c.id == patient_id)
                           .values(search_name=_fold(full_name)[:120]))


def downgrade() -> None:
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_appointments_visit_id'))
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patients_search_name'))
        batch_op.drop_column('search_name')
