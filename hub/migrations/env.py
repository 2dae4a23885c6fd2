"""Alembic environment: migrations run from `clinicq db upgrade` with the hub's database URL."""

from alembic import context

# Every context's tables on Base.metadata, for comparisons against the database.
import hub.domain.billing.models
import hub.domain.booking.models
import hub.domain.clinical.models
import hub.domain.devices.models
import hub.domain.follow_ups.models
import hub.domain.insurance.models
import hub.domain.notifications.models
import hub.domain.patients.models
import hub.domain.portal.models
import hub.domain.queue.models
import hub.domain.reports.models
import hub.domain.staff.models
import hub.domain.structure.models  # noqa: F401
from hub.domain.common.models import Base

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
