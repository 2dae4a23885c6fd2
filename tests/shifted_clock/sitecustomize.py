"""Run the tests on another day: put this folder first on PYTHONPATH and set CLINICQ_TEST_NOW.

    CLINICQ_TEST_NOW=2033-12-31T16:59:30Z PYTHONPATH=tests/shifted_clock:. pytest -x -q tests/test_x.py
    CLINICQ_TEST_NOW=+400d ...

Every Python process that starts with this PYTHONPATH (pytest, and the hubs, kiosks and devices the tests
start) sees the wall clock moved by the same offset and still ticking. Only the wall clock moves
(datetime.now, date.today, time.time): monotonic clocks and sleeps stay real, so timeouts and thread waits
behave. libfaketime cannot do this under Python 3.11: with its monotonic clock faked a thread's
Event.wait(0.5) never returns, without it every time.sleep() fails with EINVAL. The browser's own clock
(Chromium) is not moved.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

_OFFSET = "CLINICQ_TEST_OFFSET_S"  # computed once, in the first process, and inherited by its children


def _offset_seconds(wanted: str) -> float:
    if wanted.startswith("+") and wanted.endswith("d"):
        return float(wanted[1:-1]) * 86400
    instant = datetime.fromisoformat(wanted.replace("Z", "+00:00"))
    if instant.tzinfo is None:
        raise ValueError("CLINICQ_TEST_NOW needs a time zone, e.g. 2033-12-31T16:59:30Z")
    return (instant - datetime.now(UTC)).total_seconds()


if os.environ.get("CLINICQ_TEST_NOW"):
    import time_machine

    # Children (a hub runs in its own folder) must find this file too: make the search path absolute.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        os.path.abspath(part) for part in os.environ.get("PYTHONPATH", "").split(os.pathsep) if part)
    if _OFFSET not in os.environ:
        os.environ[_OFFSET] = repr(_offset_seconds(os.environ["CLINICQ_TEST_NOW"]))
    _travel = time_machine.travel(datetime.now(UTC) + timedelta(seconds=float(os.environ[_OFFSET])), tick=True)
    _travel.start()
