"""Least privilege, decided in one place: which role may call which REST operation.

`OPERATIONS` maps every REST operation (its Flask endpoint name) to the roles allowed to call it; an
operation missing from the table is refused to everyone (deny by default), and a test walks every
Flask rule for every role. Two pseudo-roles: `ANYONE` (no token needed) and `TICKET_LINK` (a patient
holding the ticket's signed link token, ?token= or ?k=, checked by the view).

On top of the role, two roles are scoped to what they own (`SCOPES`):
- a `kiosk` token reads and cancels only the tickets it issued itself (the issuer is the actor of the
  ticket's first transition);
- a `device` token acts only as its device: the token's name is the device's code in the registry and
  counter operations are allowed at that device's counter only.

docs/protocol.md's role table is generated from this module (`role_table_markdown`); a test keeps
it current. `require_roles` on the views stays as a second check and for the OpenAPI document.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask, request
from sqlalchemy import select

from hub.api.auth import Identity, identify
from hub.api.errors import ApiError
from hub.api.hub_access import current_hub
from hub.protocol import API_PREFIX, ROLES

log = logging.getLogger(__name__)
ANYONE = "anyone"
TICKET_LINK = "ticket-link"

OPERATIONS: dict[str, tuple[str, ...]] = {
    "billing.cancel_payment": ("reception", "cashier", "admin"),
    "billing.confirm_transfer": ("reception", "cashier", "admin"),
    "billing.find_bills": ("reception", "cashier", "admin"),
    "billing.get_bill": ("reception", "cashier", "admin"),
    "billing.get_invoice": ("reception", "cashier", "admin"),
    "billing.get_payment": ("reception", "cashier", "admin"),
    "billing.payment_qr": ("reception", "cashier", "admin"),
    "billing.take_deposit": ("reception", "cashier", "admin"),
    "billing.take_payment": ("cashier", "admin"),
    "billing.void_payment": ("cashier", "admin"),
    "booking.book": ("reception", "doctor", "admin"),
    "booking.cancel": ("reception", "doctor", "admin"),
    "booking.check_in": ("reception", "admin"),
    "booking.confirm": ("reception", "doctor", "admin"),
    "booking.doctor_schedule": ("reception", "nurse", "doctor", "cashier", "admin"),
    "booking.get_appointment": ("reception", "nurse", "doctor", "cashier", "admin"),
    "booking.list_appointments": ("reception", "nurse", "doctor", "cashier", "admin"),
    "booking.list_doctors": (ANYONE,),
    "booking.list_slots": (ANYONE,),
    "booking.no_show": ("reception", "doctor", "admin"),
    "booking.register_visit": ("reception", "admin"),
    "booking.reschedule": ("reception", "doctor", "admin"),
    "booking.visit_intake": ("reception", "nurse", "doctor", "cashier", "admin"),
    "clinical.cancel_order": ("doctor", "lab", "admin"),
    "clinical.catalogue": ("doctor", "lab", "nurse", "reception", "cashier", "admin"),
    "clinical.get_exam": ("doctor", "lab", "nurse", "admin"),
    "clinical.get_order": ("doctor", "lab", "nurse", "admin"),
    "clinical.get_visit": ("doctor", "lab", "nurse", "admin"),
    "clinical.icd10": ("doctor", "lab", "nurse", "admin"),
    "clinical.list_orders": ("doctor", "lab", "nurse", "admin"),
    "clinical.next_step": (TICKET_LINK, "kiosk", "nurse", "reception", "doctor", "lab", "cashier", "device",
                           "admin"),
    "clinical.patient_history": ("doctor", "lab", "nurse", "admin"),
    "clinical.place_orders": ("doctor", "admin"),
    "clinical.put_exam": ("doctor", "admin"),
    "clinical.release_order": ("doctor", "lab", "admin"),
    "clinical.result_order": ("lab", "admin"),
    "clinical.start_order": ("lab", "admin"),
    "clinical.visit_of_ticket": ("doctor", "lab", "nurse", "admin"),
    "counters.call_next": ("nurse", "reception", "doctor", "lab", "cashier", "device", "admin"),
    "counters.call_ticket": ("nurse", "reception", "doctor", "lab", "cashier", "device", "admin"),
    "counters.close_counter": ("nurse", "reception", "doctor", "lab", "cashier", "device", "admin"),
    "counters.counter_figures": ("nurse", "reception", "doctor", "lab", "cashier", "device", "admin"),
    "counters.counter_no_shows": ("nurse", "reception", "doctor", "lab", "cashier", "device", "admin"),
    "counters.finish": ("nurse", "reception", "doctor", "lab", "cashier", "device", "admin"),
    "counters.get_counter": (ANYONE,),
    "counters.list_counters": (ANYONE,),
    "counters.no_show": ("nurse", "reception", "doctor", "lab", "cashier", "device", "admin"),
    "counters.open_counter": ("nurse", "reception", "doctor", "lab", "cashier", "device", "admin"),
    "counters.pause": ("nurse", "reception", "doctor", "lab", "cashier", "device", "admin"),
    "counters.recall": ("nurse", "reception", "doctor", "lab", "cashier", "device", "admin"),
    "counters.resume": ("nurse", "reception", "doctor", "lab", "cashier", "device", "admin"),
    "counters.start": ("nurse", "reception", "doctor", "lab", "cashier", "device", "admin"),
    "counters.transfer": ("nurse", "reception", "doctor", "lab", "cashier", "device", "admin"),
    "devices.get_device": ("nurse", "reception", "doctor", "lab", "cashier", "admin"),
    "devices.list_devices": ("nurse", "reception", "doctor", "lab", "cashier", "admin"),
    "follow_ups.analysis": ("admin",),
    "follow_ups.follow_up_slots": ("doctor", "nurse", "reception", "admin"),
    "follow_ups.get_callback": ("reception", "admin"),
    "follow_ups.get_series": ("doctor", "nurse", "reception", "admin"),
    "follow_ups.list_callbacks": ("reception", "admin"),
    "follow_ups.log_call": ("reception", "admin"),
    "follow_ups.order_follow_up": ("doctor", "nurse", "reception", "admin"),
    "follow_ups.send_callback_message": ("reception", "admin"),
    "follow_ups.stop_series": ("doctor", "reception", "admin"),
    "follow_ups.visit_follow_ups": ("doctor", "nurse", "reception", "admin"),
    "health.health": (ANYONE,),
    "kiosk.identify_patient": ("kiosk", "reception", "admin"),
    "kiosk.kiosk_setup": ("kiosk", "admin"),
    "kiosk.reprint_ticket": ("nurse", "reception", "doctor", "lab", "cashier", "admin"),
    "kiosk.take_lease": ("kiosk", "admin"),
    "kiosk.ticket_by_key": (ANYONE,),
    "openapi.openapi": (ANYONE,),
    "patients.get_patient": ("reception", "nurse", "doctor", "lab", "cashier", "admin"),
    "patients.patient_appointments": ("reception", "nurse", "doctor", "lab", "cashier", "admin"),
    "patients.patient_consents": ("reception", "nurse", "doctor", "lab", "cashier", "admin"),
    "patients.register_patient": ("reception", "admin"),
    "patients.search_patients": ("reception", "nurse", "doctor", "lab", "cashier", "admin"),
    "patients.set_patient_consents": ("reception", "admin"),
    "patients.update_patient": ("reception", "admin"),
    "reports.get_report": ("admin",),
    "reports.ops_overview": ("nurse", "reception", "admin"),
    "reports.refresh_rollups": ("admin",),
    "reports.report_table": ("admin",),
    "reports.report_workbook": ("admin",),
    "services.list_services": (ANYONE,),
    "services.service_queue": ("nurse", "reception", "doctor", "lab", "cashier", "device", "admin"),
    "tickets.cancel_ticket": ("nurse", "reception", "doctor", "lab", "cashier", "kiosk", "admin"),
    "tickets.get_ticket": (TICKET_LINK, "kiosk", "nurse", "reception", "doctor", "lab", "cashier", "device", "admin"),
    "tickets.issue_ticket": ("kiosk", "reception", "nurse", "doctor", "device", "admin"),
    "tickets.return_late": ("nurse", "reception", "doctor", "lab", "cashier", "admin"),
    "insurance.add_coverage": ("reception", "admin"),
    "insurance.check_card": ("kiosk", "reception", "cashier", "admin"),
    "insurance.check_visit": ("kiosk", "reception", "admin"),
    "insurance.claim_file": ("cashier", "admin"),
    "insurance.claims_batch": ("cashier", "admin"),
    "insurance.export_claims": ("cashier", "admin"),
    "insurance.figures": ("cashier", "reception", "admin"),
    "insurance.list_claims": ("cashier", "admin"),
    "insurance.override_visit": ("reception", "admin"),
    "insurance.patient_coverages": ("reception", "cashier", "doctor", "admin"),
    "insurance.recheck_pending": ("reception", "admin"),
    "insurance.reject_claim": ("cashier", "admin"),
    "insurance.visit_insurance": ("reception", "cashier", "doctor", "admin"),
    "staffing.ops_staffing": ("nurse", "reception", "admin"),
    "clinical.drugs": ("doctor", "lab", "nurse", "admin"),
    "clinical.identify_visit": ("doctor", "nurse", "reception", "admin"),
    "clinical.reprint_slip": ("doctor", "lab", "nurse", "reception", "admin"),
    "clinical.visit_slips": ("doctor", "lab", "nurse", "reception", "admin"),
    "kiosk.identify_typed": ("kiosk",),
}


# ------------------------------------------------------------------ scopes of kiosks and devices
def _issuer(ticket_id: int) -> str | None:
    from hub.domain.queue.models import TicketTransition as TT

    with current_hub().db.read() as connection:
        return connection.execute(select(TT.actor).where(TT.ticket_id == ticket_id, TT.from_status.is_(None))
                                  .order_by(TT.id).limit(1)).scalar()


def _own_ticket(identity: Identity, view_args: dict) -> None:
    ticket_id = view_args.get("ticket_id")
    if ticket_id is None:
        return
    issuer = _issuer(ticket_id)
    if issuer is None:
        raise ApiError(404, "not_found", f"no ticket {ticket_id}")
    if issuer != identity.actor:
        raise ApiError(403, "not_yours", "a kiosk may only read and cancel the tickets it issued")


def _own_counter(identity: Identity, view_args: dict) -> None:
    code = view_args.get("code")
    if code is None:
        return
    device = current_hub().devices.get(identity.actor.removeprefix("token:"))
    if device is None or device.get("counter") != code:
        raise ApiError(403, "not_yours", "a device token acts only at its own device's counter "
                                         "(name the token after the device's code)")


Scope = Callable[[Identity, dict], None]
# (role, endpoint prefix) -> the ownership check applied after the role check.
SCOPES: dict[tuple[str, str], Scope] = {
    ("kiosk", "tickets."): _own_ticket,
    ("kiosk", "clinical.next_step"): _own_ticket,
    ("device", "counters."): _own_counter,
}


def allowed(endpoint: str, role: str | None) -> bool:
    """The table's decision for a role (None = anonymous), before scopes; False for unknown operations."""
    roles = OPERATIONS.get(endpoint)
    if roles is None:
        return False
    if ANYONE in roles:
        return True
    return role is not None and (role == "admin" or role in roles)


