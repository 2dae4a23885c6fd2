"""`clinicq speaker`, `clinicq announce` and `clinicq voice build`; hub/cli.py adds them with `register`.

`python -m display.cli ...` runs the same commands on a speaker that has no hub installed.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import socket
import sys
import threading
import tomllib
import uuid
from datetime import UTC, datetime
from pathlib import Path

import click

from display.announcement import compose_announcement
from display.vietnamese_numbers import NUMBER_READINGS, STYLES
from display.voice import audio
from display.voice.player import Sink, announcement_audio
from display.voice.settings import ENGINE_NAMES, VoiceConfigError, VoiceSettings, load_voice_settings
from display.voice.speech import EngineError

log = logging.getLogger(__name__)

DEFAULT_MQTT_URL = "mqtt://127.0.0.1:1883"


def _settings_or_exit(path: str | None) -> VoiceSettings:
    try:
        return load_voice_settings(path)
    except VoiceConfigError as exc:
        click.echo(f"clinicq: {exc}", err=True)
        sys.exit(2)


def _default_site() -> str | None:
    # A speaker started from the project folder belongs to the site of ./config/site.toml.
    site_file = Path("config") / "site.toml"
    if not site_file.is_file():
        return None
    try:
        with site_file.open("rb") as handle:
            return tomllib.load(handle).get("site", {}).get("id")
    except (OSError, tomllib.TOMLDecodeError):
        return None


def _default_speaker_id(zone: str) -> str:
    host = re.sub(r"[^a-z0-9-]", "-", socket.gethostname().lower()).strip("-") or "host"
    return f"{zone}-{host}"[:64].rstrip("-")


voice_config_option = click.option("--voice-config", type=click.Path(dir_okay=False), default=None,
                                   help="voice.toml to use (default ./config/voice.toml, else built-in defaults)")
engine_option = click.option("--engine", type=click.Choice(ENGINE_NAMES), default=None,
                             help="Engine to try first (default: the order in voice.toml)")


@click.command()
@click.option("--zone", required=True, help="Zone whose calls this speaker says (evt/announce/<zone>)")
@click.option("--hub-mqtt", "mqtt_url", envvar="CLINICQ_MQTT_URL", default=DEFAULT_MQTT_URL, show_default=True,
              help="Broker address mqtt://HOST:PORT; env CLINICQ_MQTT_URL")
@engine_option
@click.option("--out-dir", type=click.Path(file_okay=False), default=None,
              help="Write each announcement as a WAV file here instead of playing it")
@click.option("--realtime/--no-realtime", default=False,
              help="With --out-dir: take as long as playing would, like a real speaker")
@click.option("--id", "speaker_id", default=None, help="Device id (default <zone>-<hostname>)")
@click.option("--secret", envvar="CLINICQ_DEVICE_SECRET", default=None, help="Device secret; env CLINICQ_DEVICE_SECRET")
@click.option("--site", envvar="CLINICQ_SITE", default=None,
              help="Site id of the topic root (default from ./config/site.toml); env CLINICQ_SITE")
@click.option("--clip-pack", type=click.Path(file_okay=False), default=None,
              help="Clip pack folder (default from voice.toml)")
@voice_config_option
def speaker(zone: str, mqtt_url: str, engine: str | None, out_dir: str | None, realtime: bool,
            speaker_id: str | None, secret: str | None, site: str | None, clip_pack: str | None,
            voice_config: str | None) -> None:
    """Run a loudspeaker: say the calls of a zone, one at a time, in order."""
    from display.voice.agent import SpeakerAgent, parse_mqtt_url
    from display.voice.engines import build_speech_chain

    settings = _settings_or_exit(voice_config)
    site = site or _default_site()
    if not site:
        raise click.UsageError("give --site (or CLINICQ_SITE, or run from a folder with config/site.toml)")
    speaker_id = speaker_id or _default_speaker_id(zone)
    try:
        host, port, user, password = parse_mqtt_url(mqtt_url)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--hub-mqtt") from None
    chain = build_speech_chain(settings, engine, clip_pack)
    sink = _open_sink(out_dir, realtime, fallback_dir=Path("var") / "speaker" / speaker_id)
    try:
        agent = SpeakerAgent(site, speaker_id, zone, chain, sink, settings, host=host, port=port,
                             secret=secret if secret is not None else password, username=user,
                             chime=audio.load_chime(settings.audio.chime), engines=chain.names)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    stop = threading.Event()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, lambda *_: stop.set())
    click.echo(f"speaker {speaker_id}: zone {zone}, site {site}, broker {host}:{port}, engines "
               f"{' > '.join(chain.names)}, output {sink.name}", err=True)
    agent.start()
    stop.wait()
    agent.stop()


def _open_sink(out_dir: str | None, realtime: bool, fallback_dir: Path) -> Sink:
    from display.voice.wav_sink import WavFileSink

    if out_dir:
        return WavFileSink(out_dir, pace=1.0 if realtime else 0.0)
    from display.voice.mixer import NoSoundCard, PygameSink

    try:
        return PygameSink()
    except (NoSoundCard, ImportError) as exc:  # ImportError: installed without the [tts] extra (pygame)
        # A demo machine has no sound card: the calls still happen, as files, at the pace of speech.
        log.warning("no sound card (%s): writing announcements to %s", exc, fallback_dir)
        return WavFileSink(fallback_dir, pace=1.0)


@click.command()
@click.argument("ticket")
@click.argument("counter")
@click.option("--lang", type=click.Choice(["vi", "en"]), default="vi", show_default=True)
@click.option("--style", type=click.Choice(STYLES), default=None, help="Number reading style (default from voice.toml)")
@click.option("--reading", type=click.Choice(NUMBER_READINGS), default=None,
              help="Ticket as a number or digit by digit (default from voice.toml)")
@click.option("--repeat", type=click.IntRange(1, 5), default=1, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Write a WAV file instead of playing")
@click.option("--text-only", is_flag=True, help="Print the sentence and stop")
@engine_option
@click.option("--clip-pack", type=click.Path(file_okay=False), default=None,
              help="Clip pack folder (default from voice.toml)")
@voice_config_option
def announce(ticket: str, counter: str, lang: str, style: str | None, reading: str | None, repeat: int,
             out: str | None, text_only: bool, engine: str | None, clip_pack: str | None,
             voice_config: str | None) -> None:
    """Say a call once: print the sentence, then play it (or write it with --out)."""
    from display.voice.engines import build_speech_chain

    settings = _settings_or_exit(voice_config)
    if style:
        settings = settings.model_copy(update={"announce": settings.announce.model_copy(update={"style": style})})
    try:
        text = compose_announcement(ticket, counter, lang, settings.announce.style,
                                    reading or settings.announce.number_reading, settings.announce.templates,
                                    settings.announce.letters)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(text)
    if text_only:
        return
    try:
        speech, engine_used = build_speech_chain(settings, engine, clip_pack).render(text, lang)
    except EngineError as exc:
        raise click.ClickException(str(exc)) from None
    whole = announcement_audio(speech, audio.load_chime(settings.audio.chime), repeat, settings.announce.gap_ms)
    volume = settings.audio.volume_at(datetime.now(UTC)) / 100
    if out is None:
        sink = _open_sink(None, False, fallback_dir=Path("var") / "announce")
        _, _, written = sink.play(whole, volume, 1, uuid.uuid4().hex[:8])
        sink.close()
        where = written or "the sound card"
    else:
        audio.write_wav(out, audio.scale(whole, volume))
        where = out
    click.echo(f"{engine_used}: {audio.duration_s(whole):.1f} s to {where}", err=True)


@click.group()
def voice() -> None:
    """Voice clip packs."""


@voice.command("build")
@click.option("--engine", type=click.Choice(["espeak", "gtts"]), default="espeak", show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Folder of the pack (default: clip_pack in voice.toml)")
@voice_config_option
def build(engine: str, out_dir: str | None, voice_config: str | None) -> None:
    """Render the fixed phrases, number words and letters into a clip pack, once."""
    from display.voice.clip_pack import build_clip_pack, clip_vocabulary
    from display.voice.engines import espeak_engine
    from display.voice.gtts_engine import GttsEngine

    settings = _settings_or_exit(voice_config)
    if engine == "espeak":
        renderer = espeak_engine(settings)
        voice_name = renderer.voice_for("vi")
    else:
        # No fallback here: a pack half in Google's voice and half in espeak-ng's would sound broken.
        renderer = GttsEngine(settings.engines.cache_dir, settings.engines.gtts_timeout_s, 0, settings.engines.gtts_tld)
        voice_name = renderer.voice_for("vi")
    phrases = clip_vocabulary(settings)
    target = Path(out_dir or settings.engines.clip_pack)
    try:
        manifest = build_clip_pack(renderer, target, phrases, "vi", voice_name)
    except EngineError as exc:
        raise click.ClickException(f"could not build the clip pack: {exc}") from None
    click.echo(f"{len(phrases)} clips ({engine}, voice {voice_name}) in {manifest.parent}; manifest {manifest.name}")


def register(cli_group: click.Group) -> None:
    """Add `speaker`, `announce` and `voice` to the main `clinicq` command."""
    cli_group.add_command(speaker)
    cli_group.add_command(announce)
    cli_group.add_command(voice)


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Debug logging")
def main(verbose: bool) -> None:
    """The voice commands of clinicq, for a speaker without the hub installed."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


register(main)

if __name__ == "__main__":
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    main()
