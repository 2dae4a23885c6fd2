"""A simulated fleet for demos and load: devices from config/devices.toml (then generated ones), staff at
the keypads, patients at the dispensers, speakers in every zone (docs/firmware_sim.md).

Staff and patients are agents ticked by the fleet's one timer thread, like the devices' own timers:
no agent ever blocks, so a fleet of hundreds of devices adds no thread per agent. Their times are in
simulated seconds, divided by `speedup` on the wall clock; the devices' own timings (ack timeout,
heartbeat) stay real, as they are network behaviour.
"""

from __future__ import annotations

import logging
import math
import random
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

from firmware_sim.devices import (
    BusSettings,
    Device,
    DeviceIdentity,
    Dispenser,
    Keypad,
    LedDisplay,
    SpeakerStub,
    Ticker,
    Timing,
)
from firmware_sim.devices.acked import Request
from firmware_sim.devices.const import DEFAULT_TIMING, GAVE_UP, SECONDS_PER_CHAR
from hub import protocol
from hub.config import ClinicConfig

log = logging.getLogger(__name__)

# Staff and patient behaviour, in simulated seconds.
THINK_S = 4.0  # from seeing somebody waiting to pressing "next"
WALK_IN_MEAN_S, WALK_IN_SD_S = 40.0, 20.0  # from the call to "start": the patient walks to the counter
NO_SHOW_SHARE = 0.05  # called patients who never come: recalled once, then marked no-show
NO_SHOW_WAIT_S = 60.0  # between the call, the recall and the no-show
TRANSFER_SHARE = 0.15  # served patients sent on to another service instead of finished
BREAK_SHARE = 0.02  # after a patient, the nurse pauses the counter for a break
BREAK_MEAN_S, BREAK_SD_S = 480.0, 180.0
ON_HOLD_S = 90.0  # a ticket on hold is resumed after this
IDLE_POLL_S = 60.0  # with nobody waiting, "next" is still tried now and then (the waiting count may be absent)
ERROR_BACKOFF_S = 15.0  # after a refused or unanswered press
PRIORITY_SHARE = 0.1  # dispenser presses with a priority button (elderly, pregnant...)
FIRST_SERVICE_WEIGHT, LATER_SERVICE_WEIGHT = 1.0, 0.3  # a counter mostly serves its first service

# Where a served patient may be sent next, by the kind of service they were in.
TRANSFER_KINDS = {"reception": ("exam",), "exam": ("lab", "imaging", "cashier"), "cashier": ("pharmacy",)}
AT_COUNTER = (protocol.CALLED, protocol.SERVING, protocol.ON_HOLD)
KEYS_THAT_MOVE_TICKETS = ("next", "recall", "start", "no-show", "finish", "transfer")
GENERATED_SECRET_PREFIX = "sim-secret-"


# ---------------------------------------------------------------------------------------------- roster
@dataclass(frozen=True)
class DeviceSpec:
    """One device of the fleet: from devices.toml, or generated when the fleet is larger."""

    kind: str  # keypad, led, dispenser, speaker
    device_id: str
    secret: str | None
    zone: str | None = None
    counter: str | None = None
    generated: bool = False

    @property
    def device_type(self) -> str:
        """The MQTT device type (a dispenser is a "kiosk")."""
        return "kiosk" if self.kind == "dispenser" else self.kind


