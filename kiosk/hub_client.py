"""The kiosk's REST client for the hub: services, counters, tickets, leases, patient check-in."""

from __future__ import annotations

import logging
from typing import Any

import requests

from hub.protocol import API_PREFIX

log = logging.getLogger(__name__)


class HubUnreachable(Exception):
    """No answer from the hub (down, network gone, timed out, or a server error): the kiosk goes offline."""


class HubRefused(Exception):
    """The hub answered and said no (4xx): the request itself is wrong, so retrying will not help."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


class HubClient:
    """Bearer-token calls to `/api/v1`, with short timeouts: a patient is waiting at the screen."""

    def __init__(self, hub_url: str, token: str, timeout_s: float = 4.0) -> None:
        self.api = hub_url.rstrip("/") + API_PREFIX
        self.timeout = (min(timeout_s, 2.0), timeout_s)  # connect, read
        self.http = requests.Session()
        self.http.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/json"})

    def setup(self) -> dict[str, Any]:
        return self._call("GET", "/kiosk/setup")

    def services(self) -> list[dict[str, Any]]:
        return self.services_reply()["services"]

    def services_reply(self) -> dict[str, Any]:
        """GET /services whole: the services and the hub's `structure_version`."""
        return self._call("GET", "/services")

    def counters(self) -> list[dict[str, Any]]:
        return self._call("GET", "/counters")["counters"]

    def issue(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST /tickets; `body` carries the idempotency key, so sending it again is safe."""
        return self._call("POST", "/tickets", body)

    def cancel(self, ticket_id: int, reason: str) -> dict[str, Any]:
        return self._call("POST", f"/tickets/{ticket_id}/cancel", {"reason": reason[:200]})

    def lease(self, service: str, size: int) -> dict[str, Any]:
        return self._call("POST", "/leases", {"service": service, "size": size})

    def identify(self, cccd: str) -> dict[str, Any]:
        """Find or register the card's holder; the payload goes to the hub and nowhere else."""
        return self._call("POST", "/patients/identify", {"cccd": cccd})

    def identify_typed(self, number: str, date_of_birth: str) -> dict[str, Any]:
        """A known patient from a typed CCCD number or BHYT card code plus the ISO date of birth."""
        return self._call("POST", "/patients/identify-typed", {"number": number, "date_of_birth": date_of_birth})

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        try:
            response = self.http.request(method, self.api + path, json=body, timeout=self.timeout)
        except requests.RequestException as exc:
            raise HubUnreachable(f"{method} {path}: {type(exc).__name__}") from None
        if response.status_code >= 500:
            raise HubUnreachable(f"{method} {path}: HTTP {response.status_code}")
        try:
            reply = response.json()
        except ValueError:
            raise HubUnreachable(f"{method} {path}: not JSON (HTTP {response.status_code})") from None
        if response.status_code >= 400:
            error = reply.get("error", {}) if isinstance(reply, dict) else {}
            raise HubRefused(response.status_code, str(error.get("code", "refused")), str(error.get("message", "")))
        return reply