def enforce() -> None:
    """before_request for /api/v1: the table decides, deny by default."""
    if not request.path.startswith(API_PREFIX + "/") or request.endpoint is None:
        return  # not the API, or no such route: 404/405 follow
    if request.method == "OPTIONS":
        return
    endpoint = request.endpoint
    roles = OPERATIONS.get(endpoint)
    if roles is None:
        log.error("refused %s %s: operation %s is not in the access table", request.method, request.path, endpoint)
        raise ApiError(403, "forbidden", "this operation is not in the access table (hub/api/access.py)")
    if ANYONE in roles:
        return
    if TICKET_LINK in roles and (request.args.get("token") or request.args.get("k")):
        return  # the view checks the link's signature
    identity = identify()
    if identity is None:
        raise ApiError(401, "unauthorized", "this endpoint needs 'Authorization: Bearer <token>'")
    if not allowed(endpoint, identity.role):
        raise ApiError(403, "forbidden", f"role '{identity.role}' may not do this")
    for (role, prefix), scope in SCOPES.items():
        if identity.role == role and endpoint.startswith(prefix):
            scope(identity, request.view_args or {})


def install_access(app: Flask) -> None:
    app.before_request(enforce)


# ------------------------------------------------------------------ the table as docs/protocol.md shows it
def operations_of(role: str) -> list[str]:
    """Every operation a role may call (admin: all of them)."""
    return sorted(name for name, roles in OPERATIONS.items()
                  if ANYONE in roles or role == "admin" or role in roles)


