"""The call-back list: missed follow-ups that administrative staff phone about, and every call's outcome.

A no-show opens an item (once per appointment). Staff log each call: "rebooked" books a new
follow-up in the missed one's place and resolves the item; "call_back" hides it until the day the
patient asked for; "unreachable" leaves it listed with one more attempt; "declined" and "moved_away"
resolve it and stop the series (a patient who moved away also loses the series' other bookings).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hub.domain.booking.appointments import APPOINTMENT_VIEW, NOSHOW, shape_appointment
from hub.domain.booking.models import Appointment
from hub.domain.common.errors import Conflict, Invalid, NotFound
from hub.domain.follow_ups.models import FollowUpCall, FollowUpCallback, FollowUpItem, FollowUpSeries
from hub.domain.notifications.models import Notification
from hub.domain.patients.models import Patient

if TYPE_CHECKING:
    from hub.domain.follow_ups.ports import FollowUpsCore

A = Appointment.__table__
CB = FollowUpCallback.__table__
CL = FollowUpCall.__table__
FI = FollowUpItem.__table__
S = FollowUpSeries.__table__
N = Notification.__table__
P = Patient.__table__
OUTCOMES = ("rebooked", "call_back", "unreachable", "declined", "moved_away")
RESOLVING = ("rebooked", "declined", "moved_away")
VIEWS = ("due", "waiting", "resolved")
CATCH_UP_DAYS = 14  # the end-of-day job opens items for no-shows this recent that have none
OUTCOME_NAMES = {
    "rebooked": ("Đã đặt lại lịch", "Rebooked"), "call_back": ("Hẹn gọi lại", "Call back later"),
    "unreachable": ("Không liên lạc được", "Unreachable"), "declined": ("Từ chối tái khám", "Declined"),
    "moved_away": ("Đã chuyển nơi khác", "Moved away"), "message": ("Đã gửi tin nhắn", "Message sent"),
}


class CallbackList:
    """`hub.follow_ups.callbacks`: items, calls, rebooking and the no-show message."""

    def __init__(self, follow_ups: FollowUpsCore) -> None:
        self.follow_ups = follow_ups
        self.db = follow_ups.db
        self.clock = follow_ups.clock
        self.tz = follow_ups.tz

    # ------------------------------------------------------------------ opening items
    def open_for(self, appointment_id: int) -> int | None:
        """Put a missed appointment on the list (once); returns the new item's id, None when it was there."""
        now = self.clock.now()
        with self.db.write() as tx:
            row = tx.execute(select(A.c.patient_id, A.c.kind, A.c.status).where(A.c.id == appointment_id)).one()
            if row.status != NOSHOW:
                return None
            insert_ = pg_insert if tx.dialect.name == "postgresql" else sqlite_insert
            callback_id = tx.execute(insert_(CB).values(
                appointment_id=appointment_id, patient_id=row.patient_id, state="open",
                show_from=self.follow_ups.today(), attempts=0, created_at=now,
            ).on_conflict_do_nothing(index_elements=["appointment_id"]).returning(CB.c.id)).scalar()
            if callback_id is not None and row.kind == "follow_up" and self.follow_ups.settings.no_show_message:
                self.follow_ups.messages.no_show(appointment_id, key="auto", connection=tx)
        return callback_id

    def catch_up(self, now: datetime) -> int:
        """Items for recent no-shows that have none (the process died between the no-show and its item)."""
        kinds = self.follow_ups.settings.callback_kinds
        with self.db.read() as tx:
            missing = tx.execute(select(A.c.id).outerjoin(CB, CB.c.appointment_id == A.c.id).where(
                A.c.status == NOSHOW, A.c.kind.in_(kinds), CB.c.id.is_(None),
                A.c.slot_start >= now - timedelta(days=CATCH_UP_DAYS))).scalars().all()
        return sum(self.open_for(appointment_id) is not None for appointment_id in missing)

    # ------------------------------------------------------------------ reading
    def items(self, view: str = "due", *, limit: int = 300) -> list[dict[str, Any]]:
        """`due`: to call now (oldest first); `waiting`: hidden until their day; `resolved`: left the list."""
        if view not in VIEWS:
            raise Invalid("bad_view", f"view is one of {', '.join(VIEWS)}")
        today = self.follow_ups.today()
        query = select(CB.c.id)
        if view == "due":
            query = query.where(CB.c.state.in_(("open", "waiting")), CB.c.show_from <= today).order_by(
                CB.c.show_from, CB.c.created_at, CB.c.id)
        elif view == "waiting":
            query = query.where(CB.c.state == "waiting", CB.c.show_from > today).order_by(CB.c.show_from, CB.c.id)
        else:
            query = query.where(CB.c.state == "resolved").order_by(CB.c.resolved_at.desc(), CB.c.id.desc())
        with self.db.read() as tx:
            ids = tx.execute(query.limit(limit)).scalars().all()
            return [self._item(tx, callback_id) for callback_id in ids]

    def counts(self) -> dict[str, int]:
        today = self.follow_ups.today()
        with self.db.read() as tx:
            due = tx.execute(select(func.count()).where(CB.c.state.in_(("open", "waiting")),
                                                        CB.c.show_from <= today)).scalar_one()
            waiting = tx.execute(select(func.count()).where(CB.c.state == "waiting",
                                                            CB.c.show_from > today)).scalar_one()
        return {"due": due, "waiting": waiting}

    def get(self, callback_id: int) -> dict[str, Any]:
        with self.db.read() as tx:
            return self._item(tx, callback_id)

    def _item(self, tx: Connection, callback_id: int) -> dict[str, Any]:
        item = tx.execute(select(CB).where(CB.c.id == callback_id)).first()
        if item is None:
            raise NotFound("unknown_callback", f"no call-back item {callback_id}")
        missed = tx.execute(APPOINTMENT_VIEW.add_columns(P.c.address.label("p_address"), FI.c.seq,
                                                         S.c.planned, S.c.id.label("s_id"))
                            .outerjoin(FI, FI.c.appointment_id == A.c.id).outerjoin(S, S.c.id == FI.c.series_id)
                            .where(A.c.id == item.appointment_id)).one()
        appointment = shape_appointment(missed, self.follow_ups.clinic, self.tz)
        appointment["patient"]["address"] = missed.p_address
        calls = tx.execute(select(CL, A.c.code.label("a_code")).outerjoin(A, A.c.id == CL.c.appointment_id)
                           .where(CL.c.callback_id == callback_id).order_by(CL.c.at, CL.c.id)).all()
        messages = tx.execute(select(N.c.channel, N.c.state, N.c.due_at, N.c.sent_at).where(
            N.c.appointment_id == item.appointment_id, N.c.template == "no_show_callback").order_by(N.c.id)).all()
        rebooked = None
        if item.rebooked_id is not None:
            rebooked = shape_appointment(tx.execute(APPOINTMENT_VIEW.where(A.c.id == item.rebooked_id)).one(),
                                         self.follow_ups.clinic, self.tz)
        return {
            "id": item.id, "state": item.state, "show_from": item.show_from.isoformat(), "attempts": item.attempts,
            "created_at": item.created_at.isoformat(), "resolution": item.resolution,
            "resolved_at": item.resolved_at.isoformat() if item.resolved_at else None,
            "resolved_by": item.resolved_by, "appointment": appointment, "rebooked": rebooked,
            "series": {"id": missed.s_id, "seq": missed.seq, "planned": missed.planned} if missed.s_id else None,
            "calls": [{"at": c.at.isoformat(), "actor": c.actor, "outcome": c.outcome, "note": c.note,
                       "call_back_on": c.call_back_on.isoformat() if c.call_back_on else None,
                       "appointment": c.a_code} for c in calls],
            "messages": [{"channel": m.channel, "state": m.state, "due_at": m.due_at.isoformat(),
                          "sent_at": m.sent_at.isoformat() if m.sent_at else None} for m in messages],
        }

    # ------------------------------------------------------------------ calls
    def log_call(self, callback_id: int, *, outcome: str, actor: str, note: str | None = None,
                 call_back_on: date | None = None, slot_start: datetime | None = None, doctor: str | None = None,
                 is_call: bool = True) -> dict[str, Any]:
        """Record a call and what came of it; "rebooked" books `slot_start` (of `doctor`, else the same one)."""
        if outcome not in OUTCOMES:
            raise Invalid("bad_outcome", f"outcome is one of {', '.join(OUTCOMES)}")
        today = self.follow_ups.today()
        if outcome == "call_back" and (call_back_on is None or call_back_on <= today):
            raise Invalid("call_back_date", "Chọn ngày gọi lại (sau hôm nay) / choose a call-back day after today")
        if outcome == "rebooked" and slot_start is None:
            raise Invalid("slot_required", "Chọn giờ hẹn mới / choose the new slot")
        item = self._open_item(callback_id)
        new_appointment = None
        if outcome == "rebooked":
            new_appointment = self._rebook(item, slot_start, doctor, actor)  # type: ignore[arg-type]
        now = self.clock.now()
        values: dict[str, Any] = {"attempts": CB.c.attempts + (1 if is_call else 0)}
        if outcome in RESOLVING:
            values.update(state="resolved", resolution=outcome, resolved_at=now, resolved_by=actor[:64],
                          rebooked_id=new_appointment["id"] if new_appointment else None)
        elif outcome == "call_back":
            values.update(state="waiting", show_from=call_back_on)
        else:
            values.update(state="open", show_from=today)
        with self.db.write() as tx:
            changed = tx.execute(update(CB).where(CB.c.id == callback_id, CB.c.state != "resolved").values(**values))
            if changed.rowcount == 1:
                tx.execute(insert(CL).values(callback_id=callback_id, at=now, actor=actor[:64], outcome=outcome,
                                             note=(note or None) and note[:500], call_back_on=call_back_on,
                                             appointment_id=new_appointment["id"] if new_appointment else None))
        if changed.rowcount != 1:
            if new_appointment is not None:  # resolved by someone else meanwhile: undo our booking
                self.follow_ups.booking.cancel(new_appointment["code"], actor=actor, reason="call-back already done")
            raise Conflict("callback_resolved", "Mục này vừa được người khác xử lý / someone else just resolved it")
        if outcome in ("declined", "moved_away") and item["series_id"] is not None:
            self.follow_ups.stop_series(item["series_id"], actor=actor, cancel_open=outcome == "moved_away",
                                        reason="moved away")
        return self.get(callback_id)

    def send_message(self, callback_id: int, *, actor: str) -> dict[str, Any]:
        """Send the no_show_callback message (once a day at most) and note it in the item's history."""
        item = self._open_item(callback_id)
        today = self.follow_ups.today()
        rows = self.follow_ups.messages.no_show(item["appointment_id"], key=today.isoformat(), actor=actor)
        if not rows:
            raise Conflict("message_failed", "Không gửi được tin nhắn (thiếu mẫu tin) / the message has no template")
        if any(r["created"] for r in rows):
            with self.db.write() as tx:
                tx.execute(insert(CL).values(callback_id=callback_id, at=self.clock.now(), actor=actor[:64],
                                             outcome="message", note=", ".join(f"{r['channel']}: {r['state']}"
                                                                               for r in rows)[:500]))
        return self.get(callback_id)

    def _open_item(self, callback_id: int) -> dict[str, Any]:
        with self.db.read() as tx:
            row = tx.execute(select(CB.c.state, CB.c.appointment_id, FI.c.series_id).outerjoin(
                FI, FI.c.appointment_id == CB.c.appointment_id).where(CB.c.id == callback_id)).first()
        if row is None:
            raise NotFound("unknown_callback", f"no call-back item {callback_id}")
        if row.state == "resolved":
            raise Conflict("callback_resolved", "Mục này đã xử lý xong / this item is already resolved")
        return {"appointment_id": row.appointment_id, "series_id": row.series_id}

    def _rebook(self, item: dict[str, Any], slot_start: datetime, doctor: str | None, actor: str) -> dict[str, Any]:
        follow_ups = self.follow_ups
        if item["series_id"] is not None:
            return follow_ups.book_again(item["appointment_id"], slot_start, actor=actor, channel="callcenter",
                                         doctor=doctor)
        with self.db.read() as tx:  # a missed first visit (when those are on the list too): a plain booking
            missed = tx.execute(select(A.c.service, A.c.reason, P.c.code).join(P, P.c.id == A.c.patient_id)
                                .where(A.c.id == item["appointment_id"])).one()
        return follow_ups.booking.book(patient_code=missed.code, slot_start=slot_start, doctor=doctor,
                                       service=missed.service, reason=missed.reason, channel="callcenter",
                                       actor=actor)

    def of_appointment(self, appointment_id: int) -> dict[str, Any] | None:
        with self.db.read() as tx:
            callback_id = tx.execute(select(CB.c.id).where(CB.c.appointment_id == appointment_id)).scalar()
            return self._item(tx, callback_id) if callback_id is not None else None
