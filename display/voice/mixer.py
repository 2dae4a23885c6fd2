"""pygame's mixer: playing through the sound card, and decoding compressed audio (gTTS's MP3)."""

from __future__ import annotations

import io
import logging
import os
import threading
import time
from types import ModuleType

from display.voice import audio

log = logging.getLogger(__name__)

_INIT_LOCK = threading.Lock()


class NoSoundCard(Exception):
    """The mixer could not open an audio device."""


def _pygame() -> ModuleType:
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    import pygame

    return pygame


def init_mixer(require_device: bool) -> tuple[int, int, int]:
    """Start the mixer in the common format; without a device, fall back to SDL's dummy driver if allowed."""
    pygame = _pygame()
    with _INIT_LOCK:
        current = pygame.mixer.get_init()
        if current:
            return current
        try:
            pygame.mixer.init(frequency=audio.SAMPLE_RATE, size=-16, channels=audio.CHANNELS, buffer=512)
        except pygame.error as exc:
            if require_device:
                raise NoSoundCard(str(exc)) from None
            # Decoding needs a running mixer but no speaker; SDL reads the variable on every init.
            os.environ["SDL_AUDIODRIVER"] = "dummy"
            pygame.mixer.init(frequency=audio.SAMPLE_RATE, size=-16, channels=audio.CHANNELS, buffer=512)
        return pygame.mixer.get_init()


def decode_audio(data: bytes) -> bytes:
    """Decode MP3, OGG or WAV bytes to PCM in the common format."""
    pygame = _pygame()
    frequency, size, channels = init_mixer(require_device=False)
    try:
        sound = pygame.mixer.Sound(file=io.BytesIO(data))
    except pygame.error as exc:
        raise ValueError(f"cannot decode audio: {exc}") from None
    return audio.convert(sound.get_raw(), frequency, abs(size) // 8, channels)


class PygameSink:
    """Plays announcements on the sound card, one at a time, and says when each started and ended."""

    name = "pygame"

    def __init__(self) -> None:
        self._pygame = _pygame()
        frequency, size, channels = init_mixer(require_device=True)
        # Another part of the process may have started the mixer in its own format first.
        if (frequency, abs(size) // 8, channels) != (audio.SAMPLE_RATE, audio.SAMPLE_WIDTH, audio.CHANNELS):
            raise NoSoundCard(f"the mixer already runs at {frequency} Hz, {channels} channels; "
                              f"clinicq plays {audio.SAMPLE_RATE} Hz mono")
        log.info("sound card ready (SDL driver %s)", os.environ.get("SDL_AUDIODRIVER", "default"))

    def play(self, pcm: bytes, volume: float, seq: int, call_id: str) -> tuple[float, float, str | None]:
        """Play to the end; returns (first sample time, end time, None)."""
        sound = self._pygame.mixer.Sound(buffer=pcm)
        sound.set_volume(max(0.0, min(1.0, volume)))
        started = time.time()
        channel = sound.play()
        while channel is not None and channel.get_busy():
            time.sleep(0.01)
        return started, time.time(), None

    def close(self) -> None:
        """Release the sound card."""
        self._pygame.mixer.quit()
