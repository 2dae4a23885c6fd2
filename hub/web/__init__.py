"""Pages the hub serves: the start page and a patient's live ticket status page."""

from __future__ import annotations

from flask import Blueprint, Flask, render_template, request

from caller_console import web as console_page
from display import board_web
from hub.api.hub_access import current_hub
from hub.web import admin, billing, booking, notifications, patients, reports
from hub.web.auth import install_auth
from hub.web.clinical import doctor, lab
from hub.web.follow_ups import links as follow_up_links
from hub.web.follow_ups import pages as follow_ups
from hub.web.i18n import install_i18n
from hub.web.insurance import pages as insurance_pages
from hub.web.portal import pages as portal

bp = Blueprint("web", __name__)


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    hub = current_hub()
    kiosks = [{"name": d["name"], "url": f"http://{d['ip']}:{d['info']['page_port']}/" if d.get("ip") and isinstance(
        d["info"].get("page_port"), int) else None} for d in hub.devices.list() if d["type"] == "kiosk"]
    return render_template("index.html", site=hub.config.site, displays=hub.config.displays,
                           services=hub.queue.services_overview(), kiosks=kiosks)


@bp.get("/t/<int:ticket_id>")
def ticket_status(ticket_id: int):  # type: ignore[no-untyped-def]
    """The page a ticket's QR code opens: live place in line and where to go, no login."""
    hub = current_hub()
    token = request.args.get("k", "")
    if not hub.check_ticket_token(ticket_id, token):
        # A patient holds this link, not staff: point to the portal and the boards, not the staff login.
        return render_template("ticket_not_found.html", site=hub.config.site,
                               displays=hub.config.displays), 404
    return render_template("ticket_status.html", site=hub.config.site, ticket=hub.queue.get_ticket(ticket_id),
                           token=token)


def register_web(app: Flask) -> None:
    """Pages: after the API is registered (the login set-up exempts API blueprints from form CSRF)."""
    install_i18n(app)
    install_auth(app)
    app.register_blueprint(bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(notifications.bp)
    for pages in (patients, booking, doctor, lab, billing, portal, reports, follow_ups, follow_up_links):
        app.register_blueprint(pages.bp)
    app.register_blueprint(console_page.bp)
    app.register_blueprint(insurance_pages.bp)
    app.register_blueprint(board_web.bp)
    from hub.web import visit_status  # the visit status page /v/<code> (issue 15)

    app.register_blueprint(visit_status.bp)
