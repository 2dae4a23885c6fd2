"""Counter state (open, paused, closed) and a counter's current ticket. A keypad has no "open"
key: pressing next at a closed or paused counter opens it (`_open_if_needed`).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam, select, update

from hub import protocol as p
from hub.db_fast import execute as fast
from hub.domain.common.errors import Conflict, NotFound
from hub.domain.common.events import (
    CounterChanged,
    QueueChanged,
    TicketChanged,
)
from hub.domain.queue.core import TICKET_COLUMNS, C, T, Txn
from hub.domain.queue.issuing import QueueIssuing

# A counter with its current ticket in one read: every key press starts with both.
_CURRENT_PREFIX = "t_"
# Hot-path statements, built once with bound parameters (why: see `core`).
_COUNTER_BY_CODE = select(C, *(c.label(_CURRENT_PREFIX + c.name) for c in TICKET_COLUMNS)).select_from(
    C.outerjoin(T, T.c.id == C.c.current_ticket_id)).where(C.c.code == bindparam("b_code"))
_COUNTER_BY_CODE_LOCKED = _COUNTER_BY_CODE.with_for_update(of=C)
_COUNTER_BY_ID = select(C).where(C.c.id == bindparam("b_counter"))
_UPDATE_COUNTER = update(C).where(C.c.id == bindparam("b_counter"))
_SET_CURRENT = _UPDATE_COUNTER.returning(*C.c)


class QueueCounters(QueueIssuing):
    """Opening, pausing, resuming and closing counters; a counter's current ticket."""

    def open_counter(self, counter: str, *, actor: str) -> dict[str, Any]:
        with self._transaction() as txn:
            row = self._lock_counter(txn, counter)
            if row.state == p.COUNTER_OPEN:
                return self._counter_view(txn.connection, row.id)
            if row.state == p.COUNTER_PAUSED:
                return self._resume(txn, row, actor)
            self._set_counter_state(txn, row, p.COUNTER_OPEN, None, actor)
            return self._counter_view(txn.connection, row.id)
    def pause(self, counter: str, *, actor: str, reason: str | None = None) -> dict[str, Any]:
        with self._transaction() as txn:
            row = self._lock_counter(txn, counter)
            if row.state != p.COUNTER_OPEN:
                raise Conflict("illegal_transition", f"counter {row.code} is {row.state}, not open")
            current = self._current(txn, row)
            if current is not None and current.status == p.CALLED:
                raise Conflict("ticket_called",
                               f"{current.number} is being called: start, recall or mark no-show first")
            if current is not None and current.status == p.SERVING:
                txn.connection.execute(update(T).where(T.c.id == current.id).values(status=p.ON_HOLD,
                                                                                    status_since=txn.now))
                self._transition(txn, current, p.ON_HOLD, actor, row.id, reason)
                view = self._view(txn.connection, self._load(txn.connection, current.id), txn.now)
                txn.events.append(TicketChanged(view, current.status, "hold"))
            self._set_counter_state(txn, row, p.COUNTER_PAUSED, reason or "", actor)
            return self._counter_view(txn.connection, row.id)
    def resume(self, counter: str, *, actor: str) -> dict[str, Any]:
        with self._transaction() as txn:
            row = self._lock_counter(txn, counter)
            if row.state != p.COUNTER_PAUSED:
                raise Conflict("illegal_transition", f"counter {row.code} is {row.state}, not paused")
            return self._resume(txn, row, actor)
    def close_counter(self, counter: str, *, actor: str) -> dict[str, Any]:
        with self._transaction() as txn:
            row = self._lock_counter(txn, counter)
            current = self._current(txn, row)
            if current is not None:
                raise Conflict("counter_busy", f"counter {row.code} still has {current.number} ({current.status})")
            if row.state != p.COUNTER_CLOSED:
                self._set_counter_state(txn, row, p.COUNTER_CLOSED, None, actor)
            return self._counter_view(txn.connection, row.id)
    def _resume(self, txn: Txn, row: Any, actor: str) -> dict[str, Any]:
        current = self._current(txn, row)
        if current is not None and current.status == p.ON_HOLD:
            txn.connection.execute(update(T).where(T.c.id == current.id).values(status=p.SERVING,
                                                                                status_since=txn.now))
            self._transition(txn, current, p.SERVING, actor, row.id, "resume")
            view = self._view(txn.connection, self._load(txn.connection, current.id), txn.now)
            txn.events.append(TicketChanged(view, current.status, "unhold"))
        self._set_counter_state(txn, row, p.COUNTER_OPEN, None, actor)
        return self._counter_view(txn.connection, row.id)
    def _set_counter_state(self, txn: Txn, row: Any, state: str, reason: str | None, actor: str) -> None:
        fast(txn.connection, _UPDATE_COUNTER, {"b_counter": row.id, "state": state, "pause_reason": reason,
                                                  "state_since": txn.now})
        self._audit(txn, actor, f"counter_{state}", row.code, {"reason": reason} if reason else None)
        txn.events.append(CounterChanged(self._counter_view(txn.connection, row.id)))
        for service_id in self._counter_service_ids(row.code):
            txn.events.append(QueueChanged(self._service_codes[service_id]))
    def _open_if_needed(self, txn: Txn, row: Any, actor: str) -> Any:
        """A keypad has no "open" key: pressing next at a closed or paused counter opens it."""
        if row.state == p.COUNTER_CLOSED:
            self._set_counter_state(txn, row, p.COUNTER_OPEN, None, actor)
        elif row.state == p.COUNTER_PAUSED:
            self._resume(txn, row, actor)
        else:
            return row
        return fast(txn.connection, _COUNTER_BY_ID, {"b_counter": row.id}).one()
    def _lock_counter(self, txn: Txn, code: str) -> Any:
        """The counter (locked on PostgreSQL) with its current ticket as `.current`."""
        self.counter_config(code)
        locked = txn.connection.dialect.name == "postgresql"
        row = fast(txn.connection, _COUNTER_BY_CODE_LOCKED if locked else _COUNTER_BY_CODE, {"b_code": code}).first()
        if row is None:
            raise NotFound("unknown_counter", f"unknown counter '{code}'")
        fields = row._mapping
        counter = SimpleNamespace(**{c.name: fields[c.name] for c in C.c})
        counter.current = None
        if row.current_ticket_id is not None:
            counter.current = SimpleNamespace(**{c.name: fields[_CURRENT_PREFIX + c.name] for c in TICKET_COLUMNS})
        return counter
    def _current(self, txn: Txn, counter_row: Any) -> Any | None:
        if counter_row.current_ticket_id is None:
            return None
        current = getattr(counter_row, "current", None)
        if current is not None and current.id == counter_row.current_ticket_id:
            return current
        return self._load(txn.connection, counter_row.current_ticket_id)
    def _require_current(self, txn: Txn, row: Any, states: tuple[str, ...], action: str) -> Any:
        current = self._current(txn, row)
        if current is None:
            raise Conflict("no_current_ticket",
                           f"Quầy {row.code} chưa gọi số nào / counter {row.code} has no ticket to {action}")
        if current.status not in states:
            raise Conflict("illegal_transition",
                           f"cannot {action} {current.number}: it is {current.status} (needs {' or '.join(states)})")
        return current
    def _set_current(self, txn: Txn, row: Any, ticket: Any | None, streak: int | None = None) -> dict[str, Any]:
        """Make `ticket` (a ticket row, or None) the counter's current one; returns the counter's new view."""
        values: dict[str, Any] = {"b_counter": row.id, "current_ticket_id": ticket.id if ticket else None}
        if streak is not None:
            values["priority_streak"] = streak
        counter = fast(txn.connection, _SET_CURRENT, values).one()
        counter_view = self._counter_view_of(counter, ticket)
        txn.events.append(CounterChanged(counter_view))
        return counter_view
    def _counter_service_ids(self, code: str) -> list[int]:
        return [self._service_ids[s] for s in self.counter_config(code).services]
