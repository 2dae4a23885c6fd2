"""Portal pages of a signed-in patient: book and cancel (the slot is freed), today's tickets with their place
in line, visit history with released results only, and the inbox (live over Socket.IO)."""

# The fixtures (hub, client, patient) are those of test_portal_auth, imported: their names come back as
# test parameters, which is how pytest hands fixtures over.
# ruff: noqa: F811

from __future__ import annotations

import json
import re
from datetime import date, datetime

from flask.testing import FlaskClient

from hub.app import create_app, socketio_of
from hub.core import Hub
from hub.domain.common.clock import VirtualClock
from hub.domain.patients.registry import PatientDetails
from tests.conftest import SITE_TZ
from tests.notifications_support import APPOINTMENT
from tests.test_portal_auth import alert, client, hub, last_code, patient, sign_in  # noqa: F401 - fixtures
from tests.test_staff_auth import csrf_from

SLOT = "2026-11-24T07:30:00+07:00"  # Tuesday; BS An works 07:30-11:30 in 15-minute slots for 2 patients


def other_patient(hub: Hub, name: str = "Phạm Văn Long", phone: str = "0933000111") -> str:
    return hub.booking.patients.register(PatientDetails(full_name=name, date_of_birth=date(1970, 1, 1), phone=phone),
                                         actor="test")["code"]


def free_places(hub: Hub, start: str = SLOT, doctor: str = "bs-an") -> int:
    slots = hub.booking.free_slots(date.fromisoformat(start[:10]), doctor=doctor, include_full=True)
    return next(s["free"] for s in slots if s["start"] == start)


def test_book_through_the_steps_and_cancel(client: FlaskClient, hub: Hub, patient: str) -> None:
    assert sign_in(client, patient, "14/03/1985") == 302
    assert 'data-service="kham-noi"' in client.get("/portal/book").text
    doctors = client.get("/portal/book?service=kham-noi").text
    assert 'data-doctor="bs-an"' in doctors and 'data-doctor="any"' in doctors
    days = client.get("/portal/book?service=kham-noi&doctor=bs-an").text
    assert 'data-day="2026-11-23"' in days and 'data-day="2026-11-24"' in days
    slots = client.get("/portal/book?service=kham-noi&doctor=bs-an&day=2026-11-24").text
    assert f'data-start="{SLOT}"' in slots
    assert 'data-start="2026-11-23T07:45:00+07:00"' not in client.get(
        "/portal/book?service=kham-noi&doctor=bs-an&day=2026-11-23").text  # begun before 08:00: not offered
    confirm = client.get("/portal/book/confirm", query_string={"service": "kham-noi", "doctor": "bs-an",
                                                               "start": SLOT})
    assert confirm.status_code == 200 and "07:30" in confirm.text and "Thứ Ba, 24/11/2026" in confirm.text
    assert free_places(hub) == 2
    booked = client.post("/portal/book", data={"csrf_token": csrf_from(confirm.text), "service": "kham-noi",
                                               "doctor": "bs-an", "start": SLOT, "reason": "Đau đầu"})
    assert booked.status_code == 302
    [appointment] = hub.booking.appointments_of(patient)
    assert (appointment["channel"], appointment["status"], appointment["booked_by"]) == (
        "portal", "booked", f"patient:{patient}")
    assert free_places(hub) == 1
    page = client.get("/portal/bookings")
    assert appointment["code"] in alert(page.text)
    assert f'data-booking="{appointment["code"]}" data-status="booked"' in page.text
    assert "Huỷ lịch hẹn" in page.text

    client.post(f"/portal/bookings/{appointment['code']}/cancel", data={"csrf_token": csrf_from(page.text)})
    assert hub.booking.get(appointment["code"])["status"] == "cancelled"
    assert free_places(hub) == 2
    assert f'data-booking="{appointment["code"]}" data-status="cancelled"' in client.get("/portal/bookings").text


