"""The kiosk agent: what a patient can do at the touchscreen, and the parts that make it happen.

Every ticket is saved before it is printed: on the hub (online) or in the local outbox with a number
from a lease (offline). The printer can fail without losing a ticket; the ticket can be reprinted
from the page or on a staff request that arrives over MQTT.
"""

from __future__ import annotations

import itertools
import logging
import re
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

from hub import protocol
from kiosk import catalogue
from kiosk.cccd import CccdError, parse_cccd
from kiosk.device_bus import KioskBus
from kiosk.hub_client import HubClient, HubRefused, HubUnreachable
from kiosk.hub_link import HubLink
from kiosk.lease_store import LeaseStore
from kiosk.outbox import PAPER_OUT, PRINTED, UNCONFIRMED, KioskTicket, Outbox, new_key
from kiosk.printing import TicketPrinter, ticket_print
from kiosk.refusals import Refusal
from kiosk.scanner import ScannerReader, classify_scan
from kiosk.settings import KioskSettings
from kiosk.store import LocalStore, utc_now
from kiosk.ticket_image import TicketPrint

# What the keypad may send: a 12-digit CCCD number or a 15-character BHYT card code; the birth date dd/mm/yyyy.
TYPED_NUMBER = re.compile(r"^(\d{12}|[A-Z]{2}[1-5]\d{12})$")
TYPED_BIRTH = re.compile(r"^\d{2}/\d{2}/\d{4}$")
log = logging.getLogger(__name__)
FIRMWARE = "clinicq-kiosk 0.1.0"
SCAN_SHOWN_S = 60  # a scan older than this is not shown on the page any more
PAPER_POLL_S = 10.0


# What the page needs of the hub's BHYT answer at a scan: who pays, in words, and the line to offer first.
PAYER_FIELDS = ("status", "reason", "benefit_level", "service", "payer", "label", "label_en")
PAYER_STATUSES = ("eligible", "refused", "unchecked")


def payer_line(found: dict[str, Any]) -> dict[str, Any] | None:
    """The hub's `insurance` answer cut to what the page shows (None: the hub has no BHYT, or said nothing
    usable). The card number and the holder's details stay on the hub: the page is a public screen."""
    answer = found.get("insurance")
    if not isinstance(answer, dict) or answer.get("status") not in PAYER_STATUSES:
        return None
    kept = {name: answer.get(name) for name in PAYER_FIELDS}
    if not isinstance(kept["service"], str) or not kept["service"]:
        kept["service"] = None
    return kept


