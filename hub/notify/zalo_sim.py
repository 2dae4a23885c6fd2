"""A simulated Zalo ZNS server for tests and the demo: a real HTTP server answering like the ZNS API.

`POST /message/template` with the `access_token` header and {"phone", "template_id", "template_data",
"tracking_id"} answers {"error": 0, "message": "Success", "data": {"msg_id", "sent_time", "quota"}},
or the error a real OA meets: a phone not on Zalo (-118), a template refused (-109 unknown, -112 data
missing), the daily quota used up (-144), rate limited (-32), a wrong token (-124); `down` makes it
answer HTTP 503. What it accepted is in `sent` (a test reads it; the demo prints it).

Run alone for the demo: `python -m hub.notify.zalo_sim --port 8095 --template 1001=booking_confirmation`.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN = "sim-zalo-token"


@dataclass
class SimState:
    """What the simulated OA knows and how it behaves; change it while the server runs."""

    templates: dict[str, set[str]] = field(default_factory=dict)  # approved template id -> its required params
    not_on_zalo: set[str] = field(default_factory=set)  # phones (84...) with no Zalo account
    quota: int = 500  # ZNS left today
    rate_limit_next: int = 0  # answer this many requests with "rate limited"
    down: bool = False  # HTTP 503, as when Zalo is unreachable behind a proxy
    token: str = TOKEN
    sent: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests run many
        pass

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        state = self.server.state
        with self.server.lock:
            state.requests += 1
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                return self._answer(400, {"error": -201, "message": "Parameter is invalid"})
            if state.down:
                return self._answer(503, {"error": -1, "message": "Service unavailable"})
            if self.path.split("?")[0] != "/message/template":
                return self._answer(404, {"error": -404, "message": "Not found"})
            if self.headers.get("access_token") != state.token:
                return self._answer(200, {"error": -124, "message": "Access token is invalid"})
            if state.rate_limit_next > 0:
                state.rate_limit_next -= 1
                return self._answer(200, {"error": -32, "message": "Exceeded the rate limit"})
            template, data = str(body.get("template_id", "")), body.get("template_data") or {}
            phone = str(body.get("phone", ""))
            if template not in state.templates:
                return self._answer(200, {"error": -109, "message": "Template ID is invalid"})
            missing = state.templates[template] - {k for k, v in data.items() if str(v).strip()}
            if missing:
                return self._answer(200, {"error": -112, "message": f"Template data is invalid: {sorted(missing)}"})
            if not phone.startswith("84") or not phone.isdigit() or len(phone) not in (11, 12):
                return self._answer(200, {"error": -108, "message": "Phone number is invalid"})
            if phone in state.not_on_zalo:
                return self._answer(200, {"error": -118, "message": "Zalo account is not existed or disabled"})
            if state.quota <= 0:
                return self._answer(200, {"error": -144, "message": "OA has exceeded the daily quota"})
            state.quota -= 1
            msg_id = uuid.uuid4().hex
            state.sent.append({"msg_id": msg_id, "phone": phone, "template_id": template, "template_data": data,
                               "tracking_id": body.get("tracking_id")})
            self._answer(200, {"error": 0, "message": "Success", "data": {
                "msg_id": msg_id, "sent_time": str(int(time.time() * 1000)),
                "quota": {"dailyQuota": "500", "remainingQuota": str(state.quota)}}})


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], state: SimState) -> None:
        super().__init__(address, _Handler)
        self.state = state
        self.lock = threading.Lock()


class ZaloSimulator:
    """Start with `start()`; `url` is what [notifications.zalo] url points at."""

    def __init__(self, state: SimState | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = state or SimState()
        self._server = _Server((host, port), self.state)
        self._thread = threading.Thread(target=self._server.serve_forever, name="zalo-sim", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/message/template"

    @property
    def sent(self) -> list[dict[str, Any]]:
        """The messages it accepted, oldest first."""
        return self.state.sent

    def start(self) -> ZaloSimulator:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description="A simulated Zalo ZNS server (demo and tests).")
    parser.add_argument("--port", type=int, default=8095)
    parser.add_argument("--template", action="append", default=[],
                        help="an approved template id, optionally with its required params: 1001=name,code")
    parser.add_argument("--not-on-zalo", action="append", default=[], help="a phone (84...) without Zalo")
    args = parser.parse_args()
    templates = {}
    for item in args.template:
        template_id, _, params = item.partition("=")
        templates[template_id] = {p for p in params.split(",") if p}
    sim = ZaloSimulator(SimState(templates=templates, not_on_zalo=set(args.not_on_zalo)), port=args.port).start()
    print(f"simulated Zalo ZNS at {sim.url} (access token {TOKEN!r}); Ctrl-C stops it", flush=True)
    seen = 0
    try:
        while True:
            time.sleep(1)
            for message in sim.state.sent[seen:]:
                print(json.dumps(message, ensure_ascii=False), flush=True)
            seen = len(sim.state.sent)
    except KeyboardInterrupt:
        sim.stop()


if __name__ == "__main__":
    main()
