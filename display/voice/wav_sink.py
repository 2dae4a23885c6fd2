"""The speaker without a sound card: each announcement becomes a WAV file plus a line in timeline.jsonl."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

from display.voice import audio

TIMELINE = "timeline.jsonl"


def safe_file_part(call_id: str) -> str:
    """A call id made safe for a file name."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", call_id)[:64] or "call"


class WavFileSink:
    """Writes `<seq>-<call_id>.wav`; `pace` 1.0 takes as long as playing would, 0 returns at once."""

    name = "wav"

    def __init__(self, out_dir: Path | str, pace: float = 0.0) -> None:
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        # A paced sink behaves like a real speaker in time (the demo; tests use a small fraction).
        self.pace = pace
        self._lock = threading.Lock()

    @property
    def timeline_path(self) -> Path:
        """Where each announcement's start and end times are appended (one JSON object a line)."""
        return self.out_dir / TIMELINE

    def play(self, pcm: bytes, volume: float, seq: int, call_id: str) -> tuple[float, float, str | None]:
        """Write the file; returns (first sample time, end time, path)."""
        path = self.out_dir / f"{seq:05d}-{safe_file_part(call_id)}.wav"
        with self._lock:
            started = time.time()
            audio.write_wav(path, audio.scale(pcm, max(0.0, min(1.0, volume))))
            if self.pace:
                time.sleep(max(0.0, started + self.pace * audio.duration_s(pcm) - time.time()))
            ended = time.time()
            record = {"seq": seq, "call_id": call_id, "file": path.name, "started_at": started,
                      "ended_at": ended, "duration_s": round(audio.duration_s(pcm), 3), "volume": round(volume, 3)}
            with self.timeline_path.open("a", encoding="utf-8") as timeline:
                timeline.write(json.dumps(record, ensure_ascii=False) + "\n")
        return started, ended, str(path)

    def close(self) -> None:
        """Nothing to release."""


def read_timeline(out_dir: Path | str) -> list[dict]:
    """The records a WavFileSink wrote, in the order it wrote them."""
    path = Path(out_dir) / TIMELINE
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
