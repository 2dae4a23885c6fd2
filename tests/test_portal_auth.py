"""Portal sign-in: code + date of birth, lockout, the same answer for unknown codes, signed links, sessions
kept apart from staff logins, CSRF, and self-registration that never shows another record."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient

from hub.app import create_app
from hub.config import ClinicConfig
from hub.core import Hub, build_hub
from hub.db import Database
from hub.domain.common.clock import VirtualClock
from hub.domain.common.errors import DomainError
from hub.domain.common.events import EventBus
from hub.domain.patients.registry import PatientDetails, PatientRegistry
from hub.domain.portal.auth import PortalAuth, TooManyAttempts, parse_birth_date, portal_link
from tests.test_staff_auth import csrf_from, log_in

STAFF_PASSWORD = "mat-khau-123"
BIRTH = date(1985, 3, 14)
GENERIC = "Mã bệnh nhân hoặc ngày sinh không đúng"


@pytest.fixture
def hub(tmp_path: Path, clinic: ClinicConfig, clock: VirtualClock) -> Iterator[Hub]:
    hub = build_hub(clinic, var_dir=tmp_path, db_url=f"sqlite:///{tmp_path / 'portal.db'}", clock=clock)
    hub.staff.add("le.tan", "Lê Tân", "reception", STAFF_PASSWORD)
    yield hub
    hub.close()


@pytest.fixture
def client(hub: Hub) -> FlaskClient:
    return create_app(hub, testing=True).test_client()


@pytest.fixture
def patient(hub: Hub) -> str:
    """A registered patient's code (Nguyễn Thị Mai, born 14/03/1985)."""
    return hub.booking.patients.register(PatientDetails(full_name="Nguyễn Thị Mai", date_of_birth=BIRTH,
                                                        phone="0912345678"), actor="test")["code"]


def last_code(hub: Hub) -> str:
    """The one-time code in the newest "otp" outbox row (what the phone would receive)."""
    rows = [r for r in hub.notifications.list() if r["template"] == "otp"]
    return str(max(rows, key=lambda r: r["id"])["params"]["code"])


def ask_code(client: FlaskClient, code: str, birth: str, address: str = "10.0.0.7") -> int:
    """The first step: code (or CCCD) and date of birth; 302 to the code page when they match."""
    token = csrf_from(client.get("/portal/login").text)
    reply = client.post("/portal/login", data={"code": code, "birth_date": birth, "csrf_token": token},
                        environ_base={"REMOTE_ADDR": address})
    if reply.status_code == 302 and "/portal/login/code" not in reply.headers["Location"]:
        return 303  # went somewhere else (no code was sent)
    return reply.status_code


def enter_code(client: FlaskClient, otp: str, address: str = "10.0.0.7") -> int:
    token = csrf_from(client.get("/portal/login/code").text)
    return client.post("/portal/login/code", data={"otp": otp, "csrf_token": token},
                       environ_base={"REMOTE_ADDR": address}).status_code


def sign_in(client: FlaskClient, code: str, birth: str, address: str = "10.0.0.7") -> int:
    """Both steps, the code read from the outbox as the patient reads it on the phone: 302 when signed in."""
    first = ask_code(client, code, birth, address)
    if first != 302:
        return first
    hub = client.application.extensions["clinicq"]
    return enter_code(client, last_code(hub), address)


def alert(html: str) -> str:
    match = re.search(r'role="alert">([^<]*)<', html)
    return match.group(1) if match else ""


def signed_in(client: FlaskClient) -> bool:
    return client.get("/portal").status_code == 200


@pytest.mark.parametrize(("text", "expected"), [
    ("14/03/1985", BIRTH), ("14-3-1985", BIRTH), ("14031985", BIRTH), ("1985-03-14", BIRTH),
    ("31/02/1985", None), ("1985", None), ("", None),
])
def test_birth_dates_as_patients_type_them(text: str, expected: date | None) -> None:
    assert parse_birth_date(text) == expected


