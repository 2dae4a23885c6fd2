"""The speaker side: audio helpers, engines, clip packs, the player, the MQTT agent and the commands.

MQTT tests run against a real Mosquitto; speech tests need espeak-ng (both fail in CI when missing).
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
import wave
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import paho.mqtt.client as mqtt
import pytest
from click.testing import CliRunner
from paho.mqtt.enums import CallbackAPIVersion

from display.announcement import compose_announcement
from display.cli import register
from display.voice import audio
from display.voice.agent import SpeakerAgent, in_languages, parse_announcement
from display.voice.clip_pack import ClipPack, ClipPackEngine, ClipPackError, tokenize
from display.voice.engines import build_speech_chain
from display.voice.espeak_engine import EspeakEngine
from display.voice.gtts_engine import GttsEngine, cache_key
from display.voice.player import Announcement, AnnouncementPlayer
from display.voice.settings import VoiceConfigError, VoiceSettings, load_voice_settings
from display.voice.speech import EngineError, SpeechChain
from display.voice.wav_sink import WavFileSink, read_timeline
from hub import protocol
from tests.mqtt_broker import MosquittoBroker, mosquitto_fixture
from tests.support import free_port, require_service

ROOT = Path(__file__).resolve().parents[1]
SITE = "test-site"
mosquitto = mosquitto_fixture()


def need_espeak() -> None:
    require_service("espeak-ng", shutil.which("espeak-ng") is not None, "install the Debian package espeak-ng")


def cli_group() -> click.Group:
    @click.group()
    def clinicq() -> None:
        """The main command as hub/cli.py builds it."""

    register(clinicq)
    return clinicq


def quick_settings(**audio_settings: Any) -> VoiceSettings:
    """Real settings with a short gap and a single repetition, so tests stay quick."""
    return VoiceSettings.model_validate({"announce": {"repeat": 1, "gap_ms": 100},
                                         "audio": {"chime": "generated", **audio_settings}})


def call_payload(call_id: str, ticket: str = "A023", counter: str = "Quầy 5", **fields: Any) -> bytes:
    payload = {"call_id": call_id, "text": compose_announcement(ticket, counter), "lang": "vi", "repeat": 1,
               "ts": protocol.now_ts(), "ttl_s": 120, **fields}
    return protocol.encode(payload)


def wait_until(condition: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


# ------------------------------------------------------------------------------------------ audio


def test_resample_and_convert_keep_duration() -> None:
    stereo_8bit_44k = bytes([128, 128, 255, 255, 0, 0] * 14_700)  # 44,100 frames: one second
    pcm = audio.convert(stereo_8bit_44k, 44_100, 1, 2)
    assert abs(audio.duration_s(pcm) - 1.0) < 0.01
    assert audio.peak(pcm) > 30_000


def test_read_wav_converts_any_pcm_wav(tmp_path: Path) -> None:
    path = tmp_path / "stereo.wav"
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(2)
        writer.setsampwidth(2)
        writer.setframerate(48_000)
        writer.writeframes(b"\x00\x10\x00\x10" * 24_000)
    pcm = audio.read_wav(path)
    assert abs(audio.duration_s(pcm) - 0.5) < 0.01
    assert audio.peak(pcm) == 0x1000


def test_trim_and_normalise() -> None:
    clip = audio.silence(200) + audio.tone(440, 300, level=0.1) + audio.silence(300)
    trimmed = audio.trim_silence(clip)
    assert 0.28 < audio.duration_s(trimmed) < 0.33
    assert audio.peak(audio.normalise(trimmed)) == pytest.approx(0.9 * audio.FULL_SCALE, abs=2)
    assert audio.trim_silence(audio.silence(100)) == b""
    assert audio.normalise(audio.silence(10)) == audio.silence(10)


def test_chime_is_audible() -> None:
    chime = audio.generated_chime()
    assert 1.0 < audio.duration_s(chime) < 1.5
    assert audio.rms(chime) > 1000


# --------------------------------------------------------------------------------------- settings


def test_project_voice_toml_is_valid() -> None:
    settings = load_voice_settings(ROOT / "config" / "voice.toml")
    assert settings.announce.templates["vi"] == "Mời số {ticket}, đến {counter}"
    assert settings.engines.order == ["clips", "espeak", "gtts"]


@pytest.mark.parametrize(("content", "expected"), [
    ("[announce]\nrepeat = 9\n", "[announce] repeat"),
    ("[announce]\nstyle = 'central'\n", "[announce] style"),
    ("[announce.templates]\nvi = 'Mời {patient}'\n", "unknown fields"),
    ("[announce.letters]\n'1' = 'một'\n", "[announce] letters"),
    ("[audio]\nquiet_hours = [{hours = '25:00-06:00', volume = 10}]\n", "not a time of day"),
    ("[audio]\nchime = 'no-such-chime.wav'\n", "[audio] chime"),
    ("[engines]\norder = ['clips', 'festival']\n", "[engines] order.1"),
    ("[engines]\ngtts_timeout = 2\n", "unknown key"),
    ("[announce\n", "not valid TOML"),
])
def test_settings_errors_name_file_and_key(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "voice.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(VoiceConfigError) as error:
        load_voice_settings(path)
    assert str(path) in str(error.value)
    assert expected in str(error.value)


def test_quiet_hours_lower_the_volume_across_midnight() -> None:
    settings = quick_settings(volume=80, timezone="Asia/Ho_Chi_Minh", quiet_hours=[
        {"hours": "11:30-13:30", "volume": 50}, {"hours": "21:00-06:00", "volume": 30}])

    def at(hour: int, minute: int = 0) -> datetime:  # Hanoi is UTC+7
        return datetime(2026, 11, 23, (hour - 7) % 24, minute, tzinfo=UTC)

    assert settings.audio.volume_at(at(9)) == 80
    assert settings.audio.volume_at(at(12)) == 50
    assert settings.audio.volume_at(at(13, 30)) == 80
    assert settings.audio.volume_at(at(23)) == 30
    assert settings.audio.volume_at(at(5, 59)) == 30
    assert settings.audio.volume_at(at(9), base_volume=60) == 60
    assert settings.audio.volume_at(at(12), base_volume=20) == 20  # quiet hours never make it louder


# -------------------------------------------------------------------------------------- engines


@pytest.fixture(scope="module")
def clip_pack_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clip pack built with `clinicq voice build --engine espeak`."""
    need_espeak()
    out = tmp_path_factory.mktemp("clips")
    result = CliRunner().invoke(cli_group(), ["voice", "build", "--engine", "espeak", "--out", str(out),
                                              "--voice-config", str(ROOT / "config" / "voice.toml")])
    assert result.exit_code == 0, result.output
    assert "clips (espeak, voice vi)" in result.output
    return out


