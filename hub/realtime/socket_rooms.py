"""Socket.IO adapter: clients subscribe to a board, counter, service or ticket and get live events.

A client emits `subscribe` with one of {"board": id}, {"counter": code, "token": t}, {"service": code,
"token": t} (a staff or device token, or a staff login: these rooms show the waiting line) or
{"ticket": id, "token": t} (staff also {"devices": true}; a patient's portal page {"patient": code,
"token": t} for `inbox` messages) and at once receives a `snapshot`; then `call`, `queue`, `ticket` and
`counter` events. A reconnecting client subscribes again and gets a
fresh snapshot, so a board never shows stale state. Calls are pushed straight from the event (no
query on the hot path); waiting lines are recomputed in a background task that coalesces bursts.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from typing import Any

from flask import current_app, request
from flask_socketio import SocketIO, emit, join_room
from socketio import PubSubManager

from hub import protocol as p
from hub.api.auth import SESSION_RESOLVER
from hub.core import Hub
from hub.domain.booking.appointments import AppointmentChanged
from hub.domain.clinical.orders import OrderEvent
from hub.domain.common.errors import DomainError
from hub.domain.common.events import CounterChanged, QueueChanged, TicketCalled, TicketChanged, TicketIssued
from hub.domain.devices.registry import DeviceAlert, DeviceChanged
from hub.domain.notifications.outbox import PatientMessageCreated
from hub.domain.queue.boards import QueueReads
from hub.domain.queue.staffing import StaffingChanged
from hub.domain.structure.service import StructureChanged
from hub.notify.in_app import check_inbox_token

log = logging.getLogger(__name__)
NEXT_NUMBERS = 5
QUEUE_REFRESH_INTERVAL_S = 0.3
QUEUE_LIST_LIMIT = 50


def room_board(board_id: str) -> str:
    return f"board:{board_id}"


def room_counter(code: str) -> str:
    return f"counter:{code}"


def room_service(code: str) -> str:
    return f"service:{code}"


def room_ticket(ticket_id: int) -> str:
    return f"ticket:{ticket_id}"


def room_patient(code: str) -> str:
    return f"patient:{code}"


ROOM_DEVICES = "devices"
ROOM_APPOINTMENTS = "appointments"  # staff pages listing bookings (reception, call-back list)
DEVICE_VIEWERS = ("nurse", "reception", "doctor", "lab", "cashier", "admin")
# Counter and service rooms carry the waiting line (ticket ids, priorities, visit ids): like REST's
# GET /services/<code>/queue they need a staff or device token, or a staff login. Boards show numbers only.
QUEUE_VIEWERS = (*DEVICE_VIEWERS, "device")


class SocketRooms:
    """Joins clients to rooms, answers with snapshots, and forwards domain events to rooms."""

    def __init__(self, hub: Hub, socketio: SocketIO) -> None:
        self.hub = hub
        self.socketio = socketio
        self.reads = QueueReads(hub.queue)
        self._index_boards()
        # Tickets followed by clients of this process, by service, for estimate refreshes.
        self._followed: dict[str, dict[int, int]] = defaultdict(dict)
        self._followed_by_sid: dict[str, list[tuple[str, int]]] = defaultdict(list)
        self._dirty: set[str] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._worker_started = False
        self._stopped = False

        socketio.on_event(p.SIO_SUBSCRIBE, self.on_subscribe)
        socketio.on_event("disconnect", self.on_disconnect)
        hub.bus.subscribe(TicketCalled, self.on_called)
        hub.bus.subscribe(TicketIssued, self.on_ticket)
        hub.bus.subscribe(TicketChanged, self.on_ticket)
        hub.bus.subscribe(CounterChanged, self.on_counter)
        hub.bus.subscribe(QueueChanged, self.on_queue_changed)
        hub.bus.subscribe(DeviceChanged, self.on_device)
        hub.bus.subscribe(DeviceAlert, self.on_device_alert)
        hub.bus.subscribe(StaffingChanged, self.on_staffing)
        hub.bus.subscribe(PatientMessageCreated, self.on_patient_message)
        hub.bus.subscribe(OrderEvent, self.on_order)
        hub.bus.subscribe(AppointmentChanged, self.on_appointment)
        hub.bus.subscribe(StructureChanged, self.on_structure)
        hub.closers.append(self.stop)

    def _index_boards(self) -> None:
        """Which boards show each counter and service; built again when the structure changes."""
        config = self.hub.config
        of_counter: dict[str, list[str]] = defaultdict(list)
        of_service: dict[str, list[str]] = defaultdict(list)
        for display in config.displays:
            for counter in config.display_counters(display):
                of_counter[counter.code].append(display.id)
            for service in config.display_services(display):
                of_service[service.code].append(display.id)
        self.boards_of_counter, self.boards_of_service = of_counter, of_service

    def on_structure(self, event: StructureChanged) -> None:
        """Rooms, names or boards changed: every board and console redraws from a fresh snapshot.

        Each hub process re-indexes; only the one that made the change emits, since rooms are shared
        between processes (Redis) and one snapshot per screen is enough.
        """
        self._index_boards()
        if not event.local:
            return
        config = self.hub.config
        for display in config.displays:
            try:
                self.socketio.emit(p.SIO_SNAPSHOT, self.board_snapshot(display.id), to=room_board(display.id))
            except Exception:  # one board failing must not keep the others on the old structure
                log.exception("sending board %s its new snapshot failed", display.id)
        for counter in config.counters:
            try:
                self.socketio.emit(p.SIO_SNAPSHOT, self.counter_snapshot(counter.code), to=room_counter(counter.code))
            except Exception:
                log.exception("sending counter %s its new snapshot failed", counter.code)
        for code in event.removed_counters:
            self.socketio.emit(p.SIO_ERROR, {"code": "unknown_counter", "message": f"counter {code} was removed"},
                               to=room_counter(code))

    # ------------------------------------------------------------------ subscriptions
    def on_subscribe(self, message: Any = None) -> None:
        try:
            snapshot, room = self._subscription(message)
        except DomainError as exc:
            emit(p.SIO_ERROR, {"code": exc.code, "message": exc.message})
            return
        join_room(room)
        emit(p.SIO_SNAPSHOT, snapshot)

    def _subscription(self, message: Any) -> tuple[dict[str, Any], str]:
        if not isinstance(message, dict) or not message:
            raise DomainError("bad_subscribe", "subscribe with {board}, {counter}, {service} or {ticket, token}")
        kinds = [k for k in ("board", "counter", "service", "ticket", "devices", "patient", "appointments")
                 if k in message]
        if len(kinds) != 1 or set(message) - {kinds[0], "token"}:
            raise DomainError("bad_subscribe", "subscribe to exactly one of board, counter, service, ticket")
        kind, value = kinds[0], message[kinds[0]]
        if kind == "devices":
            self._require_staff(message.get("token"))
            return {"kind": "devices", "devices": self.hub.devices.list()}, ROOM_DEVICES
        if kind == "appointments":
            self._require_staff(message.get("token"))
            return {"kind": "appointments", "server_time": self.hub.clock.now().isoformat()}, ROOM_APPOINTMENTS
        if kind == "patient":
            # A portal page follows one patient's in-app messages with the token the portal gave it.
            token = message.get("token")
            if not isinstance(value, str) or not isinstance(token, str) or not check_inbox_token(
                    self.hub.secret_key, value, token):
                raise DomainError("forbidden", "this token is not for this patient")
            return {"kind": "patient", "messages": self.hub.notifications.inbox_of(value)}, room_patient(value)
        if kind == "ticket":
            token = message.get("token")
            if not isinstance(value, int) or isinstance(value, bool) or not isinstance(token, str):
                raise DomainError("bad_subscribe", "a ticket subscription needs an integer id and its token")
            if not self.hub.check_ticket_token(value, token):
                raise DomainError("forbidden", "this token is not for this ticket")
            ticket = self.hub.queue.get_ticket(value)
            self._follow(request.sid, ticket["service"], value)
            return {"kind": "ticket", "ticket": ticket}, room_ticket(value)
        if not isinstance(value, str) or len(value) > 64:
            raise DomainError("bad_subscribe", f"{kind} must be a code")
        if kind == "board":
            return self.board_snapshot(value), room_board(value)
        self._require_staff(message.get("token"), QUEUE_VIEWERS)
        if kind == "counter":
            return self.counter_snapshot(value), room_counter(value)
        return self.service_snapshot(value), room_service(value)

    def _require_staff(self, token: Any, roles: tuple[str, ...] = DEVICE_VIEWERS) -> None:
        """Staff only: a staff token in the message, or a logged-in session."""
        role = None
        if isinstance(token, str):
            identity = self.hub.tokens.verify(token)
            role = identity.role if identity else None
        else:
            resolver = current_app.extensions.get(SESSION_RESOLVER)
            identity = resolver() if resolver else None
            role = identity.role if identity else None
        if role not in roles:
            raise DomainError("forbidden", "this room is for staff: log in or send a staff token")

    def _follow(self, sid: str, service: str, ticket_id: int) -> None:
        with self._lock:
            followed = self._followed[service]
            followed[ticket_id] = followed.get(ticket_id, 0) + 1
            self._followed_by_sid[sid].append((service, ticket_id))

    def on_disconnect(self, *_: Any) -> None:
        with self._lock:
            for service, ticket_id in self._followed_by_sid.pop(request.sid, []):
                followed = self._followed[service]
                followed[ticket_id] -= 1
                if followed[ticket_id] <= 0:
                    del followed[ticket_id]

    # ------------------------------------------------------------------ snapshots
    def board_snapshot(self, board_id: str) -> dict[str, Any]:
        config = self.hub.config
        display = config.display(board_id)
        if display is None:
            raise DomainError("unknown_board", f"no board {board_id!r} in config/displays.toml")
        counters = [c.code for c in config.display_counters(display)]
        services = [s.code for s in config.display_services(display)]
        by_code = {c["code"]: c for c in self.hub.queue.counters()}
        return {
            "kind": "board",
            "board": display.model_dump(),
            "site": {"name": config.site.name, "name_en": config.site.name_en, "timezone": config.site.timezone},
            "counters": [_public_counter(by_code[code]) for code in counters],
            "services": [self._service_summary(s) for s in self._services_overview(services)],
            "last_calls": self.reads.last_calls(counters, config.queue.last_calls_on_board),
            "server_time": self.hub.clock.now().isoformat(),
        }

    def counter_snapshot(self, code: str) -> dict[str, Any]:
        queue = self.hub.queue
        counter = queue.counter(code)
        return {"kind": "counter", "counter": counter, "queue": self._counter_queue(code),
                "figures": self.reads.counter_figures(code), "server_time": self.hub.clock.now().isoformat()}

    def service_snapshot(self, code: str) -> dict[str, Any]:
        self.hub.queue.service_config(code)
        summary = self._services_overview([code])[0]
        return {"kind": "service", "service": self._service_summary(summary),
                "queue": self.hub.queue.waiting_tickets(code, QUEUE_LIST_LIMIT),
                "server_time": self.hub.clock.now().isoformat()}

    def _services_overview(self, codes: list[str]) -> list[dict[str, Any]]:
        overview = {s["code"]: s for s in self.hub.queue.services_overview(codes)}
        nexts = self.reads.next_numbers(codes, NEXT_NUMBERS)
        return [{**overview[code], "next": nexts[code]} for code in codes]

    @staticmethod
    def _service_summary(service: dict[str, Any]) -> dict[str, Any]:
        keys = ("code", "name", "name_en", "prefix", "waiting", "serving", "last_issued", "estimate", "next")
        return {k: service.get(k) for k in keys}

    def _counter_queue(self, code: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for service in self.hub.config.counter(code).services:
            out += self.hub.queue.waiting_tickets(service, QUEUE_LIST_LIMIT)
        return out

    # ------------------------------------------------------------------ events -> rooms
    def on_called(self, event: TicketCalled) -> None:
        ticket, counter = event.ticket, event.counter
        message = {
            "call_id": event.call_id, "recall": event.recall, "ts": event.at,
            "ticket": _public_ticket(ticket), "counter": _public_counter(counter),
        }
        rooms = [room_counter(counter["code"]), room_service(ticket["service"]), room_ticket(ticket["id"])]
        rooms += [room_board(b) for b in self.boards_of_counter.get(counter["code"], [])]
        self.socketio.emit(p.SIO_CALL, message, to=rooms)

    def on_ticket(self, event: TicketIssued | TicketChanged) -> None:
        ticket = event.ticket
        rooms = [room_ticket(ticket["id"]), room_service(ticket["service"])]
        if ticket.get("counter"):
            rooms.append(room_counter(ticket["counter"]))
        if not self._anyone_in(rooms):
            return  # a new ticket's own room is empty, and often its service's too
        self.socketio.emit(p.SIO_TICKET, {"ticket": _public_ticket(ticket),
                                          "action": getattr(event, "action", "issue")}, to=rooms)

    def on_counter(self, event: CounterChanged) -> None:
        counter = event.counter
        boards = self.boards_of_counter.get(counter["code"], [])
        rooms = [room_counter(counter["code"]), *(room_board(b) for b in boards)]
        self.socketio.emit(p.SIO_COUNTER, {"counter": _public_counter(counter)}, to=rooms)

    def on_queue_changed(self, event: QueueChanged) -> None:
        with self._lock:
            self._dirty.add(event.service)
            if not self._worker_started:
                self._worker_started = True
                self.socketio.start_background_task(self._queue_worker)
        self._wake.set()

    def _queue_worker(self) -> None:
        while not self._stopped:
            self._wake.wait(timeout=5)
            self._wake.clear()
            with self._lock:
                dirty, self._dirty = self._dirty, set()
            for service in sorted(dirty):
                try:
                    self._push_queue(service)
                except Exception:  # a failed refresh is retried on the next change; the worker lives on
                    log.exception("refreshing the line of %s failed", service)
            # A busy morning changes a line many times a second; screens need it a few times a second at
            # most, and every refresh recomputes estimates: changes meanwhile are coalesced into the next.
            self.socketio.sleep(QUEUE_REFRESH_INTERVAL_S)

    def _anyone_in(self, rooms: list[str]) -> bool:
        """Whether a client may be in one of `rooms`: refreshes nobody would receive are not built.
        With a message queue (several hub processes) the other processes' clients are not known here."""
        manager = self.socketio.server.manager
        if isinstance(manager, PubSubManager):
            return True
        return any(next(iter(manager.get_participants("/", room)), None) is not None for room in rooms)

    def _push_queue(self, service: str) -> None:
        boards = [room_board(b) for b in self.boards_of_service.get(service, [])]
        counters = [room_counter(c.code) for c in self.hub.config.counters if service in c.services]
        staff = [room_service(service), *counters]
        to_boards, to_staff = self._anyone_in(boards), self._anyone_in(staff)
        if to_boards or to_staff:
            summary = self._service_summary(self._services_overview([service])[0])
            if to_boards:
                self.socketio.emit(p.SIO_QUEUE, {"service": summary}, to=boards)
            if to_staff:
                tickets = self.hub.queue.waiting_tickets(service, QUEUE_LIST_LIMIT)
                self.socketio.emit(p.SIO_QUEUE, {"service": summary, "queue": tickets}, to=staff)
        with self._lock:
            followed = list(self._followed.get(service, {}))
        for ticket_id in followed:
            ticket = self.hub.queue.get_ticket(ticket_id)
            self.socketio.emit(p.SIO_TICKET, {"ticket": _public_ticket(ticket), "action": "estimate"},
                               to=room_ticket(ticket_id))

    def on_staffing(self, event: StaffingChanged) -> None:
        """New or cleared staffing advice: to the ops pages (the staff "devices" room) at once."""
        self.socketio.emit(p.SIO_STAFFING, {"advice": event.advice, "fired": event.fired, "cleared": event.cleared},
                           to=ROOM_DEVICES)

    def on_device(self, event: DeviceChanged) -> None:
        self.socketio.emit(p.SIO_DEVICE, {"device": event.device}, to=ROOM_DEVICES)

    def on_device_alert(self, event: DeviceAlert) -> None:
        self.socketio.emit(p.SIO_ALERT, {"device": event.device, "kind": event.kind, "message": event.message},
                           to=ROOM_DEVICES)

    def on_order(self, event: OrderEvent) -> None:
        """Tell the lab page (its service's room) and the ordering room that an order changed.

        Service rooms are public: the message names the order and its state only, never the patient or
        results; staff pages fetch those over REST with their login.
        """
        order = event.order
        rooms = [room_service(order["service"])]
        if order.get("ordering_counter"):
            rooms.append(room_counter(order["ordering_counter"]))
        message = {k: order.get(k) for k in ("id", "service", "status", "ordering_counter")}
        self.socketio.emit(p.SIO_ORDER, {"order": message, "action": event.action}, to=rooms)

    def on_appointment(self, event: AppointmentChanged) -> None:
        """A booking changed (booked, moved, cancelled, confirmed by the patient...): staff lists refetch it."""
        appointment = event.appointment
        message = {k: appointment.get(k) for k in ("id", "code", "status", "kind", "service", "doctor", "day",
                                                     "time", "slot_start")}
        self.socketio.emit(p.SIO_APPOINTMENT, {"appointment": message, "action": event.action},
                           to=ROOM_APPOINTMENTS)

    def on_patient_message(self, event: PatientMessageCreated) -> None:
        self.socketio.emit(p.SIO_INBOX, {"message": event.message}, to=room_patient(event.patient_code))

    def stop(self) -> None:
        self._stopped = True
        self._wake.set()


def _public_ticket(ticket: dict[str, Any]) -> dict[str, Any]:
    """What any screen may show: numbers and places, never who the patient is."""
    return {k: v for k, v in ticket.items() if k not in ("visit_id", "note")}


def _public_counter(counter: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in counter.items() if k != "pause_reason"}