def test_sign_in_with_code_and_birth_date(client: FlaskClient, patient: str) -> None:
    assert client.get("/portal").status_code == 302  # to the sign-in page
    assert sign_in(client, patient, "15/03/1985") == 401
    assert not signed_in(client)
    assert sign_in(client, f" {patient.lower()[:4]} {patient[4:]} ", "14/03/1985") == 302
    page = client.get("/portal")
    assert page.status_code == 200 and "Nguyễn Thị Mai" in page.text
    assert page.headers["Cache-Control"] == "no-store"
    cookie = client.get_cookie("clinicq_portal", path="/portal")
    assert cookie is not None and cookie.http_only
    assert "Upcoming bookings" in client.get("/portal?lang=en").text
    client.post("/portal/logout", data={"csrf_token": csrf_from(page.text)})
    assert not signed_in(client)


def test_unknown_code_reads_like_a_wrong_birth_date(client: FlaskClient, patient: str) -> None:
    number = int(patient[4:])
    replies = []
    for code in (patient, f"BN26{number + 1:06d}", "XYZ"):  # a real code, the next one (not issued), garbage
        token = csrf_from(client.get("/portal/login").text)
        reply = client.post("/portal/login", data={"code": code, "birth_date": "01/01/1990", "csrf_token": token})
        # The form's CSRF token is signed with the current second: mask it, it says nothing of the code.
        page = re.sub(r'name="csrf_token" value="[^"]+"', 'name="csrf_token" value=""', reply.text)
        replies.append((reply.status_code, alert(reply.text), page.replace(code, "")))
    assert replies[0][1].startswith(GENERIC)
    assert replies[0] == replies[1] == replies[2]


def test_lockout_after_five_failures_per_code(client: FlaskClient, hub: Hub, clock: VirtualClock,
                                              patient: str) -> None:
    for attempt in range(5):
        assert sign_in(client, patient, f"0{attempt + 1}/01/1990", address=f"10.0.1.{attempt}") == 401
    # The right date from yet another address: the code is locked, and it says so without checking.
    assert sign_in(client, patient, "14/03/1985", address="10.0.2.1") == 429
    reply = client.post("/portal/login", data={"code": patient, "birth_date": "14/03/1985",
                                               "csrf_token": csrf_from(client.get("/portal/login").text)})
    assert "thử quá nhiều lần" in alert(reply.text) and not signed_in(client)
    clock.advance(timedelta(minutes=15, seconds=1).total_seconds())
    assert sign_in(client, patient, "14/03/1985", address="10.0.2.1") == 302
    with hub.db.read() as connection:
        from sqlalchemy import text
        actions = connection.execute(text("SELECT action, actor FROM audit_log WHERE action LIKE 'portal_%'")).all()
    assert sum(1 for a in actions if a.action == "portal_login_failed") == 5
    assert all("10.0." not in a.actor for a in actions)  # addresses are kept only as keyed digests


def test_a_code_also_has_a_daily_allowance(client: FlaskClient, clock: VirtualClock, patient: str) -> None:
    for round_ in range(3):  # 5 failures, wait out the window, again: 15 in a few hours
        for n in range(5):
            assert sign_in(client, patient, "01/01/1990", address=f"10.4.{round_}.{n}") == 401
        clock.advance(timedelta(minutes=16).total_seconds())
    assert sign_in(client, patient, "14/03/1985", address="10.4.9.9") == 429
    clock.advance(timedelta(hours=23, minutes=15).total_seconds())  # the first five are a day old
    assert sign_in(client, patient, "14/03/1985", address="10.4.9.9") == 302


def test_lockout_per_address_covers_every_code(client: FlaskClient, patient: str) -> None:
    number = int(patient[4:])
    for offset in range(1, 6):  # an enumeration: five neighbouring codes from one address
        assert sign_in(client, f"BN26{number + offset:06d}", "14/03/1985", address="10.9.9.9") == 401
    assert sign_in(client, patient, "14/03/1985", address="10.9.9.9") == 429
    assert sign_in(client, patient, "14/03/1985", address="10.9.9.10") == 302


