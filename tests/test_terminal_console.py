"""The keyboard console's controller against a real hub: keys act over REST, the screen follows Socket.IO."""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Callable, Iterator

import pytest
import requests
from click.testing import CliRunner

from caller_console.client import CounterClient
from caller_console.controller import ConsoleController
from caller_console.live import CounterFeed
from caller_console.state import CounterState
from hub.cli import cli
from tests.hub_server import HubProcess, start_hub
from tests.support import free_port


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    process = start_hub(tmp_path_factory.mktemp("hub-terminal"))
    yield process
    process.stop()


def wait_until(condition: Callable[[], object], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def issue(hub: HubProcess, service: str) -> dict:
    response = requests.post(hub.api + "/tickets", json={"service": service}, headers=hub.headers("kiosk"), timeout=10)
    assert response.status_code == 201, response.text
    return response.json()


class Answers:
    """Plays the person answering the console's questions, and keeps what was asked."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.prompts: list[str] = []

    def __call__(self, prompt: str) -> str | None:
        self.prompts.append(prompt)
        return self.answers.pop(0)


@pytest.fixture
def console(hub: HubProcess) -> Iterator[ConsoleController]:
    """A console at p103 (kham-ngoai) with a nurse token, following the counter live."""
    state = CounterState("p103")
    feed = CounterFeed(hub.url, state, token=hub.tokens["nurse"])
    feed.start()
    wait_until(lambda: state.connected and state.state)
    yield ConsoleController(CounterClient(hub.url, hub.tokens["nurse"], "p103"), state)
    feed.stop()


def test_keys_drive_the_counter_and_the_screen_follows(hub: HubProcess, console: ConsoleController) -> None:
    state = console.state
    first, second, third = (issue(hub, "kham-ngoai") for _ in range(3))
    wait_until(lambda: state.waiting_total == 3)
    no_questions = Answers()

    assert console.press("n", no_questions)
    assert console.message == f"Đã gọi số {first['number']}."
    screen = console.render()
    assert f"Số hiện tại: {first['number']} · Đang gọi · gọi 1 lần" in screen and "đã kết nối" in screen
    wait_until(lambda: state.waiting_total == 2)

    console.press("r", no_questions)
    assert console.message == f"Đã gọi lại số {first['number']} (lần 2)."
    console.press("x", no_questions)
    assert console.message == f"Số {first['number']} vắng mặt." and state.ticket is None

    console.press("n", no_questions)
    console.press("s", no_questions)
    assert "Đang phục vụ" in console.render()
    transfer = Answers("xet-nghiem", "Xét nghiệm máu")
    console.press("t", transfer)
    assert "kham-ngoai" not in transfer.prompts[0]  # not a target: the patient is already there
    assert re.fullmatch(r"Đã chuyển sang Xét nghiệm - Lấy mẫu: số mới X\d{3}\.", console.message)
    lab_ticket = console.message.rsplit(" ", 1)[1].rstrip(".")

    console.press("f", no_questions)  # nothing to finish: the hub's 409 is shown, nothing breaks
    assert console.message_is_error and "no_current_ticket" in console.message
    assert console.render().splitlines()[-2].startswith("! ")

    console.press("p", Answers(""))  # Enter takes the default reason
    assert "Tạm nghỉ: Nghỉ giải lao" in console.render()
    console.press("u", no_questions)
    assert "Đang mở" in console.render()

    console.press("l", Answers(first["number"].lower()))
    assert console.message == f"Số {first['number']} đã trở lại hàng chờ."
    console.press("c", Answers(third["number"]))
    assert console.message == f"Đã gọi số {third['number']} (ngoài thứ tự)."
    assert console.press("q", no_questions) is False

    # Another client at the same counter (a keypad's REST twin): the console sees it live.
    requests.post(hub.api + "/counters/p103/no-show", headers=hub.headers("device"), timeout=10)
    wait_until(lambda: state.ticket is None)
    requests.post(hub.api + "/counters/p103/next", headers=hub.headers("device"), timeout=10)
    wait_until(lambda: state.ticket is not None and state.ticket["number"] == first["number"])

    with sqlite3.connect(hub.var_dir / "hub.db") as db:
        actors = {row[0] for row in db.execute(
            "SELECT actor FROM ticket_transitions WHERE ticket_id IN (?, ?) AND from_status IS NOT NULL",
            (first["id"], second["id"]))}
        lab = db.execute("SELECT status, transferred_from_id, note FROM tickets WHERE number = ? AND day = "
                         "(SELECT day FROM tickets WHERE id = ?)", (lab_ticket, second["id"])).fetchone()
    assert actors == {"token:test-nurse", "token:kp-p103"}
    assert lab == ("waiting", second["id"], "Xét nghiệm máu")


def test_late_return_of_an_unknown_number_is_refused_locally(hub: HubProcess) -> None:
    console = ConsoleController(CounterClient(hub.url, hub.tokens["nurse"], "p103"), CounterState("p103"))
    console.return_late("Z999", no_shows=[{"id": 1, "number": "C001"}])
    assert console.message_is_error and "Z999" in console.message


def test_unreachable_hub_is_said_plainly() -> None:
    state = CounterState("p103")
    console = ConsoleController(CounterClient(f"http://127.0.0.1:{free_port()}", "t", "p103", timeout=1), state,
                                lang="en")
    console.press("n", Answers())
    assert console.message == "Cannot reach the hub. Nothing was done." and console.message_is_error
    assert "HUB UNREACHABLE — reconnecting" in console.render()


def test_clinicq_console_command_reads_keys_from_a_pipe(hub: HubProcess) -> None:
    ticket = issue(hub, "kham-nhi")
    result = CliRunner().invoke(cli, ["console", "--counter", "p104", "--hub", hub.url, "--lang", "en"],
                                input="n\nq\n", env={"CLINICQ_TOKEN": hub.tokens["nurse"]})
    assert result.exit_code == 0, result.output
    assert f"> Called {ticket['number']}." in result.output and "[n] next" in result.output
    # The device token is kp-p103's: it may not drive counter p104.
    device = CliRunner().invoke(cli, ["console", "--counter", "p104", "--hub", hub.url],
                                input="n\nq\n", env={"CLINICQ_TOKEN": hub.tokens["device"]})
    assert device.exit_code == 1 and "not_yours" in device.output


def test_clinicq_console_refuses_a_bad_token(hub: HubProcess) -> None:
    result = CliRunner().invoke(cli, ["console", "--counter", "p104", "--hub", hub.url, "--token", "wrong"])
    assert result.exit_code == 1 and "unauthorized" in result.output
    kiosk = CliRunner().invoke(cli, ["console", "--counter", "p104", "--hub", hub.url, "--token", hub.tokens["kiosk"]])
    assert kiosk.exit_code == 1 and "forbidden" in kiosk.output
