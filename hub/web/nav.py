"""The staff pages, as the start page lists them (each for some roles; admin sees all)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StaffLink:
    url: str
    vi: str
    en: str
    roles: tuple[str, ...]


STAFF_LINKS = (
    StaffLink("/console", "Bàn gọi số (điều dưỡng, quầy)", "Calling console", ("nurse", "reception", "doctor", "lab",
                                                                              "cashier")),
    StaffLink("/admin/counters", "Quầy, phòng và nhân viên", "Counters, rooms and staff", ("admin",)),
    StaffLink("/admin/devices", "Thiết bị", "Devices", ("nurse", "reception", "admin")),
)