def test_unknown_codes_lock_out_like_real_ones(client: FlaskClient, patient: str) -> None:
    ghost = f"BN26{int(patient[4:]) + 50:06d}"
    answers = [sign_in(client, ghost, "14/03/1985", address=f"10.3.0.{n}") for n in range(6)]
    assert answers == [401] * 5 + [429]


def test_signed_link_signs_in_until_it_expires(hub: Hub, client: FlaskClient, clock: VirtualClock,
                                               patient: str) -> None:
    link = portal_link(hub, {"code": patient, "id": 1})
    assert link.startswith(hub.config.site.public_url.rstrip("/") + "/portal/link/")
    path = urlsplit(link).path
    tampered = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
    reply = client.get(tampered)
    assert reply.status_code == 400 and "không hợp lệ" in reply.text and not signed_in(client)
    reply = client.get(path)
    assert reply.status_code == 302 and reply.location.endswith("/portal")
    assert signed_in(client)

    landing = portal_link(hub, patient, page="/portal/history")
    assert client.get(urlsplit(landing).path + "?" + urlsplit(landing).query).location.endswith("/portal/history")

    fresh = create_app(hub, testing=True).test_client()
    clock.advance(timedelta(days=7, minutes=1).total_seconds())
    assert fresh.get(path).status_code == 400 and not signed_in(fresh)
    assert fresh.get(urlsplit(portal_link(hub, patient)).path).status_code == 302


def test_session_ends_when_idle_and_when_old(client: FlaskClient, clock: VirtualClock, patient: str) -> None:
    assert sign_in(client, patient, "14/03/1985") == 302
    clock.advance(timedelta(minutes=14).total_seconds())
    assert signed_in(client)  # each page restarts the idle time...
    clock.advance(timedelta(minutes=16).total_seconds())
    assert not signed_in(client)
    assert sign_in(client, patient, "14/03/1985") == 302
    for _ in range(8):  # ...but never beyond two hours
        clock.advance(timedelta(minutes=14).total_seconds())
        assert signed_in(client)
    clock.advance(timedelta(minutes=14).total_seconds())
    assert not signed_in(client)


def test_staff_and_patient_sessions_open_nothing_of_each_other(client: FlaskClient, hub: Hub, patient: str) -> None:
    assert log_in(client, "le.tan", STAFF_PASSWORD) == 302
    assert client.get("/reception").status_code == 200
    assert client.get("/portal").status_code == 302  # a staff login is nobody's portal session
    assert client.get("/portal/history").status_code == 302

    other = create_app(hub, testing=True).test_client()
    assert sign_in(other, patient, "14/03/1985") == 302
    assert other.get("/reception").status_code == 302 and "/login" in other.get("/reception").location
    assert other.get("/staff").status_code == 302
    assert other.get(f"/api/v1/patients/{patient}").status_code == 401
    assert other.get(f"/api/v1/patients/{patient}/appointments").status_code == 401
    assert other.get("/api/v1/appointments").status_code == 401


def test_csrf_is_required_on_every_portal_form(client: FlaskClient, patient: str) -> None:
    assert client.post("/portal/login", data={"code": patient, "birth_date": "14/03/1985"}).status_code == 400
    assert not signed_in(client)
    assert client.post("/portal/register", data={"full_name": "A", "birth_date": "01/01/1990",
                                                 "phone": "0911111111"}).status_code == 400
    assert sign_in(client, patient, "14/03/1985") == 302
    for path in ("/portal/book", "/portal/bookings/ABCDEF/cancel", "/portal/messages/1/read", "/portal/logout"):
        assert client.post(path, data={}).status_code == 400, path
    assert signed_in(client)


def register(client: FlaskClient, **fields: str) -> tuple[int, str]:
    address = fields.pop("address", "10.5.0.1")
    token = csrf_from(client.get("/portal/register").text)
    reply = client.post("/portal/register", data={"csrf_token": token, **fields}, environ_base={"REMOTE_ADDR": address})
    return reply.status_code, reply.text


