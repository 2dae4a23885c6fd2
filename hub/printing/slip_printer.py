"""The hub's SlipPrinter: a printer id from a counter's config -> its spec in devices.toml [printers] ->
python-escpos through kiosk.printers (the same raster path and fault handling as the kiosk)."""

from __future__ import annotations

import threading
from typing import Any

from escpos.escpos import Escpos

from hub.config import ClinicConfig
from hub.printing.slip_image import draw_slip
from kiosk.printers import PrinterError, open_printer, print_ticket


class EscposSlipPrinter:
    """Prints slips; one python-escpos printer per id, reconnecting by itself after a fault."""

    def __init__(self, clinic: ClinicConfig, paper_mm: int = 80, timeout: float = 5.0) -> None:
        self.clinic = clinic
        self.paper_mm = paper_mm
        self.timeout = timeout
        self._printers: dict[str, Escpos] = {}
        self._lock = threading.Lock()

    def print_slip(self, printer: str, content: dict[str, Any]) -> None:
        spec = self.clinic.printers.get(printer)
        if spec is None:
            raise PrinterError(f"printer {printer!r} has no connection in devices.toml [printers]")
        with self._lock:
            device = self._printers.get(printer)
            if device is None:
                device = self._printers[printer] = open_printer(spec, paper_mm=self.paper_mm, timeout=self.timeout)
        # The paper sensor of a network printer answers; a one-way printer says "unknown" and prints anyway.
        print_ticket(device, draw_slip(content, self.paper_mm))
