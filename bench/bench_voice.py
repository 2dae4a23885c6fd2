"""Call -> first audio sample on the speaker, from the clip pack and from espeak-ng (target: under 300 ms from clips).

Each call goes the way the speaker takes it: the sentence is rendered by the engine chain, joined with
the chime, handed to pygame's mixer (SDL's dummy driver when there is no sound card) and started; the
time is taken when the first sample is handed over. The sound card's own buffer adds about
512 / 22,050 s = 23 ms. With --mqtt, the same is measured end to end through a broker and a running
speaker agent (the `latency_ms` of `evt/played`). Prints a table and one JSON line; never fails on time.

    .venv/bin/python bench/bench_voice.py [--calls 30] [--clip-pack DIR] [--mqtt mqtt://127.0.0.1:1883]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from display.announcement import compose_announcement
from display.voice import audio
from display.voice.clip_pack import build_clip_pack, clip_vocabulary
from display.voice.engines import build_speech_chain, espeak_engine
from display.voice.player import Announcement, AnnouncementPlayer
from display.voice.settings import VoiceSettings, load_voice_settings

TARGET_MS = 300
COUNTERS = ("Quầy 1", "Quầy 5", "Phòng 101", "Phòng 12", "Quầy 21")


class MixerStartSink:
    """Starts the sound in pygame's mixer, notes the time, and stops it at once (the benchmark needs no audio)."""

    name = "pygame-start"

    def __init__(self) -> None:
        from display.voice import mixer

        mixer.init_mixer(require_device=False)
        self._pygame = mixer._pygame()

    def play(self, pcm: bytes, volume: float, seq: int, call_id: str) -> tuple[float, float, str | None]:
        sound = self._pygame.mixer.Sound(buffer=pcm)
        sound.set_volume(volume)
        channel = sound.play()
        started = time.time()
        if channel is not None:
            channel.stop()
        return started, time.time(), None

    def close(self) -> None:
        pass


def calls(count: int) -> list[tuple[str, str]]:
    """Ticket numbers and sentences, varied so no cache hides the work."""
    result = []
    for n in range(count):
        ticket = f"{'ABC'[n % 3]}{(n * 37) % 1000:03d}"
        result.append((ticket, compose_announcement(ticket, COUNTERS[n % len(COUNTERS)])))
    return result


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"n": len(ordered), "first_ms": round(samples[0], 1), "p50_ms": round(statistics.median(ordered), 1),
            "p90_ms": round(pick(0.9), 1), "p99_ms": round(pick(0.99), 1), "max_ms": round(ordered[-1], 1),
            "mean_ms": round(statistics.fmean(ordered), 1)}


def measure_in_process(settings: VoiceSettings, engine: str, clip_pack: Path, count: int) -> dict[str, Any]:
    chain = build_speech_chain(settings, engine, clip_pack)
    player = AnnouncementPlayer(chain, MixerStartSink(), chime=audio.load_chime(settings.audio.chime),
                                gap_ms=settings.announce.gap_ms, default_repeat=settings.announce.repeat)
    latencies, engines_used = [], set()
    for n, (_, text) in enumerate(calls(count)):
        called_at = time.time()
        record = player.play_now(Announcement(f"bench-{engine}-{n}", text, ts=called_at))
        assert record is not None
        latencies.append((record.started_at - called_at) * 1000)
        engines_used.add(record.engine)
    return {"engine": engine, "spoken_by": sorted(engines_used), **summary(latencies)}


def measure_over_mqtt(settings: VoiceSettings, engine: str, clip_pack: Path, count: int, url: str) -> dict[str, Any]:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from display.voice.agent import SpeakerAgent, parse_mqtt_url
    from hub import protocol

    host, port, _, _ = parse_mqtt_url(url)
    site, zone, speaker_id = "bench", f"bench-{engine}", f"bench-{engine}"
    topics = protocol.Topics(site)
    chain = build_speech_chain(settings, engine, clip_pack)
    agent = SpeakerAgent(site, speaker_id, zone, chain, MixerStartSink(), settings, host=host, port=port,
                         chime=audio.load_chime(settings.audio.chime), engines=chain.names)
    played: list[int] = []
    done = threading.Event()

    def on_message(client: Any, userdata: Any, message: Any) -> None:
        played.append(protocol.decode(message.payload)["latency_ms"])
        if len(played) >= count:
            done.set()

    observer = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-voice-observer")
    observer.on_message = on_message
    observer.connect(host, port)
    observer.subscribe(topics.device_event("speaker", speaker_id, "played"), 1)
    observer.loop_start()
    agent.start()
    if not agent.connected.wait(10):
        raise RuntimeError(f"the speaker could not reach {url}")
    for n, (_, text) in enumerate(calls(count)):
        payload = {"call_id": f"mqtt-{n}", "text": text, "lang": "vi", "repeat": 1, "ts": protocol.now_ts(),
                   "ttl_s": 120}
        observer.publish(topics.announce(zone), protocol.encode(payload), qos=1)
        time.sleep(0.05)  # one call at a time, so the number measures the path and not the queue
        agent.player.wait_idle(30)
    done.wait(30)
    agent.stop()
    observer.loop_stop()
    observer.disconnect()
    return {"engine": f"{engine} via MQTT", "spoken_by": chain.names[:1], **summary([float(ms) for ms in played])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--clip-pack", type=Path, default=None, help="Clip pack (default: build one with espeak-ng)")
    parser.add_argument("--voice-config", default=None)
    parser.add_argument("--mqtt", default=None, help="Also measure through this broker: mqtt://HOST:PORT")
    args = parser.parse_args()
    settings = load_voice_settings(args.voice_config)
    settings = settings.model_copy(update={"announce": settings.announce.model_copy(update={"repeat": 1})})

    workdir = Path(tempfile.mkdtemp(prefix="clinicq-bench-voice-"))
    clip_pack = args.clip_pack
    if clip_pack is None:
        clip_pack = workdir / "clips"
        started = time.perf_counter()
        build_clip_pack(espeak_engine(settings), clip_pack, clip_vocabulary(settings))
        print(f"built a clip pack with espeak-ng in {time.perf_counter() - started:.1f} s", file=sys.stderr)

    results = [measure_in_process(settings, engine, clip_pack, args.calls) for engine in ("clips", "espeak")]
    for engine in ("clips", "espeak") if args.mqtt else ():
        try:
            results.append(measure_over_mqtt(settings, engine, clip_pack, args.calls, args.mqtt))
        except (OSError, RuntimeError) as exc:
            print(f"MQTT measurement with {engine} skipped: {exc}", file=sys.stderr)

    print(f"call -> first audio sample, {args.calls} calls each (target < {TARGET_MS} ms from clips)")
    print(f"{'engine':<18}{'spoken by':<16}{'first':>8}{'p50':>8}{'p90':>8}{'p99':>8}{'max':>8}  target")
    for row in results:
        within = "met" if row["p99_ms"] < TARGET_MS else "missed"
        print(f"{row['engine']:<18}{','.join(row['spoken_by']):<16}{row['first_ms']:>8}{row['p50_ms']:>8}"
              f"{row['p90_ms']:>8}{row['p99_ms']:>8}{row['max_ms']:>8}  {within}")
    print(json.dumps({"benchmark": "voice_first_sample", "target_ms": TARGET_MS, "results": results},
                     ensure_ascii=False))


if __name__ == "__main__":
    main()
