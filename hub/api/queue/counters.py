"""Counters and rooms: what they show, and the nurse's keys (next, recall, start, finish...)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from hub.api.auth import actor, require_roles
from hub.api.hub_access import current_hub, parse_body
from hub.api.schemas import CallTicketRequest, EmptyBody, PauseRequest, TransferRequest
from hub.domain.queue.boards import QueueReads

bp = Blueprint("counters", __name__)
OPERATORS = ("nurse", "reception", "doctor", "lab", "cashier", "device")


@bp.get("/counters")
def list_counters():  # type: ignore[no-untyped-def]
    """Public: what each counter's LED shows (numbers, no names)."""
    return jsonify({"counters": current_hub().queue.counters()})


@bp.get("/counters/<code>")
def get_counter(code: str):  # type: ignore[no-untyped-def]
    return jsonify(current_hub().queue.counter(code))


@bp.get("/counters/<code>/figures")
@require_roles(*OPERATORS)
def counter_figures(code: str):  # type: ignore[no-untyped-def]
    """Served and no-show counts today and the mean service time (what a console shows)."""
    return jsonify({"counter": code, "figures": QueueReads(current_hub().queue).counter_figures(code)})


@bp.get("/counters/<code>/no-shows")
@require_roles(*OPERATORS)
def counter_no_shows(code: str):  # type: ignore[no-untyped-def]
    """Today's no-shows of the counter's services: the late patients a console may put back in line."""
    return jsonify({"counter": code, "tickets": QueueReads(current_hub().queue).no_shows(code)})


@bp.post("/counters/<code>/next")
@require_roles(*OPERATORS)
def call_next(code: str):  # type: ignore[no-untyped-def]
    parse_body(EmptyBody)
    ticket = current_hub().queue.call_next(code, actor=actor())
    if ticket is None:
        return Response(status=204)
    return jsonify(ticket)


@bp.post("/counters/<code>/call")
@require_roles(*OPERATORS)
def call_ticket(code: str):  # type: ignore[no-untyped-def]
    body = parse_body(CallTicketRequest)
    queue = current_hub().queue
    ticket_id = body.ticket if isinstance(body.ticket, int) else queue.find_ticket(body.ticket)["id"]
    return jsonify(queue.call_ticket(code, ticket_id, actor=actor()))


def _ticket_action(name: str):  # type: ignore[no-untyped-def]
    def view(code: str):  # type: ignore[no-untyped-def]
        parse_body(EmptyBody)
        return jsonify(getattr(current_hub().queue, name)(code, actor=actor()))

    view.__name__ = name
    return view


for _path, _method in (("recall", "recall"), ("no-show", "no_show"), ("start", "start"), ("finish", "finish"),
                       ("resume", "resume"), ("open", "open_counter"), ("close", "close_counter")):
    bp.add_url_rule(f"/counters/<code>/{_path}", endpoint=_method, methods=["POST"],
                    view_func=require_roles(*OPERATORS)(_ticket_action(_method)))


@bp.post("/counters/<code>/pause")
@require_roles(*OPERATORS)
def pause(code: str):  # type: ignore[no-untyped-def]
    body = parse_body(PauseRequest)
    return jsonify(current_hub().queue.pause(code, actor=actor(), reason=body.reason))


@bp.post("/counters/<code>/transfer")
@require_roles(*OPERATORS)
def transfer(code: str):  # type: ignore[no-untyped-def]
    body = parse_body(TransferRequest)
    ticket = current_hub().queue.transfer(code, body.service, actor=actor(), note=body.note, priority=body.priority)
    return jsonify(ticket)