def test_another_record_and_its_bookings_are_out_of_reach(client: FlaskClient, hub: Hub, patient: str) -> None:
    # A second record with the same name, birth date and phone (a twin, or the same person registered
    # twice): the portal of one never shows the other's bookings.
    twin = hub.booking.patients.register(PatientDetails(full_name="Nguyễn Thị Mai", date_of_birth=date(1985, 3, 14),
                                                        phone="0912345678"), actor="test", confirm_new=True)["code"]
    theirs = hub.booking.book(patient_code=twin, slot_start=datetime.fromisoformat(SLOT), doctor="bs-an",
                              channel="reception", actor="test")
    assert sign_in(client, patient, "14/03/1985") == 302
    page = client.get("/portal/bookings")
    assert theirs["code"] not in page.text and twin not in page.text
    assert theirs["code"] not in client.get("/portal").text
    refused = client.post(f"/portal/bookings/{theirs['code']}/cancel", data={"csrf_token": csrf_from(page.text)},
                          follow_redirects=True)
    assert "Không tìm thấy lịch hẹn" in alert(refused.text)
    assert hub.booking.get(theirs["code"])["status"] == "booked"


def test_portal_bookings_are_limited_and_follow_the_slot_rules(client: FlaskClient, hub: Hub, patient: str) -> None:
    assert sign_in(client, patient, "14/03/1985") == 302
    token = csrf_from(client.get("/portal/book").text)
    for day in ("24", "25", "26"):
        start = f"2026-11-{day}T09:00:00+07:00"
        booked = client.post("/portal/book", data={"csrf_token": token, "service": "kham-noi", "doctor": "any",
                                                   "start": start}, follow_redirects=True)
        assert "Đã đặt lịch 09:00" in alert(booked.text)
    fourth = client.post("/portal/book", data={"csrf_token": token, "service": "kham-noi", "doctor": "bs-an",
                                               "start": "2026-11-27T09:00:00+07:00"}, follow_redirects=True)
    assert "3 lịch hẹn sắp tới" in alert(fourth.text)
    begun = client.post("/portal/book", data={"csrf_token": token, "service": "kham-noi", "doctor": "bs-an",
                                              "start": "2026-11-23T07:45:00+07:00"}, follow_redirects=True)
    assert "đã bắt đầu" in alert(begun.text)
    assert len(hub.booking.appointments_of(patient)) == 3


def test_todays_tickets_with_place_in_line_and_where_to_go(client: FlaskClient, hub: Hub, patient: str) -> None:
    for n, name in enumerate(("Đỗ Văn Một", "Đỗ Văn Hai")):
        hub.booking.register_visit(other_patient(hub, name, f"093300022{n}"), "kham-noi", actor="test")
    mine = hub.booking.register_visit(patient, "kham-noi", actor="test")["ticket"]
    assert sign_in(client, patient, "14/03/1985") == 302
    page = client.get("/portal").text
    line = re.search(r'class="line">([^<]*)<', page).group(1)
    assert re.fullmatch(r"2 người trước bạn, khoảng \d+–\d+ phút, đến Phòng 101, Phòng 102", line), line
    assert f'href="/t/{mine["id"]}?k={hub.ticket_token(mine["id"])}"' in page
    assert "2 ahead of you" in client.get("/portal?lang=en").text
    client.get("/portal?lang=vi")  # the choice is remembered in a cookie

    hub.queue.call_next("p101", actor="test")
    hub.queue.start("p101", actor="test")
    hub.queue.call_next("p101", actor="test")  # the first is done, the second called
    assert "Bạn là người tiếp theo" in client.get("/portal").text
    hub.queue.start("p101", actor="test")
    assert hub.queue.call_next("p101", actor="test")["id"] == mine["id"]
    assert "Mời bạn đến Phòng 101" in client.get("/portal").text


def test_a_checked_in_booking_waits_for_its_doctors_room(client: FlaskClient, hub: Hub, patient: str) -> None:
    booked = hub.booking.book(patient_code=patient, slot_start=datetime(2026, 11, 23, 8, 30, tzinfo=SITE_TZ),
                              doctor="bs-binh", channel="portal", actor="test")
    ticket = hub.booking.check_in(booked["code"], actor="test", source="reception")["ticket"]
    assert sign_in(client, patient, "14/03/1985") == 302
    page = client.get("/portal").text
    assert f'data-ticket="{ticket["id"]}"' in page and "đến Phòng 102" in page
    assert f'data-booking="{booked["code"]}" data-status="arrived"' in page


