"""The scheduler as the domain sees it: services hand it their periodic jobs (the runner is `hub.scheduler`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol


class JobScheduler(Protocol):
    """Runs named jobs every few seconds or daily at a site-local time, one runner across hub processes."""

    def add_job(self, name: str, function: Callable[[datetime], Any], *, every_seconds: float | None = None,
                at: str | None = None) -> None:
        """Run `function(now)` every `every_seconds`, or daily at `at` ("HH:MM", site time)."""
