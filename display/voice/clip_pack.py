"""Pre-rendered clip packs: one WAV per word or fixed phrase, joined into a sentence in a few milliseconds.

A pack is a folder with `manifest.json` and its clips. `clinicq voice build` makes one from espeak-ng or
gTTS; a hospital may record its own voice instead and list the files in the manifest (any WAV format
is converted on load). A sentence with a word the pack lacks is not patched together from two voices:
the engine says it cannot, and the next engine renders the whole sentence.
"""

from __future__ import annotations

import json
import logging
import re
import string
import unicodedata
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

from display.vietnamese_numbers import (
    DIGIT_WORDS,
    LETTER_NAMES,
    MILLION_WORD,
    PLACE_WORDS,
    THOUSAND_WORD,
    ZERO_TENS_WORD,
)
from display.voice import audio
from display.voice.settings import VoiceSettings
from display.voice.speech import EngineError, SpeechEngine

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
FORMAT = "clinicq-clips/1"
PAUSE = ","
NUMBER_WORDS = (*DIGIT_WORDS, "mười", "mươi", "mốt", "tư", "lăm", "trăm", MILLION_WORD,
                *ZERO_TENS_WORD.values(), *THOUSAND_WORD.values())
_TOKEN = re.compile(r"[^\W\d_]+|\d+|[,;.:!?]")


class ClipPackError(Exception):
    """A clip pack cannot be loaded or built; the message names the file."""


def tokenize(text: str) -> list[str]:
    """Lower-case words, with "," standing for any pause mark; leading, trailing and double pauses dropped."""
    tokens: list[str] = []
    for token in _TOKEN.findall(unicodedata.normalize("NFC", text).lower()):
        if token in ",;.:!?":
            if tokens and tokens[-1] != PAUSE:
                tokens.append(PAUSE)
        else:
            tokens.append(token)
    while tokens and tokens[-1] == PAUSE:
        tokens.pop()
    return tokens


def phrase_key(phrase: str) -> str:
    """How a phrase is looked up: its words in lower case, pauses removed."""
    return " ".join(token for token in tokenize(phrase) if token != PAUSE)


def _slug(phrase: str) -> str:
    plain = unicodedata.normalize("NFD", phrase.replace("đ", "d").replace("Đ", "D"))
    ascii_only = "".join(ch for ch in plain if not unicodedata.combining(ch)).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_only.lower()).strip("-") or "clip"


class ClipPack:
    """The clips of a pack, loaded into memory and converted to the common format."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        manifest_path = self.directory / MANIFEST
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ClipPackError(f"{manifest_path}: missing (build a pack with `clinicq voice build`)") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ClipPackError(f"{manifest_path}: not valid JSON: {exc}") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise ClipPackError(f"{manifest_path}: expected \"format\": \"{FORMAT}\"")
        clips = manifest.get("clips")
        if not isinstance(clips, dict) or not clips:
            raise ClipPackError(f"{manifest_path}: \"clips\" must map phrases to WAV files")
        self.lang = str(manifest.get("lang", "vi"))
        self.engine = str(manifest.get("engine", "recorded"))
        self.voice = str(manifest.get("voice", ""))
        self.word_gap = audio.silence(float(manifest.get("word_gap_ms", 60)))
        self.pause = audio.silence(float(manifest.get("pause_ms", 250)))
        self.clips: dict[str, bytes] = {}
        for phrase, file_name in clips.items():
            try:
                self.clips[phrase_key(phrase)] = audio.read_wav(self.directory / file_name)
            except (OSError, EOFError, ValueError) as exc:
                raise ClipPackError(f"{manifest_path}: clip {phrase!r} ({file_name}): {exc}") from None
        self.longest_phrase = max(len(key.split()) for key in self.clips)

    def pieces(self, text: str) -> list[bytes] | None:
        """Clips and pauses for the text, longest phrases first; None when a word has no clip."""
        tokens = tokenize(text)
        pieces: list[bytes] = []
        index = 0
        while index < len(tokens):
            if tokens[index] == PAUSE:
                pieces.append(self.pause)
                index += 1
                continue
            for length in range(min(self.longest_phrase, len(tokens) - index), 0, -1):
                words = tokens[index:index + length]
                clip = None if PAUSE in words else self.clips.get(" ".join(words))
                if clip is not None:
                    if pieces and pieces[-1] is not self.pause:
                        pieces.append(self.word_gap)
                    pieces.append(clip)
                    index += length
                    break
            else:
                log.debug("clip pack %s has no clip for %r", self.directory, tokens[index])
                return None
        return pieces


class ClipPackEngine:
    """A SpeechEngine over a clip pack; it renders only sentences made entirely of its clips."""

    name = "clips"

    def __init__(self, pack: ClipPack) -> None:
        self.pack = pack

    def render(self, text: str, lang: str) -> bytes | None:
        """The joined clips, or None so the next engine says the whole sentence."""
        if lang != self.pack.lang:
            return None
        pieces = self.pack.pieces(text)
        return None if pieces is None else b"".join(pieces)


def template_phrases(template: str) -> list[str]:
    """The fixed phrases of a template: "Mời số {ticket}, đến {counter}" -> ["mời số", "đến"]."""
    phrases = []
    for literal, _, _, _ in string.Formatter().parse(template):
        current: list[str] = []
        for token in [*tokenize(literal), PAUSE]:
            if token == PAUSE:
                if current:
                    phrases.append(" ".join(current))
                current = []
            else:
                current.append(token)
    return phrases


def clip_vocabulary(settings: VoiceSettings) -> list[str]:
    """Every phrase and word a Vietnamese announcement needs: template phrases, numbers, letters, places."""
    letter_names = {**LETTER_NAMES, **settings.announce.letters}.values()
    candidates: Iterable[str] = [
        *template_phrases(settings.announce.templates["vi"]),
        *NUMBER_WORDS,
        *(word for name in letter_names for word in tokenize(name)),
        *sorted(PLACE_WORDS),
        *settings.engines.extra_phrases,
    ]
    vocabulary: list[str] = []
    for phrase in candidates:
        key = phrase_key(phrase)
        if key and key not in vocabulary:
            vocabulary.append(key)
    return vocabulary


def build_clip_pack(engine: SpeechEngine, out_dir: Path | str, phrases: Iterable[str], lang: str = "vi",
                    voice: str = "", progress: Callable[[str], None] | None = None) -> Path:
    """Render each phrase once, trim its silence, normalise its level, and write the pack with its manifest."""
    directory = Path(out_dir)
    directory.mkdir(parents=True, exist_ok=True)
    clips: dict[str, str] = {}
    for index, phrase in enumerate(phrases, start=1):
        pcm = engine.render(phrase, lang)
        if pcm is None:
            raise EngineError(f"engine {engine.name} cannot say {phrase!r}")
        trimmed = audio.trim_silence(pcm)
        if not trimmed:
            raise EngineError(f"engine {engine.name} rendered silence for {phrase!r}")
        file_name = f"{index:03d}-{_slug(phrase)}.wav"
        audio.write_wav(directory / file_name, audio.normalise(trimmed))
        clips[phrase] = file_name
        if progress:
            progress(phrase)
    manifest = {
        "format": FORMAT, "engine": engine.name, "voice": voice, "lang": lang,
        "sample_rate": audio.SAMPLE_RATE, "word_gap_ms": 60, "pause_ms": 250,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"), "clips": clips,
    }
    manifest_path = directory / MANIFEST
    manifest_path.write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return manifest_path
