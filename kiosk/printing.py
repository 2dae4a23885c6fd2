"""From a saved ticket to paper: what is printed (TicketPrint) and the printer that prints it."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from kiosk.outbox import PAPER_OUT, PRINT_FAILED, PRINTED, KioskTicket
from kiosk.printers import PaperOutError, PaperState, PrinterError, open_printer, paper_status, print_ticket
from kiosk.ticket_image import DEFAULT_TIMEZONE, TicketPrint, draw_ticket

log = logging.getLogger(__name__)


def offline_status_url(public_url: str, key: str) -> str:
    """An offline ticket's QR: the hub sends it on to the ticket's status page once the kiosk has filed it."""
    return f"{public_url.rstrip('/')}/api/v1/tickets/by-key/{key}"


def ticket_print(ticket: KioskTicket, setup: dict[str, Any], service: dict[str, Any] | None,
                 notice: str = "", rooms: list[dict[str, Any]] | None = None) -> TicketPrint:
    """What to print for a ticket, from the hub's reply (online) or the kiosk's own record (offline)."""
    site = setup.get("site", {})
    reply = ticket.reply or {}
    service = service or {}
    priority = next((p for p in setup.get("priorities", []) if p["code"] == ticket.priority), None)
    estimate = reply.get("estimate")
    # An offline ticket filed later keeps what its paper said: "issued offline", no wait figures.
    online = bool(reply) and not ticket.offline
    payer = reply.get("insurance") or {}
    return TicketPrint(
        hospital_name=site.get("name", ""),
        hospital_name_en=site.get("name_en"),
        service_name=reply.get("service_name") or service.get("name") or ticket.service,
        service_name_en=reply.get("service_name_en") or service.get("name_en"),
        number=ticket.number or "?",
        issued_at=datetime.fromisoformat(reply["issued_at"]) if reply.get("issued_at") else ticket.created_at,
        status_url=reply.get("status_url") or offline_status_url(site.get("public_url", ""), ticket.key),
        priority=priority["name"] if priority and ticket.priority != "normal" else None,
        priority_en=priority["name_en"] if priority and ticket.priority != "normal" else None,
        ahead=reply.get("ahead") if online else None,
        wait_minutes=(estimate["p50_minutes"], estimate["p90_minutes"]) if online and estimate else None,
        notice=notice,
        offline=ticket.offline,
        timezone=site.get("timezone") or DEFAULT_TIMEZONE,
        payer=payer.get("label"),
        payer_en=payer.get("label_en"),
        rooms=where(rooms or [], "name", "floor"),
        rooms_en=where(rooms or [], "name_en", "floor_en"),
    )


def where(rooms: list[dict[str, Any]], name: str, floor: str) -> str | None:
    """"Phòng 101, Phòng 102 · Tầng 1": the rooms serving the ticket's line and their floor(s)."""
    if not rooms:
        return None
    floors = list(dict.fromkeys(r[floor] for r in rooms if r.get(floor)))
    return ", ".join(r[name] for r in rooms) + (" · " + ", ".join(floors) if floors else "")


class TicketPrinter:
    """The kiosk's thermal printer: prints tickets and reports its paper."""

    def __init__(self, spec: str, paper_mm: int = 80) -> None:
        self.spec = spec
        self.paper_mm = paper_mm
        self.printer = open_printer(spec, paper_mm=paper_mm)

    def print(self, ticket: TicketPrint) -> str:
        """Print one ticket; the print state to record (printed, paper_out or failed). Never raises for the printer."""
        image = draw_ticket(ticket, self.paper_mm)
        try:
            print_ticket(self.printer, image)
        except PaperOutError:
            log.warning("printer out of paper: ticket %s not printed", ticket.number)
            return PAPER_OUT
        except PrinterError as exc:
            log.warning("printing ticket %s failed: %s", ticket.number, exc)
            return PRINT_FAILED
        return PRINTED

    def paper(self) -> PaperState:
        """ok, low, out, or unknown when the printer cannot say."""
        return paper_status(self.printer)
