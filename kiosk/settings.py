"""What a kiosk agent is told at start: where the hub, the printer and the scanner are, and its timings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_LEASE_SIZE = 20
DEFAULT_POLL_S = 3.0
DEFAULT_IDLE_S = 45


@dataclass(frozen=True)
class KioskSettings:
    """Everything `clinicq kiosk` takes on its command line."""

    hub_url: str
    token: str
    printer: str
    device_id: str = "kiosk-sanh-a"
    paper_mm: int = 80
    scanner: str | None = None  # a serial device such as /dev/ttyACM0 (USB virtual COM)
    scanner_baud: int = 115200
    host: str = "127.0.0.1"  # the page is for the Chromium on this machine, not for the LAN
    port: int = 8080
    mqtt_url: str | None = None
    secret: str | None = None  # the device's broker password
    data_dir: Path = Path("var/kiosk")
    services: tuple[str, ...] = ()  # empty: every service of the hub
    lease_size: int = DEFAULT_LEASE_SIZE
    poll_s: float = DEFAULT_POLL_S  # how often the hub's services and counters are read
    idle_s: int = DEFAULT_IDLE_S  # the page goes back to its start after this long untouched
    http_timeout_s: float = 4.0
    notice: str = "Vui lòng giữ phiếu và chú ý màn hình, loa gọi số."

    @property
    def api(self) -> str:
        """The hub's REST root."""
        return self.hub_url.rstrip("/") + "/api/v1"
