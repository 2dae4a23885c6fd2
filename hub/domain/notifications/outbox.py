"""The notification outbox: messages to patients are rows first, and sent by a worker later.

Whoever wants to tell a patient something (booking, follow-ups, the no-show job) calls `enqueue`,
possibly inside its own transaction, so a message exists exactly when the change that caused it was
committed. A worker claims due rows atomically, sends them through a channel and records the result;
a channel that is down costs retries with backoff, never a lost message. Consent, quiet hours and the
dedupe key are enforced here, so no caller can forget them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, and_, func, insert, or_, select, update

from hub.config import ClinicConfig
from hub.db import Database, upsert
from hub.domain.common.clock import Clock
from hub.domain.common.errors import Conflict, Invalid, NotFound
from hub.domain.common.events import Event, EventBus
from hub.domain.common.models import AuditEntry
from hub.domain.notifications.models import Notification, NotificationConsent, PatientMessage
from hub.domain.notifications.settings import CHANNELS
from hub.domain.notifications.templates import TemplateBook, TemplateError
from hub.domain.patients.models import Patient

N = Notification.__table__
C = NotificationConsent.__table__
M = PatientMessage.__table__
STATES = ("pending", "sending", "sent", "failed", "cancelled", "skipped")
LANGUAGES = ("vi", "en")
MAX_PARAMS_BYTES = 8000
# Messages the patient asked for this minute (a sign-in code): no consent needed, never held for quiet
# hours, and their secret parameter is wiped from the row once it is settled (it is single-use anyway).
TRANSACTIONAL = frozenset({"otp"})
SECRET_PARAMS = ("code",)
REDACTED = "••••••"


@dataclass(frozen=True)
class PatientMessageCreated(Event):
    """An in-app message was stored for a patient (the portal's live view shows it)."""

    patient_code: str
    message: dict[str, Any]


@dataclass(frozen=True)
class Claim:
    """A row a worker holds while sending it; `token` proves the hold when the result is recorded."""

    id: int
    token: str
    channel: str
    recipient: str
    template: str
    language: str
    params: dict[str, Any]
    attempts: int
    patient_id: int | None
    appointment_id: int | None


def in_quiet_hours(instant: datetime, quiet: tuple[time, time] | None, tz: ZoneInfo) -> bool:
    if quiet is None:
        return False
    start, end = quiet
    moment = instant.astimezone(tz).time()
    return start <= moment < end if start < end else moment >= start or moment < end


def after_quiet_hours(instant: datetime, quiet: tuple[time, time] | None, tz: ZoneInfo) -> datetime:
    """`instant`, or the end of the quiet hours it falls in (site time)."""
    if not in_quiet_hours(instant, quiet, tz):
        return instant
    assert quiet is not None
    local = instant.astimezone(tz)
    day = local.date()
    if quiet[0] > quiet[1] and local.time() >= quiet[0]:
        day += timedelta(days=1)  # the evening part of a range across midnight ends tomorrow morning
    return datetime.combine(day, quiet[1], tzinfo=tz).astimezone(instant.tzinfo)


class NotificationService:
    """Enqueue, claim, record, retry and cancel messages; patients' consent; the in-app inbox."""

    def __init__(self, db: Database, config: ClinicConfig, bus: EventBus, clock: Clock) -> None:
        self.db = db
        self.config = config
        self.settings = config.notifications
        self.bus = bus
        self.clock = clock
        self.tz = config.site.tz
        self.quiet = self.settings.quiet_range()
        hotline, address = self.settings.hotline, self.settings.address
        sender = self.settings.sender_name
        self.templates = TemplateBook(self.settings.templates, {
            "vi": {"site_name": config.site.name, "hotline": hotline, "address": address,
                   "sender_name": sender or config.site.name},
            "en": {"site_name": config.site.name_en, "hotline": hotline, "address": address,
                   "sender_name": sender or config.site.name_en},
        })

    # ------------------------------------------------------------------ enqueue
    def enqueue(self, template: str, *, patient_id: int | None = None, to: Mapping[str, str] | None = None,
                channels: Sequence[str] | None = None, params: Mapping[str, Any] | None = None,
                language: str | None = None, due_at: datetime | None = None, dedupe_key: str | None = None,
                appointment_id: int | None = None, actor: str = "system",
                connection: Connection | None = None, fallback: bool | None = None) -> list[dict[str, Any]]:
        """Queue `template` for a patient (or explicit addresses in `to`) on each channel; one row each.

        Channels default to the configured ones. A channel without consent, address or that is turned
        off gets a 'skipped' row saying why. With `dedupe_key` (e.g. "appt:123:reminder:24h") a second
        call returns the rows of the first instead of queueing again. Pass `connection` to enqueue in
        the caller's transaction. Returns the rows with `created` telling new from deduplicated ones.
        """
        language = language or self.config.site.language
        params = dict(params or {})
        self._check_request(template, language, params, channels, dedupe_key)
        chosen = list(dict.fromkeys(channels or self.settings.channels))
        now = self.clock.now()
        due = due_at or now
        if due.tzinfo is None:
            raise Invalid("naive_time", "due_at must carry a time zone")
        with self._transaction(connection) as tx:
            patient = self._patient(tx, patient_id) if patient_id is not None else None
            consents = self._consents(tx, patient_id) if patient_id is not None else {}
            rows = []
            # The configured channels use the fallback chain; a caller naming channels gets those, unless it asks.
            if patient is not None and not to and (channels is None if fallback is None else fallback):
                chosen = self._first_of_chain(chosen, patient, consents, template)
            for channel in chosen:
                recipient, skip = self._route(channel, patient, consents, to or {},
                                              consent_needed=template not in TRANSACTIONAL)
                values = {
                    "channel": channel, "recipient": recipient[:200], "template": template, "language": language,
                    "params": params, "state": "skipped" if skip else "pending",
                    "due_at": due if template in TRANSACTIONAL else self._deferred(channel, due),
                    "attempts": 0, "last_error": skip,
                    "dedupe_key": dedupe_key, "patient_id": patient_id, "appointment_id": appointment_id,
                    "created_at": now, "created_by": actor[:64], "updated_at": now,
                }
                new_id = self._insert_once(tx, values)
                if new_id is None:  # already queued under this dedupe key
                    existing = tx.execute(select(N).where(N.c.dedupe_key == dedupe_key, N.c.channel == channel)).one()
                    rows.append({**_row(existing), "created": False})
                else:
                    rows.append({**_row(tx.execute(select(N).where(N.c.id == new_id)).one()), "created": True})
        return rows

    def _first_of_chain(self, chosen: list[str], patient: Any, consents: dict[str, bool], template: str) -> list[str]:
        """Of the fallback chain (Zalo -> SMS -> email) keep the first channel that can reach the patient;
        the others are used only if it fails (`fall_back`). None can: all stay, as skipped rows saying why."""
        chain = [c for c in self.settings.fallback if c in chosen]
        for channel in chain:
            if self._route(channel, patient, consents, {}, consent_needed=template not in TRANSACTIONAL)[1] is None:
                return [c for c in chosen if c not in chain or c == channel]
        return chosen

    def fall_back(self, claim: Claim, reason: str) -> list[dict[str, Any]]:
        """The message could not go out on `claim.channel` for good: queue it on the next channel of the
        fallback chain that reaches the patient (same dedupe key, so a second fall-back adds nothing)."""
        chain = list(self.settings.fallback)
        if claim.patient_id is None or claim.channel not in chain:
            return []
        rest = chain[chain.index(claim.channel) + 1:]
        with self.db.write() as tx:
            patient = self._patient(tx, claim.patient_id)
            consents = self._consents(tx, claim.patient_id)
            for channel in rest:
                recipient, skip = self._route(channel, patient, consents, {},
                                              consent_needed=claim.template not in TRANSACTIONAL)
                if skip is not None:
                    continue
                now = self.clock.now()
                key_row = tx.execute(select(N.c.dedupe_key).where(N.c.id == claim.id)).scalar()
                values = {
                    "channel": channel, "recipient": recipient[:200], "template": claim.template,
                    "language": claim.language, "params": claim.params, "state": "pending",
                    "due_at": now if claim.template in TRANSACTIONAL else self._deferred(channel, now), "attempts": 0,
                    "last_error": _cut(f"fallback from {claim.channel}: {reason}", 500),
                    "dedupe_key": key_row, "patient_id": claim.patient_id,
                    "appointment_id": claim.appointment_id, "created_at": now,
                    "created_by": f"fallback:{claim.channel}", "updated_at": now,
                }
                new_id = self._insert_once(tx, values)
                if new_id is None:
                    return []
                return [_row(tx.execute(select(N).where(N.c.id == new_id)).one())]
        return []

    def _check_request(self, template: str, language: str, params: dict[str, Any],
                       channels: Sequence[str] | None, dedupe_key: str | None) -> None:
        if language not in LANGUAGES:
            raise Invalid("bad_language", f"language must be one of {list(LANGUAGES)}, got {language!r}")
        for channel in channels or ():
            if channel not in CHANNELS:
                raise Invalid("unknown_channel", f"unknown channel {channel!r} (expected one of {list(CHANNELS)})")
        try:
            missing = self.templates.missing(template, language, params)
        except TemplateError as exc:
            raise Invalid("unknown_template", str(exc)) from None
        if missing:
            raise Invalid("missing_params", f"template {template!r} needs {sorted(missing)}")
        try:
            encoded = json.dumps(params, ensure_ascii=False)
        except (TypeError, ValueError):
            raise Invalid("bad_params", "params must be JSON values (text, numbers)") from None
        if len(encoded.encode()) > MAX_PARAMS_BYTES:
            raise Invalid("bad_params", f"params are larger than {MAX_PARAMS_BYTES} bytes")
        if dedupe_key is not None and not 1 <= len(dedupe_key) <= 160:
            raise Invalid("bad_dedupe_key", "a dedupe key has 1 to 160 characters")

    @staticmethod
    def _patient(tx: Connection, patient_id: int) -> Any:
        patient = tx.execute(select(Patient.id, Patient.code, Patient.phone, Patient.email)
                             .where(Patient.id == patient_id)).first()
        if patient is None:
            raise NotFound("unknown_patient", f"no patient with id {patient_id}")
        return patient

    @staticmethod
    def _consents(tx: Connection, patient_id: int) -> dict[str, bool]:
        rows = tx.execute(select(C.c.channel, C.c.granted).where(C.c.patient_id == patient_id))
        return {channel: granted for channel, granted in rows}

    def _route(self, channel: str, patient: Any, consents: dict[str, bool],
               to: Mapping[str, str], *, consent_needed: bool = True) -> tuple[str, str | None]:
        """The recipient on `channel`, and why the message is skipped (None: it will be sent)."""
        explicit = to.get(channel)
        address = {"email": patient.email, "sms": patient.phone, "zalo": patient.phone, "in_app": patient.code,
                   "file_log": patient.code} if patient is not None else {}
        recipient = explicit or address.get(channel) or (next(iter(to.values()), "") if channel == "file_log" else "")
        if not self.settings.channel_enabled(channel):
            return recipient or "-", f"channel_disabled: the {channel} channel is turned off"
        if channel == "in_app" and patient is None:
            return recipient or "-", "no_patient: in-app messages go to a patient's portal"
        if not recipient:
            return "-", f"no_address: the patient has no {'phone number' if channel in ('sms', 'zalo') else channel}"
        if (consent_needed and patient is not None and channel in self.settings.require_consent
                and not consents.get(channel)):
            return recipient, f"no_consent: the patient has not agreed to {channel} messages"
        return recipient, None

    def _deferred(self, channel: str, due: datetime) -> datetime:
        return after_quiet_hours(due, self.quiet, self.tz) if channel in self.settings.quiet_channels else due

    @staticmethod
    def _insert_once(tx: Connection, values: dict[str, Any]) -> int | None:
        """Insert unless (dedupe_key, channel) exists; the unique constraint decides even between racers."""
        if tx.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        else:
            from sqlalchemy.dialects.sqlite import insert as dialect_insert
        statement = dialect_insert(N).values(**values)
        if values["dedupe_key"] is not None:
            statement = statement.on_conflict_do_nothing(index_elements=["dedupe_key", "channel"])
        return tx.execute(statement.returning(N.c.id)).scalar()

    # ------------------------------------------------------------------ consent
    def set_consent(self, patient_id: int, channel: str, granted: bool, *, actor: str,
                    source: str = "reception") -> None:
        """Record that a patient agreed (or no longer agrees) to messages on `channel`."""
        if channel not in CHANNELS:
            raise Invalid("unknown_channel", f"unknown channel {channel!r} (expected one of {list(CHANNELS)})")
        now = self.clock.now()
        with self.db.write() as tx:
            self._patient(tx, patient_id)
            values = {"granted": granted, "source": source[:32], "actor": actor[:64], "updated_at": now}
            tx.execute(upsert(tx, C, {"patient_id": patient_id, "channel": channel, **values},
                              ["patient_id", "channel"], values))
            tx.execute(insert(AuditEntry).values(at=now, actor=actor[:64], action="consent.set",
                                                 subject=f"patient:{patient_id}",
                                                 detail={"channel": channel, "granted": granted, "source": source}))

    def consents(self, patient_id: int) -> dict[str, bool]:
        with self.db.read() as tx:
            return self._consents(tx, patient_id)

    def consent_allows(self, patient_id: int | None, channel: str, template: str = "") -> bool:
        """Whether a message to this patient may go out on `channel` now (consent may have been withdrawn)."""
        if patient_id is None or channel not in self.settings.require_consent or template in TRANSACTIONAL:
            return True
        with self.db.read() as tx:
            return bool(self._consents(tx, patient_id).get(channel))

    # ------------------------------------------------------------------ the worker's side
    def claim(self, worker: str, *, now: datetime | None = None, limit: int | None = None) -> list[Claim]:
        """Take due rows for sending: each row goes to one worker only, until its lease runs out."""
        now = now or self.clock.now()
        token = f"{worker[:60]}/{uuid.uuid4().hex[:12]}"
        claimable = or_(and_(N.c.state == "pending", N.c.due_at <= now),
                        # A worker died while sending: its row is taken again, but only after the lease.
                        and_(N.c.state == "sending", N.c.lease_until <= now))
        if in_quiet_hours(now, self.quiet, self.tz) and self.settings.quiet_channels:
            claimable = and_(claimable, or_(N.c.channel.not_in(self.settings.quiet_channels),
                                            N.c.template.in_(sorted(TRANSACTIONAL))))
        with self.db.write() as tx:
            # PostgreSQL: rows another worker is claiming are skipped, not waited for. SQLite's BEGIN
            # IMMEDIATE already lets one claimer in at a time (FOR UPDATE is not rendered there).
            ids = tx.execute(select(N.c.id).where(claimable).order_by(N.c.due_at, N.c.id)
                             .limit(limit or self.settings.batch_size)
                             .with_for_update(skip_locked=True)).scalars().all()
            if not ids:
                return []
            tx.execute(update(N).where(N.c.id.in_(ids), claimable).values(
                state="sending", claimed_by=token, attempts=N.c.attempts + 1, updated_at=now,
                lease_until=now + timedelta(seconds=self.settings.lease_seconds)))
            rows = tx.execute(select(N).where(N.c.id.in_(ids), N.c.claimed_by == token).order_by(N.c.due_at, N.c.id))
            return [Claim(id=r.id, token=token, channel=r.channel, recipient=r.recipient, template=r.template,
                          language=r.language, params=dict(r.params or {}), attempts=r.attempts,
                          patient_id=r.patient_id, appointment_id=r.appointment_id) for r in rows]

    def mark_sent(self, claim: Claim, *, provider_ref: str | None = None, subject: str | None = None,
                  body: str | None = None) -> bool:
        """Record a delivery; False when the claim had expired and another worker holds the row now."""
        now = self.clock.now()
        return self._finish(claim, state="sent", sent_at=now, provider_ref=provider_ref, subject=_cut(subject, 300),
                            body=body, last_error=None)

    def mark_unsent(self, claim: Claim, error: str, *, permanent: bool = False, subject: str | None = None,
                    body: str | None = None) -> str:
        """Record a failed attempt: due again after a backoff, or 'failed' for staff; returns the new state."""
        now = self.clock.now()
        if permanent or claim.attempts >= self.settings.max_attempts:
            state, due = "failed", None
        else:
            state = "pending"
            due = now + timedelta(seconds=self.settings.retry_delay(claim.attempts))
            if claim.template not in TRANSACTIONAL:
                due = self._deferred(claim.channel, due)
        values: dict[str, Any] = {"state": state, "last_error": _cut(error, 500), "subject": _cut(subject, 300),
                                  "body": body}
        if due is not None:
            values["due_at"] = due
        return state if self._finish(claim, **values) else "lost"

    def mark_skipped(self, claim: Claim, reason: str) -> bool:
        return self._finish(claim, state="skipped", last_error=_cut(reason, 500))

    def _finish(self, claim: Claim, **values: Any) -> bool:
        if claim.template in TRANSACTIONAL and values.get("state") != "pending":
            # Settled: the code is not kept in the outbox (staff read the row; only its hash is the record).
            secrets = [str(claim.params[k]) for k in SECRET_PARAMS if claim.params.get(k)]
            values["params"] = {k: (REDACTED if k in SECRET_PARAMS else v) for k, v in claim.params.items()}
            for secret in secrets:
                for key in ("body", "subject"):
                    if values.get(key):
                        values[key] = values[key].replace(secret, REDACTED)
        with self.db.write() as tx:
            done = tx.execute(update(N).where(N.c.id == claim.id, N.c.state == "sending", N.c.claimed_by == claim.token)
                              .values(claimed_by=None, lease_until=None, updated_at=self.clock.now(), **values))
            return done.rowcount == 1

    # ------------------------------------------------------------------ staff actions
    def retry(self, notification_id: int, *, actor: str) -> dict[str, Any]:
        """Send a failed, skipped or cancelled message again, with a fresh round of attempts."""
        now = self.clock.now()
        with self.db.write() as tx:
            row = self._get(tx, notification_id)
            if row.state not in ("failed", "skipped", "cancelled"):
                raise Conflict("not_retryable", f"a {row.state} message cannot be retried")
            tx.execute(update(N).where(N.c.id == notification_id).values(
                state="pending", attempts=0, due_at=self._deferred(row.channel, now), updated_at=now))
            self._audit(tx, actor, "notification.retry", notification_id, row.state)
            return _row(self._get(tx, notification_id))

    def cancel(self, notification_id: int, *, actor: str) -> dict[str, Any]:
        """Withdraw a message that has not gone out (pending or failed)."""
        now = self.clock.now()
        with self.db.write() as tx:
            row = self._get(tx, notification_id)
            if row.state not in ("pending", "failed"):
                raise Conflict("not_cancellable", f"a {row.state} message cannot be cancelled")
            tx.execute(update(N).where(N.c.id == notification_id, N.c.state == row.state)
                       .values(state="cancelled", updated_at=now))
            self._audit(tx, actor, "notification.cancel", notification_id, row.state)
            return _row(self._get(tx, notification_id))

    def cancel_pending(self, *, appointment_id: int, templates: Sequence[str] | None = None, actor: str = "system",
                       connection: Connection | None = None) -> int:
        """Cancel an appointment's messages still waiting (its reminders, after a reschedule or cancellation)."""
        condition = and_(N.c.appointment_id == appointment_id, N.c.state == "pending")
        if templates:
            condition = and_(condition, N.c.template.in_(list(templates)))
        with self._transaction(connection) as tx:
            count = tx.execute(update(N).where(condition).values(state="cancelled", updated_at=self.clock.now(),
                                                                 last_error=f"cancelled by {actor}"[:500])).rowcount
        return count

    def _audit(self, tx: Connection, actor: str, action: str, notification_id: int, previous: str) -> None:
        tx.execute(insert(AuditEntry).values(at=self.clock.now(), actor=actor[:64], action=action,
                                             subject=f"notification:{notification_id}", detail={"from": previous}))

    # ------------------------------------------------------------------ reads
    def get(self, notification_id: int) -> dict[str, Any]:
        with self.db.read() as tx:
            return _row(self._get(tx, notification_id))

    @staticmethod
    def _get(tx: Connection, notification_id: int) -> Any:
        row = tx.execute(select(N).where(N.c.id == notification_id)).first()
        if row is None:
            raise NotFound("unknown_notification", f"no notification {notification_id}")
        return row

    def list(self, *, states: Sequence[str] | None = None, appointment_id: int | None = None,
             patient_id: int | None = None, limit: int = 200) -> list[dict[str, Any]]:
        """Messages, newest due first, filtered by state, appointment or patient."""
        query = select(N).order_by(N.c.due_at.desc(), N.c.id.desc()).limit(limit)
        if states:
            query = query.where(N.c.state.in_(list(states)))
        if appointment_id is not None:
            query = query.where(N.c.appointment_id == appointment_id)
        if patient_id is not None:
            query = query.where(N.c.patient_id == patient_id)
        with self.db.read() as tx:
            return [_row(r) for r in tx.execute(query)]

    def counts(self) -> dict[str, int]:
        """How many messages are in each state (the admin page's summary)."""
        with self.db.read() as tx:
            found = dict(tx.execute(select(N.c.state, func.count()).group_by(N.c.state)).all())
        return {state: int(found.get(state, 0)) for state in STATES}

    # ------------------------------------------------------------------ the in-app inbox (for the portal)
    def inbox(self, patient_id: int, *, limit: int = 50) -> list[dict[str, Any]]:
        with self.db.read() as tx:
            rows = tx.execute(select(M).where(M.c.patient_id == patient_id)
                              .order_by(M.c.created_at.desc(), M.c.id.desc()).limit(limit))
            return [{"id": r.id, "title": r.title, "body": r.body, "link": r.link,
                     "created_at": r.created_at.isoformat(), "read": r.read_at is not None} for r in rows]

    def inbox_of(self, patient_code: str, *, limit: int = 50) -> list[dict[str, Any]]:
        """The inbox by patient code (what a portal page's subscription names)."""
        with self.db.read() as tx:
            patient_id = tx.execute(select(Patient.id).where(Patient.code == patient_code)).scalar()
        if patient_id is None:
            raise NotFound("unknown_patient", f"no patient with code {patient_code!r}")
        return self.inbox(patient_id, limit=limit)

    def mark_read(self, patient_id: int, message_id: int) -> bool:
        with self.db.write() as tx:
            return tx.execute(update(M).where(M.c.id == message_id, M.c.patient_id == patient_id, M.c.read_at.is_(None))
                              .values(read_at=self.clock.now())).rowcount == 1

    @contextmanager
    def _transaction(self, connection: Connection | None) -> Iterator[Connection]:
        if connection is not None:
            yield connection
        else:
            with self.db.write() as tx:
                yield tx


def _cut(text: str | None, length: int) -> str | None:
    return None if text is None else text[:length]


def _row(row: Any) -> dict[str, Any]:
    """A row as plain values (times in ISO 8601) for pages, the API and tests."""
    out = dict(row._mapping)
    for key in ("due_at", "sent_at", "lease_until", "created_at", "updated_at"):
        if out.get(key) is not None:
            out[key] = out[key].isoformat()
    out.pop("claimed_by", None)
    return out
