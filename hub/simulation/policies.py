"""Clinic practices the simulator can play the same day under (`clinicq simulate --policy`).

A practice changes only the clinic's choices: who is called first and in which order a patient does
their tests. The arrivals, the patients (their route, absences, walks and service times) and the staff
(shifts, late starts, pauses) come from the same random streams under every practice, so the figures
differ only by what the clinic does.
"""

from __future__ import annotations

from dataclasses import dataclass

EMERGENCY = "emergency"


@dataclass(frozen=True)
class Practice:
    name: str
    description: str
    priorities: bool  # priority classes (elderly, children, returning...) beyond emergencies
    routing: bool  # tests in the order of the earliest expected return, re-planned on the way

    def priority(self, klass: str) -> str:
        """The class a ticket is issued with: a paper clinic knows only emergencies and everyone else."""
        return klass if self.priorities or klass == EMERGENCY else "normal"


POLICIES: dict[str, Practice] = {p.name: p for p in (
    Practice("fifo-paper", "paper tickets: one line per service, emergencies only, tests in the order written",
             priorities=False, routing=False),
    Practice("priorities", "priority classes alone (elderly, children, pregnant, returning with results)",
             priorities=True, routing=False),
    Practice("routing", "order routing alone: tests in the order of the earliest expected return",
             priorities=False, routing=True),
    Practice("clinicq", "everything on: priority classes and order routing", priorities=True, routing=True),
)}
DEFAULT_POLICY = "clinicq"
