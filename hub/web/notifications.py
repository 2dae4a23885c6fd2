"""The outbox page for staff: messages that failed or still wait, with retry and cancel."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from hub import formatting
from hub.api.hub_access import current_hub
from hub.domain.common.errors import DomainError
from hub.domain.notifications.outbox import STATES
from hub.web.auth import current_staff, staff_page
from hub.web.i18n import current_lang, tr

bp = Blueprint("notifications_admin", __name__, url_prefix="/admin/notifications")
# What staff must look at first: messages that failed, and what is still to go out.
DEFAULT_STATES = ("failed", "pending", "sending")
ROLES = ("reception",)  # and admin, always


@bp.get("")
@staff_page(*ROLES)
def index():  # type: ignore[no-untyped-def]
    hub = current_hub()
    wanted = request.args.get("state", "")
    states = [wanted] if wanted in STATES else list(DEFAULT_STATES)
    tz = hub.config.site.tz
    rows = [_shown(row, tz) for row in hub.notifications.list(states=states, limit=300)]
    return render_template("admin_notifications.html", site=hub.config.site, rows=rows,
                           counts=hub.notifications.counts(), state=wanted if wanted in STATES else "", states=STATES)


def _shown(row: dict[str, Any], tz: Any) -> dict[str, Any]:
    """A row with its times in site time, as staff read them."""
    shown = dict(row)
    for key in ("due_at", "sent_at", "created_at"):
        if row.get(key):
            shown[key] = formatting.format_datetime(row[key], current_lang(), tz)
    return shown


@bp.post("/<int:notification_id>/<action>")
@staff_page(*ROLES)
def act(notification_id: int, action: str):  # type: ignore[no-untyped-def]
    outbox = current_hub().notifications
    if action not in ("retry", "cancel"):
        flash(tr("Thao tác không hợp lệ.", "Unknown action."), "error")
    else:
        try:
            getattr(outbox, action)(notification_id, actor=current_staff().actor)
            flash(tr(f"Đã {'gửi lại' if action == 'retry' else 'hủy'} tin #{notification_id}.",
                     f"Message #{notification_id} {'queued again' if action == 'retry' else 'cancelled'}."), "ok")
        except DomainError as exc:
            flash(exc.message, "error")
    return redirect(url_for("notifications_admin.index", state=request.args.get("state") or None))
