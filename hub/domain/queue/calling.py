"""Calling and transitions. Call-next claims a ticket with a conditional UPDATE ... WHERE status
= 'waiting', so two counters can never both get it; every transition closes one period of
the log and opens the next; a transfer is one transaction, so the patient is never out of one
line without being in the next.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam, func, select, update

from hub import protocol as p
from hub.db_fast import execute as fast
from hub.domain.common.clock import local_day, to_ms
from hub.domain.common.errors import Conflict
from hub.domain.common.events import (
    QueueChanged,
    TicketCalled,
    TicketChanged,
)
from hub.domain.queue import policy
from hub.domain.queue.core import TICKET_COLUMNS, WAITING_IN_SERVICE, T, Txn
from hub.domain.queue.counters import QueueCounters

MAX_CLAIM_ATTEMPTS = 20
# Hot-path statements, built once with bound parameters (why: see `core`).
_UPDATE_TICKET = update(T).where(T.c.id == bindparam("b_ticket"))
_RECALL_TICKET = _UPDATE_TICKET.values(call_count=T.c.call_count + 1).returning(*TICKET_COLUMNS)
_CLAIM_TICKET = update(T).where(T.c.id == bindparam("b_ticket"), T.c.status == p.WAITING).values(
    first_called_at=func.coalesce(T.c.first_called_at, bindparam("b_now", type_=T.c.first_called_at.type))
).returning(*TICKET_COLUMNS)
_LINE_HEAD = select(T.c.id, T.c.priority, T.c.queue_key_ms, T.c.issued_at, T.c.status_since).where(
    *WAITING_IN_SERVICE).order_by(T.c.queue_key_ms, T.c.id).limit(1)
_LINE_OLDEST_NORMAL = select(T.c.id, T.c.priority, T.c.queue_key_ms, T.c.issued_at, T.c.status_since).where(
    *WAITING_IN_SERVICE, T.c.priority == policy.NORMAL).order_by(T.c.queue_key_ms, T.c.id).limit(1)
# A booked slot or a return from lab/imaging earned the place in *that* line; in the next service the
# patient queues on their own class (elderly, child...) or as anyone else.
PLACE_PRIORITIES = ("booked", "returning")


@dataclass(frozen=True)
class _Claimed:
    """A ticket about to be claimed from the waiting line: what `_claim` and `_transition` read."""

    id: int
    status: str
    status_since: datetime | None


class QueueCalling(QueueCounters):
    """Calls and every later transition of a ticket at a counter; transfers, late returns, cancels."""

    def call_next(self, counter: str, *, actor: str) -> dict[str, Any] | None:
        """The "next" key: recall a called ticket (no-show after the allowed recalls), finish a served
        one, then call the next in line. Returns the called ticket, or None when nobody waits."""
        with self._transaction() as txn:
            row = self._lock_counter(txn, counter)
            row = self._open_if_needed(txn, row, actor)
            current = self._current(txn, row)
            if current is not None and current.status == p.CALLED:
                if current.call_count - 1 < self.clinic.queue.recalls_before_no_show:
                    return self._recall(txn, row, current, actor)
                self._end_call(txn, row, current, p.NO_SHOW, actor, "no answer after recalls", clear_counter=False)
            elif current is not None and current.status in (p.SERVING, p.ON_HOLD):
                self._finish(txn, row, current, actor, clear_counter=False)
            # The counter's current ticket is set once, to the ticket called now (or to none).
            return self._call_best(txn, row, actor)
    def call_ticket(self, counter: str, ticket_id: int, *, actor: str) -> dict[str, Any]:
        """Call a specific waiting ticket out of turn (audited)."""
        with self._transaction() as txn:
            row = self._lock_counter(txn, counter)
            row = self._open_if_needed(txn, row, actor)
            current = self._current(txn, row)
            if current is not None:
                raise Conflict("counter_busy",
                               f"Quầy đang phục vụ số {current.number}: hãy kết thúc hoặc báo vắng trước / "
                               f"counter still has {current.number}: finish it or mark no-show first")
            ticket = self._load(txn.connection, ticket_id)
            served = self._counter_service_ids(row.code)
            if ticket.service_id not in served:
                raise Conflict("wrong_service", f"{ticket.number} is not in a service this counter serves")
            if ticket.status != p.WAITING or ticket.day != local_day(txn.now, self.tz):
                raise Conflict("illegal_transition", f"{ticket.number} is {ticket.status}, not waiting today")
            self._audit(txn, actor, "call_out_of_turn", ticket.number, {"counter": row.code, "ticket_id": ticket.id})
            called = self._claim(txn, row, ticket, actor)
            if called is None:
                raise Conflict("illegal_transition", f"{ticket.number} was just called elsewhere")
            return called
    def recall(self, counter: str, *, actor: str) -> dict[str, Any]:
        with self._transaction() as txn:
            row = self._lock_counter(txn, counter)
            current = self._require_current(txn, row, (p.CALLED,), "recall")
            return self._recall(txn, row, current, actor)
    def start(self, counter: str, *, actor: str) -> dict[str, Any]:
        with self._transaction() as txn:
            row = self._lock_counter(txn, counter)
            current = self._require_current(txn, row, (p.CALLED,), "start")
            fast(txn.connection, _UPDATE_TICKET, {"b_ticket": current.id, "status": p.SERVING, "served_at": txn.now,
                                                    "status_since": txn.now})
            self._transition(txn, current, p.SERVING, actor, row.id)
            walked = (to_ms(txn.now) - to_ms(current.last_called_at or txn.now)) / 60_000
            self.times.record_call_outcome(txn.connection, current.service_id, False, walked, txn.now)
            return self._changed(txn, row, current.id, current.status, "start",
                                 _updated(current, status=p.SERVING, served_at=txn.now, status_since=txn.now))
    def finish(self, counter: str, *, actor: str) -> dict[str, Any]:
        with self._transaction() as txn:
            row = self._lock_counter(txn, counter)
            # on_hold -> done is not a transition of the protocol: resume the counter first.
            current = self._require_current(txn, row, (p.SERVING,), "finish")
            return self._finish(txn, row, current, actor)
    def no_show(self, counter: str, *, actor: str) -> dict[str, Any]:
        with self._transaction() as txn:
            row = self._lock_counter(txn, counter)
            current = self._require_current(txn, row, (p.CALLED,), "no-show")
            return self._end_call(txn, row, current, p.NO_SHOW, actor, None)
    def transfer(self, counter: str, to_service: str, *, actor: str, note: str | None = None,
                 priority: str | None = None) -> dict[str, Any]:
        """Send the patient being served to another service; returns the new waiting ticket."""
        target = self.service_config(to_service)
        if priority is not None:
            self._check_priority(priority)
        with self._transaction() as txn:
            row = self._lock_counter(txn, counter)
            current = self._require_current(txn, row, (p.SERVING,), "transfer")
            if self._service_ids[target.code] == current.service_id:
                raise Conflict("same_service", "transfer to the service the ticket is already in")
            fast(txn.connection, _UPDATE_TICKET, {"b_ticket": current.id, "status": p.TRANSFERRED,
                                                    "finished_at": txn.now, "status_since": txn.now})
            self._transition(txn, current, p.TRANSFERRED, actor, row.id, f"to {target.code}")
            self._learn_service(txn, row, current)
            self._set_current(txn, row, None)
            done = self._view(txn.connection, _updated(current, status=p.TRANSFERRED, finished_at=txn.now,
                                                       status_since=txn.now), txn.now)
            txn.events += [TicketChanged(done, current.status, "transfer"), QueueChanged(done["service"])]
            # One transaction: the patient is never out of one line without being in the next.
            return self._issue(txn, target, priority=priority or _carried_priority(current.priority),
                               source="transfer",
                               visit_id=current.visit_id, note=note, transferred_from_id=current.id, actor=actor)
    def return_late(self, ticket_id: int, *, actor: str) -> dict[str, Any]:
        """A no-show who turns up late goes back in line behind K waiting tickets."""
        with self._transaction() as txn:
            ticket = self._load(txn.connection, ticket_id)
            if ticket.status != p.NO_SHOW or ticket.day != local_day(txn.now, self.tz):
                raise Conflict("illegal_transition",
                               f"{ticket.number} is {ticket.status}: only today's no-shows return")
            keys = txn.connection.execute(
                select(T.c.queue_key_ms).where(T.c.service_id == ticket.service_id, T.c.day == ticket.day,
                                               T.c.status == p.WAITING)
                .order_by(T.c.queue_key_ms, T.c.id).limit(self.clinic.queue.late_return_behind + 1)
            ).scalars().all()
            key = policy.late_return_key(keys, self.clinic.queue.late_return_behind, to_ms(txn.now))
            behind = min(self.clinic.queue.late_return_behind, len(keys))
            if self._count_ahead(txn.connection, ticket.service_id, ticket.day, key, ticket.id) < behind:
                # Tickets sharing a key (patients of one booking slot) are ordered by id, and the
                # returner's older id would pass them: go just past the K-th ticket's key instead.
                key = keys[behind - 1] + 1
            returned = txn.connection.execute(update(T).where(T.c.id == ticket.id, T.c.status == p.NO_SHOW).values(
                status=p.WAITING, queue_key_ms=key, counter_id=None, status_since=txn.now))
            if returned.rowcount != 1:  # another hub process returned it since we read it
                raise Conflict("illegal_transition", f"{ticket.number} has just been returned to the line")
            self._transition(txn, ticket, p.WAITING, actor, None, "late return")
            view = self._view(txn.connection, self._load(txn.connection, ticket.id), txn.now)
            txn.events += [TicketChanged(view, ticket.status, "return"), QueueChanged(view["service"])]
            return view
    def cancel(self, ticket_id: int, *, actor: str, reason: str | None = None) -> dict[str, Any]:
        with self._transaction() as txn:
            ticket = self._load(txn.connection, ticket_id)
            if ticket.status != p.WAITING:
                raise Conflict("illegal_transition",
                               f"{ticket.number} is {ticket.status}: only waiting tickets can be cancelled")
            cancelled = txn.connection.execute(update(T).where(T.c.id == ticket.id, T.c.status == p.WAITING)
                                               .values(status=p.CANCELLED, finished_at=txn.now, status_since=txn.now))
            if cancelled.rowcount != 1:  # a counter called it since we read it
                raise Conflict("illegal_transition", f"{ticket.number} has just been called: too late to cancel")
            self._transition(txn, ticket, p.CANCELLED, actor, None, reason)
            view = self._view(txn.connection, self._load(txn.connection, ticket.id), txn.now)
            txn.events += [TicketChanged(view, ticket.status, "cancel"), QueueChanged(view["service"])]
            return view
    def _lines(self, txn: Txn, row: Any, since: dict[int, datetime]) -> list[policy.ServiceLine]:
        """The counter's lines in its service order; `since` gets each candidate's waiting-since time."""
        day = local_day(txn.now, self.tz)
        want_normal = row.priority_streak >= self.rules.max_consecutive_priority
        lines = []
        for service_id in self._counter_service_ids(row.code):
            where = {"b_service": service_id, "b_day": day}
            head = fast(txn.connection, _LINE_HEAD, where).first()
            oldest = None
            if want_normal and head is not None:
                oldest = fast(txn.connection, _LINE_OLDEST_NORMAL, where).first()
            code = self._service_codes[service_id]
            for candidate in (head, oldest):
                if candidate is not None:
                    since[candidate.id] = candidate.status_since
            lines.append(policy.ServiceLine(code, _candidate(head, code), _candidate(oldest, code)))
        return lines
    def _call_best(self, txn: Txn, row: Any, actor: str) -> dict[str, Any] | None:
        for _ in range(MAX_CLAIM_ATTEMPTS):
            since: dict[int, datetime] = {}
            chosen = policy.choose_next(self._lines(txn, row, since), row.priority_streak, to_ms(txn.now), self.rules)
            if chosen is None:
                if row.current_ticket_id is not None:
                    self._set_current(txn, row, None)
                return None
            # The claim needs only the id and the status the ticket is claimed from, not the whole row.
            ticket = _Claimed(chosen.ticket_id, p.WAITING, since.get(chosen.ticket_id))
            called = self._claim(txn, row, ticket, actor, policy.next_streak(row.priority_streak, chosen, self.rules))
            if called is not None:
                return called
        raise Conflict("busy", "the line changed too often while calling; press again")
    def _claim(self, txn: Txn, row: Any, ticket: Any, actor: str, streak: int | None = None) -> dict[str, Any] | None:
        """Atomically move a waiting ticket to called at this counter; None if someone else got it."""
        claimed = fast(txn.connection, _CLAIM_TICKET, {
            "b_ticket": ticket.id, "b_now": txn.now, "status": p.CALLED, "counter_id": row.id, "call_count": 1,
            "last_called_at": txn.now, "status_since": txn.now}).first()
        if claimed is None:
            return None
        self._transition(txn, ticket, p.CALLED, actor, row.id)
        if claimed.first_called_at is not None and to_ms(claimed.first_called_at) == to_ms(txn.now):
            # A first call: how long this ticket waited against the P90 it was shown (calibration.py).
            waited = (to_ms(txn.now) - to_ms(claimed.issued_at)) / 60_000
            self.calibration.observe_call(claimed.service_id, claimed.id, waited, claimed.estimate_p90_min)
        counter_view = self._set_current(txn, row, claimed, streak)
        view = self._view(txn.connection, claimed, txn.now)
        txn.events += [self._call_event(txn, view, row, recall=False, counter_view=counter_view),
                       QueueChanged(view["service"])]
        return view
    def _recall(self, txn: Txn, row: Any, current: Any, actor: str) -> dict[str, Any]:
        recalled = fast(txn.connection, _RECALL_TICKET, {"b_ticket": current.id, "last_called_at": txn.now,
                                                           "status_since": txn.now}).one()
        self._transition(txn, current, p.CALLED, actor, row.id, "recall")
        view = self._view(txn.connection, recalled, txn.now)
        txn.events.append(self._call_event(txn, view, row, recall=True))
        return view
    def _call_event(self, txn: Txn, view: dict[str, Any], row: Any, recall: bool,
                    counter_view: dict[str, Any] | None = None) -> TicketCalled:
        """`counter_view`: the counter as just read in this transaction, if the caller has it."""
        return TicketCalled(ticket=view, counter=counter_view or self._counter_view(txn.connection, row.id),
                            recall=recall, call_id=uuid.uuid4().hex[:16], at=txn.now.timestamp())
    def _end_call(self, txn: Txn, row: Any, current: Any, status: str, actor: str,
                  reason: str | None, clear_counter: bool = True) -> dict[str, Any]:
        """`clear_counter`: False when the caller sets the counter's next ticket in the same transaction."""
        fast(txn.connection, _UPDATE_TICKET, {"b_ticket": current.id, "status": status, "finished_at": txn.now,
                                                "status_since": txn.now})
        self._transition(txn, current, status, actor, row.id, reason)
        minutes = (to_ms(txn.now) - to_ms(current.first_called_at or txn.now)) / 60_000
        self.times.record_call_outcome(txn.connection, current.service_id, True, minutes, txn.now)
        if clear_counter:
            self._set_current(txn, row, None)
        return self._changed(txn, row, current.id, current.status, status.replace("_", "-"),
                             _updated(current, status=status, finished_at=txn.now, status_since=txn.now))
    def _finish(self, txn: Txn, row: Any, current: Any, actor: str, clear_counter: bool = True) -> dict[str, Any]:
        fast(txn.connection, _UPDATE_TICKET, {"b_ticket": current.id, "status": p.DONE, "finished_at": txn.now,
                                                "status_since": txn.now})
        self._transition(txn, current, p.DONE, actor, row.id)
        self._learn_service(txn, row, current)
        if clear_counter:
            self._set_current(txn, row, None)
        return self._changed(txn, row, current.id, current.status, "finish",
                             _updated(current, status=p.DONE, finished_at=txn.now, status_since=txn.now))
    def _learn_service(self, txn: Txn, row: Any, ticket: Any) -> None:
        if ticket.served_at is None:
            return
        minutes = (to_ms(txn.now) - to_ms(ticket.served_at)) / 60_000
        hour = ticket.served_at.astimezone(self.tz).hour
        self.times.record_service(txn.connection, ticket.service_id, row.code, hour, minutes, txn.now)
    def _changed(self, txn: Txn, row: Any, ticket_id: int, previous: str, action: str,
                 updated: Any | None = None) -> dict[str, Any]:
        """`updated`: the ticket row as the caller just changed it, which spares reading it back."""
        view = self._view(txn.connection, updated or self._load(txn.connection, ticket_id), txn.now)
        txn.events += [TicketChanged(view, previous, action), QueueChanged(view["service"])]
        return view


def _carried_priority(priority: str) -> str:
    """The priority a transferred patient keeps in the next service."""
    return policy.NORMAL if priority in PLACE_PRIORITIES else priority


def _updated(ticket: Any, **changes: Any) -> SimpleNamespace:
    """A loaded ticket row with the columns an UPDATE by its id has just set (all values known)."""
    fields = ticket._mapping if hasattr(ticket, "_mapping") else vars(ticket)
    return SimpleNamespace(**{**fields, **changes})


def _candidate(row: Any | None, service: str) -> policy.Candidate | None:
    if row is None:
        return None
    return policy.Candidate(row.id, service, row.priority, row.queue_key_ms, to_ms(row.issued_at))
