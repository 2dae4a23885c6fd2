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
from hub.domain.common.errors import DomainError
from hub.domain.staff.accounts import MIN_PASSWORD, ROLE_NAMES, LoginLocked, Staff
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
    # An account waiting for its new password acts nowhere until it has one.
    if current_user and current_user.is_authenticated and not current_user.staff.must_change_password:
        return Identity(current_user.staff.actor, current_user.staff.role)
    return None


def role_name(role: str) -> str:
    """A role as staff read it: 'Điều dưỡng', 'Nurse'."""
    names = ROLE_NAMES.get(role)
    return tr(*names) if names else role


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
            if current_user.staff.must_change_password:
                return redirect(url_for("auth.change_password", next=request.full_path))
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
        try:
            staff = current_hub().staff.authenticate(request.form.get("username", ""),
                                                     request.form.get("password", ""),
                                                     address=request.remote_addr or "")
        except LoginLocked as exc:
            flash(exc.message, "error")
            return render_template("login.html", site=current_hub().config.site), 429
        if staff is None:
            flash(tr("Sai tên đăng nhập hoặc mật khẩu.", "Wrong username or password."), "error")
            return render_template("login.html", site=current_hub().config.site), 401
        login_user(SessionUser(staff))
        if staff.must_change_password:
            flash(tr("Hãy đặt mật khẩu mới trước khi làm việc.", "Choose a new password before you start."), "ok")
            return redirect(url_for("auth.change_password", next=_safe_next(request.args.get("next"))))
        return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", site=current_hub().config.site)


@bp.post("/logout")
def logout():  # type: ignore[no-untyped-def]
    logout_user()
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
def change_password():  # type: ignore[no-untyped-def]
    """A staff member changes their own password (and must, after an admin's reset)."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=request.full_path))
    staff = current_user.staff
    status = 200
    if request.method == "POST":
        new, again = request.form.get("new_password", ""), request.form.get("new_password_again", "")
        try:
            if new != again:
                raise DomainError("mismatch", tr("Hai lần nhập mật khẩu mới không khớp.",
                                                 "The two new passwords differ."))
            current_hub().staff.change_password(staff.id, request.form.get("current_password", ""), new)
        except DomainError as exc:
            flash(exc.message, "error")
            status = 422
        else:
            login_user(SessionUser(current_hub().staff.get(staff.id)))  # type: ignore[arg-type]
            flash(tr("Đã đổi mật khẩu.", "Password changed."), "ok")
            return redirect(_safe_next(request.args.get("next")))
    return render_template("account_password.html", site=current_hub().config.site, user=staff,
                           min_password=MIN_PASSWORD), status


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
    app.jinja_env.globals.update(role_name=role_name)
    app.register_blueprint(bp)
