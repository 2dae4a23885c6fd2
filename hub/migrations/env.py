"""Alembic environment: migrations run from `clinicq db upgrade` with the hub's database URL."""

from alembic import context

# Imported for their tables on Base.metadata: the outpatient journey; the outbox, consent, inbox, scheduler;
# follow-up series and the call-back list; report rollups.
import hub.domain.follow_up_models
import hub.domain.journey_models
import hub.domain.notification_models
import hub.domain.report_models  # noqa: F401
from hub.domain.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is None:
        from sqlalchemy import create_engine

        engine = create_engine(config.get_main_option("sqlalchemy.url"))
        with engine.connect() as connection:
            _run(connection)
        engine.dispose()
    else:
        _run(connectable)


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
