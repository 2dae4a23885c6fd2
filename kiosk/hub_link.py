"""The kiosk's link to the hub, in one background thread: is the hub there, what does it offer now,
file what the outbox holds, and keep a lease of numbers for each service in case it goes away.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from kiosk.hub_client import HubClient, HubRefused, HubUnreachable
from kiosk.lease_store import LeaseStore
from kiosk.outbox import PENDING, REJECTED, UNCONFIRMED, VOIDED, KioskTicket, Outbox
from kiosk.settings import KioskSettings
from kiosk.store import LocalStore, utc_now

log = logging.getLogger(__name__)
DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
KEEP_TICKETS = timedelta(days=7)
SNAPSHOT_EVERY_S = 60.0
VOID_REASON = "kiosk: no answer from the hub, the patient got an offline number instead"


def ticket_body(ticket: KioskTicket, device_id: str) -> dict[str, Any]:
    """The POST /tickets body of a kiosk ticket; an offline one carries its leased number and issue time."""
    body: dict[str, Any] = {"service": ticket.service, "priority": ticket.priority, "source": "kiosk",
                            "idempotency_key": ticket.key, "device": device_id}
    if ticket.patient_code:
        body["patient_code"] = ticket.patient_code
    if ticket.offline:
        body["offline"] = {"seq": ticket.seq, "issued_at": ticket.created_at.isoformat()}
    return body


class HubLink:
    """Polls the hub, keeps its last answers (in memory and in the local store), flushes the outbox, tops up leases."""

    def __init__(self, settings: KioskSettings, store: LocalStore, outbox: Outbox, leases: LeaseStore,
                 on_setup: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.settings = settings
        self.client = HubClient(settings.hub_url, settings.token, settings.http_timeout_s)
        self.store = store
        self.outbox = outbox
        self.leases = leases
        self.on_setup = on_setup
        self.online = False
        self.setup: dict[str, Any] | None = store.snapshot("setup")
        self.services: list[dict[str, Any]] = store.snapshot("services") or []
        self.counters: list[dict[str, Any]] = store.snapshot("counters") or []
        self._setup_day: date | None = None
        self._saved_at: dict[str, float] = {}
        self._unsaved: set[str] = set()
        self._cleaned_day: date | None = None
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hub-link", daemon=True)

    # ------------------------------------------------------------------ time
    @property
    def timezone(self) -> ZoneInfo:
        return ZoneInfo((self.setup or {}).get("site", {}).get("timezone") or DEFAULT_TIMEZONE)

    def today(self, now: datetime | None = None) -> date:
        """The site's local day: numbers and leases start again at local midnight, not UTC's."""
        return (now or utc_now()).astimezone(self.timezone).date()

    # ------------------------------------------------------------------ life cycle
    def start(self) -> HubLink:
        if self.setup is not None and self.on_setup is not None:
            self.on_setup(self.setup)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        self._thread.join(timeout=10)

    def lost(self) -> None:
        """A request failed: the hub is gone until the next poll finds it again."""
        if self.online:
            log.warning("hub unreachable: issuing from leased numbers")
        self.online = False
        self._wake.set()

    def poke(self) -> None:
        """Run a cycle now (a ticket waits to be filed)."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self.cycle()
            self._wake.wait(self.settings.poll_s)
            self._wake.clear()

    def cycle(self) -> None:
        """One round: read the hub, then file the outbox, then top up leases; offline at the first failure."""
        try:
            self._refresh()
            if not self.online:
                log.info("hub reachable at %s", self.settings.hub_url)
            self.online = True
            self.flush()
            self.top_up()
            self._clean_up()
        except HubUnreachable as exc:
            if self.online:
                log.warning("hub unreachable (%s): issuing from leased numbers", exc)
            self.online = False
        except HubRefused as exc:
            # A wrong token or a hub of another version: nothing here will fix it, so say it loudly.
            log.error("the hub refused the kiosk: %s", exc)
            self.online = False
        except Exception:  # the link must outlive any surprise; the next cycle tries again
            log.exception("hub link cycle failed")

    def _refresh(self) -> None:
        today = self.today()
        reply = self.client.services_reply()
        # An admin changed the clinic's structure (priority classes, names): read the set-up again now.
        changed = (reply.get("structure_version") is not None and self.setup is not None
                   and self.setup.get("structure_version") != reply.get("structure_version"))
        if self.setup is None or self._setup_day != today or changed:
            self.setup = self._keep("setup", self.client.setup())
            self._setup_day = today
            if self.on_setup is not None:
                self.on_setup(self.setup)
        self.services = self._keep("services", reply["services"])
        self.counters = self._keep("counters", self.client.counters())

    def _keep(self, name: str, body: Any) -> Any:
        """Remember the hub's answer; on disk only when it changed, and at most once a minute: waiting
        counts change all morning, and an SD card does not need a write every few seconds."""
        now = time.monotonic()
        if json.dumps(body, sort_keys=True) != json.dumps(getattr(self, name, None), sort_keys=True):
            self._unsaved.add(name)
        if name in self._unsaved and now - self._saved_at.get(name, -SNAPSHOT_EVERY_S) >= SNAPSHOT_EVERY_S:
            self.store.save_snapshot(name, body)
            self._saved_at[name] = now
            self._unsaved.discard(name)
        return body

    # ------------------------------------------------------------------ outbox
    def flush(self) -> int:
        """File every offline ticket and settle every unanswered request, oldest first; returns how many."""
        done = 0
        for ticket in self.outbox.to_send():
            if ticket.state == PENDING:
                self._file_offline(ticket)
            elif ticket.state == UNCONFIRMED:
                self._void(ticket)
            done += 1
        return done

    def _file_offline(self, ticket: KioskTicket) -> None:
        try:
            reply = self.client.issue(ticket_body(ticket, self.settings.device_id))
        except HubRefused as exc:
            # Kept, not dropped: staff can see it in the kiosk's data and in the log.
            log.error("the hub refused offline ticket %s: %s", ticket.number, exc)
            self.outbox.set_state(ticket.key, REJECTED, f"{exc.code}: {exc.message}")
            return
        except HubUnreachable as exc:
            self.outbox.failed_attempt(ticket.key, str(exc))
            raise
        if reply.get("number") != ticket.number:
            log.error("offline ticket %s was filed as %s", ticket.number, reply.get("number"))
        self.outbox.mark_issued(ticket.key, reply)
        log.info("filed offline ticket %s", ticket.number)

    def _void(self, ticket: KioskTicket) -> None:
        """The hub may have made a ticket whose reply never came; the patient holds another: cancel it."""
        try:
            reply = self.client.issue(ticket_body(ticket, self.settings.device_id))
            if reply.get("status") == "waiting":
                self.client.cancel(reply["id"], VOID_REASON)
        except HubRefused as exc:
            log.info("unanswered request %s left nothing to cancel (%s)", ticket.key[:8], exc.code)
        except HubUnreachable as exc:
            self.outbox.failed_attempt(ticket.key, str(exc))
            raise
        self.outbox.set_state(ticket.key, VOIDED)

    # ------------------------------------------------------------------ leases
    def top_up(self) -> None:
        """Hold at least half a lease of today's numbers for every service this kiosk issues."""
        today = self.today()
        left = self.leases.remaining(today)
        wanted = [s["code"] for s in self.services
                  if not self.settings.services or s["code"] in self.settings.services]
        for code in wanted:
            if left.get(code, 0) >= max(1, self.settings.lease_size // 2):
                continue
            try:
                lease = self.client.lease(code, self.settings.lease_size)
            except HubRefused as exc:
                # One service's refusal must not take the kiosk offline for all the others.
                log.error("the hub refused a lease of %s: %s", code, exc)
                continue
            self.leases.add(lease)
            log.info("leased %s to %s of %s for %s", lease["first"], lease["last"], code, lease["day"])

    def _clean_up(self) -> None:
        today = self.today()
        if self._cleaned_day == today:
            return
        self.leases.forget_before(today)
        self.outbox.forget_before(utc_now() - KEEP_TICKETS)
        self._cleaned_day = today
