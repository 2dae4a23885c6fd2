"""What every speech engine offers, and the chain that tries them in the configured order."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from display.vietnamese_numbers import read_numbers_in_text

log = logging.getLogger(__name__)


class EngineError(Exception):
    """An engine could not render a text (not installed, offline, crashed)."""


class SpeechEngine(Protocol):
    """Turns a sentence into PCM in the common format (display.voice.audio)."""

    name: str

    def render(self, text: str, lang: str) -> bytes | None:
        """PCM for the text; None when this engine cannot say it (a clip pack missing a word)."""
        ...


def speakable(text: str, lang: str, style: str) -> str:
    """The text as engines must get it: Vietnamese digits become words, spaces are tidied."""
    if lang == "vi":
        return read_numbers_in_text(text, style)
    return " ".join(text.split())


class SpeechChain:
    """Tries engines in order; the first that renders the whole text wins."""

    def __init__(self, engines: Sequence[SpeechEngine], style: str = "north") -> None:
        if not engines:
            raise ValueError("a speech chain needs at least one engine")
        self.engines = list(engines)
        self.style = style

    @property
    def names(self) -> list[str]:
        """Engine names in the order they are tried."""
        return [engine.name for engine in self.engines]

    def render(self, text: str, lang: str) -> tuple[bytes, str]:
        """PCM and the name of the engine that made it; EngineError when none could."""
        spoken = speakable(text, lang, self.style)
        failures = []
        for engine in self.engines:
            try:
                pcm = engine.render(spoken, lang)
            except EngineError as exc:
                log.warning("voice engine %s failed: %s", engine.name, exc)
                failures.append(f"{engine.name}: {exc}")
                continue
            if pcm is not None:
                return pcm, engine.name
            failures.append(f"{engine.name}: cannot say it")
        raise EngineError(f"no engine could say {spoken!r} ({'; '.join(failures)})")
