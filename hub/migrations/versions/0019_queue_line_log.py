"""queue line log: a per-(service, day) version and the changes of each waiting line, kept by triggers

Revision ID: 0019
Revises: 0014
Create Date: 2026-12-07

Every hub process keeps each waiting line in memory (hub/domain/queue/lines.py) so "how many are ahead"
and "how many wait" cost O(log n), not a COUNT over the line. The triggers below record every change of a
line (a ticket entering, leaving or moving in it) whoever makes it: this process, another hub process or
any module writing tickets, so a process catches up by reading only the changes since it last looked.
The version row is bumped inside the writing transaction, so versions are gap-free and commit-ordered per
line (on PostgreSQL the row lock orders the writers).
"""

import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

_SQLITE_BUMP = """
    INSERT INTO queue_line_versions (service_id, day, version) VALUES ({s}, {d}, 1)
        ON CONFLICT (service_id, day) DO UPDATE SET version = version + 1;
    INSERT INTO queue_line_changes (service_id, day, version, ticket_id, queue_key_ms, added)
        SELECT {s}, {d}, version, {t}, {k}, {a} FROM queue_line_versions WHERE service_id = {s} AND day = {d};
"""


def _sqlite_bump(row: str, added: int) -> str:
    return _SQLITE_BUMP.format(s=f"{row}.service_id", d=f"{row}.day", t=f"{row}.id", k=f"{row}.queue_key_ms",
                               a=added)


SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER queue_line_insert AFTER INSERT ON tickets WHEN NEW.status = 'waiting'
        BEGIN {_sqlite_bump('NEW', 1)} END""",
    f"""CREATE TRIGGER queue_line_delete AFTER DELETE ON tickets WHEN OLD.status = 'waiting'
        BEGIN {_sqlite_bump('OLD', 0)} END""",
    # Leaving a line: out of "waiting", or moved to another service's or day's line.
    f"""CREATE TRIGGER queue_line_leave AFTER UPDATE ON tickets WHEN OLD.status = 'waiting'
            AND (NEW.status <> 'waiting' OR NEW.service_id <> OLD.service_id OR NEW.day <> OLD.day)
        BEGIN {_sqlite_bump('OLD', 0)} END""",
    # Entering a line, or moving in it (a new queue key).
    f"""CREATE TRIGGER queue_line_enter AFTER UPDATE ON tickets WHEN NEW.status = 'waiting'
            AND (OLD.status <> 'waiting' OR NEW.service_id <> OLD.service_id OR NEW.day <> OLD.day
                 OR NEW.queue_key_ms IS NOT OLD.queue_key_ms OR NEW.id <> OLD.id)
        BEGIN {_sqlite_bump('NEW', 1)} END""",
]

POSTGRES_FUNCTIONS = [
    """CREATE FUNCTION queue_line_bump(s bigint, d date, t bigint, k bigint, a boolean) RETURNS void AS $$
    DECLARE v bigint;
    BEGIN
        INSERT INTO queue_line_versions AS lv (service_id, day, version) VALUES (s, d, 1)
            ON CONFLICT (service_id, day) DO UPDATE SET version = lv.version + 1 RETURNING lv.version INTO v;
        INSERT INTO queue_line_changes (service_id, day, version, ticket_id, queue_key_ms, added)
            VALUES (s, d, v, t, k, a);
    END $$ LANGUAGE plpgsql""",
    """CREATE FUNCTION queue_line_track() RETURNS trigger AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            IF NEW.status = 'waiting' THEN
                PERFORM queue_line_bump(NEW.service_id, NEW.day, NEW.id, NEW.queue_key_ms, true);
            END IF;
        ELSIF TG_OP = 'DELETE' THEN
            IF OLD.status = 'waiting' THEN
                PERFORM queue_line_bump(OLD.service_id, OLD.day, OLD.id, OLD.queue_key_ms, false);
            END IF;
        ELSE
            IF OLD.status = 'waiting' AND (NEW.status <> 'waiting' OR NEW.service_id <> OLD.service_id
                                           OR NEW.day <> OLD.day) THEN
                PERFORM queue_line_bump(OLD.service_id, OLD.day, OLD.id, OLD.queue_key_ms, false);
            END IF;
            IF NEW.status = 'waiting' AND (OLD.status <> 'waiting' OR NEW.service_id <> OLD.service_id
                                           OR NEW.day <> OLD.day OR NEW.queue_key_ms IS DISTINCT FROM OLD.queue_key_ms
                                           OR NEW.id <> OLD.id) THEN
                PERFORM queue_line_bump(NEW.service_id, NEW.day, NEW.id, NEW.queue_key_ms, true);
            END IF;
        END IF;
        RETURN NULL;
    END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER queue_line_track AFTER INSERT OR UPDATE OR DELETE ON tickets
        FOR EACH ROW EXECUTE FUNCTION queue_line_track()""",
]


def upgrade() -> None:
    op.create_table(
        'queue_line_versions',
        sa.Column('service_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('version', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('service_id', 'day'),
    )
    op.create_table(
        'queue_line_changes',
        sa.Column('service_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('version', sa.BigInteger(), nullable=False),
        sa.Column('ticket_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('queue_key_ms', sa.BigInteger(), nullable=True),
        sa.Column('added', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('service_id', 'day', 'version'),
    )
    if op.get_bind().dialect.name == 'postgresql':
        for statement in POSTGRES_FUNCTIONS:
            op.execute(statement)
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP TRIGGER IF EXISTS queue_line_track ON tickets")
        op.execute("DROP FUNCTION IF EXISTS queue_line_track()")
        op.execute("DROP FUNCTION IF EXISTS queue_line_bump(bigint, date, bigint, bigint, boolean)")
    else:
        for name in ("queue_line_insert", "queue_line_delete", "queue_line_leave", "queue_line_enter"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table('queue_line_changes')
    op.drop_table('queue_line_versions')
