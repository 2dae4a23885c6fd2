"""A network thermal printer (raw TCP, port-9100 style) that saves each cut ticket as a PNG.

It answers status requests as a real printer does, including "paper low" and "paper out", which can be
switched while it runs, so a kiosk can be tested against an empty roll. Decoding lives in
escpos_decoder, drawing in escpos_render; this module only serves connections and keeps the paper state.
"""

from __future__ import annotations

import logging
import re
import socket
import socketserver
import threading
from pathlib import Path
from typing import Literal

from PIL import Image

from firmware_sim.escpos_decoder import EscposDecoder
from firmware_sim.escpos_ops import Cut, Init, Operation, StatusRequest
from firmware_sim.escpos_render import PAPER_WIDTH_DOTS, PaperRenderer

log = logging.getLogger(__name__)

PaperState = Literal["ok", "low", "out"]
PAPER_STATES: tuple[PaperState, ...] = ("ok", "low", "out")

# Status bytes as an Epson-compatible printer sends them: bits 1 and 4 of DLE EOT replies are always set.
_DLE_EOT_REPLIES: dict[int, dict[str, int]] = {
    1: {"ok": 0x12, "low": 0x12, "out": 0x1A},  # printer status: bit 3 offline
    2: {"ok": 0x12, "low": 0x12, "out": 0x32},  # offline cause: bit 5 stopped at paper end
    3: {"ok": 0x12, "low": 0x12, "out": 0x12},  # error status: no errors
    4: {"ok": 0x12, "low": 0x1E, "out": 0x7E},  # roll sensor: bits 2-3 near end, bits 5-6 end
}
_GS_R_PAPER = {"ok": 0x00, "low": 0x03, "out": 0x0F}  # GS r 1: bits 0-1 near end, bits 2-3 end
_GS_I_REPLIES = {
    1: b"\x20", 2: b"\x02", 3: b"\x01",  # model id, type (has an autocutter), ROM version
    65: b"_1.0\x00", 66: b"_clinicq\x00", 67: b"_clinicq printer emulator\x00", 68: b"_0001\x00",
}
SHUTDOWN_POLL_S = 0.05  # how often the server checks for stop(): socketserver's 0.5 s slows every test
_PAGE_NAME = re.compile(r"^page-(\d+)\.png$")


def status_reply(request: StatusRequest, paper: PaperState) -> bytes:
    """What the printer sends back for a status request (nothing for requests it does not answer)."""
    if request.command == "DLE EOT" and request.n in _DLE_EOT_REPLIES:
        return bytes((_DLE_EOT_REPLIES[request.n][paper],))
    if request.command == "GS r" and request.n in (1, 49):
        return bytes((_GS_R_PAPER[paper],))
    if request.command == "GS r" and request.n in (2, 50, 4, 52):
        return b"\x00"  # drawer kick connector low, no ink trouble
    if request.command == "GS I":
        return _GS_I_REPLIES.get(request.n, b"")
    return b""


class PrinterEmulator:
    """The printer: a TCP server plus the paper state and the pages printed so far."""

    def __init__(
        self,
        out_dir: Path | str,
        width_mm: int = 80,
        host: str = "127.0.0.1",
        port: int = 9100,
        paper: PaperState = "ok",
    ) -> None:
        if width_mm not in PAPER_WIDTH_DOTS:
            raise ValueError(f"paper width must be one of {sorted(PAPER_WIDTH_DOTS)} mm")
        self.out_dir = Path(out_dir)
        self.width_dots = PAPER_WIDTH_DOTS[width_mm]
        self.pages: list[Path] = []
        self.discarded_jobs = 0
        self._paper: PaperState = "ok"
        self.set_paper(paper)
        self._changed = threading.Condition()
        self._server = _Server((host, port), self)
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()

    @property
    def address(self) -> tuple[str, int]:
        """Where it listens; port 0 at creation picks a free one."""
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def port(self) -> int:
        """The TCP port it listens on."""
        return self.address[1]

    @property
    def paper(self) -> PaperState:
        """What the paper sensor reports now."""
        return self._paper

    def set_paper(self, state: PaperState) -> None:
        """Load, run low on or run out of paper; takes effect for the next command received."""
        if state not in PAPER_STATES:
            raise ValueError(f"paper state must be one of {', '.join(PAPER_STATES)}")
        self._paper = state
        log.info("printer emulator: paper %s", state)

    def start(self) -> PrinterEmulator:
        """Serve in a background thread (for tests and the CLI)."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(SHUTDOWN_POLL_S,), name="printer-emulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and hang up on connected clients."""
        if self._thread is not None:
            self._server.shutdown()  # waits for serve_forever, so only when it runs
        self._server.server_close()
        for connection in list(self._connections):
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> PrinterEmulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def wait_for_pages(self, count: int, timeout: float = 10.0) -> list[Path]:
        """Block until at least count pages are saved; TimeoutError otherwise."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.pages) >= count, timeout):
                raise TimeoutError(f"{len(self.pages)} page(s) printed, expected {count}")
            return list(self.pages)

    def serve_connection(self, connection: socket.socket) -> None:
        """Read one client's byte stream to its end, answering status requests and printing pages."""
        decoder = EscposDecoder()
        renderer = PaperRenderer(self.width_dots)
        self._connections.add(connection)
        try:
            while True:
                try:
                    chunk = connection.recv(65536)
                except OSError:
                    break
                if not chunk:
                    break
                self._handle(decoder.feed(chunk), renderer, connection)
            self._handle(decoder.finish(), renderer, connection)
            for page in renderer.finish():
                self._save(page)
        finally:
            self._connections.discard(connection)

    def _handle(self, operations: list[Operation], renderer: PaperRenderer, connection: socket.socket) -> None:
        for operation in operations:
            if isinstance(operation, StatusRequest):
                reply = status_reply(operation, self._paper)
                if reply:
                    try:
                        connection.sendall(reply)
                    except OSError:
                        return
                continue
            if self._paper == "out" and not isinstance(operation, Init):
                # An empty roll prints nothing; count each job that was lost.
                if isinstance(operation, Cut):
                    self.discarded_jobs += 1
                continue
            renderer.apply(operation)
            for page in renderer.pages:
                self._save(page)
            renderer.pages.clear()

    def _save(self, page: Image.Image) -> None:
        with self._changed:
            path = self.out_dir / f"page-{self._next_page_number():04d}.png"
            page.save(path)
            self.pages.append(path)
            self._changed.notify_all()
        log.info("printer emulator: printed %s (%d x %d dots)", path, page.width, page.height)

    def _next_page_number(self) -> int:
        # Continue after pages left in the folder by an earlier run instead of overwriting them.
        numbers = [int(m[1]) for p in self.out_dir.glob("page-*.png") if (m := _PAGE_NAME.match(p.name))]
        return max(numbers, default=0) + 1


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, address: tuple[str, int], emulator: PrinterEmulator) -> None:
        self.emulator = emulator
        super().__init__(address, _Connection)


class _Connection(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        self.server.emulator.serve_connection(self.request)
