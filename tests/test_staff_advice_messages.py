"""The staffing advice as a message to admins who opt in: the staff inbox, and Zalo through the real outbox
and the simulated Zalo ZNS server (a real HTTP server). Once per advice while it stands; again only after
the advice cleared and fired anew. The advice itself is the real advisor's, on a real queue."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from hub import protocol as p
from hub.app import create_app
from hub.config import ClinicConfig
from hub.core import Hub
from hub.domain.common.clock import VirtualClock
from hub.domain.common.errors import Invalid
from hub.domain.notifications.settings import ZaloSettings
from hub.domain.queue.models import Ticket
from hub.notify.zalo_sim import TOKEN, SimState, ZaloSimulator
from tests.follow_up_support import MONDAY, at, hub_on
from tests.notifications_support import clinic_with
from tests.test_staff_auth import csrf_from, log_in

ADVICE_ZNS = "1009"


@dataclass
class World:
    hub: Hub
    sim: ZaloSimulator
    clock: VirtualClock
    manager: int  # opted in, with a Zalo phone
    other: int  # an admin who did not opt in

    def tick(self, seconds: float | None = None) -> None:
        """The scheduler's next turn: the advisor job, then the outbox's sending job."""
        self.clock.advance(seconds or self.hub.config.advisor.message_every_seconds)
        self.hub.scheduler.run_pending()
        for _ in range(2):
            self.clock.advance(self.hub.config.notifications.poll_seconds)
            self.hub.scheduler.run_pending()

    def surge(self, tickets: int = 40) -> None:
        """One reception counter open and a hall full: the advisor's P90 passes 45 min at once."""
        for _ in range(tickets):
            self.hub.queue.issue("tiep-don", actor="kiosk", source="kiosk")
        if self.hub.queue.counter("q1")["state"] != "open":
            self.hub.queue.call_next("q1", actor="user:le.tan")

    def advice_sent(self) -> list[dict]:
        return [m for m in self.sim.sent if m["template_id"] == ADVICE_ZNS]


@pytest.fixture
def world(tmp_path: Path, clinic: ClinicConfig) -> Iterator[World]:
    sim = ZaloSimulator(SimState(templates={ADVICE_ZNS: {"staff_name", "advice"}})).start()
    zalo = ZaloSettings(enabled=True, url=sim.url, access_token=TOKEN, timeout_s=5,
                        templates=clinic.notifications.zalo.templates)
    config = clinic_with(clinic, channels=["zalo", "in_app"], quiet_hours="", zalo=zalo)
    clock = VirtualClock(at(MONDAY, "08:00"))
    hub = hub_on(tmp_path, config, clock)
    manager = hub.staff.add("quan.ly", "Phạm Thị Quản", "admin", "quan-ly-12345")
    other = hub.staff.add("quan.tri", "Trần Văn Trị", "admin", "quan-tri-12345")
    assert hub.staff_messages is not None
    hub.staff_messages.set_preference(manager.id, advice=True, zalo_phone="0912 345 678", actor="user:quan.ly")
    try:
        yield World(hub, sim, clock, manager.id, other.id)
    finally:
        hub.close()
        sim.stop()


def test_new_advice_reaches_an_opted_in_admin_once_while_it_stands(world: World) -> None:
    messages = world.hub.staff_messages
    assert messages is not None
    world.surge()
    world.tick()
    inbox = messages.inbox(world.manager)
    opened = [m for m in inbox if m["key"] == "open:tiep-don"]
    assert len(opened) == 1 and opened[0]["standing"]
    assert opened[0]["title"].startswith("Mở thêm một quầy") and "P90" in opened[0]["title"]
    assert "Open one more" in opened[0]["body"]  # English second
    assert messages.inbox(world.other) == []  # not opted in: nothing
    sent = world.advice_sent()
    assert len(sent) == 1 and sent[0]["phone"] == "84912345678"
    assert sent[0]["template_data"]["advice"] == opened[0]["title"]
    row = next(r for r in world.hub.notifications.list() if r["template"] == "staffing_advice")
    assert row["state"] == "sent" and row["channel"] == "zalo"  # on the admin notifications page too

    # The advice still stands on the next turns: nothing more, in the inbox or on Zalo.
    world.surge(5)
    world.tick()
    world.tick()
    assert len([m for m in messages.inbox(world.manager) if m["key"] == "open:tiep-don"]) == 1
    assert len(world.advice_sent()) == 1


def test_advice_that_cleared_and_fires_again_is_a_new_message(world: World) -> None:
    messages = world.hub.staff_messages
    assert messages is not None
    world.surge()
    world.tick()
    with world.hub.db.read() as connection:
        waiting = connection.execute(select(Ticket.id).where(Ticket.status == p.WAITING)).scalars().all()
    for ticket_id in waiting:
        world.hub.queue.cancel(ticket_id, actor="user:le.tan", reason="test")
    # The hall empties and the recent arrivals age out of the advisor's window: the advice clears.
    world.tick(world.hub.config.estimates.history_minutes * 60 + 60)
    [first] = [m for m in messages.inbox(world.manager) if m["key"] == "open:tiep-don"]
    assert not first["standing"]
    world.surge()
    world.tick()
    again = [m for m in messages.inbox(world.manager) if m["key"] == "open:tiep-don"]
    assert len(again) == 2 and again[0]["standing"]
    assert len(world.advice_sent()) == 2


def test_only_admins_opt_in_and_phones_are_checked(world: World) -> None:
    messages = world.hub.staff_messages
    assert messages is not None
    nurse = world.hub.staff.add("lan.nguyen", "Nguyễn Thị Lan", "nurse", "dieu-duong-123")
    with pytest.raises(Invalid):
        messages.set_preference(nurse.id, advice=True, zalo_phone=None, actor="user:quan.ly")
    with pytest.raises(Invalid):
        messages.set_preference(world.other, advice=True, zalo_phone="12345", actor="user:quan.ly")
    # Opted in without a phone: the inbox only.
    messages.set_preference(world.other, advice=True, zalo_phone=None, actor="user:quan.ly")
    world.surge()
    world.tick()
    assert [m["key"] for m in messages.inbox(world.other)].count("open:tiep-don") == 1
    assert len(world.advice_sent()) == 1  # the manager's Zalo only


def test_the_inbox_page_and_the_preference_form(world: World) -> None:
    world.surge()
    world.tick()
    client = create_app(world.hub, testing=True).test_client()
    assert log_in(client, "quan.ly", "quan-ly-12345") == 302
    page = client.get("/admin/messages")
    assert page.status_code == 200
    assert "Mở thêm một quầy" in page.text and 'data-read="no"' in page.text
    assert 'data-read="yes"' in client.get("/admin/messages").text  # opened once: read
    assert "Hộp thư" in client.get("/staff").text  # linked from the staff start page
    edit = client.get("/admin/staff/quan.tri")
    assert 'id="advice-form"' in edit.text
    reply = client.post("/admin/staff/quan.tri/advice",
                        data={"csrf_token": csrf_from(edit.text), "advice": "on", "zalo_phone": "0987654321"})
    assert reply.status_code == 302
    assert world.hub.staff_messages.preference(world.other) == {"advice": True, "zalo_phone": "0987654321"}
    assert client.post("/admin/staff/quan.tri/advice", data={"advice": "on"}).status_code == 400  # no CSRF
