"""What the kiosk offers: services with an open counter, their rooms, waiting counts and estimates."""

from __future__ import annotations

from typing import Any

COUNTER_CLOSED = "closed"


def rooms_of(service: str, counters: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The counters and rooms serving `service` now (open or briefly paused), by name."""
    return [{"code": c["code"], "name": c["name"], "name_en": c.get("name_en") or c["name"],
             "floor": c.get("floor"), "floor_en": c.get("floor_en") or c.get("floor")}
            for c in counters if service in c.get("services", []) and c.get("state") != COUNTER_CLOSED]


def service_choices(services: list[dict[str, Any]], counters: list[dict[str, Any]], allowed: tuple[str, ...],
                    numbers_left: dict[str, int]) -> list[dict[str, Any]]:
    """Every service this kiosk may issue, with `open` (a counter serves it now) and what the page shows."""
    choices = []
    for service in services:
        if allowed and service["code"] not in allowed:
            continue
        rooms = rooms_of(service["code"], counters)
        choices.append({
            "code": service["code"], "name": service["name"], "name_en": service.get("name_en") or service["name"],
            "prefix": service.get("prefix", ""), "waiting": service.get("waiting", 0),
            "estimate": service.get("estimate"), "rooms": rooms, "open": bool(rooms),
            "offline_left": numbers_left.get(service["code"], 0),
        })
    return choices


def kiosk_priorities(setup: dict[str, Any]) -> list[dict[str, str]]:
    """The priority classes a patient may choose at the kiosk (staff verify them at the counter)."""
    return [{"code": c["code"], "name": c["name"], "name_en": c["name_en"]}
            for c in setup.get("priorities", []) if c.get("kiosk")]


def priority_names(setup: dict[str, Any], code: str) -> tuple[str, str] | None:
    """Vietnamese and English names of a priority class; None for the ordinary line."""
    if code == "normal":
        return None
    for klass in setup.get("priorities", []):
        if klass["code"] == code:
            return klass["name"], klass["name_en"]
    return code, code
