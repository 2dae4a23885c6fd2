"""tests/shifted_clock: a process and the children it starts (in another folder) share one moved wall clock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROBE = """
import json, os, subprocess, sys, threading, time
from datetime import UTC, datetime
started = time.monotonic()
threading.Event().wait(0.2)  # thread waits and sleeps use the real monotonic clock
time.sleep(0.01)
mine = {"now": datetime.now(UTC).isoformat(), "waited": time.monotonic() - started}
child = None
if len(sys.argv) < 2:
    # The child starts in another folder, as a hub does in its own: the relative PYTHONPATH must still work.
    child = json.loads(subprocess.run([sys.executable, __file__, "child"], capture_output=True, text=True,
                                      cwd="/", check=True).stdout)
print(json.dumps({**mine, "child": child}))
"""


def test_a_test_and_its_children_run_on_the_moved_day(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    env = {**os.environ, "CLINICQ_TEST_NOW": "2033-12-31T16:59:30Z", "PYTHONPATH": "tests/shifted_clock:."}
    env.pop("CLINICQ_TEST_OFFSET_S", None)
    seen = json.loads(subprocess.run([sys.executable, str(probe)], capture_output=True, text=True, cwd=ROOT,
                                     env=env, check=True, timeout=60).stdout)
    for process in (seen, seen["child"]):
        assert process["now"].startswith("2033-12-31T16:59:"), seen
        assert 0.2 <= process["waited"] < 10, seen
