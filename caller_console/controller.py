"""The terminal console's logic: one method per key, each one REST call, and the status text to show.

No terminal I/O here: a key arrives as a letter, questions go through an `ask` callable, and
`render()` returns plain text, so tests drive it against a real hub without a terminal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from caller_console.client import ActionRefused, CounterClient, HubUnreachable
from caller_console.messages import ACTION_TEXTS
from caller_console.state import CounterState

# Asks the person a question; returns the answer, or None / "" when they cancel.
Ask = Callable[[str], str | None]


@dataclass(frozen=True)
class Key:
    letter: str
    action: str
    vi: str
    en: str


KEYS = (
    Key("n", "next", "gọi tiếp", "next"),
    Key("r", "recall", "gọi lại", "recall"),
    Key("s", "start", "bắt đầu", "start"),
    Key("f", "finish", "xong", "finish"),
    Key("x", "no_show", "vắng", "no-show"),
    Key("t", "transfer", "chuyển", "transfer"),
    Key("c", "call", "gọi số", "call #"),
    Key("l", "return_late", "đến muộn", "late return"),
    Key("p", "pause", "nghỉ", "pause"),
    Key("u", "resume", "tiếp tục", "resume"),
    Key("q", "quit", "thoát", "quit"),
)
ACTION_OF_KEY = {k.letter: k.action for k in KEYS} | {"v": "no_show"}  # V too, as on the page

TEXTS: dict[str, tuple[str, str]] = {
    **ACTION_TEXTS,
    "called": ("Đang gọi", "Called"),
    "serving": ("Đang phục vụ", "Serving"),
    "on_hold": ("Tạm giữ", "On hold"),
    "open": ("Đang mở", "Open"),
    "paused": ("Tạm nghỉ", "Paused"),
    "closed": ("Đóng", "Closed"),
    "connected": ("đã kết nối", "connected"),
    "reconnecting": ("MẤT KẾT NỐI — đang kết nối lại…", "HUB UNREACHABLE — reconnecting…"),
    "current": ("Số hiện tại", "Current"),
    "none": ("(chưa có)", "(none)"),
    "times_called": ("gọi {n} lần", "called {n}x"),
    "waiting": ("Đang chờ", "Waiting"),
    "cancelled": ("Đã bỏ qua.", "Cancelled."),
    "unknown_key": ("Phím '{key}' không dùng. ", "Key '{key}' does nothing. "),
    "ask_service": ("Chuyển sang dịch vụ ({choices}) — số hoặc mã: ",
                    "Transfer to ({choices}) — number or code: "),
    "bad_service": ("Không có dịch vụ '{service}'.", "No service '{service}'."),
    "ask_note": ("Ghi chú (Enter để bỏ qua): ", "Note (Enter to skip): "),
    "ask_reason": ("Lý do tạm nghỉ (Enter: {default}): ", "Reason (Enter: {default}): "),
    "default_reason": ("Nghỉ giải lao", "Break"),
    "ask_number": ("Gọi số nào (ví dụ B023): ", "Which number (e.g. B023): "),
    "ask_late": ("Vắng mặt hôm nay: {numbers} — số nào trở lại: ", "Today's no-shows: {numbers} — which returns: "),
}


class ConsoleController:
    """Turns keys into the counter's REST actions and keeps the line of text that reports the outcome."""

    def __init__(self, client: CounterClient, state: CounterState, lang: str = "vi") -> None:
        self.client = client
        self.state = state
        self.lang = lang
        self.message = ""
        self.message_is_error = False
        self._services: list[dict[str, Any]] | None = None

    def text(self, key: str, **values: Any) -> str:
        vi, en = TEXTS[key]
        return (en if self.lang == "en" else vi).format(**values)

    # ------------------------------------------------------------------ keys
    def press(self, letter: str, ask: Ask) -> bool:
        """Act on one key; False when it was q (quit). Questions (service, reason, number) go to `ask`."""
        action = ACTION_OF_KEY.get(letter.lower())
        if action is None:
            self._say(self.text("unknown_key", key=letter) + self.key_help(), error=True)
            return True
        if action == "quit":
            return False
        if action == "transfer":
            service = self._ask_service(ask)
            if service is not None:
                self.transfer(service, (ask(self.text("ask_note")) or "").strip() or None)
        elif action == "pause":
            default = self.text("default_reason")
            self.pause((ask(self.text("ask_reason", default=default)) or "").strip() or default)
        elif action == "call":
            number = (ask(self.text("ask_number")) or "").strip()
            if number:
                self.call(number)
            else:
                self._say(self.text("cancelled"))
        elif action == "return_late":
            self._ask_late_return(ask)
        else:
            getattr(self, action)()
        return True

    def _ask_service(self, ask: Ask) -> str | None:
        try:
            services = self.services()
        except (HubUnreachable, ActionRefused) as exc:
            self._refused(exc)
            return None
        choices = ", ".join(f"{i} {s['code']}" for i, s in enumerate(services, 1))
        answer = (ask(self.text("ask_service", choices=choices)) or "").strip()
        if not answer:
            self._say(self.text("cancelled"))
            return None
        if answer.isdigit() and 1 <= int(answer) <= len(services):
            return services[int(answer) - 1]["code"]
        if answer in {s["code"] for s in services}:
            return answer
        self._say(self.text("bad_service", service=answer), error=True)
        return None

    def _ask_late_return(self, ask: Ask) -> None:
        try:
            no_shows = self.client.no_shows()
        except (HubUnreachable, ActionRefused) as exc:
            self._refused(exc)
            return
        if not no_shows:
            self._say(self.text("no_no_shows"))
            return
        answer = ask(self.text("ask_late", numbers=", ".join(t["number"] for t in no_shows)))
        if not answer or not answer.strip():
            self._say(self.text("cancelled"))
            return
        self.return_late(answer.strip(), no_shows)

    def services(self) -> list[dict[str, Any]]:
        """Transfer targets: every service but the current ticket's own (the list is asked once)."""
        if self._services is None:
            self._services = self.client.services()
        with self.state.lock:
            own = self.state.ticket.get("service") if self.state.ticket else None
        return [s for s in self._services if s["code"] != own]

    # ------------------------------------------------------------------ actions
    def next(self) -> str:
        def done(ticket: dict[str, Any] | None) -> str:
            self.state.set_current(ticket)
            return self.text("ok_next", number=ticket["number"]) if ticket else self.text("ok_empty")

        return self._run(self.client.next, done)

    def recall(self) -> str:
        return self._run(self.client.recall, self._current("ok_recall"))

    def start(self) -> str:
        return self._run(self.client.start, self._current("ok_start"))

    def finish(self) -> str:
        return self._run(self.client.finish, self._ended("ok_finish"))

    def no_show(self) -> str:
        return self._run(self.client.no_show, self._ended("ok_no_show"))

    def transfer(self, service: str, note: str | None = None) -> str:
        def done(ticket: dict[str, Any]) -> str:
            self.state.set_current(None)
            return self.text("ok_transfer", service=ticket.get("service_name") or ticket["service"],
                             number=ticket["number"])

        return self._run(lambda: self.client.transfer(service, note), done)

    def pause(self, reason: str | None = None) -> str:
        return self._run(lambda: self.client.pause(reason), self._counter("ok_pause"))

    def resume(self) -> str:
        return self._run(self.client.resume, self._counter("ok_resume"))

    def call(self, number: str) -> str:
        return self._run(lambda: self.client.call(number.upper()), self._current("ok_call"))

    def return_late(self, number: str, no_shows: list[dict[str, Any]] | None = None) -> str:
        """Put today's no-show `number` back in line (looked up among the counter's no-shows)."""
        number = number.upper()
        try:
            candidates = no_shows if no_shows is not None else self.client.no_shows()
        except (HubUnreachable, ActionRefused) as exc:
            return self._refused(exc)
        found = next((t for t in candidates if t["number"] == number), None)
        if found is None:
            return self._say(self.text("not_in_no_shows", number=number), error=True)
        return self._run(lambda: self.client.return_late(found["id"]),
                         lambda ticket: self.text("ok_return", number=ticket["number"]))

    # ------------------------------------------------------------------ outcomes
    def _current(self, text: str) -> Callable[[dict[str, Any]], str]:
        def done(ticket: dict[str, Any]) -> str:
            self.state.set_current(ticket)
            return self.text(text, number=ticket["number"], count=ticket.get("call_count"))

        return done

    def _ended(self, text: str) -> Callable[[dict[str, Any]], str]:
        def done(ticket: dict[str, Any]) -> str:
            self.state.apply_ticket(ticket)
            return self.text(text, number=ticket["number"])

        return done

    def _counter(self, text: str) -> Callable[[dict[str, Any]], str]:
        def done(counter: dict[str, Any]) -> str:
            self.state.apply_counter(counter)
            return self.text(text)

        return done

    def _run(self, call: Callable[[], Any], done: Callable[[Any], str]) -> str:
        try:
            reply = call()
        except (HubUnreachable, ActionRefused) as exc:
            return self._refused(exc)
        return self._say(done(reply))

    def _refused(self, exc: Exception) -> str:
        if isinstance(exc, HubUnreachable):
            return self._say(self.text("unreachable"), error=True)
        assert isinstance(exc, ActionRefused)
        return self._say(f"{self.text('refused')} ({exc.code}): {_local(exc.message, self.lang)}", error=True)

    def _say(self, message: str, error: bool = False) -> str:
        self.message, self.message_is_error = message, error
        return message

    # ------------------------------------------------------------------ what the screen shows
    def key_help(self) -> str:
        return "  ".join(f"[{k.letter}] {k.en if self.lang == 'en' else k.vi}" for k in KEYS)

    def render(self) -> str:
        """The whole screen as plain text (the terminal redraws it after every change)."""
        state = self.state
        with state.lock:
            link = self.text("connected") if state.connected else self.text("reconnecting")
            counter_state = self.text(state.state) if state.state in ("open", "paused", "closed") else "…"
            if state.state == "paused" and state.pause_reason:
                counter_state += f": {state.pause_reason}"
            lines = [f"{state.name or state.code} ({state.code}) · {counter_state} · {link}"]
            ticket = state.ticket
            if ticket:
                status = self.text(ticket["status"]) if ticket.get("status") in TEXTS else ticket.get("status", "")
                lines.append(f"{self.text('current')}: {ticket['number']} · {status} · "
                             f"{self.text('times_called', n=ticket.get('call_count', 1))} · {ticket.get('service')}")
            else:
                lines.append(f"{self.text('current')}: {self.text('none')}")
            per_service = ", ".join(f"{s} {state.waiting.get(s, 0)}" for s in state.services)
            total = f"{self.text('waiting')}: {state.waiting_total}"
            lines.append(f"{total} ({per_service})" if per_service else total)
        lines.append(("! " if self.message_is_error else "> ") + self.message if self.message else "")
        lines.append(self.key_help())
        return "\n".join(lines)


def _local(message: str, lang: str) -> str:
    """Hub messages are sometimes "Vietnamese / English": keep the half in the console's language."""
    parts = message.split(" / ")
    if len(parts) != 2:
        return message
    return parts[1] if lang == "en" else parts[0]
