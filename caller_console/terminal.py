"""Terminal I/O of the keyboard console: single keys in a real terminal, one key per line otherwise."""

from __future__ import annotations

import os
import select
import sys
import threading
from typing import TextIO

try:
    import termios
    import tty
except ImportError:  # Windows: no cbreak mode, the console reads one key per line instead
    termios = None  # type: ignore[assignment]

from caller_console.controller import ConsoleController
from caller_console.live import CounterFeed

CLEAR = "\x1b[H\x1b[2J"
REDRAW_POLL_S = 0.3


class KeyTerminal:
    """Reads single key presses (cbreak mode) and redraws the screen when the counter changes."""

    def __init__(self, controller: ConsoleController, changed: threading.Event, stdin: TextIO = sys.stdin,
                 stdout: TextIO = sys.stdout) -> None:
        self.controller = controller
        self.changed = changed
        self.stdin = stdin
        self.stdout = stdout
        self.fd = stdin.fileno()
        self.saved = termios.tcgetattr(self.fd)

    def draw(self) -> None:
        self.changed.clear()
        self.stdout.write(CLEAR + self.controller.render() + "\n")  # cbreak keeps output processing: \n works
        self.stdout.flush()

    def ask(self, prompt: str) -> str | None:
        """A question needs a whole line: the terminal goes back to line mode while it is answered."""
        termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)
        try:
            self.stdout.write("\n" + prompt)
            self.stdout.flush()
            return self.stdin.readline().rstrip("\n")
        except (EOFError, KeyboardInterrupt):
            return None
        finally:
            tty.setcbreak(self.fd)

    def run(self) -> None:
        tty.setcbreak(self.fd)
        try:
            self.draw()
            while True:
                ready, _, _ = select.select([self.fd], [], [], REDRAW_POLL_S)
                if not ready:
                    if self.changed.is_set():
                        self.draw()
                    continue
                keys = os.read(self.fd, 16).decode("utf-8", errors="ignore")
                if not keys:
                    return  # end of input
                if keys.startswith("\x1b"):
                    continue  # arrows and function keys send escape sequences: not ours
                for key in keys:
                    if key in "\r\n\t ":
                        continue
                    if not self.controller.press(key, self.ask):
                        return
                    self.draw()
        finally:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)
            self.stdout.write("\n")


def run_lines(controller: ConsoleController, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> None:
    """Without a terminal (a pipe, a script): the first letter of each line is the key; answers follow."""

    def ask(prompt: str) -> str | None:
        stdout.write(prompt + "\n")
        line = stdin.readline()
        return line.rstrip("\n") if line else None

    stdout.write(controller.render() + "\n")
    for line in stdin:
        key = line.strip()[:1]
        if not key:
            continue
        if not controller.press(key, ask):
            break
        stdout.write(controller.render() + "\n")
    stdout.flush()


def run_console(controller: ConsoleController, feed: CounterFeed, stdin: TextIO = sys.stdin,
                stdout: TextIO = sys.stdout) -> None:
    """Follow the counter live and take keys until q (or the end of input)."""
    changed = threading.Event()
    feed.on_change = changed.set
    feed.start()
    try:
        if termios is not None and stdin.isatty():
            KeyTerminal(controller, changed, stdin, stdout).run()
        else:
            run_lines(controller, stdin, stdout)
    except KeyboardInterrupt:
        pass
    finally:
        feed.stop()
