"""The Flask application factory: blueprints, error handlers, Socket.IO and its event adapter."""

from __future__ import annotations

import logging

from flask import Flask
from flask_socketio import SocketIO

from hub.api import register_api
from hub.api.access import install_access
from hub.api.errors import install_error_handlers
from hub.api.requests import install_converters, install_input_guards
from hub.core import Hub
from hub.realtime.socket_rooms import SocketRooms
from hub.web import register_web

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 64 * 1024


def create_app(hub: Hub, *, async_mode: str | None = None, message_queue: str | None = None,
               channel: str = "clinicq", testing: bool = False) -> Flask:
    """Build the hub's web application around a running Hub.

    `message_queue` (redis://...) lets several hub processes share Socket.IO rooms; `channel` names the
    Redis channel, so two sites (or test runs) on one Redis stay apart.
    """
    app = Flask(__name__, template_folder="web/templates", static_folder="web/static")
    app.config.update(
        SECRET_KEY=hub.secret_key,
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        TESTING=testing,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=hub.config.hub.session_cookie_secure,  # config/site.toml [hub]
        REMEMBER_COOKIE_SECURE=hub.config.hub.session_cookie_secure,
    )
    app.json.ensure_ascii = False  # Vietnamese stays readable in responses
    app.extensions["clinicq"] = hub
    install_error_handlers(app)
    install_converters(app)  # before the blueprints: rules take their converters when added
    install_input_guards(app)
    install_access(app)  # after the input guards: the role table decides every REST operation
    register_api(app)
    register_web(app)
    socketio = SocketIO(app, async_mode=async_mode, message_queue=message_queue, channel=channel, json=None,
                        cors_allowed_origins=[], logger=False, engineio_logger=False)
    SocketRooms(hub, socketio)
    return app


def socketio_of(app: Flask) -> SocketIO:
    return app.extensions["socketio"]
