"""Serving the hub: gevent's WSGI server with Flask-SocketIO, stopped cleanly on Ctrl-C or SIGTERM."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path

from hub.app import create_app
from hub.broker import connect_url, ensure_broker, is_embedded
from hub.config import ClinicConfig
from hub.core import Hub, build_hub
from hub.domain.devices.registry import DeviceReconfigured
from hub.realtime.mqtt_bridge import MqttBridge

log = logging.getLogger(__name__)
# How often a hub process checks whether another one saved a newer clinic structure (one indexed read).
STRUCTURE_POLL_S = float(os.environ.get("CLINICQ_STRUCTURE_POLL_S") or 2.0)
HASH_THREADS = int(os.environ.get("CLINICQ_HASH_THREADS") or 1)


def serve(config: ClinicConfig, *, host: str, port: int, var_dir: Path, db_url: str | None = None,
          on_started: Callable[[Hub], None] | None = None) -> None:
    """Run until stopped. Needs gevent's monkey patching first (the `clinicq` entry point does it)."""
    from hub.cli import stop_on_signals

    server_class = _no_delay_server()  # built after gevent's monkey patching

    hub = build_hub(config, var_dir=var_dir, db_url=db_url)
    offload_password_hashing(hub)
    offload_sqlite_commits(hub)
    if hub.config.hub.broker_files_dir:
        from hub.mqtt_acl import BrokerFiles

        BrokerFiles(hub.config, hub.devices, hub.var_dir).refresh()  # the registry may have changed while down
    app = create_app(hub, async_mode="gevent", message_queue=os.environ.get("CLINICQ_SOCKETIO_QUEUE") or None,
                     channel=os.environ.get("CLINICQ_SOCKETIO_CHANNEL") or f"clinicq-{config.site.id}")
    start_device_bus(hub)
    start_scheduler(hub)
    start_structure_watch(hub)
    server = server_class((host, port), app, log=None, error_log=_ErrorLog())
    stop_on_signals(server.stop)
    try:
        try:
            server.start()
        except OSError as exc:
            raise SystemExit(f"clinicq: cannot listen on {host}:{port}: {exc.strerror} "
                             "(choose another --port)") from None
        log.info("hub listening on http://%s:%d (database %s)", host, port, hub.db.dialect)
        if on_started is not None:
            on_started(hub)
        server.serve_forever()
    finally:
        log.info("hub stopping")
        hub.close()


def offload_password_hashing(hub: Hub) -> None:
    """argon2 in gevent's pool of OS threads: its CFFI call releases the GIL, so a flood of logins no
    longer stalls the one event loop every ticket and call goes through."""
    from gevent.monkey import is_module_patched
    from gevent.threadpool import ThreadPool

    if not is_module_patched("socket") or os.environ.get("CLINICQ_HASH_ON_LOOP") == "1":
        return  # not under gevent (threads already run side by side), or the benchmark's baseline
    # A bounded pool of its own: on a 2-core box, hashing may take one core at most and ticket issue
    # keeps the other; a flood queues here instead of starving the event loop of CPU.
    pool = ThreadPool(HASH_THREADS)
    hub.staff.run_cpu_bound = lambda work: pool.apply(work)
    hub.closers.append(pool.kill)
    log.info("password hashing runs in a pool of %d OS thread(s), off the event loop", HASH_THREADS)


def offload_sqlite_commits(hub: Hub) -> None:
    """SQLite's COMMIT waits for an fsync without yielding to gevent: in one OS thread of its own, the
    loop serves the next requests meanwhile (they join the next group commit)."""
    from gevent.monkey import is_module_patched
    from gevent.threadpool import ThreadPool

    if not is_module_patched("socket") or os.environ.get("CLINICQ_COMMIT_ON_LOOP") == "1":
        return
    pool = ThreadPool(1)
    if hub.db.offload_commits(pool.apply):
        hub.closers.append(pool.kill)
        log.info("SQLite commits wait for the disk in an OS thread, off the event loop")
    else:
        pool.kill()


def _no_delay_server() -> type:
    from gevent.pywsgi import WSGIServer

    class NoDelay(WSGIServer):
        """Replies and WebSocket frames are small writes: without TCP_NODELAY, Nagle's algorithm
        meeting the client's delayed ACK holds each one back by tens of milliseconds."""

        def handle(self, sock, address):  # type: ignore[no-untyped-def]
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return super().handle(sock, address)

    return NoDelay


def start_device_bus(hub: Hub) -> MqttBridge | None:
    """Connect the hub to its MQTT broker (starting the embedded one if allowed and needed)."""
    settings = hub.config.hub
    if not settings.mqtt_url:
        log.info("MQTT is off: devices will not be served")
        return None
    if settings.embedded_broker and not is_embedded(settings.mqtt_url):
        log.warning("embedded_broker is retired and ignored: the hub waits for the broker at %s "
                    "(set mqtt_url = \"embedded\" for the embedded one)", settings.mqtt_url)
    try:
        broker = ensure_broker(settings.mqtt_url, hub.var_dir, site=hub.config.site.id,
                               hub_user=settings.mqtt_username, hub_password=settings.mqtt_password,
                               devices=hub.devices.credentials())
    except RuntimeError as exc:
        raise SystemExit(f"clinicq: {exc}") from None
    password = settings.mqtt_password
    if broker is not None:
        hub.closers.append(broker.stop)
        password = broker.hub_password
        # A device added, moved or retired: the broker's logins and rules follow (it re-reads the file).
        hub.bus.subscribe(DeviceReconfigured, lambda _event: broker.write_rules(hub.devices.credentials()))
    bridge = MqttBridge(hub, hub.devices, connect_url(settings.mqtt_url), username=settings.mqtt_username,
                        password=password)
    bridge.start()
    hub.closers.append(bridge.stop)
    hub.mqtt_status = bridge.status
    hub.mqtt_broker = "embedded" if broker is not None else "external"
    return bridge


def start_structure_watch(hub: Hub, every_s: float = STRUCTURE_POLL_S) -> threading.Event:
    """Apply, within seconds, a structure another hub process saved (a greenlet under gevent)."""
    stopped = threading.Event()

    def watch() -> None:
        while not stopped.wait(every_s):
            try:
                hub.structure.refresh()
            except Exception:  # the database may be away for a moment: check again on the next round
                log.exception("checking the clinic structure's version failed")

    threading.Thread(target=watch, name="structure-watch", daemon=True).start()
    hub.closers.append(stopped.set)
    return stopped


def start_scheduler(hub: Hub) -> None:
    """Run the scheduled jobs (the outbox...) from this process too; a database lease elects one runner."""
    if not hub.config.scheduler.in_hub:
        log.info("scheduler: not in the hub process (scheduler.in_hub = false): run `clinicq worker`")
        return
    hub.scheduler.start()
    hub.closers.append(hub.scheduler.stop)


class _ErrorLog:
    """gevent's error log, routed to logging (its 'Invalid HTTP method' on websocket close is noise)."""

    def write(self, message: str) -> None:
        message = message.strip()
        if message and "Invalid HTTP method" not in message:
            log.warning("%s", message)

    def flush(self) -> None:
        pass