def test_self_registration_then_signed_in(client: FlaskClient, hub: Hub) -> None:
    status, _ = register(client, full_name="Trần  văn Bình", birth_date="02/09/1990", phone="+84 903 111 222",
                         sex="Nam", consent="1")
    assert status == 302
    assert not signed_in(client)  # the phone is confirmed first: a code went to it
    page = client.get("/portal/login/code")
    [code] = re.findall(r"BN\d{8}", alert(page.text))
    assert "Mã bệnh nhân của bạn là" in page.text and "09" in page.text and "22" in page.text  # masked phone
    assert enter_code(client, "000000" if last_code(hub) != "000000" else "111111", "10.5.0.1") == 401
    assert not signed_in(client)
    assert enter_code(client, last_code(hub), "10.5.0.1") == 302
    assert signed_in(client)
    record = hub.booking.patients.get(code)
    assert (record["full_name"], record["phone"], record["date_of_birth"]) == ("Trần văn Bình", "0903111222",
                                                                             "1990-09-02")
    assert hub.notifications.consents(record["id"]) == {"sms": True, "zalo": True}  # asked on the form


def test_possible_duplicates_are_never_shown(client: FlaskClient, hub: Hub, patient: str) -> None:
    same = {"full_name": "nguyen thi mai", "birth_date": "14/03/1985", "phone": "0912 345 678"}
    status, page = register(client, **same)
    assert status == 409 and "nhập số CCCD" in alert(page)
    assert patient not in page and "Nguyễn Thị Mai" not in page
    status, page = register(client, **same, national_id="001085012345")
    assert status == 409 and "liên hệ quầy tiếp đón" in alert(page) and patient not in page  # nothing tells them apart

    hub.booking.patients.update(patient, {"national_id": "001085099999"}, actor="test")
    status, page = register(client, full_name="Lê Văn Cường", birth_date="01/01/1970", phone="0988000111",
                            national_id="001085099999")
    assert status == 409 and "liên hệ quầy tiếp đón" in alert(page) and patient not in page  # CCCD on file
    # A twin: same name, birth date and phone, but another CCCD than the one on file.
    status, _ = register(client, **same, national_id="001085012345")
    assert status == 302
    assert len(hub.booking.patients.search("0912345678")) == 2


def test_refused_registrations_count_against_the_address(client: FlaskClient, patient: str) -> None:
    same = {"full_name": "Nguyễn Thị Mai", "birth_date": "14/03/1985", "phone": "0912345678"}
    for _ in range(5):
        assert register(client, **same, address="10.6.0.1")[0] == 409
    assert register(client, full_name="Người Mới", birth_date="01/01/2000", phone="0977000000",
                    address="10.6.0.1")[0] == 429
    assert sign_in(client, patient, "14/03/1985", address="10.6.0.1") == 429


def test_simultaneous_guesses_are_checked_at_most_the_limit(any_db: Database, clinic: ClinicConfig,
                                                            clock: VirtualClock) -> None:
    """Twelve guesses at once on one code: at most five get checked, on SQLite and PostgreSQL."""
    registry = PatientRegistry(any_db, EventBus(), clock, clinic.site.tz)
    code = registry.register(PatientDetails(full_name="Võ Văn Tám", date_of_birth=BIRTH), actor="test")["code"]
    auth = PortalAuth(any_db, clock, "test-secret")
    barrier = threading.Barrier(12)

    def guess(n: int) -> str:
        barrier.wait()
        try:
            auth.sign_in(code, date(1990, 1, n + 1), f"10.8.0.{n}")
        except DomainError as refused:
            return refused.code
        return "signed_in"

    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(guess, range(12)))
    assert answers.count("sign_in_failed") <= 5 and answers.count("signed_in") == 0
    assert answers.count("sign_in_failed") + answers.count("too_many_attempts") == 12
    with pytest.raises(TooManyAttempts):
        auth.sign_in(code, BIRTH, "10.8.1.1")
