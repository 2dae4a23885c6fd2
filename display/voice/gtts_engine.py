"""Online speech through gTTS, cached on disk, falling back to an offline engine the moment it fails."""

from __future__ import annotations

import hashlib
import io
import logging
import time
from collections.abc import Callable
from pathlib import Path

from display.voice import audio
from display.voice.speech import EngineError, SpeechEngine

log = logging.getLogger(__name__)


def cache_key(engine: str, voice: str, text: str) -> str:
    """A file-name-safe key for one rendering: the same engine, voice and text give the same key."""
    return hashlib.sha256(f"{engine}\n{voice}\n{text}".encode()).hexdigest()


def _download_mp3(text: str, lang: str, tld: str, timeout_s: float) -> bytes:
    from gtts import gTTS

    buffer = io.BytesIO()
    gTTS(text, lang=lang, tld=tld, timeout=timeout_s).write_to_fp(buffer)
    return buffer.getvalue()


class GttsEngine:
    """Google's voice when the hospital has internet; the same text is fetched only once."""

    name = "gtts"

    def __init__(self, cache_dir: Path | str, timeout_s: float = 2.0, retry_after_s: float = 60, tld: str = "com.vn",
                 fallback: SpeechEngine | None = None, download: Callable[[str, str, str, float], bytes] | None = None,
                 decode: Callable[[bytes], bytes] | None = None) -> None:
        self.cache_dir = Path(cache_dir) / self.name
        self.timeout_s = timeout_s
        self.retry_after_s = retry_after_s
        self.tld = tld
        self.fallback = fallback
        self._download = download or _download_mp3
        self._decode = decode or _decode_mp3
        self._offline_until = 0.0
        self._last_failure = ""

    def voice_for(self, lang: str) -> str:
        """gTTS's voice is its language and the Google domain it asks."""
        return f"{lang}-{self.tld}"

    def cached_path(self, text: str, lang: str) -> Path:
        """Where the rendering of this text is (or will be) cached."""
        return self.cache_dir / f"{cache_key(self.name, self.voice_for(lang), text)}.wav"

    def render(self, text: str, lang: str) -> bytes:
        """From the cache, else from Google, else from the fallback engine."""
        if not text.strip():
            return b""
        cached = self.cached_path(text, lang)
        if cached.is_file():
            return audio.read_wav(cached)
        if time.monotonic() < self._offline_until:
            return self._fall_back(text, lang)
        try:
            pcm = self._decode(self._download(text, lang, self.tld, self.timeout_s))
        except Exception as exc:  # gTTSError, requests' errors, a broken MP3: all mean "not now".
            # Every call would otherwise wait for the same timeout again while the network is down.
            self._offline_until = time.monotonic() + self.retry_after_s
            self._last_failure = f"{type(exc).__name__}: {exc}"
            if self.fallback is not None:
                log.warning("gTTS unavailable (%s); using %s for the next %.0f s", self._last_failure,
                            self.fallback.name, self.retry_after_s)
            return self._fall_back(text, lang)
        cached.parent.mkdir(parents=True, exist_ok=True)
        audio.write_wav(cached, pcm)
        return pcm

    def _fall_back(self, text: str, lang: str) -> bytes:
        if self.fallback is None:
            raise EngineError(f"gTTS unavailable ({self._last_failure})")
        pcm = self.fallback.render(text, lang)
        if pcm is None:
            raise EngineError(f"gTTS unavailable and {self.fallback.name} cannot say {text!r}")
        return pcm


def _decode_mp3(data: bytes) -> bytes:
    from display.voice.mixer import decode_audio

    return decode_audio(data)
