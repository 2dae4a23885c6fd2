"""Staff login: sessions (Flask-Login), roles, CSRF on every form and on cookie-authenticated API calls."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlparse

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFProtect

from hub.api import BLUEPRINTS as API_BLUEPRINTS
from hub.api.auth import SESSION_RESOLVER, Identity
from hub.api.hub_access import current_hub
from hub.domain.staff.accounts import Staff
from hub.web.i18n import tr
from hub.web.nav import STAFF_LINKS

bp = Blueprint("auth", __name__)
csrf = CSRFProtect()


class SessionUser(UserMixin):
    def __init__(self, staff: Staff) -> None:
        self.staff = staff

    def get_id(self) -> str:
        return str(self.staff.id)


def _session_identity() -> Identity | None:
    if current_user and current_user.is_authenticated:
        return Identity(current_user.staff.actor, current_user.staff.role)
    return None


def current_staff() -> Staff:
    """The logged-in staff member (inside a `staff_page` view)."""
    return current_user.staff


def staff_page(*roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A page for logged-in staff with one of `roles` (admin always); others go to the login page."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return redirect(url_for("auth.login", next=request.full_path))
            if current_user.staff.role != "admin" and current_user.staff.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorator


def _safe_next(target: str | None) -> str:
    """Only same-site paths: a login link must not bounce staff to another site."""
    if not target:
        return url_for("auth.home")
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/"):
        return url_for("auth.home")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():  # type: ignore[no-untyped-def]
    if request.method == "POST":
        staff = current_hub().staff.authenticate(request.form.get("username", ""), request.form.get("password", ""))
        if staff is None:
            flash(tr("Sai tên đăng nhập hoặc mật khẩu.", "Wrong username or password."), "error")
            return render_template("login.html", site=current_hub().config.site), 401
        login_user(SessionUser(staff))
        return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", site=current_hub().config.site)


@bp.post("/logout")
def logout():  # type: ignore[no-untyped-def]
    logout_user()
    return redirect(url_for("auth.login"))


@bp.get("/staff")
@staff_page("reception", "nurse", "doctor", "lab", "cashier")
def home():  # type: ignore[no-untyped-def]
    return render_template("staff_home.html", site=current_hub().config.site, user=current_user.staff,
                           staff_links=STAFF_LINKS)


def install_auth(app: Flask) -> None:
    manager = LoginManager()
    manager.login_view = "auth.login"
    manager.init_app(app)

    @manager.user_loader
    def _load(user_id: str) -> SessionUser | None:
        staff = current_hub().staff.get(int(user_id)) if user_id.isdigit() else None
        return SessionUser(staff) if staff else None

    csrf.init_app(app)
    # The API checks CSRF itself, only for cookie sessions: bearer-token callers have no cookie to abuse.
    for blueprint in API_BLUEPRINTS:
        csrf.exempt(blueprint)
    app.extensions[SESSION_RESOLVER] = _session_identity
    app.register_blueprint(bp)
