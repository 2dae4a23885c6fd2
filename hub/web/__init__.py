"""Pages the hub serves: the start page and a patient's live ticket status page."""

from __future__ import annotations

from flask import Blueprint, Flask, abort, render_template, request

from hub.api.hub_access import current_hub

bp = Blueprint("web", __name__)


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    hub = current_hub()
    return render_template("index.html", site=hub.config.site, displays=hub.config.displays,
                           services=hub.queue.services_overview())


@bp.get("/t/<int:ticket_id>")
def ticket_status(ticket_id: int):  # type: ignore[no-untyped-def]
    """The page a ticket's QR code opens: live place in line and where to go, no login."""
    hub = current_hub()
    token = request.args.get("k", "")
    if not hub.check_ticket_token(ticket_id, token):
        abort(404)
    return render_template("ticket_status.html", site=hub.config.site, ticket=hub.queue.get_ticket(ticket_id),
                           token=token)


def register_web(app: Flask) -> None:
    app.register_blueprint(bp)
