"""The dispatcher: claims due outbox rows, renders them and hands each to its channel, recording the result."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from hub.config import ClinicConfig
from hub.db import Database
from hub.domain.common.clock import Clock
from hub.domain.common.events import EventBus
from hub.domain.notifications.outbox import Claim, NotificationService
from hub.domain.notifications.templates import TemplateError
from hub.notify.base import Channel, Outgoing, SendError
from hub.notify.email_smtp import SmtpChannel
from hub.notify.file_log import FileLogChannel
from hub.notify.in_app import InAppChannel
from hub.notify.sms_http import HttpSmsChannel
from hub.notify.zalo_zns import ZaloZnsChannel

if TYPE_CHECKING:
    from hub.scheduler import Scheduler

log = logging.getLogger(__name__)
OUTBOX_JOB = "notifications.send"


def channels_from_config(config: ClinicConfig, *, db: Database, bus: EventBus, clock: Clock, var_dir: Path,
                         env: Mapping[str, str] | None = None) -> dict[str, Channel]:
    """The enabled channels; secrets may come from the environment instead of the file."""
    env = os.environ if env is None else env
    settings = config.notifications
    channels: dict[str, Channel] = {}
    if settings.email.enabled:
        channels["email"] = SmtpChannel(settings.email, from_name=settings.sender_name or config.site.name,
                                        site_id=config.site.id, password=env.get("CLINICQ_SMTP_PASSWORD", ""))
    if settings.sms.enabled:
        channels["sms"] = HttpSmsChannel(settings.sms, api_key=env.get("CLINICQ_SMS_API_KEY", ""))
    if settings.zalo.enabled:
        site = {language: {"site_name": name, "hotline": settings.hotline, "address": settings.address,
                           "sender_name": settings.sender_name or name}
                for language, name in (("vi", config.site.name), ("en", config.site.name_en))}
        channels["zalo"] = ZaloZnsChannel(settings.zalo, access_token=env.get("CLINICQ_ZALO_ACCESS_TOKEN", ""),
                                          site_values=site)
    if settings.in_app.enabled:
        channels["in_app"] = InAppChannel(db, bus, clock)
    if settings.file_log.enabled:
        path = Path(settings.file_log.path)
        channels["file_log"] = FileLogChannel(path if path.is_absolute() else var_dir / path, clock)
    return channels


@dataclass
class DispatchReport:
    """What one pass did, by outbox row id."""

    sent: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)  # our lease ran out and another worker took the row
    fell_back: list[int] = field(default_factory=list)  # new rows on the next channel of the fallback chain


class Dispatcher:
    def __init__(self, outbox: NotificationService, channels: Mapping[str, Channel], *, worker: str) -> None:
        self.outbox = outbox
        self.channels = channels
        self.worker = worker

    def send_due(self, now: datetime | None = None) -> DispatchReport:
        """Send what is due now, one batch; the scheduler calls this every few seconds."""
        report = DispatchReport()
        for claim in self.outbox.claim(self.worker, now=now):
            self._send(claim, report)
        return report

    def _send(self, claim: Claim, report: DispatchReport) -> None:
        outbox = self.outbox
        channel = self.channels.get(claim.channel)
        if channel is None:
            reason = f"channel_disabled: the {claim.channel} channel is turned off"
            self._record(report.skipped, report, claim, outbox.mark_skipped(claim, reason))
            self._fall_back(claim, reason, report)
            return
        if not outbox.consent_allows(claim.patient_id, claim.channel, claim.template):
            reason = f"no_consent: the patient withdrew consent to {claim.channel}"
            self._record(report.skipped, report, claim, outbox.mark_skipped(claim, reason))
            self._fall_back(claim, reason, report)
            return
        try:
            rendered = outbox.templates.render(claim.template, claim.language, claim.params)
        except TemplateError as exc:  # the template was edited since the message was queued
            outbox.mark_unsent(claim, f"template: {exc}", permanent=True)
            report.failed.append(claim.id)
            return
        message = Outgoing(id=claim.id, channel=claim.channel, recipient=claim.recipient, template=claim.template,
                           language=claim.language, subject=rendered.subject, body=rendered.body, sms=rendered.sms,
                           params=claim.params, patient_id=claim.patient_id, appointment_id=claim.appointment_id)
        try:
            reference = channel.send(message)
        except SendError as exc:
            self._unsent(claim, str(exc), exc.permanent, message, report)
        except Exception as exc:  # a bug in a channel must cost a retry, never the message
            log.exception("channel %s failed on notification %d", claim.channel, claim.id)
            self._unsent(claim, f"{type(exc).__name__}: {exc}", False, message, report)
        else:
            body = message.sms if claim.channel == "sms" else message.body
            ok = outbox.mark_sent(claim, provider_ref=reference, subject=message.subject, body=body)
            self._record(report.sent, report, claim, ok)

    def _unsent(self, claim: Claim, error: str, permanent: bool, message: Outgoing, report: DispatchReport) -> None:
        log.warning("notification %d (%s) not sent, attempt %d: %s", claim.id, claim.channel, claim.attempts, error)
        state = self.outbox.mark_unsent(claim, error, permanent=permanent, subject=message.subject,
                                        body=message.sms if claim.channel == "sms" else message.body)
        {"pending": report.retrying, "failed": report.failed}.get(state, report.lost).append(claim.id)
        if state == "failed":  # refused for good, or its retries used up: the next channel of the chain
            self._fall_back(claim, error, report)

    def _fall_back(self, claim: Claim, reason: str, report: DispatchReport) -> None:
        try:
            for row in self.outbox.fall_back(claim, reason):
                report.fell_back.append(row["id"])
        except Exception:  # the failed row stays on the admin page; a bug here must not stop the batch
            log.exception("fallback of notification %d failed", claim.id)

    @staticmethod
    def _record(bucket: list[int], report: DispatchReport, claim: Claim, ok: bool) -> None:
        (bucket if ok else report.lost).append(claim.id)


def install_outbox_job(scheduler: Scheduler, outbox: NotificationService,
                       channels: Mapping[str, Channel]) -> Dispatcher:
    """Register the sending of due messages as a scheduler job (every `notifications.poll_seconds`)."""
    dispatcher = Dispatcher(outbox, channels, worker=scheduler.owner)
    scheduler.add_job(OUTBOX_JOB, dispatcher.send_due, every_seconds=outbox.settings.poll_seconds)
    return dispatcher
