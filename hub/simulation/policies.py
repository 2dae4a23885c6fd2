"""Clinic practices the simulator can play the same day under (`clinicq simulate --policy`).

A practice changes only the clinic's choices: who is called first, in which order a patient does
their tests, whether the patient holds the tickets of independent tests at once, and whether a manager
follows the staffing advisor (opens a reserve room, nudges an idle counter). The arrivals, the patients
(their route, absences, walks and service times) and the staff (shifts, late starts, pauses, the reserve
rooms' pace and free hours) come from the same random streams under every practice, so the figures differ
only by what the clinic does.
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
    parallel: bool = False  # the tickets of independent tests are issued together (one line each)
    advisor: bool = False  # a manager follows the staffing advisor's advice after a delay

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
    Practice("parallel", "parallel tickets alone: independent tests' tickets held at once, in the order written",
             priorities=False, routing=False, parallel=True),
    Practice("advisor", "staffing advisor alone: a manager opens reserve rooms and nudges idle counters",
             priorities=False, routing=False, advisor=True),
    # What the hub does: its order routing issues one ticket at a time (hub/domain/clinical/orders.py),
    # so parallel tickets stay a practice of their own (docs/simulation.md says why).
    Practice("clinicq", "what clinicq does: priority classes, order routing, the staffing advisor followed",
             priorities=True, routing=True, advisor=True),
)}
DEFAULT_POLICY = "clinicq"
