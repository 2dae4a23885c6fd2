"""The patient's answers through the signed link in a message: confirm, move, cancel, or book a missed
follow-up again. No login: the link is the proof, and it only ever touches its own appointment."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update

from hub.domain.booking.appointments import CANCELLED, NOSHOW, OPEN_STATES, PENDING, PROPOSED, AppointmentChanged
from hub.domain.booking.models import Appointment, AppointmentEvent
from hub.domain.booking.schedules import BOOKING_HORIZON_DAYS
from hub.domain.common.errors import Conflict, Invalid, NotFound
from hub.domain.follow_ups.links import LinkRefused
from hub.domain.follow_ups.models import FollowUpCallback, FollowUpItem

if TYPE_CHECKING:
    from hub.domain.follow_ups.callbacks import CallbackList
    from hub.domain.follow_ups.ports import FollowUpsCore

A = Appointment.__table__
AE = AppointmentEvent.__table__
FI = FollowUpItem.__table__
CB = FollowUpCallback.__table__
REBOOKABLE = (NOSHOW, CANCELLED)  # a follow-up the patient may book again through its link
TOO_LATE = ("Lịch hẹn đã bắt đầu hoặc đã qua: vui lòng gọi đường dây nóng / the appointment has begun or is over: "
            "please call the hotline")


class PatientReplies:
    """What the /f/<token> page shows and does."""

    def __init__(self, follow_ups: FollowUpsCore, callbacks: CallbackList) -> None:
        self.follow_ups = follow_ups
        self.callbacks = callbacks
        self.db = follow_ups.db
        self.clock = follow_ups.clock
        self.tz = follow_ups.tz

    def open(self, token: str) -> dict[str, Any]:
        """The appointment behind a link, what the patient may do, and (for a rebooked one) the new one."""
        appointment_id, expires = self.follow_ups.links.read(token)
        view = self._view(appointment_id)
        now = self.clock.now()
        started = datetime.fromisoformat(view["slot_start"]) <= now
        is_open = view["status"] in OPEN_STATES and not started
        rebooked_id = self._rebooked_id(appointment_id)
        rebooked_token = self.token_for(self._view(rebooked_id)) if rebooked_id is not None else None
        return {"appointment": view, "expires": expires.isoformat(), "can_confirm": is_open,
                "can_change": is_open, "can_rebook": view["status"] in REBOOKABLE and rebooked_id is None
                and view["kind"] == "follow_up", "rebooked_token": rebooked_token}

    def token_for(self, view: dict[str, Any]) -> str:
        """The link token of an appointment, valid until its time plus `link_days_after`."""
        until = datetime.fromisoformat(view["slot_start"]) + timedelta(days=self.follow_ups.settings.link_days_after)
        return self.follow_ups.links.token(view["id"], until)

    def confirm(self, token: str) -> dict[str, Any]:
        """The patient will come: noted (the confirmation rate), and a pending booking becomes booked."""
        appointment_id, _ = self.follow_ups.links.read(token)
        view = self._open_view(appointment_id)
        actor = self._actor(view)
        if view["status"] in (PROPOSED, PENDING):
            self.follow_ups.booking.confirm(view["code"], actor=actor)
        now = self.clock.now()
        with self.db.write() as tx:
            first = tx.execute(update(FI).where(FI.c.appointment_id == appointment_id,
                                                FI.c.patient_confirmed_at.is_(None))
                               .values(patient_confirmed_at=now)).rowcount == 1
            if first:
                tx.execute(insert(AE).values(appointment_id=appointment_id, at=now, actor=actor,
                                             from_status=view["status"], to_status=view["status"],
                                             detail={"action": "patient_confirm", "via": "link"}))
        view = self._view(appointment_id)
        if first:
            public = {**view, "patient": {"code": view["patient"]["code"]}}
            self.follow_ups.bus.publish(AppointmentChanged(public, view["status"], "patient_confirm", actor))
        return view

    def cancel(self, token: str) -> dict[str, Any]:
        appointment_id, _ = self.follow_ups.links.read(token)
        view = self._open_view(appointment_id)
        return self.follow_ups.booking.cancel(view["code"], actor=self._actor(view), reason="bệnh nhân hủy qua link")

    def slots(self, token: str, *, all_doctors: bool = False) -> list[dict[str, Any]]:
        """Free slots the patient may move to (or book again after missing it), by day."""
        appointment_id, _ = self.follow_ups.links.read(token)
        view = self._view(appointment_id)
        first, last = self._window(view)
        now = self.clock.now()
        days = []
        day = first
        while day <= last:
            found = self.follow_ups.booking.free_slots(
                day, **({"service": view["service"]} if all_doctors else {"doctor": view["doctor"]}))
            found = [s for s in found if datetime.fromisoformat(s["start"]) > now and s["start"] != view["slot_start"]]
            if found:
                days.append({"day": day.isoformat(), "slots": found})
            day += timedelta(days=1)
        return days

    def reschedule(self, token: str, slot_start: datetime, doctor: str | None = None) -> dict[str, Any]:
        appointment_id, _ = self.follow_ups.links.read(token)
        view = self._open_view(appointment_id)
        self._check_window(view, slot_start)
        return self.follow_ups.booking.reschedule(view["code"], slot_start, doctor=doctor, actor=self._actor(view))

    def rebook(self, token: str, slot_start: datetime, doctor: str | None = None) -> dict[str, Any]:
        """A missed follow-up booked again by the patient: the call-back item is resolved as rebooked."""
        appointment_id, _ = self.follow_ups.links.read(token)
        view = self._view(appointment_id)
        if (view["status"] not in REBOOKABLE or view["kind"] != "follow_up"
                or self._rebooked_id(appointment_id) is not None):
            raise Conflict("not_rebookable", "Lịch hẹn này không thể đặt lại qua link / this appointment cannot be "
                                             "booked again through the link")
        self._check_window(view, slot_start)
        item = self.callbacks.of_appointment(appointment_id)
        if item is not None:  # a missed one on the call-back list leaves it, rebooked
            done = self.callbacks.log_call(item["id"], outcome="rebooked", actor=self._actor(view),
                                                      note="bệnh nhân tự đặt lại qua link / rebooked by the patient",
                                                      slot_start=slot_start, doctor=doctor, is_call=False)
            return done["rebooked"]
        return self.follow_ups.book_again(appointment_id, slot_start, actor=self._actor(view), channel="portal",
                                          doctor=doctor)

    def _rebooked_id(self, appointment_id: int) -> int | None:
        """The appointment that took this one's place (booked again after it was missed or cancelled)."""
        with self.db.read() as tx:
            found = tx.execute(select(CB.c.rebooked_id).where(CB.c.appointment_id == appointment_id)).scalar()
            if found is None:
                found = tx.execute(select(FI.c.appointment_id).where(FI.c.replaces_id == appointment_id)
                                   .order_by(FI.c.appointment_id.desc()).limit(1)).scalar()
            return found

    # ------------------------------------------------------------------ helpers
    def _window(self, view: dict[str, Any]) -> tuple[date, date]:
        """Days the patient may choose: around the appointment, or from tomorrow after a missed one."""
        reach = self.follow_ups.settings.reschedule_days
        today = self.follow_ups.today()
        day = date.fromisoformat(view["day"])
        if view["status"] == NOSHOW or day < today:
            first = today + timedelta(days=1)
            return first, first + timedelta(days=2 * reach)
        return max(today, day - timedelta(days=reach)), min(day + timedelta(days=reach),
                                                            today + timedelta(days=BOOKING_HORIZON_DAYS))

    def _check_window(self, view: dict[str, Any], slot_start: datetime) -> None:
        if slot_start.tzinfo is None:
            raise Invalid("naive_time", "slot_start needs its UTC offset")
        first, last = self._window(view)
        if not first <= slot_start.astimezone(self.tz).date() <= last or slot_start <= self.clock.now():
            raise Invalid("outside_window", f"Chỉ đổi trong khoảng {first:%d/%m} – {last:%d/%m} / choose a time "
                                            f"between {first:%d/%m} and {last:%d/%m}")

    def _view(self, appointment_id: int) -> dict[str, Any]:
        """The appointment as its patient sees it: without the contact details kept on file."""
        try:
            view = self.follow_ups.appointment(appointment_id)
        except NotFound:
            raise LinkRefused("link_expired", "Lịch hẹn không còn / the appointment no longer exists", 410) from None
        view["patient"] = {"code": view["patient"]["code"], "full_name": view["patient"]["full_name"]}
        return view

    def _open_view(self, appointment_id: int) -> dict[str, Any]:
        view = self._view(appointment_id)
        if view["status"] not in OPEN_STATES:
            raise Conflict("appointment_closed", "Lịch hẹn đã kết thúc hoặc đã hủy / the appointment is closed")
        if datetime.fromisoformat(view["slot_start"]) <= self.clock.now():
            raise Conflict("too_late", TOO_LATE)
        return view

    @staticmethod
    def _actor(view: dict[str, Any]) -> str:
        return f"patient-link:{view['patient']['code']}"
