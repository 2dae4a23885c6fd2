"""The hub's parts wired together: configuration, database, event bus, clock and domain services.

Web, Socket.IO, MQTT and the CLI all work on one `Hub`; none of them builds services by itself.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from itsdangerous import BadSignature, URLSafeSerializer

from hub import migrate
from hub.config import ClinicConfig, ConfigError
from hub.db import Database, sqlite_url
from hub.domain.advice.messages import JOB as ADVICE_JOB
from hub.domain.advice.messages import StaffAdviceMessages
from hub.domain.billing.service import BillingService
from hub.domain.booking.service import BookingService
from hub.domain.clinical.exams import ClinicalService
from hub.domain.common.clock import Clock, SystemClock
from hub.domain.common.events import EventBus
from hub.domain.devices.registry import DeviceRegistry
from hub.domain.follow_ups.patient_messages import PatientMessages
from hub.domain.follow_ups.service import FollowUpService
from hub.domain.insurance.claims import ClaimService
from hub.domain.insurance.rules import InsuranceConfigError
from hub.domain.insurance.service import InsuranceService, insurance_from_config
from hub.domain.notifications.outbox import NotificationService
from hub.domain.queue.engine import QueueService
from hub.domain.reports.store import RollupStore, install_rollup_job
from hub.domain.staff.accounts import StaffService
from hub.domain.staff.tokens import TokenService
from hub.domain.structure.live import LiveConfig
from hub.domain.structure.service import StructureInvalid, StructureService
from hub.notify.dispatch import channels_from_config, install_outbox_job
from hub.scheduler import Scheduler

log = logging.getLogger(__name__)


@dataclass
class Hub:
    config: ClinicConfig
    db: Database
    bus: EventBus
    clock: Clock
    queue: QueueService
    tokens: TokenService
    devices: DeviceRegistry
    staff: StaffService
    booking: BookingService
    clinical: ClinicalService
    billing: BillingService
    notifications: NotificationService  # the outbox; `scheduler` runs its sending job
    scheduler: Scheduler  # started by `clinicq hub` (scheduler.in_hub) or `clinicq worker`
    follow_ups: FollowUpService  # follow-up orders, reminders, patient links, call-back list, figures
    structure: StructureService  # the clinic's structure as admins edit it live; `config` is its LiveConfig
    var_dir: Path
    secret_key: str
    # Anything an adapter wants to stop when the hub stops (MQTT bridge, broker child process...).
    closers: list = field(default_factory=list)
    # Reports "ok", "down" or "disabled"; the MQTT bridge replaces it when it runs.
    mqtt_status: Callable[[], str] = lambda: "disabled"
    insurance: InsuranceService | None = None  # BHYT, when config/insurance.toml exists
    # Which broker serves: "embedded" (amqtt child on loopback) or "external"; "" while MQTT is off.
    mqtt_broker: str = ""
    staff_messages: StaffAdviceMessages | None = None  # the staffing advice to admins who opted in

    def _ticket_signer(self) -> URLSafeSerializer:
        # Made once per key (every issued ticket signs its link); rebuilt if the key is replaced.
        cached = self.__dict__.get("_ticket_serializer")
        if cached is None or cached[0] != self.secret_key:
            cached = (self.secret_key, URLSafeSerializer(self.secret_key, salt="ticket-status"))
            self.__dict__["_ticket_serializer"] = cached
        return cached[1]

    def ticket_token(self, ticket_id: int) -> str:
        """The signed token in a ticket's status link: it lets a patient follow that ticket only."""
        return self._ticket_signer().dumps(ticket_id)

    def check_ticket_token(self, ticket_id: int, token: str) -> bool:
        try:
            return self._ticket_signer().loads(token) == ticket_id
        except BadSignature:
            return False

    def status_url(self, ticket_id: int) -> str:
        return f"{self.config.site.public_url.rstrip('/')}/t/{ticket_id}?k={self.ticket_token(ticket_id)}"

    def visit_token(self, visit_id: int) -> str:
        """The signed token of a visit's status link (/v/<code>?k=): the code alone is guessable."""
        return URLSafeSerializer(self.secret_key, salt="visit-status").dumps(visit_id)

    def check_visit_token(self, visit_id: int, token: str) -> bool:
        try:
            return URLSafeSerializer(self.secret_key, salt="visit-status").loads(token) == visit_id
        except BadSignature:
            return False

    def visit_url(self, visit_id: int) -> str:
        from hub.domain.clinical.slips import visit_code

        return f"{self.config.site.public_url.rstrip('/')}/v/{visit_code(visit_id)}?k={self.visit_token(visit_id)}"

    def close(self) -> None:
        for closer in reversed(self.closers):
            try:
                closer()
            except Exception:
                log.exception("while stopping %r", closer)
        self.closers.clear()
        self.db.dispose()


def database_url(config: ClinicConfig, var_dir: Path, override: str | None = None) -> str:
    return override or config.hub.database_url or sqlite_url(var_dir / "clinicq.db")


def secret_key(config: ClinicConfig, var_dir: Path) -> str:
    """The configured secret, or one generated once and kept in var/secret_key (mode 600)."""
    if config.hub.secret_key:
        return config.hub.secret_key
    path = var_dir / "secret_key"
    if path.is_file():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


