"""Reader processes on and off, back to back: ``python -m bench.readers_ab --scale 1 --rounds 1``.

The same fake vendor process and store kind; each round syncs a fresh ledger with streams read in the
syncing process (``TRAINBRIDGE_READ_PROCESSES=0``) and by reader processes (``auto``), in turn, so
load on a shared machine falls on both alike. Writes ``bench/results/<date>-readers-ab.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from datetime import date
from pathlib import Path

from bench.__main__ import Vendor
from bench.sides import run_trainbridge

RESULTS = Path(__file__).with_name("results")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--output", type=Path, default=RESULTS / f"{date.today()}-readers-ab.json")
    args = parser.parse_args(argv)
    employees, statements = int(100_000 * args.scale), int(1_000_000 * args.scale)
    vendor = Vendor(employees, statements)
    runs = []
    try:
        for _ in range(args.rounds):
            for mode in ("0", "auto"):
                vendor.admin("reset")
                folder = Path(tempfile.mkdtemp(prefix="tb-readers-"))
                os.environ["TRAINBRIDGE_READ_PROCESSES"] = mode
                load = os.getloadavg()
                out = run_trainbridge(vendor.url, f"sqlite:///{folder / 'ledger.sqlite'}", folder / "tb")
                shutil.rmtree(folder, ignore_errors=True)
                rows = employees + statements + employees // 50 + employees // 2
                run = {"read_processes": mode, "seconds": round(out["seconds"], 2),
                       "cpu_seconds": round(out["cpu_seconds"], 2),
                       "reader_cpu_seconds": round(out.get("reader_cpu_seconds", 0), 2),
                       "writer_cpu_seconds": round(out.get("writer_cpu_seconds", 0), 2),
                       "rows_per_second": round(rows / out["seconds"]),
                       "peak_rss_mb": out["sync_peak_rss_mb"],
                       "reader_peak_rss_mb": out.get("reader_peak_rss_mb"), "status": out["status"],
                       "fingerprint": out["fingerprint"], "load": [round(x, 2) for x in load]}
                runs.append(run)
                print(json.dumps(run), flush=True)
    finally:
        vendor.close()
    args.output.write_text(json.dumps({"scale": args.scale, "when": time.strftime("%Y-%m-%d %H:%M"),
                                       "cores": os.cpu_count(), "runs": runs}, indent=2), encoding="utf-8")
    print(f"results written to {args.output}")


if __name__ == "__main__":
    main()
