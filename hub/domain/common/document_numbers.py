"""Gap-free document numbers (invoices, receipts): HB-2026-000123, one series per prefix and year.

A number is taken inside the transaction that writes its document: the sequence row is advanced with an
UPDATE that holds its lock until commit, so concurrent takers queue behind it, and a rollback restores
the row, so a number is never burnt. SQLite gets the same serialisation from BEGIN IMMEDIATE.
"""

from __future__ import annotations

from sqlalchemy import Connection, update

from hub.domain.common.models import DocumentSequence

SEQ = DocumentSequence.__table__


def document_number(series: str, year: int, number: int) -> str:
    """HB-2026-000123."""
    return f"{series}-{year}-{number:06d}"


def take_number(connection: Connection, series: str, year: int) -> int:
    """The next number of a series and year, inside the caller's transaction (its rollback returns it)."""
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    # Two first takers of a new year both insert; the second waits for the first and does nothing.
    connection.execute(dialect_insert(SEQ).values(series=series, year=year, last_number=0)
                       .on_conflict_do_nothing(index_elements=["series", "year"]))
    return connection.execute(update(SEQ).where(SEQ.c.series == series, SEQ.c.year == year)
                              .values(last_number=SEQ.c.last_number + 1).returning(SEQ.c.last_number)).scalar_one()
