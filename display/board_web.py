"""The waiting-room TV board: the page /board/<display_id>, live through Socket.IO.

The page carries only its configuration; every number comes from the board's Socket.IO snapshot
and the events after it, so the same page resyncs by itself after a network drop or a hub restart.
"""

from __future__ import annotations

from flask import Blueprint, render_template

from hub.api.hub_access import current_hub

# Assets live under /board-assets so that no board id can ever shadow them.
bp = Blueprint("board", __name__, template_folder="templates", static_folder="static",
               static_url_path="/board-assets")


@bp.get("/board/<display_id>")
def board_page(display_id: str):  # type: ignore[no-untyped-def]
    """One configured board, or a 404 page that lists the boards that exist."""
    hub = current_hub()
    config = hub.config
    display = config.display(display_id)
    if display is None:
        page = render_template("board/not_found.html", site=config.site, display_id=display_id,
                               displays=config.displays)
        return page, 404
    return render_template("board/board.html", site=config.site, display=display,
                           last_calls=config.queue.last_calls_on_board)
