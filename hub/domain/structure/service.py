"""Changing the clinic's structure: validated exactly as config/ files are, saved with a new version,
audited with before and after, applied to the running hub, and noticed by the other hub processes.

The document holds only the editable sections (`SECTIONS`); everything else (the site's id and time
zone, the hub's database and broker, notifications, doctors, the catalogue...) stays in config/.
The configuration in force is config/ with the document's sections put in its place, validated by
`ClinicConfig` itself, so a page edit cannot make a configuration the files could not.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, insert, select, update

from hub.config import ClinicConfig, explain_error
from hub.db import Database
from hub.domain.common.clock import Clock
from hub.domain.common.errors import Conflict, Invalid
from hub.domain.common.events import Event, EventBus
from hub.domain.common.models import AuditEntry
from hub.domain.structure.live import LiveConfig
from hub.domain.structure.models import ClinicStructure

log = logging.getLogger(__name__)
S = ClinicStructure.__table__
ROW_ID = 1
SITE_SECTIONS = ("opening_hours", "closed_weekdays")  # kept under [site] in the files
SECTIONS = ("services", "counters", "priority_classes", "displays", "holidays", "queue", *SITE_SECTIONS)
# The key that names an item of a list section, for the audit trail's added/removed/changed.
ITEM_KEYS = {"services": "code", "counters": "code", "priority_classes": "code", "displays": "id",
             "holidays": "day"}

# Writes into other contexts' tables in the same transaction as the new version (the queue's
# services and counters rows), so no process ever sees the version before the rows it names.
TableWriter = Callable[[Connection, ClinicConfig], None]
# Re-indexes a part of this process after the configuration in force changed.
Applier = Callable[[ClinicConfig], None]
# Refuses a change that would break something running (a service with people waiting...).
Check = Callable[[ClinicConfig, ClinicConfig], None]


class StructureInvalid(Invalid):
    """The edited structure does not validate; `problems` lists each key and what was expected."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid_structure", "; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class StructureChanged(Event):
    """The configuration in force changed. `local` is True in the process that made the change, which
    alone republishes what devices and screens keep (retained MQTT config, board snapshots)."""

    version: int
    sections: tuple[str, ...]
    local: bool
    removed_counters: tuple[str, ...] = ()  # their retained topics are to be cleared
    removed_services: tuple[str, ...] = ()


def structure_of(config: ClinicConfig) -> dict[str, Any]:
    """The editable sections of a configuration, as JSON-ready data."""
    dumped = config.model_dump(mode="json")
    document = {key: dumped[key] for key in SECTIONS if key not in SITE_SECTIONS}
    document.update({key: dumped["site"][key] for key in SITE_SECTIONS})
    return document


def with_structure(base: ClinicConfig, document: dict[str, Any]) -> ClinicConfig:
    """`base` (config/) with the document's sections in place, validated as the files are."""
    data = base.model_dump(mode="json")
    for key, value in document.items():
        if key not in SECTIONS:
            raise StructureInvalid([f"{key}: not an editable section (expected one of {list(SECTIONS)})"])
        if key in SITE_SECTIONS:
            data["site"][key] = value
        else:
            data[key] = value
    try:
        return ClinicConfig.model_validate(data)
    except ValidationError as exc:
        raise StructureInvalid(describe_errors(exc)) from None


def describe_errors(exc: ValidationError) -> list[str]:
    """Each error as 'key: what was expected', the way `clinicq` reports a wrong file."""
    problems = []
    for error in exc.errors():
        location = error["loc"]
        key = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in location).lstrip(".")
        message = error["msg"]
        if not location and error["type"] == "value_error":
            named = re.match(r"Value error, ([^:]+): (.*)", message, re.DOTALL)
            if named:
                key, message = named.groups()
        if key.startswith("site.") and key.split(".")[1].split("[")[0] in SITE_SECTIONS:
            key = key.removeprefix("site.")
        problems.append(f"{key or '(structure)'}: {explain_error(error, message)}")
    return problems


def section_diff(section: str, before: Any, after: Any) -> dict[str, Any]:
    """What changed in one section: whole values, or for lists the items added, removed and changed."""
    item_key = ITEM_KEYS.get(section)
    if item_key is None or not isinstance(before, list) or not isinstance(after, list):
        return {"before": before, "after": after}
    old = {item[item_key]: item for item in before}
    new = {item[item_key]: item for item in after}
    diff: dict[str, Any] = {
        "added": [new[k] for k in new if k not in old],
        "removed": [old[k] for k in old if k not in new],
        "changed": [{"key": k, "before": old[k], "after": new[k]} for k in new if k in old and old[k] != new[k]],
    }
    if [item[item_key] for item in before if item[item_key] in new] != [k for k in new if k in old]:
        diff["order"] = {"before": [item[item_key] for item in before], "after": list(new)}
    return diff