def test_history_shows_released_results_only(client: FlaskClient, hub: Hub, patient: str) -> None:
    visit = hub.booking.register_visit(patient, "kham-noi", actor="test")["visit_id"]
    hub.queue.call_next("p101", actor="test")
    hub.queue.start("p101", actor="test")
    hub.clinical.save_exam(visit, actor="user:bs.an", doctor="bs-an", diagnosis_code="I10",
                           notes="Ghi chú riêng của bác sĩ", prescription="Amlodipin 5mg")
    placed = hub.clinical.orders.place(visit, ["xn-glucose", "xn-ctm", "xq-nguc"], actor="user:bs.an",
                                       counter="p101")
    orders = {o["item"]: o["id"] for o in placed["orders"]}
    for item in orders:
        hub.clinical.orders.start(orders[item], actor="user:kt")
    hub.clinical.orders.record_result(orders["xn-glucose"], actor="user:kt", values={"GLU": 7.2}, release=True)
    hub.clinical.orders.record_result(orders["xn-ctm"], actor="user:kt",
                                      values={"WBC": 12.5, "RBC": 4.5, "HGB": 110, "PLT": 250})
    hub.clinical.orders.record_result(orders["xq-nguc"], actor="user:kt",
                                      report="Hai phổi sáng, không thấy tổn thương.")
    assert sign_in(client, patient, "14/03/1985") == 302
    page = client.get("/portal/history").text
    assert "Thứ Hai, 23/11/2026" in page and "BS.CKI Nguyễn Văn An" in page and "(I10)" in page
    glucose = re.search(r'<section class="result" data-state="released">.*?</section>', page, re.S).group(0)
    assert "7.2" in glucose and "mmol/L" in glucose and "3.9–6.4" in glucose and '<span class="flag"' in glucose
    assert page.count('data-state="awaiting_release"') == 2 and "chờ bác sĩ duyệt" in page
    for hidden in ("12.5", "WBC", "Hai phổi sáng", "Ghi chú riêng", "Amlodipin", "user:kt"):
        assert hidden not in page, hidden

    hub.clinical.orders.release(orders["xq-nguc"], actor="user:bs.an")
    page = client.get("/portal/history").text
    assert "Hai phổi sáng, không thấy tổn thương." in page and page.count('data-state="released"') == 2
    assert "12.5" not in page


def test_inbox_lists_marks_read_and_receives_live(client: FlaskClient, hub: Hub, clock: VirtualClock,
                                                 patient: str) -> None:
    patient_id = hub.booking.patients.get(patient)["id"]
    hub.notifications.enqueue("reminder", patient_id=patient_id, params=APPOINTMENT, channels=["in_app"])
    hub.notifications.enqueue("reminder", patient_id=patient_id, channels=["in_app"],
                              params={**APPOINTMENT, "appointment_code": "X", "link": "javascript:alert(1)"})
    hub.scheduler.run_pending()
    assert sign_in(client, patient, "14/03/1985") == 302
    page = client.get("/portal/messages").text
    assert page.count('class="card message unread"') == 2 and 'id="unread" class="badge">2<' in page
    assert 'href="http://127.0.0.1:8000/f/TK7Q2M?k=signed"' in page and 'href="javascript:' not in page
    first = re.search(r'data-message="(\d+)"', page).group(1)
    client.post(f"/portal/messages/{first}/read", data={"csrf_token": csrf_from(page)})
    assert client.get("/portal/messages").text.count('class="card message unread"') == 1

    live = json.loads(re.search(r'id="portal-data" type="application/json">(.*?)</script>', page).group(1))
    assert live["patient"] == patient
    app = create_app(hub, testing=True)
    socket = socketio_of(app).test_client(app, flask_test_client=app.test_client())
    socket.emit("subscribe", {"patient": patient, "token": live["token"]})
    [snapshot] = socket.get_received()
    assert snapshot["name"] == "snapshot" and len(snapshot["args"][0]["messages"]) == 2
    hub.notifications.enqueue("confirmation", patient_id=patient_id, params=APPOINTMENT, channels=["in_app"])
    clock.advance(hub.config.notifications.poll_seconds)  # the sending job's next turn
    hub.scheduler.run_pending()
    # The in-app copy of the sign-in code arrives too (its code masked); the confirmation is the other one.
    events = {e["args"][0]["message"]["template"]: e for e in socket.get_received()}
    assert sorted(events) == ["confirmation", "otp"]
    event = events["confirmation"]
    assert event["name"] == "inbox" and event["args"][0]["message"]["title"]
    otp_body = events["otp"]["args"][0]["message"]["body"]
    assert "••••••" in otp_body and re.search(r"\d{6}", otp_body) is None
    assert last_code(hub) == "••••••"  # settled: the outbox row no longer holds the code either
    socket.disconnect()
