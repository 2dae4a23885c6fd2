"""amqtt plugins for the embedded broker: logins and topic rules from the file hub/broker.py writes.

amqtt's own FileAuthPlugin only reads argon2/crypt hashes, while the device registry keeps Mosquitto's
PBKDF2 ($7$) hash of each secret (no secret in clear anywhere); and its ACL plugin's rules are fixed at
start. These read one JSON file (logins, hashes, read/write topic filters from hub/mqtt_acl.py) and
read it again when it changes, so a device added, moved or retired while the broker runs is seen at its
next connection, subscription or publish.

They run inside the amqtt child process, which has no Flask, no database and no gevent.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amqtt.contexts import Action, BaseContext
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
from amqtt.session import Session

from hub.domain.devices.registry import check_mosquitto_hash

log = logging.getLogger(__name__)


class _Rules:
    """The rules file, read again whenever its modification time changes."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self._stamp: tuple[int, int] | None = None
        self.users: dict[str, str] = {}
        self.rules: dict[str, dict[str, list[str]]] = {}
        self.hub_user = ""

    def current(self) -> _Rules:
        try:
            stat = os.stat(self.path)
        except OSError:
            # No file: nobody logs in (never fall back to an open broker).
            self.users, self.rules, self._stamp = {}, {}, None
            return self
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            try:
                content: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8"))
                self.users, self.rules = dict(content["users"]), dict(content["rules"])
                self.hub_user = str(content.get("hub_user", ""))
                self._stamp = stamp
            except (OSError, ValueError, KeyError, TypeError) as exc:
                # A half-written file: keep the rules read before and try again next time.
                log.warning("broker rules %s unreadable (%s): keeping the previous ones", self.path, exc)
        return self


_files: dict[str, _Rules] = {}


def _rules(path: str) -> _Rules:
    return _files.setdefault(path, _Rules(path)).current()


def filter_allows(allowed: str, requested: str) -> bool:
    """Whether the topic (or subscription filter) `requested` lies inside the ACL filter `allowed`.

    Unlike a plain topic match, a requested wildcard is only inside an allowed one of at least its
    breadth: `a/#` is not inside `a/+`."""
    want, have = requested.split("/"), allowed.split("/")
    for index, level in enumerate(have):
        if level == "#":
            return True
        if index >= len(want) or want[index] == "#":
            return False
        if level != "+" and (want[index] == "+" or want[index] != level):
            return False
    return len(want) == len(have)


class _SnapshotDict(dict):
    """A dict whose loops run over a copy of its keys or items, so it may change while they await."""

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(list(super().keys()))

    def items(self):  # type: ignore[no-untyped-def]
        return list(super().items())


def _tie_client_ids(rules_file: str) -> None:
    """Mosquitto's `use_username_as_clientid`, which amqtt 0.12 lacks.

    amqtt drops the session of a client id (its subscriptions) as soon as a CONNECT names it, before
    any login check: anyone, even refused, could leave a device connected but deaf, and a device could
    take another's id. Here, right after the CONNECT is read, a client whose login checks out gets its
    login as client id (the hub keeps its own, unique per process); any other gets a fresh id of its own
    and is refused by the plugin below. Nobody can name another's session."""
    from amqtt.mqtt.protocol.broker_handler import BrokerProtocolHandler

    if getattr(BrokerProtocolHandler, "_clinicq_tied", False):
        return
    original = BrokerProtocolHandler.init_from_connect.__func__  # type: ignore[attr-defined]

    async def init_from_connect(cls, reader, writer, plugins_manager, loop=None):  # type: ignore[no-untyped-def]
        handler, session = await original(cls, reader, writer, plugins_manager, loop)
        rules = _rules(rules_file)
        stored = rules.users.get(session.username or "")
        if stored and check_mosquitto_hash(session.password or "", stored):
            if session.username != rules.hub_user:
                session.client_id = session.username
        else:
            session.client_id = f"refused-{secrets.token_hex(8)}"
        return handler, session

    BrokerProtocolHandler.init_from_connect = classmethod(init_from_connect)  # type: ignore[method-assign]
    BrokerProtocolHandler._clinicq_tied = True  # type: ignore[attr-defined]


class CredentialsAuthPlugin(BaseAuthPlugin):
    """A client logs in with a known login and its secret; no login, no connection."""

    @dataclass
    class Config:
        rules_file: str = ""

    def __init__(self, context: BaseContext) -> None:
        super().__init__(context)
        _tie_client_ids(self.config.rules_file)

    async def authenticate(self, *, session: Session) -> bool | None:
        rules = _rules(self.config.rules_file)
        stored = rules.users.get(session.username or "")
        if not stored or not check_mosquitto_hash(session.password or "", stored):
            self.context.logger.info("refused a connection (client id %r, login %r)", session.client_id,
                                     session.username)
            return False
        return True


class TopicRulesPlugin(BaseTopicPlugin):
    """Each login reads and writes only the topics its rules give it (hub/mqtt_acl.acl_rules)."""

    @dataclass
    class Config:
        rules_file: str = ""

    def __init__(self, context: BaseContext) -> None:
        super().__init__(context)
        broker = getattr(context, "_broker_instance", None)
        if broker is not None and isinstance(getattr(broker, "_subscriptions", None), dict):
            # amqtt 0.12 iterates its subscription dict while awaiting (retained messages for a new
            # session, each delivery's topic check): another client subscribing meanwhile changes it
            # under the loop (RuntimeError, that client dropped). Iterating over a snapshot is safe.
            broker._subscriptions = _SnapshotDict(broker._subscriptions)

    async def topic_filtering(self, *, session: Session | None = None, topic: str | None = None,
                              action: Action | None = None) -> bool | None:
        if session is None or not topic:
            return False
        rule = _rules(self.config.rules_file).rules.get(session.username or "")
        if rule is None:
            return False
        allowed = rule["write"] if action == Action.PUBLISH else rule["read"]
        permitted = any(filter_allows(pattern, topic) for pattern in allowed)
        if not permitted:
            self.context.logger.info("refused %s of %r for %r", getattr(action, "value", action), topic,
                                     session.username)
        return permitted
