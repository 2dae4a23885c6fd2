"""Plays announcements one at a time, in the order they arrived: chime, then the sentence, repeated."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from display.voice import audio
from hub.protocol import is_expired

log = logging.getLogger(__name__)

MAX_REPEAT = 5
KEPT_RECORDS = 1000  # recent plays kept for tests and telemetry; a speaker runs for months


@dataclass(frozen=True)
class Announcement:
    """One call to say: the `evt/announce/<zone>` payload, checked."""

    call_id: str
    text: str
    lang: str = "vi"
    repeat: int | None = None  # None: the speaker's configured repeat count
    ts: float = field(default_factory=time.time)
    ttl_s: float = 120.0
    text_en: str | None = None  # the English wording, said after the Vietnamese when the hub sends it

    def expired(self, now: float | None = None) -> bool:
        """Older than its time to live: say nothing rather than a stale call."""
        return is_expired({"ts": self.ts, "ttl_s": self.ttl_s}, now)


@dataclass(frozen=True)
class PlayRecord:
    """What was played, by which engine, and when its first and last samples left."""

    seq: int
    call_id: str
    engine: str
    started_at: float
    ended_at: float
    latency_ms: int  # from the call's `ts` to the first audio sample
    path: str | None = None


class Sink(Protocol):
    """Where audio goes: the sound card (mixer.PygameSink) or WAV files (wav_sink.WavFileSink)."""

    name: str

    def play(self, pcm: bytes, volume: float, seq: int, call_id: str) -> tuple[float, float, str | None]:
        """Play to the end; returns (first sample time, end time, file written or None)."""
        ...

    def close(self) -> None:
        """Release the device."""
        ...


class Renderer(Protocol):
    """Turns text into PCM, saying which engine did it (speech.SpeechChain)."""

    def render(self, text: str, lang: str) -> tuple[bytes, str]:
        """PCM and engine name."""
        ...


def announcement_audio(speech: bytes, chime: bytes, repeat: int, gap_ms: int) -> bytes:
    """Chime, then the sentence `repeat` times, with a gap after the chime and between repetitions."""
    parts = ([chime] if chime else []) + [speech] * repeat
    return audio.join(parts, gap_ms)


class AnnouncementPlayer:
    """A single worker thread, so one speaker never talks over itself."""

    def __init__(self, speech: Renderer, sink: Sink, *, chime: bytes = b"", gap_ms: int = 700,
                 default_repeat: int = 2, volume: Callable[[], float] = lambda: 1.0,
                 on_played: Callable[[PlayRecord], None] | None = None) -> None:
        self.speech = speech
        self.sink = sink
        self.chime = chime
        self.gap_ms = gap_ms
        self.default_repeat = default_repeat
        self.volume = volume
        self.on_played = on_played
        self.records: deque[PlayRecord] = deque(maxlen=KEPT_RECORDS)
        self.played_count = 0
        self._queue: queue.Queue[Announcement | None] = queue.Queue()
        self._seq = 0
        self._unfinished = 0
        self._idle = threading.Condition()
        self._thread: threading.Thread | None = None

    @property
    def pending(self) -> int:
        """Announcements waiting or playing."""
        with self._idle:
            return self._unfinished

    def start(self) -> None:
        """Start the worker thread."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="announcement-player", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Finish the announcement playing now, drop the rest, and stop."""
        if self._thread is None:
            return
        while True:
            try:
                self._queue.get_nowait()
                self._done()
            except queue.Empty:
                break
        self._queue.put(None)
        self._thread.join(timeout)
        self._thread = None

    def submit(self, announcement: Announcement) -> None:
        """Queue an announcement behind those already waiting."""
        with self._idle:
            self._unfinished += 1
        self._queue.put(announcement)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until everything submitted has been played or dropped; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._unfinished == 0, timeout)

    def play_now(self, announcement: Announcement) -> PlayRecord | None:
        """Render and play in the calling thread: the worker does this for each call, the benchmark directly."""
        if announcement.expired():
            log.info("dropped expired call %s", announcement.call_id)
            return None
        self._seq += 1
        pcm, engine = self.speech.render(announcement.text, announcement.lang)
        if announcement.text_en:
            english, english_engine = self.speech.render(announcement.text_en, "en")
            pcm = audio.join([pcm, english], self.gap_ms)
            engine = f"{engine}+{english_engine}"
        repeat = announcement.repeat or self.default_repeat
        whole = announcement_audio(pcm, self.chime, max(1, min(MAX_REPEAT, repeat)), self.gap_ms)
        started, ended, path = self.sink.play(whole, self.volume(), self._seq, announcement.call_id)
        record = PlayRecord(self._seq, announcement.call_id, engine, started, ended,
                            max(0, round((started - announcement.ts) * 1000)), path)
        self.records.append(record)
        self.played_count += 1
        log.info("played call %s with %s (%d ms after the call)", record.call_id, engine, record.latency_ms)
        return record

    def _done(self) -> None:
        with self._idle:
            self._unfinished -= 1
            self._idle.notify_all()

    def _run(self) -> None:
        while True:
            announcement = self._queue.get()
            if announcement is None:
                return
            try:
                # A call can also go stale while it waits behind others.
                record = self.play_now(announcement)
                if record is not None and self.on_played is not None:
                    self.on_played(record)
            except Exception:
                # One bad call (an engine crash, a full disk) must not silence the speaker for the day.
                log.exception("could not play call %s", announcement.call_id)
            finally:
                self._done()
