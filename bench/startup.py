"""CLI start-up: how long each command takes from the shell, on the demo's ledger.

``python -m bench.startup [--repeat 5]`` runs each command in a fresh process (as an operator
or a cron job does), keeps the median and the slowest, and writes
``bench/results/<date>-startup.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

COMMANDS = (
    ("--version",),
    ("--help",),
    ("proposals", "approve", "--help"),
    ("runs", "--limit", "5"),
    ("proposals", "list"),
    ("quarantine", "list"),
    ("outbox", "list"),
    ("schema", "employee"),
    ("sync", "--dry-run", "costs"),
)


def timed(args: tuple[str, ...], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "trainbridge", *args], cwd=cwd, capture_output=True,
                   timeout=300, check=False)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        demo = Path(tmp) / "demo"
        subprocess.run([sys.executable, "-m", "trainbridge", "demo", "--dir", str(demo)],
                       capture_output=True, timeout=600, check=True)
        rows = []
        for args in COMMANDS:
            times = [timed(args, demo) for _ in range(options.repeat)]
            row = {"command": "trainbridge " + " ".join(args), "median_s": round(statistics.median(times), 3),
                   "max_s": round(max(times), 3)}
            rows.append(row)
            print(f"{row['command']:<40} median {row['median_s']:.2f} s  max {row['max_s']:.2f} s")
    out = Path(__file__).parent / "results" / f"{datetime.now(UTC):%Y-%m-%d}-startup.json"
    facts = {"measured_at": datetime.now(UTC).isoformat(), "load_avg": os.getloadavg(),
             "repeat": options.repeat, "commands": rows}
    out.write_text(json.dumps(facts, indent=2) + "\n", encoding="utf-8")
    print(f"results written to {out}")


if __name__ == "__main__":
    main()