def test_espeak_renders_a_call_of_plausible_length() -> None:
    need_espeak()
    engine = EspeakEngine()
    short = engine.render(compose_announcement("A023", "Quầy 5"), "vi")
    longer = engine.render(compose_announcement("B105", "Phòng 101") + ", " + compose_announcement("C024", "Quầy 12"),
                           "vi")
    # About twelve syllables at 150 words a minute: roughly three seconds.
    assert 1.5 < audio.duration_s(short) < 8.0
    assert audio.rms(short) > 500
    assert audio.duration_s(longer) > 1.6 * audio.duration_s(short)
    english = engine.render(compose_announcement("A023", "Counter 5", lang="en"), "en")
    assert 1.0 < audio.duration_s(english) < 8.0


def test_chain_feeds_words_not_digits_to_engines() -> None:
    heard: list[str] = []

    class Recorder:
        name = "recorder"

        def render(self, text: str, lang: str) -> bytes:
            heard.append(text)
            return audio.silence(10)

    SpeechChain([Recorder()], style="south").render("Mời số A 105, đến quầy 15", "vi")
    SpeechChain([Recorder()]).render("Number A 23", "en")
    assert heard == ["Mời số A một trăm lẻ năm, đến quầy mười lăm", "Number A 23"]


def test_clip_pack_joins_clips_and_refuses_unknown_words(clip_pack_dir: Path) -> None:
    pack = ClipPack(clip_pack_dir)
    engine = ClipPackEngine(pack)
    text = compose_announcement("B105", "Phòng 101")
    pcm = engine.render(text, "vi")
    assert pcm is not None and audio.rms(pcm) > 500
    assert 2.0 < audio.duration_s(pcm) < 10.0
    assert engine.render(compose_announcement("A023", "Phòng khám Nhi 2"), "vi") is None
    assert engine.render("Number A 23", "en") is None
    assert tokenize("Mời số a, , hai mươi ba.") == ["mời", "số", "a", ",", "hai", "mươi", "ba"]