def role_table_markdown() -> str:
    """Markdown for docs/protocol.md: operation rows, role columns (✓ allowed, · denied)."""
    columns = [ANYONE, TICKET_LINK, *ROLES]
    lines = ["| operation | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    for name in sorted(OPERATIONS):
        roles = OPERATIONS[name]
        cells = []
        for column in columns:
            if column in (ANYONE, TICKET_LINK):
                cells.append("✓" if column in roles else "·")
            else:
                mark = "✓" if allowed(name, column) else "·"
                if mark == "✓" and any(column == role and name.startswith(prefix) for role, prefix in SCOPES):
                    mark = "own"
                cells.append(mark)
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_role_table(path: str) -> None:
    """Replace the generated table between the role-table markers of docs/protocol.md."""
    import re
    from pathlib import Path

    doc = Path(path)
    text = doc.read_text(encoding="utf-8")
    block = f"<!-- role-table:start -->\n{role_table_markdown()}\n<!-- role-table:end -->"
    doc.write_text(re.sub(r"<!-- role-table:start -->.*?<!-- role-table:end -->", lambda _m: block, text,
                          flags=re.DOTALL), encoding="utf-8")


if __name__ == "__main__":
    import sys

    write_role_table(sys.argv[1] if len(sys.argv) > 1 else "docs/protocol.md")
