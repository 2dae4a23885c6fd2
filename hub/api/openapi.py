"""GET /openapi.json: the API described for clients and for contract tests.

Paths are read from the app's own routes, so a route cannot exist without being described; the
request bodies come from the same pydantic models that validate them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from flask import Blueprint, current_app, jsonify
from pydantic import BaseModel

from hub.api import billing, clinical, follow_ups, insurance, patients, reports, schemas
from hub.protocol import API_PREFIX

bp = Blueprint("openapi", __name__)

# Success-response schemas: hub/api/responses.json, written from what the views really send (recorded
# over the API tests, then completed by hand: nullable fields, closed sets of values) and held to it by
# tests/test_openapi_responses.py and the schemathesis run's response_schema_conformance check.
RESPONSES: dict[str, Any] = json.loads(Path(__file__).with_name("responses.json").read_text(encoding="utf-8"))
BINARY = {"type": "string", "format": "binary"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Operations whose success is not (only) JSON: media type -> schema.
MEDIA: dict[str, dict[str, dict[str, Any]]] = {
    "billing.payment_qr": {"image/png": BINARY},
    "reports.report_workbook": {XLSX: BINARY},
    "reports.report_table": {"text/csv": {"type": "string"}, XLSX: BINARY},
    "insurance.claim_file": {"application/xml": {"type": "string"}},
    "insurance.claims_batch": {"application/xml": {"type": "string"}},
}
NO_CONTENT = {"kiosk.ticket_by_key"}  # 302 to the ticket's status page
# Errors only some operations answer, besides the common ones.
EXTRA_ERRORS: dict[str, tuple[tuple[int, str], ...]] = {
    "kiosk.identify_typed": ((429, "too many wrong attempts from this kiosk (Retry-After)"),),
    "kiosk.reprint_ticket": ((503, "device_bus_down: the device bus (MQTT) is not connected"),),
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
    "kiosk.identify_patient": ("Find or register the patient of a scanned chip ID card (201 when new); with BHYT, "
                               "`insurance`: the card check, the payer words and the suggested line (`service`)",
                               schemas.IdentifyRequest, 200, None),
    "kiosk.identify_typed": ("Find a KNOWN patient from a typed CCCD number or BHYT card code plus date of birth "
                             "(never registers; 404 no_match without saying which was wrong; 429 after 5 wrong "
                             "attempts per kiosk in 10 minutes); with BHYT, `insurance` as for a scan",
                             schemas.TypedIdentifyRequest, 200, None),
    "kiosk.reprint_ticket": ("Have the kiosk that issued a ticket print it again (202: command sent)", None, 202,
                             None),
    "kiosk.ticket_by_key": ("Redirect to the status page of the ticket with this idempotency key (offline QR)",
                            None, 302, None),
    "devices.list_devices": ("Devices on the bus: online, last seen, firmware, paper", None, 200, None),
    "devices.get_device": ("One device", None, 200, None),
    "billing.find_bills": ("Bills of the visits matching ?q= (ticket number, patient code, visit code, invoice)",
                           None, 200, None),
    "billing.get_bill": ("A visit's bill: items, total, deposits, paid, refunded, due, payments, invoices; "
                         "amount, insurance_pays, patient_pays per line and in total", None, 200, "Bill"),
    "billing.take_deposit": ("Take a deposit (receipt number); card/e-wallet wait for the provider",
                             billing.DepositRequest, 201, None),
    "billing.take_payment": ("Settle the bill: deposits deducted, invoice issued, unused deposit refunded",
                             billing.PaymentRequest, 201, None),
    "billing.get_payment": ("One payment row (a pending bank transfer carries its VietQR payload)", None, 200, None),
    "billing.payment_qr": ("The VietQR code of a bank-transfer payment (image/png)", None, 200, None),
    "billing.confirm_transfer": ("The bank transfer arrived: approve the pending payment", None, 200, None),
    "billing.cancel_payment": ("Give up a pending payment (it ends declined)", billing.CancelPaymentRequest, 200,
                               None),
    "billing.void_payment": ("Void an approved payment or deposit, with a reason (its invoice is cancelled)",
                             billing.VoidRequest, 200, None),
    "billing.get_invoice": ("One invoice", None, 200, None),
    "clinical.get_visit": ("A visit as the doctor sees it: patient, intake, tickets, exam, orders and results",
                           None, 200, None),
    "clinical.visit_of_ticket": ("The visit a ticket belongs to", None, 200, None),
    "clinical.next_step": ("Where the ticket's holder goes now (staff, or ?k=<the ticket's link token>)", None,
                           200, None),
    "clinical.get_exam": ("The examination record of a visit", None, 200, None),
    "clinical.visit_slips": ("Slips printed for a visit (order slip, return to the doctor) and their state", None,
                             200, None),
    "clinical.reprint_slip": ("Print a saved slip again (?counter= another room's printer)",
                              clinical.ReprintSlipRequest, 200, None),
    "clinical.identify_visit": ("Identify the patient of an anonymous visit (clinical writes need one: 409 "
                                "patient_not_identified otherwise)", clinical.IdentifyVisitRequest, 200, None),
    "clinical.put_exam": ("Write the examination: notes, ICD-10 diagnosis, prescription lines and text, weight",
                          clinical.ExamRequest, 200, None),
    "clinical.place_orders": ("Order lab tests and imaging; the patient goes to the first performing service",
                              clinical.OrdersRequest, 201, None),
    "clinical.patient_history": ("A patient's earlier visits: diagnoses, orders, results", None, 200, None),
    "clinical.list_orders": ("Orders by performing service, state and day (the lab and imaging worklist)", None,
                             200, None),
    "clinical.get_order": ("One order with its results", None, 200, None),
    "clinical.start_order": ("Sample taken or study begun: ordered -> in_progress", None, 200, None),
    "clinical.result_order": ("Record results (lab values flagged H/L, or the imaging report)",
                              clinical.ResultRequest, 200, None),
    "clinical.cancel_order": ("Cancel an open order", clinical.CancelOrderRequest, 200, None),
    "clinical.release_order": ("Release a result to the patient portal", None, 200, None),
    "clinical.catalogue": ("What a doctor can order: codes, names, prices, performing service", None, 200, None),
    "clinical.icd10": ("ICD-10 codes for autocomplete (?q=)", None, 200, None),
    "clinical.drugs": ("Drugs of the prescription catalogue for autocomplete (?q=): ingredient, strength, form, "
                       "unit, route", None, 200, None),
    "patients.register_patient": ("Register a patient (409 possible_duplicate / national_id_taken with "
                                  "details.candidates unless confirm_new)", schemas.PatientRequest, 201,
                                  None),
    "patients.patient_consents": ("The message channels a patient agreed to", None, 200, None),
    "patients.set_patient_consents": ("Record consent to SMS / email / in-app messages", patients.ConsentRequest,
                                      200, None),
    "patients.search_patients": ("Find patients by ?q= code, phone, CCCD or part of the name", None, 200, None),
    "patients.get_patient": ("One patient record", None, 200, None),
    "patients.update_patient": ("Correct a patient record (only the fields sent)", schemas.PatientUpdate,
                                200, None),
    "patients.patient_appointments": ("A patient's appointments, newest first", None, 200, None),
    "booking.list_doctors": ("Doctors (of ?service=)", None, 200, None),
    "booking.doctor_schedule": ("A doctor's weekly blocks and coming exceptions", None, 200, None),
    "booking.list_slots": ("Slots with free places by ?service=, ?doctor=, ?day= (?all=1: full ones too)", None,
                           200, None),
    "booking.book": ("Book a slot for a patient (booking code; confirmation through the notifier)",
                     schemas.AppointmentRequest, 201, None),
    "booking.list_appointments": ("A day's appointments in slot order (?day=, ?service=, ?doctor=, ?status=)",
                                  None, 200, None),
    "booking.get_appointment": ("One appointment with its history", None, 200, None),
    "booking.confirm": ("Confirm a proposed or pending appointment", None, 200, None),
    "booking.cancel": ("Cancel an appointment (its place returns to the slot)",
                       schemas.CancelAppointmentRequest, 200, None),
    "booking.no_show": ("The patient did not come", None, 200, None),
    "booking.reschedule": ("Move an open appointment to another slot", schemas.RescheduleRequest, 200,
                           None),
    "booking.check_in": ("Check a booking in at reception with reason and symptoms: a booked-priority ticket",
                         schemas.CheckInRequest, 201, None),
    "booking.register_visit": ("A walk-in: record the intake, put the patient in a service's line, print the "
                               "ticket on the desk's printer (slip)",
                               schemas.VisitRequest, 201, None),
    "booking.visit_intake": ("What reception recorded for a visit (reason, symptoms)", None, 200, None),
    "reports.ops_overview": ("Live operations: each line and counter now, device health, alerts", None, 200,
                             None),
    "reports.get_report": ("Report tables of a period (?period=day|week|month&date= or ?from=&to=, ?tables=)",
                           None, 200, None),
    "reports.report_table": ("One report table (?format=json|csv|xlsx, ?lang=vi|en)", None, 200, None),
    "reports.report_workbook": ("All report tables of a period in one XLSX workbook", None, 200, None),
    "reports.refresh_rollups": ("Recompute the stored daily figures of a range of days", reports.RefreshRequest,
                                200, None),
    "follow_ups.order_follow_up": ("Book the follow-up(s) of a visit: by date or interval (nearest free slot of "
                                   "the doctor) or a picked slot; optionally a series", follow_ups.FollowUpOrder,
                                   201, None),
    "follow_ups.visit_follow_ups": ("The follow-ups ordered at a visit, by series", None, 200, None),
    "follow_ups.follow_up_slots": ("The suggested follow-up slot and the doctor's free slots around a date", None,
                                   200, None),
    "follow_ups.get_series": ("A follow-up series with its appointments", None, 200, None),
    "follow_ups.stop_series": ("No more follow-ups in a series (optionally cancel its booked ones)",
                               follow_ups.StopSeries, 200, None),
    "follow_ups.list_callbacks": ("The no-show call-back list (?view=due|waiting|resolved)", None, 200, None),
    "follow_ups.get_callback": ("One call-back item with its calls and messages", None, 200, None),
    "follow_ups.log_call": ("Log a call and its outcome (rebooked books the new slot)", follow_ups.CallRecord, 201,
                            None),
    "follow_ups.send_callback_message": ("Send the no-show message to the patient (once a day)", None, 200, None),
    "follow_ups.analysis": ("Follow-up figures of a period (?from=&to=): rates by service, doctor, weekday, lead "
                            "time; reminder effect", None, 200, None),
    "openapi.openapi": ("This document", None, 200, None),
    "staffing.ops_staffing": ("Staffing advisor: each service's predicted P50/P90 for the next two hours (every "
                              "15 min) and advice with its reason (open a counter, idle counter, room can take "
                              "a service)", None, 200, None),
}
OPERATIONS.update(insurance.OPERATIONS)

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["code", "message"],
                             "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                                            "details": {}}}},
}


# Query parameters of operations that take them (q = free-text search).
QUERY_PARAMETERS: dict[str, list[tuple[str, str, str]]] = {
    "patients.search_patients": [("q", "string", "name, phone, code or ID number (part)")],
    "billing.find_bills": [("q", "string", "patient name, code, phone or ticket number")],
    "clinical.icd10": [("q", "string", "words of an ICD-10 name or a code (diacritics optional)")],
    "insurance.claims_batch": [("day", "string", "the claims' day, YYYY-MM-DD (default today)")],
}


def _model_schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    """The model's JSON schema with its nested models hoisted into components (no dangling refs)."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, nested in schema.pop("$defs", {}).items():
        components.setdefault(name, nested)
    return schema


