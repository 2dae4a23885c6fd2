"""Offline speech through pyttsx3 over espeak-ng, with the espeak-ng program as a stand-by."""

from __future__ import annotations

import contextlib
import io
import logging
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any

from display.voice import audio
from display.voice.speech import EngineError

log = logging.getLogger(__name__)

VOICES_BY_STYLE = {"north": "vi", "south": "vi-vn-x-south"}
PYTTSX3_ATTEMPTS = 2

# pyttsx3 keeps one engine per driver for the whole process and is not re-entrant.
_PYTTSX3_LOCK = threading.Lock()


class EspeakEngine:
    """Renders Vietnamese or English text with espeak-ng; feed it words, never digits."""

    name = "espeak"

    def __init__(self, style: str = "north", rate_wpm: int = 150, voice_vi: str = "", voice_en: str = "en") -> None:
        self.voices = {"vi": voice_vi or VOICES_BY_STYLE[style], "en": voice_en}
        self.rate_wpm = rate_wpm
        self._pyttsx3: Any = None
        self._pyttsx3_failed = False

    def voice_for(self, lang: str) -> str:
        """The espeak-ng voice used for a language."""
        try:
            return self.voices[lang]
        except KeyError:
            raise EngineError(f"no espeak-ng voice for language {lang!r}") from None

    def render(self, text: str, lang: str) -> bytes:
        """PCM of the text; empty text gives empty audio."""
        voice = self.voice_for(lang)
        if not text.strip():
            return b""
        with tempfile.TemporaryDirectory(prefix="clinicq-espeak-") as workdir:
            target = Path(workdir) / "speech.wav"
            # pyttsx3 now and then (a few renders in a thousand) writes a WAV with no frames: try it
            # once more, then ask the espeak-ng program, which has never done so here.
            for _ in range(PYTTSX3_ATTEMPTS):
                if self._render_with_pyttsx3(text, voice, target):
                    pcm = audio.read_wav(target)
                    if pcm:
                        return pcm
                    log.debug("pyttsx3 wrote an empty file for %r", text)
            self._render_with_program(text, voice, target)
            pcm = audio.read_wav(target) if target.is_file() else b""
            if not pcm:
                raise EngineError(f"espeak-ng wrote nothing for {text!r}")
            return pcm

    def _engine(self) -> Any:
        if self._pyttsx3 is None and not self._pyttsx3_failed:
            try:
                import pyttsx3

                self._pyttsx3 = pyttsx3.init("espeak")
            except Exception as exc:  # pyttsx3 raises plain errors from ctypes and driver loading.
                log.warning("pyttsx3 unavailable (%s); using the espeak-ng program", exc)
                self._pyttsx3_failed = True
        return self._pyttsx3

    def _render_with_pyttsx3(self, text: str, voice: str, target: Path) -> bool:
        with _PYTTSX3_LOCK:
            engine = self._engine()
            if engine is None:
                return False
            try:
                engine.setProperty("voice", voice)
                engine.setProperty("rate", self.rate_wpm)
                # pyttsx3 prints "Audio saved to ..." on stdout for every file; the speaker's stdout stays clean.
                with contextlib.redirect_stdout(io.StringIO()):
                    engine.save_to_file(text, str(target))
                    engine.runAndWait()
            except Exception as exc:
                log.warning("pyttsx3 failed (%s); using the espeak-ng program", exc)
                return False
        return target.is_file() and target.stat().st_size > 0

    def _render_with_program(self, text: str, voice: str, target: Path) -> None:
        program = shutil.which("espeak-ng")
        if program is None:
            raise EngineError("espeak-ng is not installed (Debian: apt install espeak-ng)")
        try:
            subprocess.run([program, "-v", voice, "-s", str(self.rate_wpm), "-w", str(target), "--", text],
                           check=True, capture_output=True, timeout=30)
        except (subprocess.SubprocessError, OSError) as exc:
            raise EngineError(f"espeak-ng failed: {exc}") from None