def plan_roster(config: ClinicConfig, *, keypads: int | None = None, dispensers: int | None = None,
                speakers: int | None = None, leds: int | None = None) -> list[DeviceSpec]:
    """The configured devices first, then generated ones; None for a kind means "the configured ones"."""
    zone_of = {c.code: c.zone for c in config.counters}
    configured = {kind: [d for d in config.devices if _kind_of(d.type, d.id) == kind]
                  for kind in ("keypad", "led", "dispenser", "speaker")}
    specs: list[DeviceSpec] = []

    def take(kind: str, wanted: int | None) -> list[DeviceSpec]:
        chosen = configured[kind] if wanted is None else configured[kind][:wanted]
        return [DeviceSpec(kind, d.id, d.secret, d.zone or zone_of.get(d.counter or ""), d.counter)
                for d in chosen]

    for kind, wanted in (("keypad", keypads), ("led", leds)):
        own = take(kind, wanted)
        taken = {spec.counter for spec in own}
        free = [c for c in config.counters if c.code not in taken]
        extra = max(0, (wanted or 0) - len(own))
        if extra > len(free):
            log.warning("only %d counters are free for %d more %ss: capped", len(free), extra, kind)
        prefix = "kp" if kind == "keypad" else "led"
        own += [_generated(kind, f"{prefix}-{c.code}", zone=c.zone, counter=c.code) for c in free[:extra]]
        specs += own
    zones = list(dict.fromkeys(c.zone for c in config.counters))
    for kind, wanted, prefix in (("dispenser", dispensers, "ds"), ("speaker", speakers, "spk")):
        own = take(kind, wanted)
        used = {spec.device_id for spec in own}
        covered = {spec.zone for spec in own}
        # Zones without one come first, so a bigger fleet spreads over the building.
        order = [z for z in zones if z not in covered] + zones
        index = 0
        while len(own) < (wanted or 0) and order:
            zone = order[index % len(order)]
            number = 1
            while _candidate_id(prefix, zone, number) in used:
                number += 1
            device_id = _candidate_id(prefix, zone, number)
            used.add(device_id)
            own.append(_generated(kind, device_id, zone=zone))
            index += 1
        specs += own
    return specs


def _kind_of(device_type: str, device_id: str) -> str | None:
    # A button dispenser is a "kiosk" on the bus; the demo fleet names them ds-...; touchscreen kiosks are not ours.
    if device_type == "kiosk":
        return "dispenser" if device_id.startswith("ds-") else None
    return device_type if device_type in ("keypad", "led", "speaker") else None


def _candidate_id(prefix: str, zone: str, number: int) -> str:
    return f"{prefix}-{zone}" if prefix == "spk" and number == 1 else f"{prefix}-{zone}-{number}"


def _generated(kind: str, device_id: str, *, zone: str | None, counter: str | None = None) -> DeviceSpec:
    return DeviceSpec(kind, device_id, GENERATED_SECRET_PREFIX + device_id, zone, counter, generated=True)


def roster_toml(specs: list[DeviceSpec]) -> str:
    """devices.toml entries for the generated devices, so a hub can register them (it ignores strangers)."""
    lines = ["# Generated by `clinicq sim --print-devices`: append to config/devices.toml (demo secrets only)."]
    for spec in specs:
        if not spec.generated:
            continue
        lines += ["", "[[devices]]", f'id = "{spec.device_id}"', f'type = "{spec.device_type}"',
                  f'name = "Sim {spec.kind} {spec.device_id}"']
        if spec.zone:
            lines.append(f'zone = "{spec.zone}"')
        if spec.counter:
            lines.append(f'counter = "{spec.counter}"')
        lines.append(f'secret = "{spec.secret}"')
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------- the clinic
@dataclass(frozen=True)
class ServiceProfile:
    """What the agents need to know of a service."""

    code: str
    kind: str
    prefix: str
    mean_s: float
    sd_s: float


