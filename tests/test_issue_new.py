"""`QueueService.issue_new` says whether the ticket was issued now (POST /tickets skips the coverage read
of a new anonymous visit on that word), on SQLite and PostgreSQL."""

from __future__ import annotations

from hub.domain.common.events import TicketIssued
from hub.domain.queue.engine import QueueService
from tests.conftest import RecordingBus


def test_a_repeated_key_returns_the_first_ticket_as_not_new(engine: tuple[QueueService, RecordingBus]) -> None:
    queue, bus = engine
    first, new = queue.issue_new("tiep-don", idempotency_key="kiosk-a-0001", actor="token:kiosk")
    assert new is True
    again, new_again = queue.issue_new("tiep-don", idempotency_key="kiosk-a-0001", actor="token:kiosk")
    assert new_again is False
    assert again["id"] == first["id"] and again["number"] == first["number"]
    other, other_new = queue.issue_new("tiep-don", idempotency_key="kiosk-a-0002", actor="token:kiosk")
    assert other_new is True and other["id"] != first["id"]
    assert queue.issue("tiep-don", idempotency_key="kiosk-a-0002")["id"] == other["id"]
    issued = bus.of(TicketIssued)
    assert [event.ticket["id"] for event in issued] == [first["id"], other["id"]]
