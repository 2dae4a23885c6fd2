"""The kiosk's local web server: the touchscreen page and the small JSON API its script calls.

It listens on 127.0.0.1 by default: the page is for the Chromium on the kiosk itself. Nothing is
loaded from the internet; the page polls /api/state instead of needing a Socket.IO client.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.serving import BaseWSGIServer, make_server

from kiosk.agent import KioskAgent
from kiosk.refusals import Refusal

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 8 * 1024


def create_kiosk_app(agent: KioskAgent) -> Flask:
    """The Flask app serving the page and its API around a running agent."""
    app = Flask(__name__, template_folder="templates", static_folder="static")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.json.ensure_ascii = False  # type: ignore[attr-defined]

    @app.errorhandler(Refusal)
    def _refused(refusal: Refusal):  # type: ignore[no-untyped-def]
        return jsonify(refusal.as_dict()), refusal.status

    @app.after_request
    def _no_cache(response: Response) -> Response:
        # A kiosk runs for months: a page or script cached from an old version must not linger.
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.get("/")
    def page():  # type: ignore[no-untyped-def]
        return render_template("kiosk.html", device_id=agent.settings.device_id)

    @app.get("/api/state")
    def state():  # type: ignore[no-untyped-def]
        return jsonify(agent.state())

    @app.post("/api/tickets")
    def take_ticket():  # type: ignore[no-untyped-def]
        body = _body()
        ticket = agent.take_ticket(_text(body, "service"), _text(body, "priority", "normal"),
                                   _text(body, "patient_code", None))
        return jsonify({"ticket": ticket}), 201

    @app.post("/api/booking")
    def booking():  # type: ignore[no-untyped-def]
        return jsonify({"ticket": agent.check_in_booking(_text(_body(), "code"))}), 201

    @app.post("/api/cccd")
    def cccd():  # type: ignore[no-untyped-def]
        return jsonify(agent.identify_card(_text(_body(), "payload")))

    @app.post("/api/cccd/typed")
    def cccd_typed():  # type: ignore[no-untyped-def]
        body = _body()
        return jsonify(agent.identify_typed(_text(body, "number"), _text(body, "date_of_birth")))

    @app.post("/api/tickets/<key>/reprint")
    def reprint(key: str):  # type: ignore[no-untyped-def]
        return jsonify({"ticket": agent.reprint(key)})

    return app


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Refusal("refused", 400, "the body must be a JSON object")
    return body


def _text(body: dict[str, Any], name: str, default: str | None = "") -> Any:
    value = body.get(name, default)
    if value is not None and (not isinstance(value, str) or len(value) > 2000):
        raise Refusal("refused", 422, f"{name} must be a string")
    return value


class KioskServer:
    """The page's HTTP server in a thread (threaded: the page polls while a ticket prints)."""

    def __init__(self, agent: KioskAgent, host: str, port: int) -> None:
        self.server: BaseWSGIServer = make_server(host, port, create_kiosk_app(agent), threaded=True)
        self._thread = threading.Thread(target=self.server.serve_forever, name="kiosk-web", daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_port)

    def start(self) -> KioskServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self._thread.join(timeout=5)