class KioskAgent:
    """Issues tickets (online or from leases), checks in bookings and ID cards, prints and reprints."""

    def __init__(self, settings: KioskSettings, printer: TicketPrinter | None = None) -> None:
        self.settings = settings
        self.store = LocalStore(Path(settings.data_dir) / "kiosk.db")
        self.outbox = Outbox(self.store)
        self.leases = LeaseStore(self.store)
        self.client = HubClient(settings.hub_url, settings.token, settings.http_timeout_s)
        self.link = HubLink(settings, self.store, self.outbox, self.leases, on_setup=self._on_setup)
        self.printer = printer or TicketPrinter(settings.printer, settings.paper_mm)
        self.paper = "unknown"
        self.language = "vi"
        self.bus: KioskBus | None = None
        self.scanner: ScannerReader | None = None
        self.last_scan: dict[str, Any] | None = None
        self._scan_ids = itertools.count(1)
        self._issue_lock = threading.Lock()  # one patient at a time, one print job at a time
        self._stopping = threading.Event()
        self._paper_thread = threading.Thread(target=self._watch_paper, name="paper", daemon=True)

    # ------------------------------------------------------------------ life cycle
    def start(self) -> KioskAgent:
        recovered = self.outbox.recover()
        if recovered:
            log.warning("%d request(s) were unanswered at the last stop: they will be settled with the hub",
                        recovered)
        self.link.start()
        self._paper_thread.start()
        if self.settings.scanner:
            self.scanner = ScannerReader(self.settings.scanner, self.handle_scan, self.settings.scanner_baud).start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self.scanner is not None:
            self.scanner.stop()
        self.link.stop()
        if self.bus is not None:
            self.bus.stop()
        self.store.close()

    def _on_setup(self, setup: dict[str, Any]) -> None:
        """The hub's site is known: join the device bus (its topics are under the site's id)."""
        if self.bus is not None or not self.settings.mqtt_url:
            return
        self.bus = KioskBus(self.settings.mqtt_url, setup["site"]["id"], self.settings.device_id,
                            self.settings.secret, info=self._info, telemetry=self._telemetry,
                            on_command=self._on_command, on_config=self._on_config).start()

    # ------------------------------------------------------------------ what the page shows
    def state(self) -> dict[str, Any]:
        """Everything the page needs to draw itself, from what the agent already knows (no hub call)."""
        setup = self.link.setup or {}
        numbers_left = self.leases.remaining(self.link.today())
        scan = self.last_scan if self.last_scan and time.monotonic() - self.last_scan["at"] < SCAN_SHOWN_S else None
        return {
            "ready": bool(setup and self.link.services),
            "online": self.link.online,
            "paper": self.paper,
            "language": self.language,
            "idle_s": self.settings.idle_s,
            "site": {k: setup.get("site", {}).get(k, "") for k in ("name", "name_en")},
            "services": catalogue.service_choices(self.link.services, self.link.counters, self.settings.services,
                                                  numbers_left),
            "priorities": catalogue.kiosk_priorities(setup),
            "scan": {k: v for k, v in scan.items() if k != "at"} if scan else None,
            "unsent": sum(n for state, n in self.outbox.counts().items() if state in ("pending", UNCONFIRMED)),
        }

    def ticket_view(self, ticket: KioskTicket) -> dict[str, Any]:
        """A ticket as the result screen shows it."""
        setup = self.link.setup or {}
        reply = ticket.reply or {}
        service = self._service(ticket.service) or {}
        names = catalogue.priority_names(setup, ticket.priority)
        online = bool(reply) and not ticket.offline
        return {
            "key": ticket.key, "number": ticket.number, "service": ticket.service,
            "service_name": reply.get("service_name") or service.get("name") or ticket.service,
            "service_name_en": reply.get("service_name_en") or service.get("name_en") or ticket.service,
            "rooms": catalogue.rooms_of(ticket.service, self.link.counters),
            "priority": ticket.priority, "priority_name": names[0] if names else None,
            "priority_name_en": names[1] if names else None,
            "ahead": reply.get("ahead") if online else None,
            "estimate": reply.get("estimate") if online else None,
            "offline": ticket.offline, "print_state": ticket.print_state,
            "issued_at": reply.get("issued_at") or ticket.created_at.isoformat(),
            # Who pays, from the hub's BHYT check: shown on the screen as on the paper.
            "payer": (reply.get("insurance") or {}).get("label"),
            "payer_en": (reply.get("insurance") or {}).get("label_en"),
        }

    # ------------------------------------------------------------------ taking a number
    def take_ticket(self, service: str, priority: str = "normal", patient_code: str | None = None) -> dict[str, Any]:
        """Issue a ticket (on the hub, or from a lease when it cannot be reached), print it, and describe it."""
        with self._issue_lock:
            self._check_choice(service, priority)
            ticket = self._issue_online(service, priority, patient_code) if self.link.online else None
            if ticket is None:
                ticket = self._issue_offline(service, priority, patient_code)
            return self.ticket_view(self._print(ticket))

    def _check_choice(self, service: str, priority: str) -> None:
        if not self.link.setup or not self.link.services:
            raise Refusal("not_ready", 503)
        choice = next((s for s in self.state()["services"] if s["code"] == service), None)
        if choice is None:
            raise Refusal("refused", 404, f"unknown service {service!r}")
        if not choice["open"]:
            raise Refusal("service_closed")
        allowed = {"normal"} | {c["code"] for c in catalogue.kiosk_priorities(self.link.setup)}
        if priority not in allowed:
            raise Refusal("refused", 422, f"priority {priority!r} is not offered at the kiosk")

    def _issue_online(self, service: str, priority: str, patient_code: str | None) -> KioskTicket | None:
        """The hub's ticket, or None when the hub did not answer (the caller then issues offline)."""
        key = self.outbox.begin_online(service, priority, patient_code)
        body: dict[str, Any] = {"service": service, "priority": priority, "source": "kiosk", "idempotency_key": key,
                                "device": self.settings.device_id}
        if patient_code:
            body["patient_code"] = patient_code
        try:
            reply = self.client.issue(body)
        except HubRefused as exc:
            self.outbox.forget(key)
            raise Refusal.from_hub(exc.status, exc.code, exc.message) from None
        except HubUnreachable:
            # The hub may still have made the ticket: the outbox cancels it later, the patient gets a leased one.
            self.outbox.set_state(key, UNCONFIRMED)
            self.link.lost()
            return None
        self.outbox.mark_issued(key, reply)
        return self.outbox.get(key)

    def _issue_offline(self, service: str, priority: str, patient_code: str | None) -> KioskTicket:
        day = self.link.today()
        prefix = (self._service(service) or {}).get("prefix")
        if not prefix:
            raise Refusal("no_numbers_left", 503)
        # The number leaves the lease in the same transaction that saves the ticket: never lost, never twice.
        with self.store.transaction() as connection:
            seq = self.leases.take(connection, day, service)
            if seq is None:
                raise Refusal("no_numbers_left", 503)
            key = self.outbox.add_offline(connection, service=service, priority=priority, patient_code=patient_code,
                                          day=day, seq=seq, number=protocol.ticket_number(prefix, seq))
        self.link.poke()
        ticket = self.outbox.get(key)
        assert ticket is not None
        log.info("issued %s offline from a lease", ticket.number)
        return ticket

    # ------------------------------------------------------------------ booking and ID card
    def check_in_booking(self, code: str) -> dict[str, Any]:
        """Turn a booking code into a ticket on the hub (a booking cannot be checked offline)."""
        code = code.strip().upper()
        if not code:
            raise Refusal("unknown_appointment", 404)
        with self._issue_lock:
            if not self.link.online:
                raise Refusal("booking_offline", 503)
            key = new_key()
            try:
                reply = self.client.issue({"appointment_code": code[:32], "source": "booking", "idempotency_key": key,
                                           "device": self.settings.device_id})
            except HubRefused as exc:
                if exc.status == 404 or exc.code in ("unknown_appointment", "invalid_request"):
                    raise Refusal("unknown_appointment", 404) from None
                # Too early, another day, already checked in: the hub says which, in words for patients.
                raise Refusal.from_hub(exc.status, exc.code, exc.message) from None
            except HubUnreachable:
                self.link.lost()
                raise Refusal("booking_offline", 503) from None
            ticket = self.outbox.record_issued(key, reply)
            return self.ticket_view(self._print(ticket))

    def identify_card(self, payload: str | bytes) -> dict[str, Any]:
        """The patient of a scanned chip ID card, found or registered on the hub. The payload is never logged."""
        try:
            parse_cccd(payload, today=self.link.today())
        except CccdError as error:
            log.info("ID card scan rejected: %s", error.reason)
            raise Refusal("invalid_cccd", 422) from None
        text = payload.decode("utf-8") if isinstance(payload, bytes) else payload
        if not self.link.online:
            raise Refusal("cccd_offline", 503)
        try:
            found = self.client.identify(text.strip())
        except HubRefused as exc:
            raise Refusal("invalid_cccd" if exc.status == 422 else "refused", exc.status) from None
        except HubUnreachable:
            self.link.lost()
            raise Refusal("cccd_offline", 503) from None
        return {"patient": found["patient"], "created": found["created"], "insurance": payer_line(found)}

    def identify_typed(self, number: str, born: str) -> dict[str, Any]:
        """A known patient from a number typed on the keypad (CCCD or BHYT card code) and the date of birth
        (dd/mm/yyyy). The hub checks the pair and limits wrong attempts; nothing typed is logged."""
        compact = re.sub(r"[\s-]", "", number or "").upper()
        if not (TYPED_NUMBER.match(compact) and TYPED_BIRTH.match(born or "")):
            raise Refusal("invalid_typed", 422)
        day, month, year = (int(part) for part in born.split("/"))
        try:
            iso = date(year, month, day).isoformat()
        except ValueError:
            raise Refusal("invalid_typed", 422) from None
        if not self.link.online:
            raise Refusal("cccd_offline", 503)
        try:
            found = self.client.identify_typed(compact, iso)
        except HubRefused as exc:
            code = {404: "no_match", 429: "too_many_attempts", 422: "invalid_typed"}.get(exc.status, "refused")
            raise Refusal(code, exc.status) from None
        except HubUnreachable:
            self.link.lost()
            raise Refusal("cccd_offline", 503) from None
        return {"patient": found["patient"], "created": False, "insurance": payer_line(found)}

    def handle_scan(self, line: bytes) -> None:
        """A line from the serial scanner: an ID card or a booking code, acted on at once and shown on the page."""
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            text = ""
        kind = classify_scan(text) if text else "unknown"
        event: dict[str, Any]
        try:
            if kind == "cccd":
                event = {"kind": "patient", **self.identify_card(line)}
            elif kind == "booking":
                event = {"kind": "ticket", "ticket": self.check_in_booking(text)}
            else:
                raise Refusal("unknown_code", 422)
        except Refusal as refusal:
            event = {"kind": "error", **refusal.as_dict()}
        self.last_scan = {"id": next(self._scan_ids), "at": time.monotonic(), **event}

    # ------------------------------------------------------------------ printing
    def reprint(self, key: str) -> dict[str, Any]:
        """Print a ticket of this kiosk again (the page's button)."""
        with self._issue_lock:
            ticket = self.outbox.get(key)
            if ticket is None or ticket.number is None:
                raise Refusal("unknown_ticket", 404)
            return self.ticket_view(self._print(ticket))

    def _print(self, ticket: KioskTicket) -> KioskTicket:
        printed = ticket_print(ticket, self.link.setup or {}, self._service(ticket.service), self.settings.notice,
                               rooms=catalogue.rooms_of(ticket.service, self.link.counters))
        state = self.printer.print(printed)
        self.outbox.set_print_state(ticket.key, state)
        if state == PAPER_OUT:
            self._set_paper("out")
        elif state == PRINTED and self.paper == "out":
            self._set_paper("ok")  # someone loaded paper since the last look
        updated = self.outbox.get(ticket.key)
        assert updated is not None
        return updated

    def _on_command(self, name: str, body: dict[str, Any]) -> None:
        """A command from the hub over MQTT: reprint a ticket, or print a test slip (admin's device test)."""
        if name == "test_print":
            threading.Thread(target=self.print_test, args=(body.get("req_id"),), name="test-print",
                             daemon=True).start()
            return
        if name != "reprint":
            log.info("ignored command %s", name[:40])
            return
        ticket_id = body.get("ticket_id")
        ticket = self.outbox.by_hub_id(ticket_id) if isinstance(ticket_id, int) else None
        if ticket is None:
            log.warning("reprint of ticket %s asked, but this kiosk did not issue it", str(ticket_id)[:20])
            return
        # Not on the MQTT network thread: printing takes a second or two.
        threading.Thread(target=self._reprint_quietly, args=(ticket.key,), name="reprint", daemon=True).start()

    def print_test(self, req_id: Any = None) -> str:
        """A slip that says it is a test, with the hub's name and the time: staff see the printer works."""
        site = (self.link.setup or {}).get("site", {})
        slip = TicketPrint(hospital_name=site.get("name") or "clinicq", hospital_name_en=site.get("name_en"),
                           service_name="PHIẾU IN THỬ", service_name_en="Test print", number="TEST",
                           issued_at=utc_now(), status_url=site.get("public_url") or self.settings.hub_url,
                           notice=f"Máy in {self.settings.device_id} hoạt động bình thường / printer works",
                           timezone=site.get("timezone") or "Asia/Ho_Chi_Minh")
        with self._issue_lock:
            state = self.printer.print(slip)
        # Staff see the result on paper (or its absence); a paper fault is reported as every paper state is.
        log.info("test slip %s: %s", str(req_id)[:64], state)
        return state

    def _reprint_quietly(self, key: str) -> None:
        try:
            view = self.reprint(key)
            log.info("reprinted %s on staff request (%s)", view["number"], view["print_state"])
        except Exception:
            log.exception("reprint failed")

    # ------------------------------------------------------------------ paper, bus
    def _watch_paper(self) -> None:
        while not self._stopping.is_set():
            try:
                # Not under the issue lock: an unreachable printer may take seconds to answer, and the
                # printer's own lock already keeps this question out of a print job.
                state = self.printer.paper()
                if state != "unknown" or self.paper == "unknown":
                    self._set_paper(state)
            except Exception:
                log.exception("asking the printer about paper failed")
            self._stopping.wait(PAPER_POLL_S)

    def _set_paper(self, state: str) -> None:
        if state != self.paper:
            log.info("paper %s", state)
        self.paper = state
        if self.bus is not None:
            self.bus.report_paper(state)

    def _info(self) -> dict[str, Any]:
        return {"model": "clinicq touchscreen kiosk", "firmware": FIRMWARE, "paper_mm": self.settings.paper_mm,
                "capabilities": ["touch", "printer"] + (["scanner"] if self.settings.scanner else []),
                "printer": self.settings.printer.split(":", 1)[0],
                "page_port": self.settings.port}  # the hub's start page links the kiosk's own page

    def _telemetry(self) -> dict[str, Any]:
        counts = self.outbox.counts()
        return {"ts": protocol.now_ts(), "paper": self.paper, "hub": "online" if self.link.online else "offline",
                "unsent": counts.get("pending", 0) + counts.get(UNCONFIRMED, 0),
                "rejected": counts.get("rejected", 0), "scanner": bool(self.scanner and self.scanner.connected)}

    def _on_config(self, config: dict[str, Any]) -> None:
        language = config.get("language")
        if language in ("vi", "en"):
            self.language = language

    def _service(self, code: str) -> dict[str, Any] | None:
        return next((s for s in self.link.services if s["code"] == code), None)

