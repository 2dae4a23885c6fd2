"""Entry point of the `clinicq` command.

The hub and the demo run on gevent, whose monkey patching must happen before anything imports
socket or threading; the other commands (agents, simulations) run on plain threads.
"""

from __future__ import annotations

import sys

GEVENT_COMMANDS = {"hub", "demo"}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in GEVENT_COMMANDS:
        from gevent import monkey

        monkey.patch_all()
    from hub.cli import cli

    cli()


if __name__ == "__main__":
    main()
