"""Staff login: argon2 passwords, roles on pages and API, CSRF on forms and cookie-authenticated calls."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from hub.app import create_app
from hub.config import ClinicConfig
from hub.core import Hub, build_hub
from hub.domain.common.errors import Conflict, Invalid


@pytest.fixture
def hub(tmp_path: Path, clinic: ClinicConfig) -> Iterator[Hub]:
    hub = build_hub(clinic, var_dir=tmp_path, db_url=f"sqlite:///{tmp_path / 'staff.db'}")
    hub.staff.add("lan.nguyen", "Nguyễn Thị Lan", "nurse", "dieu-duong-123", counter="p101")
    hub.staff.add("quan.tri", "Trần Văn Quản", "admin", "quan-tri-456")
    yield hub
    hub.close()


@pytest.fixture
def client(hub: Hub) -> FlaskClient:
    return create_app(hub, testing=True).test_client()


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html) or re.search(
        r'name="csrf-token" content="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def log_in(client: FlaskClient, username: str, password: str) -> int:
    token = csrf_from(client.get("/login").text)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token}).status_code


def test_passwords_are_stored_as_argon2id(hub: Hub) -> None:
    from sqlalchemy import text

    with hub.db.read() as connection:
        stored = connection.execute(text("SELECT password_hash FROM staff_users WHERE username='lan.nguyen'")).scalar()
    assert stored.startswith("$argon2id$") and "dieu-duong-123" not in stored


def test_authenticate(hub: Hub) -> None:
    assert hub.staff.authenticate("lan.nguyen", "dieu-duong-123").role == "nurse"
    assert hub.staff.authenticate("LAN.NGUYEN", "dieu-duong-123") is not None
    assert hub.staff.authenticate("lan.nguyen", "wrong-password") is None
    assert hub.staff.authenticate("khong-co", "dieu-duong-123") is None
    hub.staff.deactivate("lan.nguyen")
    assert hub.staff.authenticate("lan.nguyen", "dieu-duong-123") is None


@pytest.mark.parametrize(("username", "role", "password", "code"), [
    ("a", "nurse", "long-enough", "bad_username"),
    ("Bad Name", "nurse", "long-enough", "bad_username"),
    ("ok.name", "janitor", "long-enough", "unknown_role"),
    ("ok.name", "nurse", "short", "weak_password"),
])
def test_add_user_validation(hub: Hub, username: str, role: str, password: str, code: str) -> None:
    with pytest.raises(Invalid) as raised:
        hub.staff.add(username, "Tên", role, password)
    assert raised.value.code == code


def test_duplicate_user(hub: Hub) -> None:
    with pytest.raises(Conflict):
        hub.staff.add("lan.nguyen", "Lan khác", "nurse", "another-pass")


def test_login_and_logout(client: FlaskClient) -> None:
    assert log_in(client, "lan.nguyen", "dieu-duong-123") == 302
    page = client.get("/staff")
    assert page.status_code == 200 and "Nguyễn Thị Lan" in page.text
    client.post("/logout", data={"csrf_token": csrf_from(page.text)})
    assert client.get("/staff").status_code == 302


def test_wrong_password_is_refused(client: FlaskClient) -> None:
    assert log_in(client, "lan.nguyen", "nope-nope-nope") == 401
    assert client.get("/staff").status_code == 302


def test_anonymous_is_sent_to_login(client: FlaskClient) -> None:
    for path in ("/staff", "/admin/counters", "/admin/devices"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.location
    assert client.post("/api/v1/counters/p101/next").status_code == 401


def test_nurse_cannot_reach_admin_pages(client: FlaskClient) -> None:
    log_in(client, "lan.nguyen", "dieu-duong-123")
    assert client.get("/admin/counters").status_code == 403
    token = csrf_from(client.get("/staff").text)
    assert client.post("/admin/counters/p101/open", data={"csrf_token": token}).status_code == 403
    assert client.get("/admin/devices").status_code == 200


def test_admin_opens_a_counter_from_the_page(client: FlaskClient, hub: Hub) -> None:
    log_in(client, "quan.tri", "quan-tri-456")
    page = client.get("/admin/counters")
    assert page.status_code == 200 and "Phòng 101" in page.text
    client.post("/admin/counters/p102/open", data={"csrf_token": csrf_from(page.text)})
    assert hub.queue.counter("p102")["state"] == "open"
    client.post("/admin/staff/assign", data={"csrf_token": csrf_from(page.text), "username": "lan.nguyen",
                                             "counter": "p102"})
    assert hub.staff.by_username("lan.nguyen").counter == "p102"


def test_forms_without_csrf_are_refused(client: FlaskClient, hub: Hub) -> None:
    assert client.post("/login", data={"username": "lan.nguyen", "password": "dieu-duong-123"}).status_code == 400
    log_in(client, "quan.tri", "quan-tri-456")
    assert client.post("/admin/counters/p103/open").status_code == 400
    assert hub.queue.counter("p103")["state"] == "closed"


def test_session_api_calls_need_the_csrf_header(client: FlaskClient, hub: Hub) -> None:
    log_in(client, "lan.nguyen", "dieu-duong-123")
    hub.queue.issue("kham-noi")
    refused = client.post("/api/v1/counters/p101/next")
    assert refused.status_code == 403 and refused.json["error"]["code"] == "csrf_failed"
    token = csrf_from(client.get("/staff").text)
    called = client.post("/api/v1/counters/p101/next", headers={"X-CSRFToken": token})
    assert called.status_code == 200 and called.json["number"] == "B001"
    audit = hub.queue.get_ticket(called.json["id"])
    assert audit["status"] == "called"


def test_login_redirect_stays_on_site(client: FlaskClient) -> None:
    token = csrf_from(client.get("/login").text)
    response = client.post("/login?next=https://evil.example/steal", data={
        "username": "lan.nguyen", "password": "dieu-duong-123", "csrf_token": token})
    assert response.status_code == 302 and response.location == "/staff"


def test_pages_switch_language(client: FlaskClient) -> None:
    assert "Đăng nhập nhân viên" in client.get("/login").text
    english = client.get("/login?lang=en")
    assert "Staff login" in english.text
    assert "Staff login" in client.get("/login").text  # remembered in a cookie