def test_chain_falls_back_to_espeak_for_the_whole_sentence(clip_pack_dir: Path) -> None:
    chain = build_speech_chain(quick_settings(), clip_pack=clip_pack_dir)
    assert chain.names[:2] == ["clips", "espeak"]
    assert chain.render(compose_announcement("A023", "Quầy 5"), "vi")[1] == "clips"
    assert chain.render(compose_announcement("A023", "Phòng khám Nhi 2"), "vi")[1] == "espeak"


def test_clip_pack_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ClipPackError, match=r"manifest\.json: missing"):
        ClipPack(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"format": "clinicq-clips/1", "clips": {"mời": "x.wav"}}))
    with pytest.raises(ClipPackError, match=r"x\.wav"):
        ClipPack(tmp_path)


def test_missing_clip_pack_leaves_espeak(tmp_path: Path) -> None:
    chain = build_speech_chain(quick_settings(), "clips", clip_pack=tmp_path / "none")
    assert chain.names == ["espeak", "gtts"]


def test_gtts_offline_falls_back_to_espeak_without_delay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    need_espeak()
    # A proxy on a closed port makes gTTS fail the way a hospital LAN without internet does.
    closed = f"http://127.0.0.1:{free_port()}"
    for variable in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(variable, closed)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    from display.voice import gtts_engine

    attempts: list[str] = []

    def counting_download(*args: Any) -> bytes:
        attempts.append(args[0])
        return gtts_engine._download_mp3(*args)

    engine = GttsEngine(tmp_path, timeout_s=2.0, retry_after_s=60, fallback=EspeakEngine(),
                        download=counting_download)
    text = compose_announcement("A023", "Quầy 5")
    started = time.monotonic()
    first = engine.render(text, "vi")
    first_s = time.monotonic() - started
    started = time.monotonic()
    second = engine.render(text, "vi")
    second_s = time.monotonic() - started
    assert audio.rms(first) > 500 and audio.rms(second) > 500
    assert first_s < 3.0, f"the fallback took {first_s:.1f} s"
    assert second_s < 1.0 and len(attempts) == 1  # no second wait for the network while it is down
    assert not engine.cached_path(text, "vi").exists()  # espeak-ng's voice is never cached as Google's


def test_gtts_cache_is_keyed_by_engine_voice_and_text(tmp_path: Path) -> None:
    downloads: list[str] = []

    def fake_download(text: str, lang: str, tld: str, timeout_s: float) -> bytes:
        downloads.append(text)
        return audio.wav_bytes(audio.tone(440, 200))

    engine = GttsEngine(tmp_path, download=fake_download, decode=audio.read_wav)
    first = engine.render("xin chào", "vi")
    assert engine.render("xin chào", "vi") == first
    engine.render("xin chào", "en")
    assert downloads == ["xin chào", "xin chào"]
    assert engine.cached_path("xin chào", "vi").name == cache_key("gtts", "vi-com.vn", "xin chào") + ".wav"
    assert cache_key("gtts", "vi-com.vn", "a") != cache_key("gtts", "vi-com", "a")


def test_gtts_without_fallback_raises(tmp_path: Path) -> None:
    def failing(*args: Any) -> bytes:
        raise OSError("no route to host")

    with pytest.raises(EngineError, match="no route to host"):
        GttsEngine(tmp_path, download=failing).render("xin chào", "vi")


# --------------------------------------------------------------------------------------- player


class ToneSpeech:
    """A renderer that needs no engine: one short tone per call, or a failure for the word 'hỏng'."""

    def render(self, text: str, lang: str) -> tuple[bytes, str]:
        if "hỏng" in text:
            raise EngineError("broken engine")
        return audio.tone(440, 200), "tone"


def test_player_survives_a_failing_call_and_drops_stale_ones(tmp_path: Path) -> None:
    sink = WavFileSink(tmp_path)
    played = []
    player = AnnouncementPlayer(ToneSpeech(), sink, gap_ms=0, on_played=played.append)
    player.start()
    player.submit(Announcement("c1", "hỏng"))
    player.submit(Announcement("c2", "stale", ts=time.time() - 500, ttl_s=120))
    player.submit(Announcement("c3", "ok"))
    assert player.wait_idle(10)
    player.stop()
    assert [record.call_id for record in played] == ["c3"]
    assert [entry["call_id"] for entry in read_timeline(tmp_path)] == ["c3"]


