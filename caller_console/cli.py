"""`clinicq console`: the keyboard-only calling console for a counter PC without a browser."""

from __future__ import annotations

import click


def register(group: click.Group) -> None:
    """Add the `console` command to the `clinicq` group."""

    @group.command("console")
    @click.option("--counter", "counter", required=True, help="The counter or room code, e.g. p101")
    @click.option("--token", envvar="CLINICQ_TOKEN", required=True,
                  help="A staff or device bearer token (clinicq token create); env CLINICQ_TOKEN")
    @click.option("--hub", "hub_url", envvar="CLINICQ_HUB", default="http://127.0.0.1:8000", show_default=True,
                  help="The hub's address; env CLINICQ_HUB")
    @click.option("--lang", type=click.Choice(["vi", "en"]), default="vi", show_default=True)
    def console(counter: str, token: str, hub_url: str, lang: str) -> None:
        """Call, recall, start, finish, no-show, transfer and pause with single keys (q quits)."""
        from caller_console.client import ActionRefused, CounterClient, HubUnreachable
        from caller_console.controller import ConsoleController
        from caller_console.live import CounterFeed
        from caller_console.state import CounterState
        from caller_console.terminal import run_console

        client = CounterClient(hub_url, token, counter)
        try:
            client.figures()  # checks the counter, the token and its role before taking keys
        except ActionRefused as exc:
            raise click.ClickException(f"the hub refused: {exc.message} ({exc.code})") from None
        except HubUnreachable:
            click.echo(f"clinicq console: {hub_url} does not answer yet; keys work once it does", err=True)
        state = CounterState(counter)
        run_console(ConsoleController(client, state, lang), CounterFeed(hub_url, state, token=token))
