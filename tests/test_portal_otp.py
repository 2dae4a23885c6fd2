"""Portal sign-in with a one-time code: the card's details (code or CCCD + birth date) only send a code;
the code is hashed, short-lived, single-use, limited per patient and per address, and wrong codes lock
out like wrong birth dates. Links from messages open only the page they were sent for."""
# ruff: noqa: F811

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from hub.core import Hub
from hub.domain.common.clock import VirtualClock
from hub.domain.patients.registry import PatientDetails
from hub.domain.portal.auth import PortalAuth
from hub.domain.portal.models import PortalCode
from hub.domain.portal.otp import MAX_CODES_PER_CLIENT, MAX_CODES_PER_PATIENT, MAX_TRIES, OneTimeCodes, WrongCode
from tests.test_portal_auth import alert, ask_code, client, enter_code, hub, last_code, patient, sign_in, signed_in  # noqa: F401 - fixtures
from tests.test_staff_auth import csrf_from


def released_result(hub: Hub, patient: str) -> None:
    visit = hub.booking.register_visit(patient, "kham-noi", actor="test")["visit_id"]
    hub.queue.call_next("p101", actor="test")
    hub.queue.start("p101", actor="test")
    placed = hub.clinical.orders.place(visit, ["xn-glucose"], actor="user:bs.an", counter="p101")
    order = placed["orders"][0]["id"]
    hub.clinical.orders.start(order, actor="user:kt")
    hub.clinical.orders.record_result(order, actor="user:kt", values={"GLU": 7.2}, release=True)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** 6:06d}"


def test_code_and_birth_date_alone_no_longer_open_results(client: FlaskClient, hub: Hub, patient: str) -> None:
    released_result(hub, patient)
    assert ask_code(client, patient, "14/03/1985") == 302
    for path in ("/portal", "/portal/history", "/portal/bookings"):
        reply = client.get(path)
        assert reply.status_code == 302 and "/portal/login" in reply.headers["Location"], path
    page = client.get("/portal/login/code").text
    assert "09••••••78" in page  # where the code went, masked
    [row] = [r for r in hub.notifications.list() if r["template"] == "otp" and r["channel"] == "file_log"]
    assert row["state"] == "pending" and row["patient_id"] == hub.booking.patients.get(patient)["id"]
    assert enter_code(client, last_code(hub)) == 302
    assert "7.2" in client.get("/portal/history").text


def test_the_code_is_stored_hashed_and_works_once(client: FlaskClient, hub: Hub, patient: str) -> None:
    assert ask_code(client, patient, "14/03/1985") == 302
    code = last_code(hub)
    with hub.db.read() as tx:
        [stored] = tx.execute(select(PortalCode.code_hash, PortalCode.used_at)).all()
    assert code not in stored.code_hash and len(stored.code_hash) == 64 and stored.used_at is None
    challenge = client.get_cookie("clinicq_portal_code", path="/portal").value
    assert enter_code(client, code) == 302 and signed_in(client)
    client.post("/portal/logout", data={"csrf_token": csrf_from(client.get("/portal").text)})
    assert not signed_in(client)
    # The same code again (its cookie put back): refused, it was used.
    client.set_cookie("clinicq_portal_code", challenge, path="/portal")
    reply = client.get("/portal/login/code")
    assert reply.status_code == 302  # the used code's page is gone: enter the details again
    with hub.db.read() as tx:
        assert tx.execute(select(PortalCode.used_at)).scalar() is not None


def test_the_code_expires(client: FlaskClient, hub: Hub, clock: VirtualClock, patient: str) -> None:
    assert ask_code(client, patient, "14/03/1985") == 302
    code = last_code(hub)
    token = csrf_from(client.get("/portal/login/code").text)
    clock.advance(timedelta(minutes=5, seconds=1).total_seconds())
    reply = client.post("/portal/login/code", data={"otp": code, "csrf_token": token})
    assert reply.status_code == 302 and "/portal/login" in reply.headers["Location"]
    assert not signed_in(client)
    # The service itself refuses it too (not only the page's cookie, which expired with it).
    service = OneTimeCodes(hub.db, hub.clock, hub.secret_key, PortalAuth(hub.db, hub.clock, hub.secret_key),
                           hub.notifications)
    with hub.db.read() as tx:
        code_id = tx.execute(select(PortalCode.id)).scalar_one()
    with pytest.raises(WrongCode):
        service.verify(code_id, code, "10.0.0.7")


