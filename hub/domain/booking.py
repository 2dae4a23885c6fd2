"""Registration of visits, doctors' schedules, slots, appointments and check-in."""

from __future__ import annotations

from hub.config import ClinicConfig
from hub.db import Database
from hub.domain.clock import Clock
from hub.domain.events import EventBus
from hub.domain.queueing import QueueService


class BookingService:
    def __init__(self, db: Database, clinic: ClinicConfig, bus: EventBus, clock: Clock, queue: QueueService) -> None:
        self.db = db
        self.clinic = clinic
        self.bus = bus
        self.clock = clock
        self.queue = queue
