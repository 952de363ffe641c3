"""``python -m bench.profile``: one trainbridge ingest sync against the fake vendor, profiled.

Starts ``bench.fake_vendor`` in its own process, runs ``sync(ws, ["ingest"])`` into a fresh
SQLite file or PostgreSQL database under cProfile, and prints the functions that took the
most time (own time and cumulative). This is how the before/after figures of BENCHMARKS.md's
ingestion round were taken::

    python -m bench.profile --scale 0.03 --store sqlite
    PYTHONPATH=/old/checkout/src python -m bench.profile --scale 0.03   # the same, another checkout
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from bench.__main__ import Vendor, drop_store, fresh_store
    from bench.sides import run_trainbridge

    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=0.03)
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--only-xapi", action="store_true")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--no-read-ahead", action="store_true",
                        help="read in the writing thread, so the profile sees the reading too")
    parser.add_argument("--training-concurrency", type=int, default=None,
                        help="BambooHR training requests in flight (1: in the profiled thread)")
    parser.add_argument("--output", type=Path, default=None, help="also write the pstats file here")
    args = parser.parse_args(argv)
    employees, statements = int(100_000 * args.scale), int(1_000_000 * args.scale)
    # cProfile sees this process only: the streams are read here unless asked otherwise
    os.environ.setdefault("TRAINBRIDGE_READ_PROCESSES", "0")
    if args.no_read_ahead:
        from trainbridge.core import ingest

        ingest.READ_AHEAD = 0
    if args.training_concurrency is not None:
        from bench import sides

        sides.PLUGINS_TOML = sides.PLUGINS_TOML.replace(
            "training_concurrency = 1", f"training_concurrency = {args.training_concurrency}")
    vendor = Vendor(employees, statements)
    workdir = Path(tempfile.mkdtemp(prefix="tb-profile-"))
    store = fresh_store(args.store, "trainbridge", workdir)
    profiler = cProfile.Profile()
    try:
        started = time.perf_counter()
        profiler.enable()
        result = run_trainbridge(vendor.url, store, workdir / "tb", only_xapi=args.only_xapi)
        profiler.disable()
        wall = time.perf_counter() - started
    finally:
        vendor.close()
        drop_store(store)
    rows = result.get("total_rows", 0)
    print(f"{employees:,} employees, {statements:,} statements -> {rows:,} ledger rows; sync "
          f"{result['seconds']:.2f} s ({wall:.2f} s with start-up and counting), status {result['status']}")
    for order in ("tottime", "cumulative"):
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats(order).print_stats(args.top)
        print(text.getvalue())
    if args.output:
        profiler.dump_stats(str(args.output))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
