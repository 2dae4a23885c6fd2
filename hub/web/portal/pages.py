"""The patient portal (/portal): sign-in, bookings, today's tickets, visit history and results, messages.

A patient's session is its own signed cookie (COOKIE, path /portal) and has nothing to do with the
staff login: a staff session opens no portal page, and a patient session no staff page or staff API.
Forms carry the CSRF token like every other form of the hub. Pages are rendered on the server and
work without the script; portal.js only makes today's tickets and the inbox live.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, flash, g, redirect, render_template, request, url_for
from itsdangerous import BadSignature, URLSafeTimedSerializer

from hub.api.hub_access import current_hub
from hub.domain.common.errors import DomainError
from hub.domain.patients.registry import PatientDetails
from hub.domain.portal.auth import SESSION_IDLE, InvalidLink, PortalPatient, parse_birth_date
from hub.domain.portal.otp import CODE_LIFETIME, Challenge, OneTimeCodes
from hub.domain.portal.service import PortalService, RegistrationRefused
from hub.notify.in_app import inbox_token
from hub.web.i18n import current_lang, tr
from hub.web.portal.views import HELPERS, bilingual, local_moment, long_day, ticket_phrases

bp = Blueprint("portal", __name__, url_prefix="/portal")
COOKIE = "clinicq_portal"
CHALLENGE_COOKIE = "clinicq_portal_code"  # which one-time code the second step checks (signed, short-lived)
EXTENSION = "clinicq_portal"
CODES_EXTENSION = "clinicq_portal_codes"
ANY_DOCTOR = "any"


def portal() -> PortalService:
    """The app's portal service (built on first use from the running hub)."""
    service = current_app.extensions.get(EXTENSION)
    if service is None:
        hub = current_hub()
        service = PortalService(hub.db, hub.config, hub.clock, booking=hub.booking, clinical=hub.clinical,
                                notifications=hub.notifications, queue=hub.queue, secret_key=hub.secret_key)
        current_app.extensions[EXTENSION] = service
    return service


def codes() -> OneTimeCodes:
    service = current_app.extensions.get(CODES_EXTENSION)
    if service is None:
        hub = current_hub()
        service = OneTimeCodes(hub.db, hub.clock, hub.secret_key, portal().auth, hub.notifications)
        current_app.extensions[CODES_EXTENSION] = service
    return service


def current_patient() -> PortalPatient:
    """The signed-in patient (inside a `patient_page` view)."""
    return g.portal_patient


def patient_page(view: Callable[..., Any]) -> Callable[..., Any]:
    """A page for a signed-in patient; anyone else goes to the portal's sign-in page.

    A session opened by a message's link shows the one page it was sent for, to read: any other page,
    and every change (booking, cancelling), needs the sign-in with a one-time code.
    """

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        patient = g.get("portal_patient")
        if patient is None:
            return redirect(url_for("portal.login", next=request.full_path))
        if patient.scope is not None and (request.method != "GET" or request.path != patient.scope):
            flash(tr("Liên kết trong tin nhắn chỉ mở trang được gửi kèm. Để xem hoặc thay đổi nội dung khác, hãy "
                     "đăng nhập bằng mã xác thực gửi tới điện thoại của bạn.",
                     "A link from a message opens only the page it was sent for. To see or change anything "
                     "else, sign in with a one-time code sent to your phone."), "info")
            return redirect(url_for("portal.login", next=request.path, full=1))
        return view(*args, **kwargs)

    return wrapper


# ---------------------------------------------------------------------- session cookie and headers
@bp.before_request
def _resume_session() -> None:
    g.portal_patient = None
    g.portal_cookie = None  # None: leave the cookie alone; "": remove it; else the token to set
    token = request.cookies.get(COOKIE)
    if token:
        resumed = portal().auth.resume(token)
        if resumed is None:
            g.portal_cookie = ""
        else:
            g.portal_patient, g.portal_cookie = resumed


@bp.after_request
def _session_cookie(response: Response) -> Response:
    cookie = g.get("portal_cookie")
    if cookie:
        response.set_cookie(COOKIE, cookie, max_age=int(SESSION_IDLE.total_seconds()), path="/portal",
                            secure=request.is_secure, httponly=True, samesite="Lax")
    elif cookie == "":
        response.delete_cookie(COOKIE, path="/portal", secure=request.is_secure, httponly=True, samesite="Lax")
    # Health data on a shared phone: never from the cache or the back button; links may carry tokens.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    return response