def build_hub(config: ClinicConfig, *, var_dir: Path | str = "var", db_url: str | None = None,
              clock: Clock | None = None, bus: EventBus | None = None, upgrade: bool = True) -> Hub:
    """Open the database (migrating it), load the clinic into it and build the services."""
    var_dir = Path(var_dir).resolve()
    var_dir.mkdir(parents=True, exist_ok=True)
    db = Database(database_url(config, var_dir, db_url))
    if upgrade:
        migrate.upgrade(db)
    clock = clock or SystemClock()
    bus = bus or EventBus()
    # config/ seeds the structure of a new site; after that the database holds the admins' edits.
    live = LiveConfig(config)
    structure = StructureService(db, clock, bus, config, live)
    try:
        version, effective = structure.load_or_seed()
    except StructureInvalid as exc:
        raise ConfigError("\n  ".join(["the clinic structure cannot be used:", *exc.problems])) from None
    live.replace(effective, version)
    config = cast(ClinicConfig, live)  # reads as the ClinicConfig in force, swapped when an admin edits
    queue = QueueService(db, config, bus, clock)
    queue.sync_config()
    structure.writers.append(queue.write_structure_tables)
    structure.checks.append(queue.check_structure_change)
    structure.appliers.append(queue.apply_structure)
    devices = DeviceRegistry(db, config, bus, clock)
    devices.sync_config()
    booking = BookingService(db, config, bus, clock, queue)
    booking.sync_config()
    notifications = NotificationService(db, config, bus, clock)
    scheduler = Scheduler(db, clock, config.site.tz, lease_seconds=config.scheduler.lease_seconds,
                          tick_seconds=config.scheduler.tick_seconds)
    install_outbox_job(scheduler, notifications,
                       channels_from_config(config, db=db, bus=bus, clock=clock, var_dir=var_dir))
    key = secret_key(config, var_dir)
    follow_ups = FollowUpService(db, config, bus, clock, booking, notifications, key)
    follow_ups.install_jobs(scheduler)
    # Bookings (desk, portal) and released results reach the outbox; before, a LogNotifier only logged them.
    booking.notifier = messages = patient_messages(notifications, config, clock, key, bus)
    install_booking_reminders(scheduler, messages, config)
    # Closed days are summed once, at night, so the morning's reports open at once.
    install_rollup_job(scheduler, RollupStore(db, config, clock))
    # The advisor runs on a timer too: its advice reaches opted-in admins with nobody on the ops page.
    staff_messages = StaffAdviceMessages(db, config, bus, clock, notifications, staffing=queue.staffing)
    staff_messages.install(bus)
    scheduler.add_job(ADVICE_JOB, staff_messages.run_advisor, every_seconds=config.advisor.message_every_seconds)
    if config.hub.broker_files_dir:
        from hub.mqtt_acl import BrokerFiles  # the broker's files: an adapter, wired here like the channels

        BrokerFiles(config, devices, var_dir).install(bus)
    billing = BillingService(db, config, bus, clock, queue)
    try:
        insurance = insurance_from_config(config.config_dir, db, clock, bus, config.site.tz, dict(os.environ),
                                          {service.code for service in config.services})
    except (InsuranceConfigError, ValueError) as exc:
        raise ConfigError(f"insurance: {exc}") from None
    if insurance is not None:
        billing.splitter = insurance.split_bill_items
        insurance.claims = ClaimService(db, insurance.rules, clock, config.site.tz, billing.bill, var_dir / "claims",
                                        doctors=config.doctors)
        insurance.install_jobs(scheduler)
    built = Hub(config=config, db=db, bus=bus, clock=clock, queue=queue, tokens=TokenService(db, clock),
                devices=devices, staff=StaffService(db, config, clock), booking=booking,
                clinical=ClinicalService(db, config, bus, clock, queue),
                billing=billing, notifications=notifications,
                scheduler=scheduler, follow_ups=follow_ups, structure=structure, var_dir=var_dir, secret_key=key,
                insurance=insurance, staff_messages=staff_messages)
    from hub.printing.slip_printer import EscposSlipPrinter  # the slips' printers: an adapter, wired here

    built.clinical.slips.printer = EscposSlipPrinter(config)
    built.clinical.slips.link_for = built.status_url
    built.clinical.slips.visit_link = built.visit_url
    return built


def patient_messages(notifications: NotificationService, config: ClinicConfig, clock: Clock, key: str,
                     bus: EventBus) -> PatientMessages:
    """The booking notifier and result-ready messages, with links that open one portal page each."""
    from hub.domain.portal.auth import link_token

    def link(code: str, page: str) -> str:
        token = link_token(key, code, clock.now(), page=page)
        return f"{config.site.public_url.rstrip('/')}/portal/link/{token}"

    messages = PatientMessages(notifications, config, link)
    messages.install(bus)
    return messages


def install_booking_reminders(scheduler: Scheduler, messages: PatientMessages, config: ClinicConfig) -> None:
    from hub.domain.follow_ups.patient_messages import PLAN_JOB

    scheduler.add_job(PLAN_JOB, messages.plan, every_seconds=config.follow_ups.plan_every_seconds)
