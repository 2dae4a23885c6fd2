"""Build the speech chain that voice.toml (and a command's --engine) asks for."""

from __future__ import annotations

import logging
from pathlib import Path

from display.voice.clip_pack import ClipPack, ClipPackEngine, ClipPackError
from display.voice.espeak_engine import EspeakEngine
from display.voice.gtts_engine import GttsEngine
from display.voice.settings import ENGINE_NAMES, VoiceSettings
from display.voice.speech import SpeechChain, SpeechEngine

log = logging.getLogger(__name__)


def engine_order(settings: VoiceSettings, preferred: str | None = None) -> list[str]:
    """The configured order, with `preferred` moved to the front."""
    if preferred is not None and preferred not in ENGINE_NAMES:
        raise ValueError(f"unknown engine {preferred!r} (expected one of {ENGINE_NAMES})")
    order = list(settings.engines.order)
    if preferred is not None:
        order = [preferred, *(name for name in order if name != preferred)]
    return order


def espeak_engine(settings: VoiceSettings) -> EspeakEngine:
    """The offline engine as voice.toml configures it."""
    engines = settings.engines
    return EspeakEngine(settings.announce.style, engines.speech_rate, engines.voice_vi, engines.voice_en)


def build_speech_chain(settings: VoiceSettings, preferred: str | None = None,
                       clip_pack: Path | str | None = None) -> SpeechChain:
    """Engines in order; a missing clip pack is skipped with a warning, since a fresh install has none."""
    espeak = espeak_engine(settings)
    engines: list[SpeechEngine] = []
    for name in engine_order(settings, preferred):
        if name == "clips":
            directory = Path(clip_pack or settings.engines.clip_pack)
            try:
                engines.append(ClipPackEngine(ClipPack(directory)))
            except ClipPackError as exc:
                log.warning("no clip pack: %s", exc)
        elif name == "espeak":
            engines.append(espeak)
        else:
            engines.append(GttsEngine(settings.engines.cache_dir, settings.engines.gtts_timeout_s,
                                      settings.engines.gtts_retry_after_s, settings.engines.gtts_tld,
                                      fallback=espeak))
    if not engines:
        # Only a clip pack was asked for and it is missing: espeak-ng still lets the speaker talk.
        engines.append(espeak)
    return SpeechChain(engines, settings.announce.style)