def _sign_in(patient: PortalPatient) -> None:
    g.portal_patient = patient
    g.portal_cookie = portal().auth.open_session(patient)


def _address() -> str:
    return request.remote_addr or "unknown"


def _safe_next(target: str | None) -> str:
    """Only portal pages: a sign-in link must not send a patient anywhere else."""
    if target and target.startswith("/portal") and "//" not in target and "\\" not in target:
        return target
    return url_for("portal.home")


@bp.context_processor
def _helpers() -> dict[str, Any]:
    patient = g.get("portal_patient")
    other = "en" if current_lang() == "vi" else "vi"
    query = urlencode({**request.args.to_dict(), "lang": other})
    site = current_hub().config.site
    helpers: dict[str, Any] = {**HELPERS, "site": site, "patient": patient, "lang_url": f"{request.path}?{query}",
                               "other_lang": other, "local_moment": lambda value: local_moment(value, site.tz)}
    if patient is not None:
        helpers["live"] = {"patient": patient.code, "token": inbox_token(current_hub().secret_key, patient.code),
                           "unread": portal().unread(patient), "phrases": ticket_phrases(), "lang": current_lang(),
                           "new_message": tr("Tin nhắn mới", "New message")}
    return helpers


def _render(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    return render_template(template, **context), status


def _error(exc: DomainError) -> None:
    flash(bilingual(exc.message), "error")


# ---------------------------------------------------------------------- signing in and out
def _challenges() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_hub().secret_key, salt="portal-code-step")


def _send_code(patient: PortalPatient, next_page: str | None, purpose: str = "sign_in") -> Response:
    """Send a one-time code and go to the page that asks for it (or say why no code went out)."""
    try:
        challenge = codes().issue(patient, _address(), purpose=purpose)
    except DomainError as refused:
        _error(refused)
        return redirect(url_for("portal.login"))
    response = redirect(url_for("portal.enter_code", next=next_page) if next_page else url_for("portal.enter_code"))
    response.set_cookie(CHALLENGE_COOKIE, _challenges().dumps({"id": challenge.id}),
                        max_age=int(CODE_LIFETIME.total_seconds()), path="/portal", secure=request.is_secure,
                        httponly=True, samesite="Lax")
    return response


def _challenge() -> Challenge | None:
    token = request.cookies.get(CHALLENGE_COOKIE)
    if not token:
        return None
    try:
        claims = _challenges().loads(token, max_age=int(CODE_LIFETIME.total_seconds()))
    except BadSignature:
        return None
    return codes().challenge(int(claims["id"])) if isinstance(claims, dict) and isinstance(
        claims.get("id"), int) else None


@bp.route("/login/code", methods=["GET", "POST"])
def enter_code():  # type: ignore[no-untyped-def]
    """The second step: the one-time code sent to the phone or email on record."""
    challenge = _challenge()
    if challenge is None:
        flash(tr("Mã đã hết hạn hoặc chưa được gửi. Vui lòng nhập lại thông tin để nhận mã mới.",
                 "The code has expired or was not sent. Enter your details again to get a new code."), "error")
        return redirect(url_for("portal.login", next=request.args.get("next")))
    if request.method == "POST":
        if request.form.get("resend"):
            return _send_code(challenge.patient, request.args.get("next"))
        try:
            patient = codes().verify(challenge.id, request.form.get("otp", "")[:20], _address())
        except DomainError as refused:  # WrongCode (401) or TooManyAttempts (429)
            _error(refused)
            return _render("portal_code.html", refused.status, challenge=codes().challenge(challenge.id) or challenge)
        _sign_in(patient)
        response = redirect(_safe_next(request.args.get("next")))
        response.delete_cookie(CHALLENGE_COOKIE, path="/portal", secure=request.is_secure, httponly=True,
                               samesite="Lax")
        return response
    return _render("portal_code.html", challenge=challenge)


