"""Run one simulated device until SIGTERM or Ctrl-C: `python -m firmware_sim.devices keypad --id kp-p101 ...`.

One device per process is how tests prove the Last Will (kill -9 the process) and how a developer
pokes at the hub with a single keypad; fleets use `clinicq sim`.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from dataclasses import replace

from firmware_sim.devices import DEFAULT_TIMING, DEVICE_CLASSES, BusSettings, DeviceIdentity


def main(argv: list[str] | None = None) -> None:
    """Parse the options, start the device, wait for a signal, stop cleanly."""
    parser = argparse.ArgumentParser(prog="python -m firmware_sim.devices", description=__doc__)
    parser.add_argument("kind", choices=sorted(DEVICE_CLASSES))
    parser.add_argument("--id", required=True, dest="device_id", help="device id, also its broker login")
    parser.add_argument("--secret", default=None, help="broker password (none: anonymous brokers only)")
    parser.add_argument("--site", required=True, help="site id: topics are clinicq/v1/<site>/...")
    parser.add_argument("--mqtt", default="mqtt://127.0.0.1:1883", help="broker, mqtt://HOST:PORT")
    parser.add_argument("--counter", default=None, help="counter of a keypad or LED (the hub's config may change it)")
    parser.add_argument("--zone", default=None, help="zone of a speaker or dispenser")
    parser.add_argument("--tele", type=float, default=DEFAULT_TIMING.tele_interval_s, help="heartbeat seconds")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    identity = DeviceIdentity(args.device_id, secret=args.secret, zone=args.zone, counter=args.counter)
    timing = replace(DEFAULT_TIMING, tele_interval_s=args.tele)
    device = DEVICE_CLASSES[args.kind](identity, BusSettings.from_url(args.mqtt, args.site), timing)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    device.start()
    done.wait()
    device.stop()


if __name__ == "__main__":
    main()