@dataclass(frozen=True)
class ClinicModel:
    """The clinic as the simulated people see it."""

    services: dict[str, ServiceProfile]
    counter_services: dict[str, tuple[str, ...]]
    kiosk_priorities: tuple[str, ...]

    @classmethod
    def from_config(cls, config: ClinicConfig) -> ClinicModel:
        """Read services, counters and kiosk priority classes from the clinic configuration."""
        services = {s.code: ServiceProfile(s.code, s.kind, s.prefix, s.service_minutes.mean * 60,
                                           s.service_minutes.sd * 60) for s in config.services}
        return cls(services, {c.code: tuple(c.services) for c in config.counters},
                   tuple(p.code for p in config.priority_classes if p.kiosk))

    def service_of(self, ticket: str) -> ServiceProfile | None:
        """The service of a display number, from its letter prefix ("B023" -> kham-noi)."""
        match = re.match(r"[A-Z]+", ticket)
        prefix = match.group(0) if match else ""
        return next((s for s in self.services.values() if s.prefix == prefix), None)

    def arrival_weights(self, counters: list[str]) -> dict[str, float]:
        """How patients spread over services: by how much the staffed counters can serve of each."""
        weights: Counter[str] = Counter()
        for counter in counters:
            for position, code in enumerate(self.counter_services.get(counter, ())):
                share = FIRST_SERVICE_WEIGHT if position == 0 else LATER_SERVICE_WEIGHT
                # A counter finishes more short visits than long ones in the same hour.
                weights[code] += share / self.services[code].mean_s
        return dict(weights)

    def transfer_targets(self, service: str, served: set[str]) -> list[str]:
        """Services a patient of `service` may be sent on to, among those somebody serves."""
        profile = self.services.get(service)
        kinds = TRANSFER_KINDS.get(profile.kind, ()) if profile else ()
        return [s.code for s in self.services.values() if s.kind in kinds and s.code in served and s.code != service]


def lognormal(rng: random.Random, mean: float, sd: float) -> float:
    """A positive duration with this mean and standard deviation (service times are skewed to the right)."""
    sigma2 = math.log(1 + (sd / mean) ** 2)
    return rng.lognormvariate(math.log(mean) - sigma2 / 2, math.sqrt(sigma2))