def test_wrong_codes_void_the_code_and_count_for_the_lockout(client: FlaskClient, hub: Hub, patient: str) -> None:
    assert ask_code(client, patient, "14/03/1985", address="10.1.0.1") == 302
    code = last_code(hub)
    for _ in range(MAX_TRIES):
        assert enter_code(client, wrong(code), address="10.1.0.1") == 401
    # Even the right code is refused now: three wrong tries void it.
    assert client.get("/portal/login/code").status_code == 302
    assert not signed_in(client)
    # The wrong codes were failed sign-ins of this patient: two more failures lock the patient code.
    assert ask_code(client, patient, "01/01/1990", address="10.1.0.2") == 401
    assert ask_code(client, patient, "01/01/1990", address="10.1.0.3") == 401
    assert ask_code(client, patient, "14/03/1985", address="10.1.0.4") == 429


def test_codes_are_limited_per_patient_and_per_address(client: FlaskClient, hub: Hub, clock: VirtualClock,
                                                       patient: str) -> None:
    for n in range(MAX_CODES_PER_PATIENT):
        assert ask_code(client, patient, "14/03/1985", address=f"10.2.0.{n}") == 302
    reply = client.post("/portal/login", data={"code": patient, "birth_date": "14/03/1985",
                                               "csrf_token": csrf_from(client.get("/portal/login").text)},
                        environ_base={"REMOTE_ADDR": "10.2.1.1"}, follow_redirects=True)
    assert "thử quá nhiều lần" in alert(reply.text)
    assert sum(1 for r in hub.notifications.list() if r["template"] == "otp" and r["channel"] == "file_log") == 3
    clock.advance(timedelta(minutes=16).total_seconds())
    assert ask_code(client, patient, "14/03/1985", address="10.2.1.1") == 302  # the window passed

    # One address asking for many patients' codes.
    others = [hub.booking.patients.register(PatientDetails(
        full_name=f"Bệnh Nhân {n}", date_of_birth=date(1980, 1, n + 1), phone=f"09770000{n:02d}"),
        actor="test")["code"] for n in range(MAX_CODES_PER_CLIENT + 1)]
    answers = [ask_code(client, code, f"{n + 1:02d}/01/1980", address="10.3.0.1") for n, code in enumerate(others)]
    assert answers == [302] * MAX_CODES_PER_CLIENT + [303]  # the sixth goes back to the sign-in page
    sent = [r for r in hub.notifications.list() if r["template"] == "otp"]
    assert len({r["patient_id"] for r in sent}) == 1 + MAX_CODES_PER_CLIENT  # the sixth patient got no code


def test_sign_in_with_the_cccd_number(client: FlaskClient, hub: Hub, patient: str) -> None:
    hub.booking.patients.update(patient, {"national_id": "001085012345"}, actor="test")
    assert sign_in(client, "001085012345", "15/03/1985") == 401
    assert sign_in(client, "001085012345", "14/03/1985") == 302
    assert patient in client.get("/portal").text
    with hub.db.read() as tx:
        from sqlalchemy import text
        subjects = [r.subject for r in tx.execute(text("SELECT subject FROM audit_log WHERE action LIKE 'portal_%'"))]
    assert "001085012345" not in " ".join(subjects)  # the CCCD is kept as a keyed tag only


def test_a_message_link_opens_only_its_page(client: FlaskClient, hub: Hub, patient: str) -> None:
    released_result(hub, patient)
    hub.scheduler.run_pending()
    [ready] = [r for r in hub.notifications.list() if r["template"] == "result_ready" and r["channel"] == "in_app"]
    link = re.sub(r"^https?://[^/]+", "", ready["params"]["link"])
    reply = client.get(link)
    assert reply.status_code == 302 and reply.headers["Location"].endswith("/portal/history")
    assert "7.2" in client.get("/portal/history").text
    for path in ("/portal", "/portal/bookings", "/portal/book", "/portal/messages"):
        reply = client.get(path)
        assert reply.status_code == 302 and "/portal/login" in reply.headers["Location"], path
    token = csrf_from(client.get("/portal/login").text)
    assert client.post("/portal/book", data={"csrf_token": token}).status_code == 302  # to sign-in, nothing booked
    # Signing in with a code opens the rest.
    assert sign_in(client, patient, "14/03/1985") == 302
    assert client.get("/portal/bookings").status_code == 200