@bp.route("/login", methods=["GET", "POST"])
def login():  # type: ignore[no-untyped-def]
    if g.portal_patient is not None and g.portal_patient.scope is None:
        return redirect(_safe_next(request.args.get("next")))
    code = request.form.get("code", "").strip()[:20]
    if request.method == "POST":
        birth = parse_birth_date(request.form.get("birth_date", ""))
        if birth is None:
            flash(tr("Ngày sinh chưa đúng dạng ngày/tháng/năm, ví dụ 17/05/1960.",
                     "Enter the date of birth as day/month/year, e.g. 17/05/1960."), "error")
            return _render("portal_login.html", 422, code=code)
        try:
            patient = portal().auth.sign_in(code, birth, _address())
        except DomainError as refused:  # SignInRefused (401) or TooManyAttempts (429): nothing more is said
            _error(refused)
            return _render("portal_login.html", refused.status, code=code)
        # The card's details are not enough: the code to the phone on record is the sign-in.
        return _send_code(patient, request.args.get("next"))
    return _render("portal_login.html", code=code)


@bp.get("/link/<token>")
def link(token: str):  # type: ignore[no-untyped-def]
    """A signed link from a message: signs its patient in, then leaves the token out of the address bar."""
    try:
        patient = portal().auth.from_link(token)
    except InvalidLink as invalid:
        _error(invalid)
        return _render("portal_login.html", invalid.status, code="")
    _sign_in(patient)
    return redirect(_safe_next(patient.scope))


@bp.post("/logout")
def logout():  # type: ignore[no-untyped-def]
    g.portal_patient = None
    g.portal_cookie = ""
    flash(tr("Bạn đã đăng xuất.", "You have signed out."), "info")
    return redirect(url_for("portal.login"))


@bp.route("/register", methods=["GET", "POST"])
def register():  # type: ignore[no-untyped-def]
    """Self-registration: a possible duplicate is never shown, only "enter your CCCD" or "see reception"."""
    form = {k: request.form.get(k, "").strip() for k in ("full_name", "birth_date", "phone", "national_id", "sex",
                                                         "consent")}
    if request.method == "GET":
        return _render("portal_register.html", form=form, ask_national_id=False)
    birth = parse_birth_date(form["birth_date"])
    if birth is None:
        flash(tr("Ngày sinh chưa đúng dạng ngày/tháng/năm, ví dụ 17/05/1960.",
                 "Enter the date of birth as day/month/year, e.g. 17/05/1960."), "error")
        return _render("portal_register.html", 422, form=form, ask_national_id=False)
    details = PatientDetails(full_name=form["full_name"], date_of_birth=birth, phone=form["phone"] or None,
                             national_id=form["national_id"] or None, sex=form["sex"] or None)
    try:
        patient = portal().register(details, address=_address())
    except DomainError as refused:
        _error(refused)
        ask = isinstance(refused, RegistrationRefused) and refused.code == "need_national_id"
        return _render("portal_register.html", refused.status, form=form, ask_national_id=ask)
    if form["consent"]:
        hub = current_hub()
        for channel in ("zalo", "sms"):  # the phone just given: messages about bookings and results
            hub.notifications.set_consent(patient.id, channel, True, actor=f"patient:{patient.code}", source="portal")
    flash(tr(f"Đăng ký thành công. Mã bệnh nhân của bạn là {patient.code}: hãy ghi lại để đăng nhập lần sau. "
             "Nhập mã xác thực vừa gửi tới số điện thoại của bạn để hoàn tất.",
             f"You are registered. Your patient code is {patient.code}: keep it to sign in next time. Enter the "
             "code just sent to your phone to finish."), "success")
    # The phone is confirmed the same way as a sign-in: the session opens only with the code sent to it.
    return _send_code(patient, None, purpose="register")


# ---------------------------------------------------------------------- today
@bp.get("")
@patient_page
def home():  # type: ignore[no-untyped-def]
    """Today: the tickets with their live place in line, and the next bookings."""
    hub = current_hub()
    tickets = portal().todays_tickets(current_patient())
    for ticket in tickets:
        ticket["token"] = hub.ticket_token(ticket["id"])
    upcoming = portal().bookings(current_patient())["upcoming"][:3]
    return _render("portal_home.html", tickets=tickets, upcoming=upcoming, active="home")


# ---------------------------------------------------------------------- bookings
@bp.get("/bookings")
@patient_page
def bookings():  # type: ignore[no-untyped-def]
    return _render("portal_bookings.html", bookings=portal().bookings(current_patient()), active="bookings")


@bp.post("/bookings/<code>/cancel")
@patient_page
def cancel(code: str):  # type: ignore[no-untyped-def]
    try:
        cancelled = portal().cancel(current_patient(), code)
    except DomainError as refused:
        _error(refused)
    else:
        flash(tr(f"Đã huỷ lịch hẹn {cancelled['code']}.", f"Booking {cancelled['code']} is cancelled."), "success")
    return redirect(url_for("portal.bookings"))


