"""The file channel of the demo: each message becomes one JSON line in var/notifications.jsonl."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from hub.domain.common.clock import Clock
from hub.notify.base import Outgoing, SendError


class FileLogChannel:
    name = "file_log"

    def __init__(self, path: Path, clock: Clock) -> None:
        self.path = path
        self.clock = clock
        self._lock = threading.Lock()

    def send(self, message: Outgoing) -> str | None:
        line = json.dumps({
            "at": self.clock.now().isoformat(), "id": message.id, "to": message.recipient,
            "template": message.template, "language": message.language, "subject": message.subject,
            "body": message.body, "sms": message.sms, "appointment_id": message.appointment_id,
        }, ensure_ascii=False)
        try:
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as handle:
                    handle.write(line + "\n")
        except OSError as exc:
            raise SendError(f"cannot write {self.path}: {exc}") from None
        return None