class StructureService:
    """Reads and changes the structure document; applies it to this process's LiveConfig."""

    def __init__(self, db: Database, clock: Clock, bus: EventBus, files: ClinicConfig, live: LiveConfig) -> None:
        self.db = db
        self.clock = clock
        self.bus = bus
        self.files = files  # config/ as loaded at start: the base every document is laid over
        self.live = live
        self.writers: list[TableWriter] = []
        self.appliers: list[Applier] = []
        self.checks: list[Check] = []

    # ------------------------------------------------------------------ start
    def load_or_seed(self) -> tuple[int, ClinicConfig]:
        """The stored structure over config/; a new database is seeded from config/ (version 1)."""
        with self.db.write() as connection:
            row = connection.execute(select(S.c.version, S.c.document).where(S.c.id == ROW_ID)).first()
            if row is None:
                document = structure_of(self.files)
                connection.execute(insert(S).values(id=ROW_ID, version=1, document=document,
                                                    updated_at=self.clock.now(), updated_by="config"))
                self._audit(connection, "config", "structure.seed", 1, {"from": "config/ files"})
                return 1, self.files
        try:
            return row.version, with_structure(self.files, row.document)
        except StructureInvalid as exc:
            # config/ changed under a structure edited on the pages (a device now names a removed room...).
            raise StructureInvalid([f"the clinic structure saved in the database (version {row.version}) no "
                                    f"longer fits config/: {problem}" for problem in exc.problems]) from None

    # ------------------------------------------------------------------ reading
    def stored_version(self) -> int | None:
        """The version in the database: one indexed read, cheap enough to poll every few seconds."""
        with self.db.read() as connection:
            return connection.execute(select(S.c.version).where(S.c.id == ROW_ID)).scalar()

    def document(self) -> dict[str, Any]:
        return structure_of(self.live.current)

    def history(self, limit: int = 50) -> list[dict[str, Any]]:
        """The structure's audit entries, newest first."""
        with self.db.read() as connection:
            rows = connection.execute(select(AuditEntry.__table__).where(AuditEntry.action.like("structure.%"))
                                      .order_by(AuditEntry.id.desc()).limit(limit)).all()
        return [{"at": row.at.isoformat(), "actor": row.actor, "action": row.action, "subject": row.subject,
                 "detail": row.detail or {}} for row in rows]

    # ------------------------------------------------------------------ changing
    def change(self, changes: dict[str, Any], *, actor: str, expected_version: int | None = None,
               action: str = "structure.change") -> ClinicConfig:
        """Replace some sections, validated and audited; applied here at once, elsewhere within seconds.

        `expected_version` is the version the editor saw: when someone else saved meanwhile the change
        is refused rather than silently undoing theirs.
        """
        unknown = [key for key in changes if key not in SECTIONS]
        if unknown:
            raise StructureInvalid([f"{key}: not an editable section" for key in unknown])
        self.refresh()  # lay the change over the newest version, whichever process saved it
        current = self.live.current
        before = structure_of(current)
        proposed = with_structure(current, changes)
        after = structure_of(proposed)
        changed = tuple(key for key in SECTIONS if before[key] != after[key])
        if not changed:
            return current
        for check in self.checks:
            check(current, proposed)
        with self.db.write() as connection:
            row = connection.execute(select(S.c.version).where(S.c.id == ROW_ID).with_for_update()).first()
            stored = row.version if row else 0
            if expected_version is not None and stored != expected_version:
                raise Conflict("structure_changed", "Cấu trúc vừa được người khác sửa; hãy tải lại trang / someone "
                                                    "else changed the structure meanwhile: reload and try again")
            if stored != self.live.version:
                # Another process saved in the instant since the refresh above.
                raise Conflict("structure_changed", "Cấu trúc vừa được người khác sửa; hãy tải lại trang / the "
                                                    "structure changed on another hub process: reload and try again")
            version = stored + 1
            connection.execute(update(S).where(S.c.id == ROW_ID).values(
                version=version, document=after, updated_at=self.clock.now(), updated_by=actor[:64]))
            for writer in self.writers:
                writer(connection, proposed)
            self._audit(connection, actor, action, version,
                        {"version": version, "sections": {key: section_diff(key, before[key], after[key])
                                                          for key in changed}})
        self._apply(proposed, version, changed, local=True, previous=current)
        return proposed

    def refresh(self) -> bool:
        """Apply a newer version saved by another hub process; True when one was applied."""
        stored = self.stored_version()
        if stored is None or stored == self.live.version:
            return False
        with self.db.read() as connection:
            row = connection.execute(select(S.c.version, S.c.document).where(S.c.id == ROW_ID)).one()
        before = structure_of(self.live.current)
        proposed = with_structure(self.files, row.document)
        after = structure_of(proposed)
        changed = tuple(key for key in SECTIONS if before[key] != after[key])
        self._apply(proposed, row.version, changed, local=False, previous=self.live.current)
        return True

    def _apply(self, config: ClinicConfig, version: int, changed: tuple[str, ...], *, local: bool,
               previous: ClinicConfig) -> None:
        self.live.replace(config, version)
        for applier in self.appliers:
            try:
                applier(config)
            except Exception:  # one part failing to re-index must not leave the others on the old structure
                log.exception("applying structure version %d failed in %r", version, applier)
        log.info("clinic structure version %d in force (%s)", version, ", ".join(changed) or "no change")
        self.bus.publish(StructureChanged(
            version, changed, local,
            removed_counters=tuple(c.code for c in previous.counters if config.counter(c.code) is None),
            removed_services=tuple(s.code for s in previous.services if config.service(s.code) is None)))

    def _audit(self, connection: Connection, actor: str, action: str, version: int, detail: dict[str, Any]) -> None:
        connection.execute(insert(AuditEntry).values(at=self.clock.now(), actor=actor[:64], action=action,
                                                     subject=f"structure:{version}", detail=detail))
