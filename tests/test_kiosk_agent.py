"""The kiosk agent's parts without a hub: leases, the outbox and its sender, scans, printing, commands."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import zxingcpp

from hub import protocol
from kiosk.device_bus import KioskBus
from kiosk.hub_client import HubRefused, HubUnreachable
from kiosk.hub_link import HubLink, ticket_body
from kiosk.lease_store import LeaseStore
from kiosk.outbox import ISSUED, PENDING, REJECTED, SENDING, UNCONFIRMED, VOIDED, Outbox
from kiosk.printing import offline_status_url, ticket_print
from kiosk.scanner import classify_scan, split_lines
from kiosk.settings import KioskSettings
from kiosk.store import LocalStore
from kiosk.ticket_image import draw_ticket

DAY = date(2026, 11, 23)
SETUP = {"site": {"id": "bvdk-hoa-binh", "name": "Bệnh viện Đa khoa Hòa Bình", "name_en": "Hoa Binh General Hospital",
                  "timezone": "Asia/Ho_Chi_Minh", "public_url": "http://10.0.0.5:8000"},
         "priorities": [{"code": "normal", "name": "Thường", "name_en": "Standard", "kiosk": False},
                        {"code": "elderly", "name": "Người cao tuổi", "name_en": "Elderly", "kiosk": True}]}


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "kiosk.db")


def offline_ticket(store: LocalStore, service: str = "kham-noi", priority: str = "normal") -> str:
    leases, outbox = LeaseStore(store), Outbox(store)
    with store.transaction() as connection:
        seq = leases.take(connection, DAY, service)
        assert seq is not None
        return outbox.add_offline(connection, service=service, priority=priority, patient_code=None, day=DAY,
                                  seq=seq, number=protocol.ticket_number("B", seq))


# ------------------------------------------------------------------------------------- leases
def test_leased_numbers_are_given_once_in_order_then_run_out(store: LocalStore) -> None:
    leases = LeaseStore(store)
    leases.add({"day": DAY.isoformat(), "service": "kham-noi", "first": 5, "last": 6})
    leases.add({"day": DAY.isoformat(), "service": "kham-noi", "first": 1, "last": 2})
    leases.add({"day": DAY.isoformat(), "service": "kham-noi", "first": 1, "last": 2})  # the same lease again
    assert leases.remaining(DAY) == {"kham-noi": 4}
    with store.transaction() as connection:
        taken = [leases.take(connection, DAY, "kham-noi") for _ in range(5)]
    assert taken == [1, 2, 5, 6, None]
    assert leases.remaining(DAY) == {}


def test_a_number_is_not_lost_when_saving_its_ticket_fails(store: LocalStore) -> None:
    leases = LeaseStore(store)
    leases.add({"day": DAY.isoformat(), "service": "kham-noi", "first": 1, "last": 3})
    with pytest.raises(RuntimeError), store.transaction() as connection:
        leases.take(connection, DAY, "kham-noi")
        raise RuntimeError("power cut before the ticket was saved")
    assert leases.remaining(DAY) == {"kham-noi": 3}


def test_leases_belong_to_their_day(store: LocalStore) -> None:
    leases = LeaseStore(store)
    leases.add({"day": "2026-11-22", "service": "kham-noi", "first": 1, "last": 20})
    with store.transaction() as connection:
        assert leases.take(connection, DAY, "kham-noi") is None  # yesterday's block is never used today
    leases.forget_before(DAY)
    assert store.query("SELECT COUNT(*) AS n FROM leases")[0]["n"] == 0


# ------------------------------------------------------------------------------------- outbox and sender
class StubHub:
    """Answers the sender like a hub, or refuses, or is down."""

    def __init__(self) -> None:
        self.issued: list[dict[str, Any]] = []
        self.cancelled: list[int] = []
        self.down = False
        self.refuse: str | None = None

    def issue(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.down:
            raise HubUnreachable("POST /tickets: ConnectionError")
        if self.refuse:
            raise HubRefused(403, self.refuse, "no")
        self.issued.append(body)
        seq = body.get("offline", {}).get("seq", 40 + len(self.issued))
        return {"id": len(self.issued), "number": protocol.ticket_number("B", seq), "status": "waiting",
                "service": body["service"]}

    def cancel(self, ticket_id: int, reason: str) -> dict[str, Any]:
        self.cancelled.append(ticket_id)
        return {}


def link_with(store: LocalStore, hub: StubHub) -> HubLink:
    settings = KioskSettings(hub_url="http://hub", token="t", printer="dummy", data_dir=store.path.parent)
    link = HubLink(settings, store, Outbox(store), LeaseStore(store))
    link.client = hub  # type: ignore[assignment]
    return link


def test_offline_tickets_are_filed_oldest_first_with_their_number_and_time(store: LocalStore) -> None:
    LeaseStore(store).add({"day": DAY.isoformat(), "service": "kham-noi", "first": 1, "last": 5})
    keys = [offline_ticket(store), offline_ticket(store)]
    hub = StubHub()
    hub.down = True
    link = link_with(store, hub)
    with pytest.raises(HubUnreachable):
        link.flush()
    assert Outbox(store).get(keys[0]).attempts == 1  # type: ignore[union-attr]
    hub.down = False
    assert link.flush() == 2
    assert [body["offline"]["seq"] for body in hub.issued] == [1, 2]
    first = Outbox(store).get(keys[0])
    assert first is not None and first.state == ISSUED and first.hub_id == 1
    assert hub.issued[0]["offline"]["issued_at"] == first.created_at.isoformat()
    assert hub.issued[0]["idempotency_key"] == keys[0] and hub.issued[0]["device"] == "kiosk-sanh-a"
    assert link.flush() == 0  # nothing is sent twice


def test_refused_offline_ticket_is_kept_for_staff(store: LocalStore) -> None:
    LeaseStore(store).add({"day": DAY.isoformat(), "service": "kham-noi", "first": 1, "last": 5})
    key = offline_ticket(store)
    hub = StubHub()
    hub.refuse = "not_leased"
    link_with(store, hub).flush()
    ticket = Outbox(store).get(key)
    assert ticket is not None and ticket.state == REJECTED and ticket.last_error.startswith("not_leased")


def test_unanswered_request_is_cancelled_on_the_hub(store: LocalStore) -> None:
    outbox = Outbox(store)
    key = outbox.begin_online("kham-noi", "elderly", "BN26000001")
    assert outbox.get(key).state == SENDING  # type: ignore[union-attr]
    assert outbox.recover() == 1  # the kiosk restarted without an answer
    hub = StubHub()
    link_with(store, hub).flush()
    assert hub.issued[0] == {"service": "kham-noi", "priority": "elderly", "source": "kiosk",
                             "idempotency_key": key, "device": "kiosk-sanh-a", "patient_code": "BN26000001"}
    assert hub.cancelled == [1]
    assert outbox.get(key).state == VOIDED  # type: ignore[union-attr]


def test_ticket_body_of_an_online_ticket_has_no_offline_part(store: LocalStore) -> None:
    outbox = Outbox(store)
    key = outbox.begin_online("kham-noi", "normal", None)
    outbox.set_state(key, UNCONFIRMED)
    body = ticket_body(outbox.get(key), "kiosk-sanh-a")  # type: ignore[arg-type]
    assert "offline" not in body and "patient_code" not in body
    LeaseStore(store).add({"day": DAY.isoformat(), "service": "kham-noi", "first": 1, "last": 5})
    pending = outbox.get(offline_ticket(store))
    assert pending is not None and pending.state == PENDING
    assert ticket_body(pending, "kiosk-sanh-a")["offline"]["seq"] == 1


# ------------------------------------------------------------------------------------- scans
@pytest.mark.parametrize(("text", "kind"), [
    ("001088012345|012345678|Nguyễn Văn A|15081988|Nam|Hà Nội|20042021", "cccd"),
    ("001088012345||Nguyễn Văn A|15081988|Nam|Hà Nội|20042021|extra", "cccd"),
    ("hk7q2m", "booking"),
    ("LH-2026-0042", "booking"),
    ("abc", "unknown"),
    ("https://example.com/x?y=1", "unknown"),
])
def test_scans_are_told_apart(text: str, kind: str) -> None:
    assert classify_scan(text) == kind


def test_lines_split_on_any_ending_and_keep_the_rest() -> None:
    buffer = bytearray("Trần|A\r\nB2\nC3\rhalf".encode())
    assert split_lines(buffer) == ["Trần|A".encode(), b"B2", b"C3"]
    assert bytes(buffer) == b"half"


# ------------------------------------------------------------------------------------- printing
def test_offline_ticket_prints_its_mark_and_a_link_by_key(store: LocalStore) -> None:
    LeaseStore(store).add({"day": DAY.isoformat(), "service": "kham-noi", "first": 1, "last": 5})
    ticket = Outbox(store).get(offline_ticket(store, priority="elderly"))
    assert ticket is not None
    printed = ticket_print(ticket, SETUP, {"code": "kham-noi", "name": "Khám Nội tổng quát", "name_en": "Internal"})
    assert printed.offline and printed.number == "B001" and printed.ahead is None and printed.wait_minutes is None
    assert printed.priority == "Người cao tuổi" and printed.priority_en == "Elderly"
    assert printed.status_url == offline_status_url("http://10.0.0.5:8000", ticket.key)
    image = draw_ticket(printed, paper_mm=58)
    assert [r.text for r in zxingcpp.read_barcodes(image)] == [printed.status_url]


def test_online_ticket_prints_the_hubs_reply(store: LocalStore) -> None:
    outbox = Outbox(store)
    key = outbox.begin_online("kham-noi", "normal", None)
    outbox.mark_issued(key, {"id": 7, "number": "B007", "service": "kham-noi", "service_name": "Khám Nội",
                             "service_name_en": "Internal medicine", "ahead": 3,
                             "issued_at": "2026-11-23T01:00:00+00:00", "status_url": "http://h/t/7?k=x",
                             "estimate": {"p50_minutes": 12, "p90_minutes": 20}})
    printed = ticket_print(outbox.get(key), SETUP, None, notice="Giữ phiếu")  # type: ignore[arg-type]
    assert (printed.number, printed.ahead, printed.wait_minutes) == ("B007", 3, (12, 20))
    assert printed.status_url == "http://h/t/7?k=x" and printed.priority is None and not printed.offline
    assert printed.issued_at.hour == 1 and printed.timezone == "Asia/Ho_Chi_Minh"


# ------------------------------------------------------------------------------------- commands
def test_commands_act_once_and_expired_ones_are_dropped() -> None:
    received: list[tuple[str, dict[str, Any]]] = []
    bus = KioskBus("mqtt://127.0.0.1:1", "bvdk-hoa-binh", "kiosk-sanh-a", "s", info=dict, telemetry=dict,
                   on_command=lambda name, body: received.append((name, body)))
    topic = bus.topics.device_command("kiosk", "kiosk-sanh-a", "reprint")
    fresh = {"req_id": "r1", "ts": time.time(), "ttl_s": 60, "ticket_id": 7}
    bus._route(topic, protocol.encode(fresh))
    bus._route(topic, protocol.encode(fresh))  # delivered twice (QoS 1)
    bus._route(topic, protocol.encode({**fresh, "req_id": "r2", "ts": time.time() - 120}))
    bus._route(topic, protocol.encode({"req_id": "r3", "ticket_id": 7}))  # no ts/ttl_s: cannot tell its age
    bus._route(topic, b"not json")
    assert received == [("reprint", fresh)]
    assert bus.dropped == 3


def test_hub_messages_for_patients_reach_the_page_in_both_languages() -> None:
    from kiosk.refusals import Refusal

    early = Refusal.from_hub(409, "too_early", "Lịch hẹn lúc 09:00: mời check-in từ 08:00 / your slot is at 09:00: "
                                               "check in from 08:00")
    assert early.as_dict() == {"error": {"code": "too_early", "message": "Lịch hẹn lúc 09:00: mời check-in từ 08:00",
                                         "message_en": "your slot is at 09:00: check in from 08:00"}}
    plain = Refusal.from_hub(422, "unknown_priority", "unknown priority class 'x'")
    assert plain.code == "refused" and plain.vi.startswith("Không cấp được số")


def test_a_kiosk_restarted_while_the_hub_is_down_issues_from_its_lease(tmp_path: Path) -> None:
    from kiosk.agent import KioskAgent
    from kiosk.printing import TicketPrinter
    from kiosk.refusals import Refusal
    from tests.support import free_port

    store = LocalStore(tmp_path / "kiosk.db")  # what the kiosk kept before the restart
    store.save_snapshot("setup", SETUP)
    store.save_snapshot("services", [{"code": "kham-noi", "name": "Khám Nội tổng quát", "name_en": "Internal",
                                      "prefix": "B", "waiting": 4, "estimate": None}])
    store.save_snapshot("counters", [{"code": "p101", "name": "Phòng 101", "name_en": "Room 101",
                                      "state": "open", "services": ["kham-noi"]}])
    leases = LeaseStore(store)
    today = HubLink(KioskSettings(hub_url="http://x", token="t", printer="dummy"), store, Outbox(store),
                    leases).today()
    leases.add({"day": today.isoformat(), "service": "kham-noi", "first": 3, "last": 4})
    store.close()

    settings = KioskSettings(hub_url=f"http://127.0.0.1:{free_port()}", token="t", printer="dummy",
                             data_dir=tmp_path)
    agent = KioskAgent(settings, printer=TicketPrinter("dummy"))
    try:
        assert agent.state()["ready"] and not agent.state()["online"]
        first = agent.take_ticket("kham-noi", "elderly")
        assert (first["number"], first["offline"], first["print_state"]) == ("B003", True, "printed")
        assert first["rooms"][0]["name"] == "Phòng 101" and first["priority_name"] == "Người cao tuổi"
        assert agent.take_ticket("kham-noi")["number"] == "B004"
        with pytest.raises(Refusal) as refused:
            agent.take_ticket("kham-noi")
        assert refused.value.code == "no_numbers_left"
        assert agent.outbox.counts() == {PENDING: 2}
        assert len(agent.printer.printer.output) > 0  # type: ignore[attr-defined]
    finally:
        agent.store.close()


def test_hub_gone_during_a_request_gives_a_leased_number_and_settles_later(tmp_path: Path) -> None:
    from kiosk.agent import KioskAgent
    from kiosk.printing import TicketPrinter
    from tests.support import free_port

    settings = KioskSettings(hub_url=f"http://127.0.0.1:{free_port()}", token="t", printer="dummy",
                             data_dir=tmp_path)
    agent = KioskAgent(settings, printer=TicketPrinter("dummy"))
    try:
        agent.link.setup = SETUP
        agent.link.services = [{"code": "kham-noi", "name": "Khám Nội", "prefix": "B", "waiting": 0}]
        agent.link.counters = [{"code": "p101", "name": "Phòng 101", "state": "open", "services": ["kham-noi"]}]
        agent.leases.add({"day": agent.link.today().isoformat(), "service": "kham-noi", "first": 1, "last": 5})
        agent.link.online = True  # the last poll found the hub; it died since
        ticket = agent.take_ticket("kham-noi")
        assert (ticket["number"], ticket["offline"]) == ("B001", True)
        assert not agent.link.online
        assert agent.outbox.counts() == {PENDING: 1, UNCONFIRMED: 1}
    finally:
        agent.store.close()


def test_a_test_print_from_the_admin_page_prints_a_slip(tmp_path: Path) -> None:
    from escpos.printer import Dummy

    from kiosk.agent import KioskAgent
    from kiosk.printing import TicketPrinter
    from tests.support import free_port

    settings = KioskSettings(hub_url=f"http://127.0.0.1:{free_port()}", token="t", printer="dummy",
                             data_dir=tmp_path)
    agent = KioskAgent(settings, printer=TicketPrinter("dummy"))
    try:
        agent.link.setup = SETUP
        printer = agent.printer.printer
        assert isinstance(printer, Dummy) and not printer.output
        assert agent.print_test("test-abc") == "printed"
        assert b"\x1dv0" in printer.output  # a raster image went to the printer (GS v 0)
        assert agent.outbox.counts() == {}  # a test slip is no ticket
    finally:
        agent.store.close()


# ------------------------------------------------------------------ typed CCCD number / BHYT card code
# The hub's answer at a scan, as hub/api/queue/kiosk.py gives it (with a card code the page must not get).
ELIGIBLE_ANSWER = {"status": "eligible", "reason": None, "message": None, "benefit_level": 4,
                   "service": "kham-bhyt", "payer": "bhyt", "label": "Khám BHYT", "label_en": "Health insurance visit",
                   "card_code": "DN4010123456789"}
PAGE_ANSWER = {k: v for k, v in ELIGIBLE_ANSWER.items() if k not in ("message", "card_code")}


class TypedHub:
    """Stands in for HubClient.identify_typed: records what the agent sends, answers as told."""

    def __init__(self, error: Exception | None = None) -> None:
        self.sent: list[tuple[str, str]] = []
        self.error = error

    def identify_typed(self, number: str, date_of_birth: str) -> dict[str, Any]:
        self.sent.append((number, date_of_birth))
        if self.error is not None:
            raise self.error
        return {"patient": {"code": "BN26000001", "full_name": "Nguyễn Văn An", "birth_year": 1985, "sex": None},
                "created": False, "insurance": ELIGIBLE_ANSWER}


def typed_agent(tmp_path: Path, hub: TypedHub) -> Any:
    from kiosk.agent import KioskAgent
    from kiosk.printing import TicketPrinter
    from tests.support import free_port

    settings = KioskSettings(hub_url=f"http://127.0.0.1:{free_port()}", token="t", printer="dummy",
                             data_dir=tmp_path)
    agent = KioskAgent(settings, printer=TicketPrinter("dummy"))
    agent.client = hub  # type: ignore[assignment]
    agent.link.online = True
    return agent


def test_typed_number_goes_to_the_hub_with_an_iso_birth_date(tmp_path: Path) -> None:
    hub = TypedHub()
    agent = typed_agent(tmp_path, hub)
    try:
        found = agent.identify_typed("dn40 1012-3456789", "14/03/1985")
        assert found == {"patient": {"code": "BN26000001", "full_name": "Nguyễn Văn An", "birth_year": 1985,
                                     "sex": None}, "created": False, "insurance": PAGE_ANSWER}
        agent.identify_typed("001085012345", "01/12/1985")
        assert hub.sent == [("DN4010123456789", "1985-03-14"), ("001085012345", "1985-12-01")]
    finally:
        agent.store.close()


@pytest.mark.parametrize(("number", "born"), [
    ("00108501234", "14/03/1985"), ("XX9010123456789", "14/03/1985"), ("001085012345", "1985-03-14"),
    ("001085012345", "31/02/1985"), ("001085012345", ""), ("", "14/03/1985")])
def test_badly_typed_numbers_never_reach_the_hub(tmp_path: Path, number: str, born: str) -> None:
    from kiosk.refusals import Refusal

    hub = TypedHub()
    agent = typed_agent(tmp_path, hub)
    try:
        with pytest.raises(Refusal) as refused:
            agent.identify_typed(number, born)
        assert (refused.value.code, refused.value.status) == ("invalid_typed", 422)
        assert hub.sent == []
    finally:
        agent.store.close()


@pytest.mark.parametrize(("error", "code"), [
    (HubRefused(404, "no_match", "x"), "no_match"), (HubRefused(429, "too_many_attempts", "x"), "too_many_attempts"),
    (HubUnreachable("down"), "cccd_offline")])
def test_hub_answers_to_a_typed_number_become_patient_words(tmp_path: Path, error: Exception, code: str) -> None:
    from kiosk.refusals import Refusal

    agent = typed_agent(tmp_path, TypedHub(error))
    try:
        with pytest.raises(Refusal) as refused:
            agent.identify_typed("001085012345", "14/03/1985")
        assert refused.value.code == code
        assert "quầy tiếp đón" in refused.value.vi or code == "cccd_offline"
        assert "reception" in refused.value.en or code == "cccd_offline"
    finally:
        agent.store.close()


# ------------------------------------------------------------------ the payer line from the hub's BHYT check
SCANNED = "001085012345||Nguyễn Văn An|14031985|Nam|12 Phố Huế, Hà Nội|01012021"


class ScanHub:
    """Stands in for HubClient.identify: answers a scan with what the hub said about the card."""

    def __init__(self, insurance: Any) -> None:
        self.insurance = insurance

    def identify(self, cccd: str) -> dict[str, Any]:
        reply: dict[str, Any] = {"patient": {"code": "BN26000001", "full_name": "Nguyễn Văn An"}, "created": False}
        if self.insurance is not ...:
            reply["insurance"] = self.insurance
        return reply


@pytest.mark.parametrize(("answer", "page"), [
    (ELIGIBLE_ANSWER, PAGE_ANSWER),
    ({"status": "refused", "reason": "expired", "service": "kham-dv", "payer": "dich_vu", "label": "Khám dịch vụ",
      "label_en": "Fee-paying visit", "benefit_level": 4},
     {"status": "refused", "reason": "expired", "service": "kham-dv", "payer": "dich_vu", "label": "Khám dịch vụ",
      "label_en": "Fee-paying visit", "benefit_level": 4}),
    # The portal was down: "not yet checked", the patient goes on (no separate lines configured here).
    ({"status": "unchecked", "reason": "gateway_down", "service": None, "payer": "bhyt_pending",
      "label": "Khám BHYT (chưa kiểm tra)", "label_en": "Health insurance visit (not yet checked)"},
     {"status": "unchecked", "reason": "gateway_down", "service": None, "payer": "bhyt_pending",
      "label": "Khám BHYT (chưa kiểm tra)", "label_en": "Health insurance visit (not yet checked)",
      "benefit_level": None}),
    (..., None),  # a hub without BHYT says nothing
    ({"status": "maybe"}, None),  # nor does an answer the page could not act on
    ({**ELIGIBLE_ANSWER, "service": ""}, {**PAGE_ANSWER, "service": None}),
])
def test_a_scan_passes_the_payer_line_to_the_page(tmp_path: Path, answer: Any, page: Any) -> None:
    agent = typed_agent(tmp_path, ScanHub(answer))  # type: ignore[arg-type]
    try:
        found = agent.identify_card(SCANNED)
        assert found["insurance"] == page
        agent.handle_scan(SCANNED.encode() + b"\r\n")  # the serial scanner: the same answer reaches the page
        scan = agent.state()["scan"]
        assert scan["kind"] == "patient" and scan["insurance"] == page
    finally:
        agent.store.close()
