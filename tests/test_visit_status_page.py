"""Issue 15: the visit status page, in Chromium at 360 px, follows one patient across three stations live
(reception walk-in -> exam; the doctor orders the lab and imaging; the results bring them back)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tests.browser import artifact, browser  # noqa: F401 - the fixture
from tests.hub_server import HubProcess, start_hub

pytestmark = pytest.mark.browser
PATIENT = {"full_name": "Phạm Thị Hạnh", "date_of_birth": "1969-05-04", "sex": "Nữ", "phone": "0987 654 321",
           "national_id": "001169004321", "address": "5 Lê Lợi, Huế"}


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    var_dir: Path = tmp_path_factory.mktemp("hub-visit-status")
    process = start_hub(var_dir)
    yield process
    process.stop()


def api(hub: HubProcess, method: str, path: str, role: str, body: Any = None, status: int = 200) -> Any:
    response = requests.request(method, hub.api + path, json=body if body is not None else {},
                                headers=hub.headers(role), timeout=15)
    assert response.status_code == status, response.text
    return response.json()


def stations(page: Any) -> list[dict[str, str]]:
    return page.eval_on_selector_all("#stations li", """items => items.map(li => ({
        service: li.dataset.service, status: li.dataset.status,
        number: li.querySelector('.vs-number').textContent, text: li.textContent}))""")


def no_horizontal_scroll(page: Any) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


def test_the_visit_page_follows_the_patient_across_three_stations(hub: HubProcess, browser: Any) -> None:  # noqa: F811
    patient = api(hub, "POST", "/patients", "reception", PATIENT, status=201)
    walk_in = api(hub, "POST", "/visits", "reception", {"patient_code": patient["code"], "service": "kham-noi"},
                  status=201)
    visit, exam_number = walk_in["visit_id"], walk_in["ticket"]["number"]
    link = urlsplit(walk_in["slip"]["content"]["status_url"])  # what the walk-in ticket's QR holds
    assert link.path.startswith("/v/LK")

    page = browser.new_page(viewport={"width": 360, "height": 780})
    try:
        page.goto(f"{hub.url}{link.path}?{link.query}")
        [exam] = stations(page)
        assert exam["number"] == exam_number and exam["status"] == "waiting"
        assert "Phòng 101" in exam["text"] and "Tầng 1" in exam["text"] and "người trước bạn" in exam["text"]
        assert "P. T. H." in page.text_content("#patient") and PATIENT["full_name"] not in page.content()
        no_horizontal_scroll(page)
        page.screenshot(path=str(artifact("visit-status-1-exam.png")), full_page=True)

        # At the doctor's: called, then the lab and imaging ordered; the page shows them without a reload.
        api(hub, "POST", "/counters/p101/next", "doctor")
        api(hub, "POST", "/counters/p101/start", "doctor")
        placed = api(hub, "POST", f"/visits/{visit}/orders", "doctor",
                     {"items": ["xn-glucose", "sa-bung"], "counter": "p101"}, status=201)
        lab_number = placed["tickets"][0]["number"]
        page.wait_for_selector("#stations li[data-service='xet-nghiem'][data-status='waiting']", timeout=20000)
        now = stations(page)
        assert now[0]["status"] in ("serving", "done", "transferred")
        lab = next(s for s in now if s["service"] == "xet-nghiem")
        assert lab["number"] == lab_number and "Tầng 2" in lab["text"]
        imaging = next(s for s in now if s["service"] not in ("kham-noi", "xet-nghiem"))
        assert imaging["status"] == "not_yet" and "Số được cấp khi xong bước trước" in imaging["text"]
        no_horizontal_scroll(page)
        page.screenshot(path=str(artifact("visit-status-2-orders.png")), full_page=True)

        # The lab calls them (the page names the room that called), then the result; imaging gets its
        # number when the lab is done; after the imaging result the patient goes back to the doctor.
        api(hub, "POST", "/counters/p201/next", "lab")
        page.wait_for_selector("#stations li[data-service='xet-nghiem'][data-status='called']", timeout=20000)
        called = next(s for s in stations(page) if s["service"] == "xet-nghiem")
        assert "Mời bạn vào" in called["text"] and "Phòng 201 · Tầng 2" in called["text"]
        for order, counter in zip(placed["orders"], ("p201", "p203"), strict=True):
            detail = api(hub, "GET", f"/orders/{order['id']}", "lab")
            if counter == "p203":
                api(hub, "POST", "/counters/p203/next", "lab")
            api(hub, "POST", f"/counters/{counter}/start", "lab")
            api(hub, "POST", f"/orders/{order['id']}/start", "lab")
            if detail["kind"] == "lab":
                values = {a["code"]: (a["low"] + a["high"]) / 2 for a in detail["analytes"]}
                api(hub, "POST", f"/orders/{order['id']}/result", "lab", {"values": values})
            else:
                api(hub, "POST", f"/orders/{order['id']}/result", "lab", {"report": "Không thấy bất thường."})
            api(hub, "POST", f"/counters/{counter}/finish", "lab")
        page.wait_for_function("""() => [...document.querySelectorAll('#stations li[data-service="kham-noi"]')]
            .filter(li => li.dataset.status === 'waiting').length === 1""", timeout=20000)
        final = stations(page)
        back = [s for s in final if s["service"] == "kham-noi" and s["status"] == "waiting"]
        assert back and back[0]["number"] not in ("—", exam_number)
        assert [s["status"] for s in final if s["service"] in ("xet-nghiem", "cdha")] == ["done", "done"]
        no_horizontal_scroll(page)
        page.screenshot(path=str(artifact("visit-status-3-back.png")), full_page=True)
    finally:
        page.close()
