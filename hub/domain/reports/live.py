"""The live operations view for managers: every line and counter now, device health, and alerts.

Read on demand (the page polls it every few seconds; device alerts also arrive over Socket.IO). It
costs a handful of grouped queries over today's tickets, whatever the size of the history.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from hub import protocol as p
from hub.config import ClinicConfig
from hub.domain.common.clock import Clock, local_day
from hub.domain.devices.registry import DeviceRegistry
from hub.domain.queue.engine import QueueService
from hub.domain.queue.models import Ticket, TicketTransition

T = Ticket.__table__
TT = TicketTransition.__table__
PAPER_DEVICES = ("printer", "kiosk")
OFFLINE_ALERTS_LISTED = 3  # beyond this many, offline devices make one alert (a power cut, not a flood)


def _alert(kind: str, severity: str, subject: str, vi: str, en: str) -> dict[str, str]:
    return {"kind": kind, "severity": severity, "subject": subject, "message": vi, "message_en": en}


class OperationsBoard:
    """What is happening now, per service and counter."""

    def __init__(self, queue: QueueService, devices: DeviceRegistry, clinic: ClinicConfig, clock: Clock) -> None:
        self.queue = queue
        self.devices = devices
        self.clinic = clinic
        self.clock = clock

    def overview(self) -> dict[str, Any]:
        now = self.clock.now()
        tz = self.clinic.site.tz
        local = now.astimezone(tz)
        hour_start = local.replace(minute=0, second=0, microsecond=0)
        services = self.queue.services_overview()
        counters = self.queue.counters()
        oldest, served_by_service, served_by_counter = self._today(now, hour_start)
        states = {c["code"]: c["state"] for c in counters}
        threshold = self.clinic.reports.estimate_alert_minutes
        alerts: list[dict[str, str]] = []
        service_rows = []
        for service in services:
            serving_states = [states.get(code, p.COUNTER_CLOSED) for code in service["counters"]]
            since = oldest.get(service["code"])
            row = {
                **{k: service[k] for k in ("code", "name", "name_en", "kind", "waiting", "called", "serving",
                                          "estimate", "last_issued")},
                "longest_wait_minutes": round((now - since).total_seconds() / 60, 1) if since else None,
                "served_this_hour": served_by_service.get(service["code"], 0),
                "counters_open": serving_states.count(p.COUNTER_OPEN),
                "counters_paused": serving_states.count(p.COUNTER_PAUSED),
                "counters_closed": serving_states.count(p.COUNTER_CLOSED),
            }
            row["alerts"] = self._service_alerts(row, threshold)
            alerts += row["alerts"]
            service_rows.append(row)
        counter_rows = [{
            "code": c["code"], "name": c["name"], "name_en": c["name_en"], "zone": c["zone"], "state": c["state"],
            "state_since": c["state_since"], "pause_reason": c["pause_reason"], "services": c["services"],
            "ticket": c["ticket"], "served_this_hour": served_by_counter.get(c["code"], 0)} for c in counters]
        devices, device_alerts = self._devices(now)
        closed = self.clinic.closed_on(local.date())
        if closed is not None:
            alerts.insert(0, _alert("closed_day", "info", local.date().isoformat(),
                                    f"Hôm nay bệnh viện nghỉ: {closed.name}",
                                    f"The hospital is closed today: {closed.name_en or closed.name}"))
        return {"closed": {"name": closed.name, "name_en": closed.name_en or closed.name} if closed else None,
                "now": now.isoformat(), "local_time": local.strftime("%H:%M:%S"),
                "hour_start": hour_start.isoformat(), "estimate_alert_minutes": threshold,
                "services": service_rows, "counters": counter_rows, "devices": devices,
                "alerts": alerts + device_alerts}

    def _today(self, now: datetime, hour_start: datetime) -> tuple[dict[str, datetime], dict[str, int], dict[str, int]]:
        """Oldest waiting ticket per service; tickets finished since the hour began per service and counter."""
        queue = self.queue
        day = local_day(now, self.clinic.site.tz)
        with queue.db.read() as connection:
            oldest_rows = connection.execute(
                select(T.c.service_id, func.min(T.c.issued_at)).where(T.c.day == day, T.c.status == p.WAITING)
                .group_by(T.c.service_id)).all()
            finished_rows = connection.execute(
                select(T.c.service_id, TT.c.counter_id, func.count())
                .select_from(TT.join(T, T.c.id == TT.c.ticket_id))
                .where(TT.c.at >= hour_start, TT.c.to_status.in_((p.DONE, p.TRANSFERRED)))
                .group_by(T.c.service_id, TT.c.counter_id)).all()
        oldest = {queue.service_code(service_id): issued for service_id, issued in oldest_rows}
        by_service: dict[str, int] = {}
        by_counter: dict[str, int] = {}
        for service_id, counter_id, count in finished_rows:
            code = queue.service_code(service_id)
            by_service[code] = by_service.get(code, 0) + count
            if counter_id is not None:
                counter = queue.counter_code(counter_id)
                by_counter[counter] = by_counter.get(counter, 0) + count
        return oldest, by_service, by_counter

    @staticmethod
    def _service_alerts(row: dict[str, Any], threshold: float) -> list[dict[str, str]]:
        out = []
        name, name_en, code = row["name"], row["name_en"], row["code"]
        estimate = row["estimate"] or {}
        if row["waiting"] and not row["counters_open"]:
            out.append(_alert("no_counter_open", "critical", code,
                              f"{name}: {row['waiting']} người đang chờ nhưng không quầy nào mở",
                              f"{name_en}: {row['waiting']} waiting but no counter is open"))
        elif row["waiting"] and (estimate.get("p50_minutes") or 0) > threshold:
            minutes = estimate["p50_minutes"]
            out.append(_alert("queue_estimate", "warning", code,
                              f"{name}: số mới lấy phải chờ khoảng {minutes} phút (ngưỡng {threshold:g})",
                              f"{name_en}: a new ticket waits about {minutes} min (threshold {threshold:g})"))
        return out

    def _devices(self, now: datetime) -> tuple[dict[str, Any], list[dict[str, str]]]:
        listed = self.devices.list()
        opening = self.devices.in_opening_hours(now)
        alerts = []
        for device in listed:
            name = device["name"]
            if device["type"] in PAPER_DEVICES and device["paper"] == "out":
                alerts.append(_alert("paper_out", "critical", device["id"], f"{name}: hết giấy in",
                                     f"{name}: out of paper"))
            elif device["type"] in PAPER_DEVICES and device["paper"] == "low":
                alerts.append(_alert("paper_low", "warning", device["id"], f"{name}: sắp hết giấy",
                                     f"{name}: paper low"))
        offline = [d for d in listed if not d["online"]]
        # Out of hours a switched-off board is normal: only count it then, do not raise an alert.
        if opening and len(offline) > OFFLINE_ALERTS_LISTED:
            alerts.append(_alert("device_offline", "warning", "*", f"{len(offline)} thiết bị mất kết nối",
                                 f"{len(offline)} devices offline"))
        elif opening:
            alerts += [_alert("device_offline", "warning", d["id"], f"{d['name']}: mất kết nối",
                              f"{d['name']}: offline") for d in offline]
        summary = {
            "total": len(listed), "online": len(listed) - len(offline), "offline": len(offline),
            "offline_list": [{k: d[k] for k in ("id", "type", "name", "zone", "status_since")} for d in offline],
            "paper": [{k: d[k] for k in ("id", "type", "name", "paper")} for d in listed
                      if d["type"] in PAPER_DEVICES and d["paper"] in ("low", "out")],
        }
        return summary, alerts