@bp.get("/book")
@patient_page
def book():  # type: ignore[no-untyped-def]
    """Booking in steps, each a plain link: clinic, doctor (or any), day, time; then the confirm page."""
    service = request.args.get("service") or None
    doctor = request.args.get("doctor") or None
    day_text = request.args.get("day") or None
    step: dict[str, Any] = {"service": service, "doctor": doctor, "day": day_text,
                            "services": portal().bookable_services()}
    try:
        if service is not None:
            step["service_name"] = next((s for s in step["services"] if s["code"] == service), None)
            step["doctors"] = portal().doctors(service)
            if doctor is not None:
                chosen = None if doctor == ANY_DOCTOR else doctor
                step["doctor_name"] = next((d["name"] for d in step["doctors"] if d["code"] == chosen), None)
                step["days"] = portal().days(service, chosen)
                if day_text is not None:
                    step["slots"] = portal().slots(_day(day_text), service, chosen)
    except DomainError as refused:
        _error(refused)
        step = {"service": None, "doctor": None, "day": None, "services": step["services"]}
    return _render("portal_book.html", step=step, any_doctor=ANY_DOCTOR, active="bookings")


@bp.get("/book/confirm")
@patient_page
def confirm_booking():  # type: ignore[no-untyped-def]
    service, doctor, start = (request.args.get(k, "") for k in ("service", "doctor", "start"))
    try:
        when = _instant(start)
        services = {s["code"]: s for s in portal().bookable_services()}
        doctors = {d["code"]: d["name"] for d in portal().doctors(service)}
        if doctor != ANY_DOCTOR and doctor not in doctors:
            raise DomainError("unknown_doctor", "Chọn lại bác sĩ / choose the doctor again")
    except DomainError as refused:
        _error(refused)
        return redirect(url_for("portal.book"))
    return _render("portal_book_confirm.html", service=services[service], doctor=doctor,
                   doctor_name=doctors.get(doctor), when=when.astimezone(current_hub().config.site.tz),
                   start=start, any_doctor=ANY_DOCTOR, active="bookings")


@bp.post("/book")
@patient_page
def place_booking():  # type: ignore[no-untyped-def]
    service, doctor, start = (request.form.get(k, "") for k in ("service", "doctor", "start"))
    try:
        booked = portal().book(current_patient(), service=service, doctor=None if doctor == ANY_DOCTOR else doctor,
                               slot_start=_instant(start), reason=request.form.get("reason", "").strip() or None)
    except DomainError as refused:
        _error(refused)
        day = start[:10] if len(start) >= 10 else None
        return redirect(url_for("portal.book", service=service or None, doctor=doctor or None, day=day))
    when = f"{booked['time']}, {long_day(booked['day'])}"
    flash(tr(f"Đã đặt lịch {when}. Mã lịch hẹn: {booked['code']}.",
             f"Booked for {when}. Booking code: {booked['code']}."), "success")
    return redirect(url_for("portal.bookings"))


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise DomainError("bad_day", "Ngày không hợp lệ / not a date") from None


def _instant(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise DomainError("bad_time", "Giờ khám không hợp lệ / not a time") from None
    if moment.tzinfo is None:
        raise DomainError("bad_time", "Giờ khám không hợp lệ / not a time")
    return moment


# ---------------------------------------------------------------------- history and messages
@bp.get("/history")
@patient_page
def history():  # type: ignore[no-untyped-def]
    visits = portal().history(current_patient())
    billing = current_hub().billing
    for visit in visits:
        # What the visit cost and the patient's own part (BHYT pays the rest): the patient pays only that.
        bill = billing.bill(visit["id"])
        visit["money"] = {key: bill[key] for key in ("amount", "insurance_pays", "patient_pays", "due")}
    return _render("portal_history.html", visits=visits, active="history")


@bp.get("/messages")
@patient_page
def messages():  # type: ignore[no-untyped-def]
    return _render("portal_messages.html", messages=portal().messages(current_patient()), active="messages")


@bp.post("/messages/<int:message_id>/read")
@patient_page
def mark_read(message_id: int):  # type: ignore[no-untyped-def]
    portal().mark_read(current_patient(), message_id)
    return redirect(url_for("portal.messages"))
