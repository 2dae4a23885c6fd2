"""Engine CPU per ticket issue at 0, 1,000, 5,000 and 20,000 waiting, in-process (no HTTP; fsync waits
and other processes do not count, since it reads `process_time`). Compare two trees by PYTHONPATH:

    PYTHONPATH=. .venv/bin/python bench/engine_cpu_growth.py after
    PYTHONPATH=/path/to/other/tree .venv/bin/python bench/engine_cpu_growth.py before
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from hub.config import load_config
from hub.core import build_hub

CONFIG = Path(__file__).resolve().parents[1] / "config"


def main(label: str) -> None:
    folder = Path(tempfile.mkdtemp(prefix="clinicq-cpu-"))
    hub = build_hub(load_config(CONFIG, env={}), var_dir=folder, db_url=f"sqlite:///{folder / 'hub.db'}")
    queue = hub.queue
    cfg = queue.service_config("tiep-don")

    def fill(count: int) -> None:
        while count > 0:
            batch = min(count, 500)
            with queue._transaction() as txn:
                for _ in range(batch):
                    queue._issue(txn, cfg, priority="normal", actor="fill", source="reception")
            count -= batch

    def cpu_ms(count: int = 200) -> float:
        began = time.process_time()
        for _ in range(count):
            queue.issue("tiep-don", actor="bench")
        return (time.process_time() - began) / count * 1000

    figures, level = [], 0
    for target in (0, 1000, 5000, 20000):
        fill(target - level)
        cpu_ms(20)  # warm up
        figures.append(f"{target}: {cpu_ms():.2f} ms CPU/issue")
        level = target + 220
    hub.close()
    print(label, "; ".join(figures))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "engine")
