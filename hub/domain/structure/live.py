"""The configuration in force: a stable object every service holds, whose content is swapped on a change.

Services were written against an immutable `ClinicConfig` and keep reading it as one
(`self.clinic.counter(code)`, `self.clinic.queue.call_ttl_s`); a `LiveConfig` answers every such
read from the configuration applied last. Parts that index the configuration once (the queue
engine's maps, the boards' rooms) re-index through the hooks of `StructureService`.
"""

from __future__ import annotations

from typing import Any

from hub.config import ClinicConfig


class LiveConfig:
    __slots__ = ("_current", "version")

    def __init__(self, config: ClinicConfig, version: int = 0) -> None:
        self._current = config
        self.version = version

    @property
    def current(self) -> ClinicConfig:
        """The configuration now; take it once when an operation needs one consistent view."""
        return self._current

    def replace(self, config: ClinicConfig, version: int) -> None:
        # One assignment: a reader sees the old configuration or the new one, never a mixture.
        self._current = config
        self.version = version

    def __getattr__(self, name: str) -> Any:
        return getattr(self._current, name)

    def __repr__(self) -> str:
        return f"LiveConfig(version={self.version}, site={self._current.site.id!r})"
