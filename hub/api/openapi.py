"""GET /openapi.json: the API described for clients and for contract tests.

Paths are read from the app's own routes, so a route cannot exist without being described; the
request bodies come from the same pydantic models that validate them.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, current_app, jsonify
from pydantic import BaseModel

from hub.api import schemas
from hub.protocol import API_PREFIX

bp = Blueprint("openapi", __name__)

TICKET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "number", "service", "priority", "status", "ahead", "estimate", "issued_at"],
    "properties": {
        "id": {"type": "integer"},
        "number": {"type": "string", "example": "A023"},
        "service": {"type": "string"},
        "service_name": {"type": "string"},
        "priority": {"type": "string"},
        "status": {"type": "string", "enum": ["waiting", "called", "serving", "on_hold", "done", "no_show",
                                              "cancelled", "transferred"]},
        "counter": {"type": ["string", "null"]},
        "counter_name": {"type": ["string", "null"]},
        "ahead": {"type": ["integer", "null"]},
        "estimate": {"oneOf": [{"$ref": "#/components/schemas/Estimate"}, {"type": "null"}]},
        "call_count": {"type": "integer"},
        "issued_at": {"type": "string", "format": "date-time"},
        "called_at": {"type": ["string", "null"], "format": "date-time"},
        "status_url": {"type": "string"},
    },
}

# endpoint -> (summary, request body model, success status, response schema ref)
OPERATIONS: dict[str, tuple[str, type[BaseModel] | None, int, str | None]] = {
    "health.health": ("Hub, database and broker state", None, 200, "Health"),
    "services.list_services": ("Services with waiting counts and the estimate for a new ticket", None, 200, None),
    "services.service_queue": ("A service's waiting line in calling order", None, 200, None),
    "tickets.issue_ticket": ("Take a number", schemas.TicketRequest, 201, "Ticket"),
    "tickets.get_ticket": ("A ticket with its live status, people ahead and estimate", None, 200, "Ticket"),
    "tickets.cancel_ticket": ("Cancel a waiting ticket", schemas.CancelRequest, 200, "Ticket"),
    "tickets.return_late": ("Put a late no-show back in line behind K tickets", None, 200, "Ticket"),
    "counters.list_counters": ("Counters with their state and current ticket", None, 200, None),
    "counters.get_counter": ("One counter", None, 200, "Counter"),
    "counters.counter_figures": ("Served and no-show counts today and the mean service time", None, 200, None),
    "counters.counter_no_shows": ("Today's no-shows of the counter's services (for a late return)", None, 200,
                                  None),
    "counters.call_next": ("Next: recall, or finish, then call the next ticket (204 when nobody waits)",
                           None, 200, "Ticket"),
    "counters.call_ticket": ("Call a given ticket out of turn (audited)", schemas.CallTicketRequest, 200, "Ticket"),
    "counters.recall": ("Call the current ticket again", None, 200, "Ticket"),
    "counters.no_show": ("The called patient did not come", None, 200, "Ticket"),
    "counters.start": ("The patient arrived: service starts", None, 200, "Ticket"),
    "counters.finish": ("Service finished", None, 200, "Ticket"),
    "counters.transfer": ("Send the patient to another service; returns the new ticket",
                          schemas.TransferRequest, 200, "Ticket"),
    "counters.pause": ("Pause the counter (a ticket being served goes on hold)", schemas.PauseRequest, 200,
                       "Counter"),
    "counters.resume": ("Resume a paused counter", None, 200, "Counter"),
    "counters.open_counter": ("Open a closed counter", None, 200, "Counter"),
    "counters.close_counter": ("Close the counter (it must have no current ticket)", None, 200, "Counter"),
    "kiosk.kiosk_setup": ("What a kiosk shows besides services: the site and the priority classes", None, 200,
                          None),
    "kiosk.take_lease": ("Reserve a block of today's numbers for the kiosk to issue offline", schemas.LeaseRequest,
                         201, None),
    "kiosk.identify_patient": ("Find or register the patient of a scanned chip ID card (201 when new)",
                               schemas.IdentifyRequest, 200, None),
    "kiosk.reprint_ticket": ("Have the kiosk that issued a ticket print it again (202: command sent)", None, 202,
                             None),
    "kiosk.ticket_by_key": ("Redirect to the status page of the ticket with this idempotency key (offline QR)",
                            None, 302, None),
    "devices.list_devices": ("Devices on the bus: online, last seen, firmware, paper", None, 200, None),
    "devices.get_device": ("One device", None, 200, None),
    "openapi.openapi": ("This document", None, 200, None),
}

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["code", "message"],
                             "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                                            "details": {}}}},
}


def build_document() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    components: dict[str, Any] = {
        "Error": ERROR_SCHEMA,
        "Ticket": TICKET_SCHEMA,
        "Estimate": {"type": "object", "properties": {"p50_minutes": {"type": "integer"},
                                                      "p90_minutes": {"type": "integer"}}},
        "Counter": {"type": "object", "properties": {"code": {"type": "string"}, "name": {"type": "string"},
                                                     "state": {"type": "string", "enum": ["open", "paused", "closed"]},
                                                     "zone": {"type": "string"}, "ticket": {}}},
        "Health": {"type": "object", "properties": {"status": {"type": "string"}, "db": {"type": "string"},
                                                    "mqtt": {"type": "string", "enum": ["ok", "down", "disabled"]}}},
    }
    for rule in current_app.url_map.iter_rules():
        if not rule.rule.startswith(API_PREFIX) or rule.endpoint not in OPERATIONS:
            continue
        summary, body, status, response = OPERATIONS[rule.endpoint]
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix(API_PREFIX))
        view = current_app.view_functions[rule.endpoint]
        roles = getattr(view, "required_roles", None)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            operation: dict[str, Any] = {
                "summary": summary,
                "operationId": rule.endpoint.replace(".", "_"),
                "parameters": [{"name": name, "in": "path", "required": True,
                                "schema": {"type": "integer" if "int:" + name in rule.rule else "string"}}
                               for name in rule.arguments],
                "responses": {str(status): {"description": "OK", **(
                    {"content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{response}"}}}}
                    if response else {})}},
            }
            for code, text in ((400, "malformed JSON"), (401, "no or bad token"), (403, "role not allowed"),
                               (404, "unknown resource"), (409, "not allowed in the current state"),
                               (422, "invalid field")):
                operation["responses"][str(code)] = {
                    "description": text,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            if rule.endpoint == "counters.call_next":
                operation["responses"]["204"] = {"description": "nobody is waiting"}
            if roles:
                operation["security"] = [{"bearer": []}]
                operation["description"] = "Roles: " + ", ".join(roles) + " (and admin)."
            if body is not None:
                components[body.__name__] = body.model_json_schema(ref_template="#/components/schemas/{model}")
                operation["requestBody"] = {"required": True, "content": {"application/json": {
                    "schema": {"$ref": f"#/components/schemas/{body.__name__}"}}}}
            paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "clinicq hub API", "version": "1.0.0",
                 "description": "Outpatient queue hub. Errors are {\"error\": {\"code\", \"message\"}}."},
        "servers": [{"url": API_PREFIX}],
        "paths": paths,
        "components": {"schemas": components,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }


@bp.get("/openapi.json")
def openapi():  # type: ignore[no-untyped-def]
    return jsonify(build_document())
