"""Follow-ups over HTTP: the patient's signed-link page, the REST endpoints, the staff pages and the CSV."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from hub.app import create_app
from hub.config import ClinicConfig
from hub.core import Hub
from hub.domain.booking.appointments import AppointmentChanged
from hub.domain.common.clock import VirtualClock
from tests.follow_up_support import MONDAY, at, hub_on, patient_with_visit
from tests.test_staff_auth import csrf_from, log_in

API = "/api/v1"
PASSWORD = "mat-khau-123"


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(at(MONDAY, "08:00"))


@pytest.fixture
def hub(tmp_path: Path, clinic: ClinicConfig, clock: VirtualClock) -> Iterator[Hub]:
    hub = hub_on(tmp_path, clinic, clock)
    for username, role in (("thu.ha", "reception"), ("quan.tri", "admin"), ("lan.nguyen", "nurse"),
                           ("bs.an", "doctor")):
        hub.staff.add(username, username, role, PASSWORD)
    yield hub
    hub.close()


@pytest.fixture
def client(hub: Hub) -> FlaskClient:
    return create_app(hub, testing=True).test_client()


def bearer(hub: Hub, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {hub.tokens.create(role, f'test-{role}')}"}


def booked(hub: Hub) -> tuple[dict[str, Any], str]:
    """A follow-up on Monday 7 December 07:30 with bs-an, and its link token."""
    _, visit = patient_with_visit(hub)
    [appointment] = hub.follow_ups.order(visit, actor="user:bs.an", on=date(2026, 12, 7))["appointments"]
    return appointment, hub.follow_ups.replies.token_for(appointment)


def post_form(client: FlaskClient, page_url: str, action_url: str, **fields: str) -> Any:
    """A staff form: with the page's CSRF token (the patient's page needs none: its link is the secret)."""
    token = csrf_from(client.get(page_url).text)
    return client.post(action_url, data={"csrf_token": token, **fields})


# ---------------------------------------------------------------------------------- the patient's page
def test_the_patient_confirms_moves_and_cancels_through_the_link(hub: Hub, client: FlaskClient,
                                                                 clock: VirtualClock) -> None:
    appointment, token = booked(hub)
    page = client.get(f"/f/{token}")
    assert page.status_code == 200 and appointment["code"] in page.text and "07:30" in page.text
    assert "0912345678" not in page.text  # the contacts on file are not shown
    assert "Tôi sẽ đến" in page.text and "I will come" in client.get(f"/f/{token}?lang=en").text
    client.get(f"/f/{token}?lang=vi")

    reply = client.post(f"/f/{token}/confirm")
    assert reply.status_code == 302
    assert hub.follow_ups.appointment(appointment["id"])["patient_confirmed_at"] == clock.now().isoformat()
    assert [e.action for e in hub.bus.of(AppointmentChanged)][-1] == "patient_confirm"
    assert "you confirmed" in client.get(f"/f/{token}?lang=en").text
    client.get(f"/f/{token}?lang=vi")  # the language choice is remembered in a cookie: back to Vietnamese
    client.post(f"/f/{token}/confirm")  # twice: noted once
    assert [e.action for e in hub.bus.of(AppointmentChanged)].count("patient_confirm") == 1

    choose = client.get(f"/f/{token}?change=1")
    assert 'value="2026-12-08T07:30:00+07:00"' in choose.text  # bs-an, the next day
    assert 'value="2026-12-07T07:30:00+07:00"' not in choose.text  # not its own time
    far = client.post(f"/f/{token}/reschedule", data={"slot_start": "2026-12-28T07:30:00+07:00"})
    assert far.status_code == 302 and "change=1" in far.headers["Location"]
    assert "Chỉ đổi trong khoảng" in client.get(far.headers["Location"]).text
    client.post(f"/f/{token}/reschedule", data={"slot_start": "2026-12-08T07:30:00+07:00"})
    assert hub.booking.get(appointment["code"])["slot_start"] == "2026-12-08T07:30:00+07:00"

    client.post(f"/f/{token}/cancel")
    assert hub.booking.get(appointment["code"])["status"] == "cancelled"
    closed = client.get(f"/f/{token}")
    assert closed.status_code == 200 and "Đã huỷ" in closed.text and "Tôi sẽ đến" not in closed.text
    refused = client.post(f"/f/{token}/confirm")
    assert "đã kết thúc hoặc đã hủy" in client.get(refused.headers["Location"]).text
    # Cancelled, then wanted after all: the same link books it again, near its date.
    assert "Lịch hẹn này đã hủy" in closed.text and 'value="2026-12-09T07:30:00+07:00"' in closed.text
    again = client.post(f"/f/{token}/rebook", data={"slot_start": "2026-12-09T07:30:00+07:00"})
    assert "09/12/2026" in client.get(again.headers["Location"]).text
    assert client.get(f"/f/{token}").status_code == 302  # the old link leads to the new booking
    series = hub.follow_ups.series(appointment["series_id"])["appointments"]
    assert [(a["seq"], a["status"], a["replaces_id"], a["channel"]) for a in series] == [
        (1, "cancelled", None, "doctor"), (1, "booked", appointment["id"], "portal")]


def test_altered_and_expired_links_are_refused(hub: Hub, client: FlaskClient, clock: VirtualClock) -> None:
    appointment, token = booked(hub)
    payload, signature = token.split(".")
    other = hub.follow_ups.links.token(appointment["id"] + 1, at(date(2027, 1, 1), "00:00")).split(".")[0]
    for bad in (f"{other}.{signature}", f"{payload}.{signature[:-2]}xx", "garbage"):
        page = client.get(f"/f/{bad}")
        assert page.status_code == 400 and 'data-code="bad_link"' in page.text
        assert client.post(f"/f/{bad}/cancel", data={}).status_code in (400, 302)
    assert hub.booking.get(appointment["code"])["status"] == "booked"
    clock.set(at(date(2026, 12, 8), "07:31"))  # the appointment's time plus a day
    expired = client.get(f"/f/{token}")
    assert expired.status_code == 410 and "hết hạn" in expired.text
    assert client.get(f"/f/{token}?lang=en").text.count("expired") >= 1


def test_a_missed_follow_up_is_booked_again_by_the_patient(hub: Hub, client: FlaskClient,
                                                            clock: VirtualClock) -> None:
    appointment, _ = booked(hub)
    clock.set(at(date(2026, 12, 7), "18:00"))
    hub.follow_ups.close_day(clock.now())
    [message] = [r for r in hub.notifications.list(appointment_id=appointment["id"])
                 if r["template"] == "no_show_callback" and r["channel"] == "in_app"]
    token = message["params"]["link"].rsplit("/f/", 1)[1]
    clock.set(at(date(2026, 12, 8), "20:00"))  # past the appointment's own link, within the rebooking one
    page = client.get(f"/f/{token}")
    assert page.status_code == 200 and "đã lỡ lịch hẹn" in page.text
    assert 'value="2026-12-09T07:30:00+07:00"' in page.text
    reply = client.post(f"/f/{token}/rebook", data={"slot_start": "2026-12-09T07:30:00+07:00"})
    assert reply.status_code == 302
    new_page = client.get(reply.headers["Location"])
    assert "09/12/2026" in new_page.text and "Tôi sẽ đến" in new_page.text
    item = hub.follow_ups.callbacks.of_appointment(appointment["id"])
    assert item["resolution"] == "rebooked" and item["attempts"] == 0
    assert item["calls"][0]["actor"].startswith("patient-link:")
    assert client.get(f"/f/{token}").status_code == 302  # the old link leads to the new appointment


# ---------------------------------------------------------------------------------- REST
def test_the_doctor_books_over_rest(hub: Hub, client: FlaskClient) -> None:
    _, visit = patient_with_visit(hub)
    doctor = bearer(hub, "doctor")
    slots = client.get(f"{API}/follow-ups/slots?doctor=bs-an&after_days=14&days=1", headers=doctor)
    assert slots.status_code == 200 and slots.json["suggested"]["start"] == "2026-12-07T07:30:00+07:00"
    assert [d["day"] for d in slots.json["days"]] == ["2026-12-07", "2026-12-08"]
    reply = client.post(f"{API}/visits/{visit}/follow-ups", headers=doctor,
                        json={"after_weeks": 2, "reason": "Tái khám", "count": 2, "every_weeks": 4})
    assert reply.status_code == 201, reply.json
    assert reply.json["series"]["interval_days"] == 28 and reply.json["series"]["mode"] == "next"
    assert reply.json["appointments"][0]["doctor"] == "bs-an"  # the visit's doctor
    picked = client.post(f"{API}/visits/{visit}/follow-ups", headers=bearer(hub, "nurse"),
                         json={"slot_start": "2026-12-09T10:10:00+07:00", "doctor": "bs-binh"})
    assert picked.status_code == 201 and picked.json["appointments"][0]["time"] == "10:10"
    listed = client.get(f"{API}/visits/{visit}/follow-ups", headers=doctor).json
    assert [len(s["appointments"]) for s in listed["series"]] == [1, 1]
    for body, code in (({}, "when_required"), ({"after_days": 3, "after_weeks": 1}, "invalid_request"),
                       ({"after_days": 3, "colour": "red"}, "invalid_request"),
                       ({"after_days": 3, "count": 2}, "interval_required")):
        refused = client.post(f"{API}/visits/{visit}/follow-ups", headers=doctor, json=body)
        assert (refused.status_code, refused.json["error"]["code"]) == (422, code)
    assert client.post(f"{API}/visits/99999/follow-ups", headers=doctor, json={"after_days": 7}).status_code == 404
    assert client.post(f"{API}/visits/{visit}/follow-ups", headers=bearer(hub, "lab"),
                       json={"after_days": 7}).status_code == 403
    paths = client.get(f"{API}/openapi.json").json["paths"]
    assert "post" in paths["/visits/{visit_id}/follow-ups"] and "/follow-ups/callbacks/{callback_id}/calls" in paths


def test_the_call_back_list_over_rest(hub: Hub, client: FlaskClient, clock: VirtualClock) -> None:
    appointment, _ = booked(hub)
    clock.set(at(date(2026, 12, 7), "18:00"))
    hub.follow_ups.close_day(clock.now())
    desk = bearer(hub, "reception")
    listed = client.get(f"{API}/follow-ups/callbacks", headers=desk).json
    [item] = listed["items"]
    assert listed["counts"] == {"due": 1, "waiting": 0} and item["appointment"]["id"] == appointment["id"]
    call = client.post(f"{API}/follow-ups/callbacks/{item['id']}/calls", headers=desk,
                       json={"outcome": "call_back", "call_back_on": "2026-12-10", "note": "Gọi lại chiều thứ Năm"})
    assert call.status_code == 201 and call.json["state"] == "waiting"
    message = client.post(f"{API}/follow-ups/callbacks/{item['id']}/message", headers=desk, json={})
    assert message.status_code == 200 and message.json["calls"][-1]["outcome"] == "message"
    assert client.get(f"{API}/follow-ups/callbacks", headers=bearer(hub, "doctor")).status_code == 403
    rebook = client.post(f"{API}/follow-ups/callbacks/{item['id']}/calls", headers=desk, json={"outcome": "rebooked"})
    assert rebook.status_code == 422 and rebook.json["error"]["code"] == "slot_required"
    assert client.get(f"{API}/follow-ups/analysis", headers=desk).status_code == 403
    figures = client.get(f"{API}/follow-ups/analysis?from=2026-12-01&to=2026-12-31", headers=bearer(hub, "admin"))
    assert figures.status_code == 200 and figures.json["overall"]["no_show"] == 1


# ---------------------------------------------------------------------------------- staff pages
def test_the_call_back_page_for_the_desk(hub: Hub, client: FlaskClient, clock: VirtualClock) -> None:
    booked(hub)
    clock.set(at(date(2026, 12, 7), "18:00"))
    hub.follow_ups.close_day(clock.now())
    assert client.get("/admin/callbacks").status_code == 302  # to the login page
    log_in(client, "lan.nguyen", PASSWORD)
    assert client.get("/admin/callbacks").status_code == 403
    client.post("/logout")
    log_in(client, "thu.ha", PASSWORD)
    page = client.get("/admin/callbacks")
    assert page.status_code == 200 and "Nguyễn Văn Bình" in page.text and 'href="tel:0912345678"' in page.text
    assert "Gọi lại bệnh nhân lỡ hẹn" in client.get("/staff").text
    [item] = hub.follow_ups.callbacks.items()
    reply = post_form(client, "/admin/callbacks", f"/admin/callbacks/{item['id']}/call", outcome="rebooked",
                      slot_start="2026-12-09T08:00:00+07:00", doctor="bs-an", note="Đồng ý thứ Tư")
    assert reply.status_code == 302
    assert "Đã đặt lại lịch" in client.get("/admin/callbacks").text
    assert hub.follow_ups.callbacks.get(item["id"])["resolution"] == "rebooked"
    assert 'data-state="resolved"' in client.get("/admin/callbacks?view=resolved").text


def test_the_report_page_and_its_csv(hub: Hub, client: FlaskClient) -> None:
    booked(hub)
    log_in(client, "thu.ha", PASSWORD)
    assert client.get("/reports/follow-ups").status_code == 403
    client.post("/logout")
    log_in(client, "quan.tri", PASSWORD)
    page = client.get("/reports/follow-ups?from=2026-11-01&to=2026-12-31")
    assert page.status_code == 200 and "/static/vendor/chart.min.js" in page.text and "cdn" not in page.text.lower()
    assert 'id="ordered">1<' in page.text
    exported = client.get("/reports/follow-ups.csv?from=2026-11-01&to=2026-12-31")
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    assert exported.data.startswith(b"\xef\xbb\xbf") and "Tất cả".encode() in exported.data
    assert "attachment" in exported.headers["Content-Disposition"]
    assert client.get("/reports/follow-ups?from=2026-12-31&to=2026-01-01").status_code == 200  # refused, then 30 days


def test_staff_pages_hear_of_a_change_at_once(hub: Hub, client: FlaskClient) -> None:
    from hub.app import socketio_of

    appointment, token = booked(hub)
    app = client.application
    anonymous = socketio_of(app).test_client(app, flask_test_client=app.test_client())
    anonymous.emit("subscribe", {"appointments": True})
    assert [m["name"] for m in anonymous.get_received()] == ["error"]
    log_in(client, "thu.ha", PASSWORD)
    desk = socketio_of(app).test_client(app, flask_test_client=client)
    desk.emit("subscribe", {"appointments": True})
    assert [m["name"] for m in desk.get_received()] == ["snapshot"]
    hub.follow_ups.replies.reschedule(token, at(date(2026, 12, 8), "07:30"))
    [event] = desk.get_received()
    assert event["name"] == "appointment" and event["args"][0]["action"] == "reschedule"
    assert event["args"][0]["appointment"] == {**{k: event["args"][0]["appointment"][k] for k in ("id", "code")},
                                               "status": "booked", "kind": "follow_up", "service": "kham-noi",
                                               "doctor": "bs-an", "day": "2026-12-08", "time": "07:30",
                                               "slot_start": "2026-12-08T07:30:00+07:00"}
    assert event["args"][0]["appointment"]["code"] == appointment["code"]
    desk.disconnect()
    anonymous.disconnect()