def test_pygame_sink_plays_through_the_sdl_disk_driver(tmp_path: Path) -> None:
    need_espeak()
    raw = tmp_path / "card.raw"
    env = {**os.environ, "SDL_AUDIODRIVER": "disk", "SDL_DISKAUDIOFILE": str(raw), "SDL_DISKAUDIODELAY": "0"}
    result = subprocess.run([sys.executable, "-m", "display.cli", "announce", "A023", "Quầy 5", "--engine", "espeak",
                             "--voice-config", str(ROOT / "config" / "voice.toml")],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "Mời số a, hai mươi ba, đến quầy số năm"
    assert "to the sound card" in result.stderr
    seconds = float(result.stderr.split("espeak: ")[1].split(" s")[0])
    assert raw.stat().st_size >= 0.9 * seconds * audio.SAMPLE_RATE * audio.SAMPLE_WIDTH
    assert audio.rms(raw.read_bytes()) > 300


# ---------------------------------------------------------------------------------------- commands


def test_announce_prints_the_text(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli_group(), ["announce", "A023", "Quầy 5", "--text-only"])
    assert result.exit_code == 0
    assert result.output == "Mời số a, hai mươi ba, đến quầy số năm\n"
    result = runner.invoke(cli_group(), ["announce", "B105", "Phòng 101", "--style", "south", "--reading", "digits",
                                         "--text-only"])
    assert result.output == "Mời số bê, một không năm, đến phòng một trăm lẻ một\n"
    result = runner.invoke(cli_group(), ["announce", "A023", "Counter 5", "--lang", "en", "--text-only"])
    assert result.output == "Number A 23, please go to Counter 5\n"
    result = runner.invoke(cli_group(), ["announce", "A0B", "Quầy 5", "--text-only"])
    assert result.exit_code == 2 and "ticket number" in result.output


def test_announce_renders_a_wav(tmp_path: Path) -> None:
    need_espeak()
    out = tmp_path / "call.wav"
    result = CliRunner().invoke(cli_group(), ["announce", "A023", "Quầy 5", "--out", str(out), "--engine", "espeak",
                                              "--voice-config", str(ROOT / "config" / "voice.toml")])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "Mời số a, hai mươi ba, đến quầy số năm"
    pcm = audio.read_wav(out)
    assert 2.5 < audio.duration_s(pcm) < 10.0  # chime, gap and about three seconds of speech
    assert audio.rms(pcm) > 300


# ------------------------------------------------------------------------------------- MQTT agent


def test_parse_announcement_rejects_what_it_cannot_say() -> None:
    assert parse_announcement(call_payload("c1")).text == "Mời số a, hai mươi ba, đến quầy số năm"
    for bad in (b"not json", b"[1]", protocol.encode({"text": "x", "ts": 1, "ttl_s": 1}),
                protocol.encode({"call_id": "c", "text": " ", "ts": 1, "ttl_s": 1}),
                protocol.encode({"call_id": "c", "text": "x", "lang": "fr", "ts": 1, "ttl_s": 1}),
                protocol.encode({"call_id": "c", "text": "x", "repeat": 9, "ts": 1, "ttl_s": 1}),
                protocol.encode({"call_id": "c", "text": "x", "ts": "soon", "ttl_s": 1})):
        with pytest.raises(ValueError):
            parse_announcement(bad)


def test_english_wording_follows_the_speakers_languages() -> None:
    call = parse_announcement(call_payload("c1", text_en="Number A 23, please go to Counter 5",
                                            ticket="A023", counter_name="Quầy 5", recall=False))
    assert call.text_en == "Number A 23, please go to Counter 5"
    assert in_languages(call, ("vi", "en")) == call
    assert in_languages(call, ("vi",)).text_en is None
    english_only = in_languages(call, ("en",))
    assert (english_only.lang, english_only.text, english_only.text_en) == ("en", call.text_en, None)
    assert in_languages(parse_announcement(call_payload("c2")), ("en",)) is None
    with pytest.raises(ValueError, match="text_en"):
        parse_announcement(call_payload("c3", text_en=5))


def test_player_says_the_english_wording_after_the_vietnamese(tmp_path: Path) -> None:
    player = AnnouncementPlayer(ToneSpeech(), WavFileSink(tmp_path), gap_ms=100, default_repeat=1)
    alone = player.play_now(Announcement("vi-only", "Mời số a"))
    both = player.play_now(Announcement("vi-en", "Mời số a", text_en="Number A"))
    assert alone.engine == "tone" and both.engine == "tone+tone"
    durations = [entry["duration_s"] for entry in read_timeline(tmp_path)]
    assert durations[1] == pytest.approx(2 * durations[0] + 0.1, abs=0.01)


class Observer:
    """A test client that records every message on the topics it follows."""

    def __init__(self, broker: MosquittoBroker, topics: list[str]) -> None:
        self.messages: list[tuple[str, bytes, bool]] = []
        self._lock = threading.Lock()
        self.subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"observer-{uuid.uuid4().hex[:8]}")
        self.client.on_connect = lambda client, *_: client.subscribe([(topic, 1) for topic in topics])
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_disconnect = lambda *_: self.subscribed.clear()
        self.client.on_message = self._record
        self.client.connect_async(broker.host, broker.port)
        self.client.loop_start()
        assert self.subscribed.wait(10), "the observer could not subscribe"

    def _record(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((message.topic, message.payload, message.retain))

    def payloads(self, topic: str) -> list[Any]:
        with self._lock:
            return [protocol.decode(payload) if payload else None for t, payload, _ in self.messages if t == topic]

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class SpeakerRig:
    """A speaker agent writing WAV files, and an observer of its device topics."""

    def __init__(self, broker: MosquittoBroker, out_dir: Path, speech: Any, settings: VoiceSettings,
                 pace: float = 0.0, config: dict | None = None) -> None:
        self.topics = protocol.Topics(SITE)
        self.speaker_id = f"spk-{uuid.uuid4().hex[:8]}"
        self.zone = f"zone-{uuid.uuid4().hex[:6]}"
        self.out_dir = out_dir
        self.observer = Observer(broker, [self.topics.device(agent_type, self.speaker_id) + "/#"
                                          for agent_type in ("speaker",)])
        if config is not None:
            self.observer.publish(self.topics.device_config("speaker", self.speaker_id), protocol.encode(config),
                                  retain=True)
        self.agent = SpeakerAgent(SITE, self.speaker_id, self.zone, speech, WavFileSink(out_dir, pace=pace), settings,
                                  host=broker.host, port=broker.port, chime=audio.load_chime("generated"),
                                  engines=["test"], heartbeat_s=0.5)
        self.agent.start()
        assert self.agent.connected.wait(10), "the speaker did not connect"

    def announce(self, payload: bytes, zone: str | None = None) -> None:
        self.observer.publish(self.topics.announce(zone or self.zone), payload)

    def played(self) -> list[dict]:
        return self.observer.payloads(self.topics.device_event("speaker", self.speaker_id, "played"))

    def wait_played(self, count: int, timeout: float = 30.0) -> list[dict]:
        assert wait_until(lambda: len(self.played()) >= count, timeout), f"played only {self.played()}"
        return self.played()

    def close(self) -> None:
        self.agent.stop()
        self.observer.publish(self.topics.device_config("speaker", self.speaker_id), b"", retain=True)
        self.observer.close()


@pytest.fixture
def rig_factory(mosquitto: MosquittoBroker, tmp_path: Path) -> Iterator[Callable[..., SpeakerRig]]:
    rigs: list[SpeakerRig] = []

    def make(speech: Any = None, settings: VoiceSettings | None = None, **options: Any) -> SpeakerRig:
        rig = SpeakerRig(mosquitto, tmp_path / f"out{len(rigs)}", speech or ToneSpeech(),
                         settings or quick_settings(), **options)
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        rig.close()


def test_burst_of_ten_calls_plays_in_order_without_overlap(rig_factory: Callable[..., SpeakerRig],
                                                           clip_pack_dir: Path) -> None:
    chain = build_speech_chain(quick_settings(), clip_pack=clip_pack_dir)
    # A small pace gives every announcement a real duration, so an overlap would show in the timestamps.
    rig = rig_factory(speech=chain, pace=0.05)
    call_ids = [f"call-{n:02d}" for n in range(1, 11)]
    started = time.monotonic()
    for n, call_id in enumerate(call_ids, start=1):
        rig.announce(call_payload(call_id, ticket=f"A{n:03d}"))
    assert time.monotonic() - started < 1.0
    played = rig.wait_played(10, timeout=60)
    assert [event["call_id"] for event in played] == call_ids
    assert all(isinstance(event["latency_ms"], int) and event["latency_ms"] >= 0 for event in played)
    timeline = read_timeline(rig.out_dir)
    assert [entry["call_id"] for entry in timeline] == call_ids
    assert [entry["seq"] for entry in timeline] == list(range(1, 11))
    for before, after in itertools.pairwise(timeline):
        assert after["started_at"] >= before["ended_at"], f"{after['call_id']} overlaps {before['call_id']}"
    for entry in timeline:
        pcm = audio.read_wav(rig.out_dir / entry["file"])
        assert entry["file"].endswith(f"-{entry['call_id']}.wav")
        assert audio.duration_s(pcm) > 3.0 and audio.rms(pcm) > 300
    assert played[0]["latency_ms"] < 1000  # the first call waits for nobody


def test_expired_call_is_dropped(rig_factory: Callable[..., SpeakerRig], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="display.voice")
    rig = rig_factory()
    rig.announce(call_payload("stale", ts=protocol.now_ts() - 300, ttl_s=120))
    rig.announce(call_payload("fresh"))
    assert [event["call_id"] for event in rig.wait_played(1)] == ["fresh"]
    assert [entry["call_id"] for entry in read_timeline(rig.out_dir)] == ["fresh"]
    assert "dropped call stale" in caplog.text


def test_malformed_payloads_are_logged_and_dropped(rig_factory: Callable[..., SpeakerRig],
                                                   caplog: pytest.LogCaptureFixture) -> None:
    rig = rig_factory()
    bad_payloads = [b"not json", b"\xff\xfe", b"42", protocol.encode({"text": "Mời số a", "ts": 1, "ttl_s": 1}),
                    json.dumps({"call_id": "x", "text": "", "ts": protocol.now_ts(), "ttl_s": 60}).encode(),
                    call_payload("bad-lang", lang="fr"), call_payload("bad-repeat", repeat=0),
                    call_payload("no-ts", ts=None)]
    for payload in bad_payloads:
        rig.announce(payload)
    rig.announce(call_payload("good"))
    assert [event["call_id"] for event in rig.wait_played(1)] == ["good"]
    assert caplog.text.count("dropped a malformed announcement") == len(bad_payloads)
    assert rig.agent.client.is_connected()


def test_a_call_delivered_twice_is_said_once(rig_factory: Callable[..., SpeakerRig]) -> None:
    rig = rig_factory()
    rig.announce(call_payload("twice"))
    rig.announce(call_payload("twice"))
    rig.announce(call_payload("after"))
    assert [event["call_id"] for event in rig.wait_played(2)] == ["twice", "after"]


def test_status_info_and_rebirth(rig_factory: Callable[..., SpeakerRig]) -> None:
    rig = rig_factory()
    status_topic = rig.topics.device_status("speaker", rig.speaker_id)
    info_topic = rig.topics.device_info("speaker", rig.speaker_id)
    assert wait_until(lambda: rig.observer.payloads(status_topic) == ["online"])
    assert wait_until(lambda: bool(rig.observer.payloads(info_topic)))
    info = rig.observer.payloads(info_topic)[-1]
    assert info["zone"] == rig.zone and info["model"] == "clinicq-speaker" and "announce" in info["capabilities"]
    assert wait_until(lambda: bool(rig.observer.payloads(rig.topics.device_tele("speaker", rig.speaker_id))), 5)
    rig.observer.clear()
    rig.observer.publish(rig.topics.hub_rebirth, protocol.encode({"ts": protocol.now_ts()}))
    assert wait_until(lambda: rig.observer.payloads(status_topic) == ["online"])
    assert wait_until(lambda: len(rig.observer.payloads(info_topic)) == 1)


def test_retained_config_sets_volume_language_and_zone(rig_factory: Callable[..., SpeakerRig]) -> None:
    rig = rig_factory(config={"volume": 10, "language": "vi"})
    rig.announce(call_payload("quiet"))
    rig.announce(call_payload("english", lang="en"))
    rig.announce(call_payload("after"))
    assert [event["call_id"] for event in rig.wait_played(2)] == ["quiet", "after"]
    assert read_timeline(rig.out_dir)[0]["volume"] == pytest.approx(0.1)
    old_zone = rig.zone
    config_topic = rig.topics.device_config("speaker", rig.speaker_id)
    rig.observer.publish(config_topic, protocol.encode({"volume": 90, "zone": "zone-moved"}), retain=True)
    info_topic = rig.topics.device_info("speaker", rig.speaker_id)
    assert wait_until(lambda: (rig.observer.payloads(info_topic) or [{}])[-1].get("zone") == "zone-moved")
    rig.announce(call_payload("old-zone"), zone=old_zone)
    rig.announce(call_payload("new-zone"), zone="zone-moved")
    assert [event["call_id"] for event in rig.wait_played(3)][-1] == "new-zone"
    assert read_timeline(rig.out_dir)[-1]["volume"] == pytest.approx(0.9)
    assert "old-zone" not in [event["call_id"] for event in rig.played()]


def test_speaker_reconnects_after_the_broker_restarts(rig_factory: Callable[..., SpeakerRig],
                                                      mosquitto: MosquittoBroker) -> None:
    rig = rig_factory()
    rig.agent.connected.clear()
    mosquitto.restart()
    assert rig.agent.connected.wait(15), "the speaker did not reconnect"
    status_topic = rig.topics.device_status("speaker", rig.speaker_id)
    assert rig.observer.subscribed.wait(15), "the observer did not reconnect"
    assert wait_until(lambda: "online" in rig.observer.payloads(status_topic), 10)
    rig.announce(call_payload("after-restart"))
    assert [event["call_id"] for event in rig.wait_played(1)] == ["after-restart"]


def test_speaker_command_plays_and_leaves_a_last_will(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    need_espeak()
    topics = protocol.Topics(SITE)
    speaker_id, zone = f"cli-{uuid.uuid4().hex[:6]}", "sanh-a"
    status_topic = topics.device_status("speaker", speaker_id)
    observer = Observer(mosquitto, [topics.device("speaker", speaker_id) + "/#"])
    log_file = (tmp_path / "speaker.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "display.cli", "speaker", "--zone", zone, "--hub-mqtt", mosquitto.url,
         "--engine", "espeak", "--out-dir", str(tmp_path / "out"), "--id", speaker_id, "--site", SITE,
         "--voice-config", str(ROOT / "config" / "voice.toml")],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log_file)
    out_dir = tmp_path / "out"
    try:
        assert wait_until(lambda: "online" in observer.payloads(status_topic), 20), \
            f"the speaker never came online: {(tmp_path / 'speaker.log').read_text()}"
        observer.publish(topics.announce(zone), call_payload("from-cli"))
        played_topic = topics.device_event("speaker", speaker_id, "played")
        assert wait_until(lambda: bool(observer.payloads(played_topic)), 30)
        assert observer.payloads(played_topic)[0]["call_id"] == "from-cli"
        assert [entry["call_id"] for entry in read_timeline(out_dir)] == ["from-cli"]
        observer.clear()
        process.send_signal(signal.SIGKILL)  # no goodbye: only the Last Will can say it went away
        process.wait(10)
        assert wait_until(lambda: "offline" in observer.payloads(status_topic), 10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        log_file.close()
        observer.publish(status_topic, b"", retain=True)
        observer.publish(topics.device_info("speaker", speaker_id), b"", retain=True)
        observer.close()


def test_the_admin_pages_speaker_test_plays_its_phrase(rig_factory: Callable[..., SpeakerRig]) -> None:
    rig = rig_factory()
    command = {"req_id": "test-0a1b2c", "ts": protocol.now_ts(), "ttl_s": 30,
               "text": "Đây là câu thử loa của hệ thống gọi số.", "lang": "vi"}
    rig.observer.publish(rig.topics.device_command("speaker", rig.speaker_id, "say"), protocol.encode(command))
    [played] = rig.wait_played(1)
    assert played["call_id"] == "test-0a1b2c"
    stale = {**command, "req_id": "test-old", "ts": protocol.now_ts() - 120}
    rig.observer.publish(rig.topics.device_command("speaker", rig.speaker_id, "say"), protocol.encode(stale))
    rig.observer.publish(rig.topics.device_command("speaker", rig.speaker_id, "say"), b"not json")
    time.sleep(1.0)
    assert [p["call_id"] for p in rig.played()] == ["test-0a1b2c"]  # an old test is dropped, never replayed
