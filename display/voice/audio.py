"""PCM in one format everywhere: 16-bit signed little-endian mono at 22,050 Hz (standard library only).

espeak-ng and pyttsx3 write exactly this, so their clips need no conversion; anything else (a recorded
clip pack, a chime file, gTTS's MP3 decoded by pygame) is converted once when loaded. `audioop` is
avoided: it is gone from Python 3.13.
"""

from __future__ import annotations

import io
import math
import sys
import wave
from array import array
from collections.abc import Iterable
from pathlib import Path

SAMPLE_RATE = 22_050
SAMPLE_WIDTH = 2
CHANNELS = 1
FULL_SCALE = 32_767


def _samples(pcm: bytes) -> array:
    samples = array("h", pcm[: len(pcm) - len(pcm) % 2])
    if sys.byteorder == "big":
        samples.byteswap()
    return samples


def _pcm(samples: array) -> bytes:
    if sys.byteorder == "big":
        samples = array("h", samples)
        samples.byteswap()
    return samples.tobytes()


def _clamp(value: float) -> int:
    return max(-FULL_SCALE - 1, min(FULL_SCALE, round(value)))


def duration_s(pcm: bytes) -> float:
    """Length of a clip in seconds."""
    return len(pcm) / (SAMPLE_WIDTH * SAMPLE_RATE)


def silence(ms: float) -> bytes:
    """A clip of silence."""
    return bytes(SAMPLE_WIDTH * int(SAMPLE_RATE * ms / 1000))


def peak(pcm: bytes) -> int:
    """The largest absolute sample."""
    samples = _samples(pcm)
    return max((abs(s) for s in samples), default=0)


def rms(pcm: bytes) -> float:
    """Root mean square of the samples, 0 for silence."""
    samples = _samples(pcm)
    if not samples:
        return 0.0
    return math.sqrt(sum(s * s for s in samples) / len(samples))


def scale(pcm: bytes, factor: float) -> bytes:
    """Multiply every sample (volume); clips instead of wrapping around."""
    if factor == 1:
        return pcm
    return _pcm(array("h", (_clamp(s * factor) for s in _samples(pcm))))


def normalise(pcm: bytes, target_peak: float = 0.9) -> bytes:
    """Scale so the loudest sample sits at `target_peak` of full scale; silence stays silent."""
    loudest = peak(pcm)
    if loudest == 0:
        return pcm
    return scale(pcm, target_peak * FULL_SCALE / loudest)


def trim_silence(pcm: bytes, threshold: float = 0.02, keep_ms: float = 10) -> bytes:
    """Cut leading and trailing samples quieter than `threshold` of full scale, keeping a little margin."""
    samples = _samples(pcm)
    limit = threshold * FULL_SCALE
    first = next((i for i, s in enumerate(samples) if abs(s) > limit), None)
    if first is None:
        return b""
    last = next(i for i in range(len(samples) - 1, -1, -1) if abs(samples[i]) > limit)
    margin = int(SAMPLE_RATE * keep_ms / 1000)
    start, end = max(0, first - margin), min(len(samples), last + 1 + margin)
    return _pcm(samples[start:end])


def join(clips: Iterable[bytes], gap_ms: float = 0) -> bytes:
    """Concatenate clips with an optional fixed silence between them."""
    gap = silence(gap_ms) if gap_ms else b""
    return gap.join(clips)


def _to_int16(frames: bytes, width: int) -> array:
    if width == 2:
        return _samples(frames)
    if width == 1:  # WAV stores 8-bit audio unsigned.
        return array("h", ((b - 128) << 8 for b in frames))
    if width == 3:
        return array("h", (int.from_bytes(frames[i + 1:i + 3], "little", signed=True)
                           for i in range(0, len(frames) - 2, 3)))
    if width == 4:
        wide = array("i", frames)
        if sys.byteorder == "big":
            wide.byteswap()
        return array("h", (s >> 16 for s in wide))
    raise ValueError(f"unsupported sample width of {width} bytes")


def _to_mono(samples: array, channels: int) -> array:
    if channels == 1:
        return samples
    return array("h", (sum(samples[i:i + channels]) // channels for i in range(0, len(samples), channels)))


def resample(samples: array, rate: int) -> array:
    """Linear interpolation to SAMPLE_RATE; plenty for speech, and it keeps the code dependency-free."""
    if rate == SAMPLE_RATE or not samples:
        return samples
    count = max(1, int(len(samples) * SAMPLE_RATE / rate))
    step = rate / SAMPLE_RATE
    last = len(samples) - 1
    out = array("h", bytes(2 * count))
    for i in range(count):
        position = i * step
        left = int(position)
        if left >= last:
            out[i] = samples[last]
            continue
        fraction = position - left
        out[i] = int(samples[left] + (samples[left + 1] - samples[left]) * fraction)
    return out


def convert(frames: bytes, rate: int, width: int, channels: int) -> bytes:
    """Convert raw interleaved PCM to the common format."""
    return _pcm(resample(_to_mono(_to_int16(frames, width), channels), rate))


def read_wav(source: Path | str | bytes) -> bytes:
    """Load a WAV file (or its bytes) and convert it to the common format."""
    handle = io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")  # noqa: SIM115
    with handle, wave.open(handle, "rb") as reader:
        if reader.getcomptype() != "NONE":
            raise ValueError(f"compressed WAV ({reader.getcomptype()}) is not supported")
        frames = reader.readframes(reader.getnframes())
        return convert(frames, reader.getframerate(), reader.getsampwidth(), reader.getnchannels())


def wav_bytes(pcm: bytes) -> bytes:
    """A complete WAV file holding the clip."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(CHANNELS)
        writer.setsampwidth(SAMPLE_WIDTH)
        writer.setframerate(SAMPLE_RATE)
        writer.writeframes(pcm)
    return buffer.getvalue()


def write_wav(path: Path | str, pcm: bytes) -> None:
    """Write the clip as a WAV file, replacing it atomically so readers never see half a file."""
    target = Path(path)
    partial = target.with_name(target.name + ".part")
    partial.write_bytes(wav_bytes(pcm))
    partial.replace(target)


def tone(frequency: float, ms: float, level: float = 0.5, decay: float = 4.0) -> bytes:
    """A sine tone that fades out like a struck bell."""
    count = int(SAMPLE_RATE * ms / 1000)
    attack = max(1, int(SAMPLE_RATE * 0.005))  # A 5 ms ramp avoids a click at the start.
    samples = array("h", bytes(2 * count))
    for i in range(count):
        t = i / SAMPLE_RATE
        envelope = min(1.0, i / attack) * math.exp(-decay * t)
        samples[i] = _clamp(level * FULL_SCALE * envelope * math.sin(2 * math.pi * frequency * t))
    return _pcm(samples)


def generated_chime() -> bytes:
    """The default "ding-dong" played before each announcement (E5 then C5)."""
    return join([tone(659.25, 450), tone(523.25, 700)], gap_ms=0)


def load_chime(setting: str) -> bytes:
    """The chime voice.toml asks for: "generated", "none", or a WAV file's path."""
    if setting == "generated":
        return generated_chime()
    if setting == "none":
        return b""
    return read_wav(setting)