# ---------------------------------------------------------------------------------------------- statistics
class FleetStats:
    """Counts and ack latencies of the whole fleet, updated from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.keys: Counter[str] = Counter()
        self.outcomes: Counter[str] = Counter()
        self.latencies_ms: list[float] = []
        self.refused_presses = 0

    def record(self, request: Request) -> None:
        """A finished request (key press or ticket button)."""
        with self._lock:
            self.outcomes[f"{request.event}:{request.status}"] += 1
            if request.latency_s is not None:
                self.latencies_ms.append(request.latency_s * 1000)

    def pressed(self, key: str) -> None:
        """A key or button pressed by an agent."""
        with self._lock:
            self.keys[key] += 1

    def percentile(self, share: float) -> float | None:
        """A percentile of the ack latencies, in milliseconds."""
        with self._lock:
            values = sorted(self.latencies_ms)
        if not values:
            return None
        return values[min(len(values) - 1, int(share * len(values)))]


# ---------------------------------------------------------------------------------------------- agents
class StaffAgent:
    """A nurse at one keypad: calls, waits for the patient, serves, finishes; now and then a no-show,
    a transfer or a break. Decisions come from the counter's retained state and the acks, so a
    restarted fleet picks up whatever the counter is doing."""

    def __init__(self, keypad: Keypad, clinic: ClinicModel, served: set[str], stats: FleetStats,
                 rng: random.Random, speedup: float) -> None:
        self.keypad = keypad
        self.clinic = clinic
        self.served = served
        self.stats = stats
        self.rng = rng
        self.speedup = speedup
        self.view: tuple[str | None, str | None] = (None, None)  # (ticket, status) at the counter
        self.action: str | None = None
        self.due = 0.0
        self._service: str | None = None
        self._in_flight: str | None = None
        self._last_state: Any = None
        self._ticket_plan: dict[str, Any] = {}
        self._on_break = False

    def tick(self, now: float) -> None:
        """Look at the keypad, decide, press."""
        if self._in_flight is not None:
            request = self.keypad.request(self._in_flight)
            if request is not None and not request.done:
                return
            self._in_flight = None
            if request is not None:
                self._after_press(request, now)
        state = self.keypad.counter_state
        if state is not self._last_state:
            self._last_state = state
            view = (state.ticket, state.status if state.ticket else None)
            if view != self.view:
                self.view = view
                self._plan(now)
            elif view[0] is None and (state.waiting or 0) > 0 and self.action == "next":
                self.due = min(self.due, now + self._wall(THINK_S))  # the beep: somebody is waiting
        if self.action is None:  # just started, or nothing planned yet: look at the counter and decide
            self._plan(now)
        if self.action is not None and now >= self.due:
            self._press(self.action, now)

    def _wall(self, sim_seconds: float) -> float:
        return sim_seconds / self.speedup

    def _press(self, key: str, now: float) -> None:
        service = None
        if key == "transfer":
            service = self._ticket_plan.get("transfer_to")
        self.action = None
        self.stats.pressed(key)
        self._in_flight = self.keypad.press(key, service=service, reason="break" if key == "pause" else None,
                                            on_done=self.stats.record)

    def _after_press(self, request: Request, now: float) -> None:
        key = request.body.get("key")
        if request.status != protocol.ACK_OK:
            code = ((request.ack or {}).get("error") or {}).get("code", request.status)
            log.debug("%s: %s failed (%s); trying again later", self.keypad.device_id, key, code)
            state = self.keypad.counter_state
            self.view = (state.ticket, state.status if state.ticket else None)
            self._plan(now)
            self.due = max(self.due, now + self._wall(ERROR_BACKOFF_S if request.status != GAVE_UP else 1.0))
            return
        if key == "pause":
            self._on_break = True
        elif key == "resume":
            self._on_break = False
        elif key == "recall":
            self._ticket_plan["recalls"] = self._ticket_plan.get("recalls", 0) + 1
        if key in KEYS_THAT_MOVE_TICKETS:
            ticket = (request.ack or {}).get("ticket") or {}
            number, status = ticket.get("number"), ticket.get("status")
            self.view = (number, status) if number and status in AT_COUNTER else (None, None)
            if isinstance(ticket.get("service"), str):
                self._service = ticket["service"]
            if key in ("finish", "transfer") and self.rng.random() < BREAK_SHARE:
                self.action, self.due = "pause", now + self._wall(THINK_S)
                return
            if key == "next" and self.view[0] is None:
                self.action, self.due = "next", now + self._wall(IDLE_POLL_S)  # nobody waits: look again later
                return
        self._plan(now)

    def _plan(self, now: float) -> None:
        """Choose the next key and when to press it, from what the counter shows."""
        ticket, status = self.view
        state = self.keypad.counter_state
        if self._on_break or state.counter_state == protocol.COUNTER_PAUSED:
            if self._on_break:
                self.action, self.due = "resume", now + self._wall(lognormal(self.rng, BREAK_MEAN_S, BREAK_SD_S))
            else:  # paused from the console: the nurse comes back after a while and resumes
                self.action, self.due = "resume", now + self._wall(IDLE_POLL_S)
            return
        if ticket is None:
            wait = THINK_S if (state.waiting is None or state.waiting > 0) else IDLE_POLL_S
            self.action, self.due = "next", now + self._wall(wait)
            return
        if self._ticket_plan.get("ticket") != ticket:
            self._ticket_plan = self._decide(ticket)
        if status == protocol.CALLED:
            if self._ticket_plan["no_show"]:
                key = "recall" if self._ticket_plan.get("recalls", 0) < 1 else "no-show"
                self.action, self.due = key, now + self._wall(NO_SHOW_WAIT_S)
            else:
                self.action, self.due = "start", now + self._wall(lognormal(self.rng, WALK_IN_MEAN_S, WALK_IN_SD_S))
        elif status == protocol.SERVING:
            key = "transfer" if self._ticket_plan.get("transfer_to") else "finish"
            self.action, self.due = key, now + self._wall(self._ticket_plan["service_s"])
        else:  # on hold: the patient went to fetch something
            self.action, self.due = "resume", now + self._wall(ON_HOLD_S)

    def _decide(self, ticket: str) -> dict[str, Any]:
        """What will happen to this patient, decided once when they are called."""
        profile = self.clinic.services.get(self._service or "") or self.clinic.service_of(ticket)
        mean, sd = (profile.mean_s, profile.sd_s) if profile else (300.0, 120.0)
        plan: dict[str, Any] = {"ticket": ticket, "no_show": self.rng.random() < NO_SHOW_SHARE,
                                "service_s": lognormal(self.rng, mean, sd), "transfer_to": None}
        targets = self.clinic.transfer_targets(profile.code, self.served) if profile else []
        if targets and self.rng.random() < TRANSFER_SHARE:
            plan["transfer_to"] = self.rng.choice(targets)
        self._service = None
        return plan


class ArrivalAgent:
    """Patients pressing dispenser buttons: a Poisson stream, services weighted by what is staffed."""

    def __init__(self, dispensers: list[Dispenser], weights: dict[str, float], per_hour: float,
                 priorities: tuple[str, ...], stats: FleetStats, rng: random.Random, speedup: float) -> None:
        self.dispensers = dispensers
        self.services = list(weights)
        self.weights = [weights[s] for s in self.services]
        self.rate_per_s = per_hour * speedup / 3600.0  # wall-clock rate
        self.priorities = priorities
        self.stats = stats
        self.rng = rng
        self.next_at: float | None = None
        self._turn = 0

    def tick(self, now: float) -> None:
        """Press as many buttons as the Poisson stream says are due."""
        if not self.dispensers or not self.services or self.rate_per_s <= 0:
            return
        if self.next_at is None or now - self.next_at > 5.0:  # first tick, or the process was suspended
            self.next_at = now + self.rng.expovariate(self.rate_per_s)
        while now >= self.next_at:
            self._arrive()
            self.next_at += self.rng.expovariate(self.rate_per_s)

    def _arrive(self) -> None:
        dispenser = self.dispensers[self._turn % len(self.dispensers)]
        self._turn += 1
        service = self.rng.choices(self.services, self.weights)[0]
        priority = None
        if self.priorities and self.rng.random() < PRIORITY_SHARE:
            priority = self.rng.choice(self.priorities)
        self.stats.pressed(f"ticket:{service}")
        if dispenser.press(service, priority=priority, on_done=self.stats.record) is None:
            self.stats.refused_presses += 1


# ---------------------------------------------------------------------------------------------- the fleet
@dataclass(frozen=True)
class FleetOptions:
    """How big the fleet is and how fast its people work."""

    keypads: int | None = None  # None: the configured ones
    dispensers: int | None = None
    speakers: int | None = None
    leds: int | None = None
    arrivals_per_hour: float = 60.0  # for the whole fleet, spread over its dispensers
    speedup: float = 1.0
    seed: int | None = None
    timing: Timing = DEFAULT_TIMING


class Fleet:
    """Devices and agents on one timer thread; start(), stop(), stats()."""

    def __init__(self, specs: list[DeviceSpec], bus: BusSettings, clinic: ClinicModel, options: FleetOptions) -> None:
        if options.speedup <= 0:
            raise ValueError("speedup must be positive")
        self.specs = specs
        self.options = options
        self.stats = FleetStats()
        rng = random.Random(options.seed)
        # Speakers talk faster too, or their queues would grow without end at a high speedup.
        timing = replace(options.timing, seconds_per_char=SECONDS_PER_CHAR / options.speedup)
        self.ticker = Ticker(timing.tick_s, name="fleet-ticker")
        self.keypads: list[Keypad] = []
        self.leds: list[LedDisplay] = []
        self.dispensers: list[Dispenser] = []
        self.speakers: list[SpeakerStub] = []
        for spec in specs:
            identity = DeviceIdentity(spec.device_id, secret=spec.secret, zone=spec.zone, counter=spec.counter)
            device_rng = random.Random(rng.random())
            if spec.kind == "keypad":
                self.keypads.append(Keypad(identity, bus, timing, rng=device_rng))
            elif spec.kind == "led":
                self.leds.append(LedDisplay(identity, bus, timing, rng=device_rng))
            elif spec.kind == "dispenser":
                self.dispensers.append(Dispenser(identity, bus, timing, rng=device_rng))
            elif spec.kind == "speaker":
                self.speakers.append(SpeakerStub(identity, bus, timing, rng=device_rng))
        served = {code for k in self.keypads for code in clinic.counter_services.get(k.counter or "", ())}
        self.staff = [StaffAgent(k, clinic, served, self.stats, random.Random(rng.random()), options.speedup)
                      for k in self.keypads]
        # Patients come for what is staffed; with no keypads at all, for anything (the hub's consoles serve).
        counters = [k.counter for k in self.keypads if k.counter] or list(clinic.counter_services)
        self.arrivals = ArrivalAgent(self.dispensers, clinic.arrival_weights(counters), options.arrivals_per_hour,
                                     clinic.kiosk_priorities, self.stats, random.Random(rng.random()),
                                     options.speedup)

    @property
    def devices(self) -> list[Device]:
        """Every device of the fleet."""
        return [*self.keypads, *self.leds, *self.dispensers, *self.speakers]

    def start(self) -> Fleet:
        """Connect every device (in the background) and start the people."""
        for device in self.devices:
            device.start(self.ticker)
        self.ticker.add(self._tick_agents)
        self.ticker.start()
        log.info("fleet: %d keypads, %d LEDs, %d dispensers, %d speakers; %.0f arrivals/h; speedup x%g",
                 len(self.keypads), len(self.leds), len(self.dispensers), len(self.speakers),
                 self.options.arrivals_per_hour, self.options.speedup)
        return self

    def stop(self) -> None:
        """Stop the people, then every device (each says "offline")."""
        self.ticker.remove(self._tick_agents)
        self.ticker.stop()
        for device in self.devices:
            device.stop()

    def wait_online(self, timeout: float) -> bool:
        """True once every device is connected and subscribed."""
        deadline = time.monotonic() + timeout
        for device in self.devices:
            if not device.wait_for(lambda d=device: d.ready, max(0.0, deadline - time.monotonic())):
                return False
        return True

    def _tick_agents(self, now: float) -> None:
        for agent in self.staff:
            agent.tick(now)
        self.arrivals.tick(now)

    def summary(self) -> dict[str, Any]:
        """Counts for the end-of-run report and the demo's status page."""
        p50, p99 = self.stats.percentile(0.5), self.stats.percentile(0.99)
        return {
            "online": sum(1 for d in self.devices if d.connected), "devices": len(self.devices),
            "keys": dict(self.stats.keys), "outcomes": dict(self.stats.outcomes),
            "ack_p50_ms": None if p50 is None else round(p50, 1), "ack_p99_ms": None if p99 is None else round(p99, 1),
            "resends": sum(d.requests.resends for d in [*self.keypads, *self.dispensers]),
            "printed": sum(len(d.printed) for d in self.dispensers),
            "refused_no_paper": self.stats.refused_presses,
            "played": sum(len(s.played) for s in self.speakers),
            "skipped_calls": sum(len(s.skipped) for s in self.speakers),
            "beeps": sum(k.beeps for k in self.keypads),
            "dropped_messages": sum(d.dropped for d in self.devices),
        }


def build_fleet(config: ClinicConfig, mqtt_url: str, options: FleetOptions) -> Fleet:
    """A fleet for this clinic and broker (not started)."""
    specs = plan_roster(config, keypads=options.keypads, dispensers=options.dispensers,
                        speakers=options.speakers, leds=options.leds)
    return Fleet(specs, BusSettings.from_url(mqtt_url, config.site.id), ClinicModel.from_config(config), options)


def start_fleet(config: ClinicConfig, mqtt_url: str | None = None, **options: Any) -> Fleet:
    """For the demo: a started fleet in background threads (greenlets under gevent); call .stop() to end it."""
    fleet = build_fleet(config, mqtt_url or config.hub.mqtt_url, FleetOptions(**options))
    return fleet.start()