def success_response(endpoint: str, status: int, component: str | None) -> dict[str, Any]:
    """The 2xx response of an operation: its recorded schema, else its named component."""
    if endpoint in NO_CONTENT:
        return {"description": "redirect", "headers": {"Location": {"schema": {"type": "string"}}}}
    schema = RESPONSES["operations"].get(endpoint, {}).get(str(status))
    if schema is None and component:
        schema = {"$ref": f"#/components/schemas/{component}"}
    content = {"application/json": {"schema": schema}} if schema is not None else {}
    content.update({media: {"schema": body} for media, body in MEDIA.get(endpoint, {}).items()})
    return {"description": "OK", "content": content}


def build_document() -> dict[str, Any]:
    from hub.api.access import ANYONE, TICKET_LINK
    from hub.api.access import OPERATIONS as ACCESS
    paths: dict[str, Any] = {}
    components: dict[str, Any] = {"Error": ERROR_SCHEMA, **RESPONSES["components"]}
    components.update(insurance.COMPONENTS)
    for rule in current_app.url_map.iter_rules():
        if not rule.rule.startswith(API_PREFIX) or rule.endpoint not in OPERATIONS:
            continue
        summary, body, status, response = OPERATIONS[rule.endpoint]
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix(API_PREFIX))
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            operation: dict[str, Any] = {
                "summary": summary,
                "operationId": rule.endpoint.replace(".", "_"),
                "parameters": [{"name": name, "in": "path", "required": True,
                                "schema": {"type": "integer" if "int:" + name in rule.rule else "string",
                                           **({"minimum": 0, "maximum": 2**63 - 1} if "int:" + name in rule.rule
                                              else {})}}
                               for name in rule.arguments] + [
                    {"name": name, "in": "query", "required": False, "description": text,
                     "schema": {"type": kind, "maxLength": 100}}
                    for name, kind, text in QUERY_PARAMETERS.get(rule.endpoint, [])],
                "responses": {str(code): success_response(rule.endpoint, code, response)
                              for code in sorted({status, *map(int, RESPONSES["operations"].get(rule.endpoint, {}))})},
            }
            for code, text in ((400, "malformed JSON"), (401, "no or bad token"), (403, "role not allowed"),
                               (404, "unknown resource"), (405, "method not allowed"),
                               (409, "not allowed in the current state"), (415, "body is not application/json"),
                               (422, "invalid field")):
                operation["responses"][str(code)] = {
                    "description": text,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            if rule.endpoint == "counters.call_next":
                operation["responses"]["204"] = {"description": "nobody is waiting"}
            if rule.endpoint == "health.health":  # the same body, while the database is unreachable
                operation["responses"]["503"] = {"description": "degraded", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Health"}}}}
            for code, text in EXTRA_ERRORS.get(rule.endpoint, ()):
                operation["responses"][str(code)] = {
                    "description": text,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            if method in ("POST", "PUT", "PATCH"):
                operation["responses"]["413"] = {
                    "description": "body too large",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            allowed = ACCESS.get(rule.endpoint, ())  # the access table decides (hub/api/access.py)
            if ANYONE not in allowed:
                # A ticket link (?k=) also opens the ticket reads: security may then be left empty.
                operation["security"] = [{"bearer": []}, *([{}] if TICKET_LINK in allowed else [])]
                shown = [role for role in allowed if role != "admin"] or ["admin only"]
                operation["description"] = "Roles: " + ", ".join(shown) + " (and admin)."
            if body is not None or method in ("POST", "PUT", "PATCH"):
                # An action without fields takes nothing or an empty object (the view parses EmptyBody).
                model = body or schemas.EmptyBody
                components[model.__name__] = _model_schema(model, components)
                operation["requestBody"] = {"required": body is not None, "content": {"application/json": {
                    "schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}
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
