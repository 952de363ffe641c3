"""``python -m bench.http_client``: client CPU per small GET, HttpClient against raw requests and urllib3.

A BambooHR training scan sends one ``GET /v1/training/record/employee/{id}`` per employee
(100,000 at full benchmark size), so what the client spends on one small GET decides a
sync. This sends ``--requests`` such GETs to ``bench.fake_vendor`` (its own process: its CPU
is not counted) four ways, each in rounds, and reports the client's CPU microseconds per
request (``time.process_time``, the best round: other work on the machine only adds):

* ``urllib3``: a ``PoolManager`` GET, the body decoded by ``json.loads`` (the floor);
* ``requests``: ``requests.Session.get`` with the same auth and headers, ``.json()``;
* ``http_client``: ``HttpClient.get_json`` as the BambooHR connector calls it (Basic auth,
  ``Accept``, retries on, per-host waits, secrets registered);
* ``http_client_debug``: the same with the ``trainbridge.http`` logger at DEBUG into a
  null handler (what one line of log per request costs).

Each run is kept under its ``--label`` in ``--output`` (other labels are left as they are), so
a checkout before a change and one after can be measured into one file::

    PYTHONPATH=/tmp/before/src python -m bench.http_client --label before
    python -m bench.http_client --label after
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

API_KEY = "bench-api-key"
OUTPUT = Path(__file__).parent / "results" / "2026-12-05-http-client.json"


def _variants(url: str, employees: int) -> dict[str, Callable[[int], Any]]:
    import requests
    import urllib3

    from trainbridge.core.http import HttpClient, HttpSettings

    base = f"{url}/bamboo/v1"
    headers = {"Accept": "application/json"}
    pool = urllib3.PoolManager(headers={**urllib3.make_headers(basic_auth=f"{API_KEY}:x"), **headers})
    session = requests.Session()
    client = HttpClient(base, instance="bench", settings=HttpSettings(max_attempts=8, backoff_base=0.2),
                        auth=(API_KEY, "x"), headers=headers)
    debug_client = HttpClient(base, instance="bench", settings=HttpSettings(max_attempts=8, backoff_base=0.2),
                              auth=(API_KEY, "x"), headers=headers)

    def one_id(n: int) -> int:
        return 1 + n % employees

    def raw_urllib3(n: int) -> Any:
        return json.loads(pool.request("GET", f"{base}/training/record/employee/{one_id(n)}").data)

    def raw_requests(n: int) -> Any:
        return session.get(f"{base}/training/record/employee/{one_id(n)}", auth=(API_KEY, "x"),
                           headers=headers, timeout=30).json()

    def http_client(n: int) -> Any:
        return client.get_json(f"training/record/employee/{one_id(n)}")

    def http_client_debug(n: int) -> Any:
        return debug_client.get_json(f"training/record/employee/{one_id(n)}")

    return {"urllib3": raw_urllib3, "requests": raw_requests, "http_client": http_client,
            "http_client_debug": http_client_debug}


def measure(send: Callable[[int], Any], requests: int) -> dict[str, float]:
    for n in range(min(200, requests)):  # connections open, caches warm
        send(n)
    cpu, wall = time.process_time(), time.perf_counter()
    for n in range(requests):
        send(n)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {"cpu_us_per_request": round(cpu / requests * 1e6, 1),
            "wall_us_per_request": round(wall / requests * 1e6, 1)}


def main(argv: list[str] | None = None) -> int:
    from bench.__main__ import Vendor, _checkout

    parser = argparse.ArgumentParser(prog="python -m bench.http_client", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=5000, help="GETs per round and variant")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--employees", type=int, default=3000)
    parser.add_argument("--label", default="current")
    parser.add_argument("--note", default="", help="what this run measured (kept with it)")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)

    logger = logging.getLogger("trainbridge.http")
    vendor = Vendor(args.employees, 0)
    rounds: dict[str, list[dict[str, float]]] = {}
    try:
        variants = _variants(vendor.url, args.employees)
        for _ in range(args.rounds):  # interleaved: a busy moment of the machine hits every variant
            for name, send in variants.items():
                debug = name.endswith("_debug")
                if debug:
                    logger.setLevel(logging.DEBUG)
                    logger.addHandler(null := logging.NullHandler())
                try:
                    rounds.setdefault(name, []).append(measure(send, args.requests))
                finally:
                    if debug:
                        logger.setLevel(logging.NOTSET)
                        logger.removeHandler(null)
    finally:
        vendor.close()

    result: dict[str, Any] = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"), "checkout": _checkout(), "note": args.note,
        "load_avg_at_end": os.getloadavg(),
        "requests_per_round": args.requests, "rounds": args.rounds,
        "best": {name: min(rs, key=lambda r: r["cpu_us_per_request"]) for name, rs in rounds.items()},
        "all_rounds_cpu_us": {name: [r["cpu_us_per_request"] for r in rs] for name, rs in rounds.items()},
    }
    out: dict[str, Any] = json.loads(args.output.read_text()) if args.output.exists() else {}
    out.setdefault("what", "client CPU microseconds per small GET (best of the rounds); "
                           "see bench/http_client.py")
    out[args.label] = result
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    for name, best in result["best"].items():
        print(f"{args.label:>10} {name:<18} {best['cpu_us_per_request']:7.1f} µs CPU/request "
              f"({best['wall_us_per_request']:.1f} µs wall)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
