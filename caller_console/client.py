"""REST calls of one counter with a bearer token: the endpoints the console page and keypads use."""

from __future__ import annotations

from typing import Any

import requests

from hub.protocol import API_PREFIX


class HubUnreachable(Exception):
    """The hub did not answer (network down, hub stopped, timeout)."""


class ActionRefused(Exception):
    """The hub answered with an error: `code` and `message` are those of its error body."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class CounterClient:
    """The actions of one counter, each one HTTP request; replies are the hub's JSON."""

    def __init__(self, hub_url: str, token: str, counter: str, *, timeout: float = 5.0,
                 session: requests.Session | None = None) -> None:
        self.base = hub_url.rstrip("/") + API_PREFIX
        self.counter = counter
        self.timeout = timeout
        self.http = session or requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token}"

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        try:
            response = self.http.request(method, self.base + path, json=body, timeout=self.timeout)
        except requests.RequestException as exc:
            raise HubUnreachable(str(exc)) from None
        if response.status_code == 204:
            return None
        try:
            reply = response.json()
        except ValueError:
            reply = None
        if response.status_code >= 400:
            error = reply.get("error", {}) if isinstance(reply, dict) else {}
            raise ActionRefused(response.status_code, error.get("code", "http_error"),
                                error.get("message", f"HTTP {response.status_code}"))
        return reply

    def _counter_action(self, action: str, body: dict[str, Any] | None = None) -> Any:
        return self._request("POST", f"/counters/{self.counter}/{action}", body)

    def next(self) -> dict[str, Any] | None:
        """Call the next ticket; None when nobody waits."""
        return self._counter_action("next")

    def recall(self) -> dict[str, Any]:
        return self._counter_action("recall")

    def start(self) -> dict[str, Any]:
        return self._counter_action("start")

    def finish(self) -> dict[str, Any]:
        return self._counter_action("finish")

    def no_show(self) -> dict[str, Any]:
        return self._counter_action("no-show")

    def transfer(self, service: str, note: str | None = None) -> dict[str, Any]:
        """Send the patient being served to `service`; returns the new waiting ticket."""
        body: dict[str, Any] = {"service": service}
        if note:
            body["note"] = note
        return self._counter_action("transfer", body)

    def pause(self, reason: str | None = None) -> dict[str, Any]:
        return self._counter_action("pause", {"reason": reason} if reason else None)

    def resume(self) -> dict[str, Any]:
        return self._counter_action("resume")

    def call(self, number: str) -> dict[str, Any]:
        """Call one waiting ticket out of turn by its number (B023)."""
        return self._counter_action("call", {"ticket": number})

    def return_late(self, ticket_id: int) -> dict[str, Any]:
        return self._request("POST", f"/tickets/{ticket_id}/return")

    def no_shows(self) -> list[dict[str, Any]]:
        """Today's no-shows of the counter's services."""
        return self._request("GET", f"/counters/{self.counter}/no-shows")["tickets"]

    def figures(self) -> dict[str, Any]:
        """Served and no-show counts today; needs a role that may operate counters."""
        return self._request("GET", f"/counters/{self.counter}/figures")["figures"]

    def counter_view(self) -> dict[str, Any]:
        return self._request("GET", f"/counters/{self.counter}")

    def services(self) -> list[dict[str, Any]]:
        return self._request("GET", "/services")["services"]
