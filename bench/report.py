"""The results as a Markdown table, with the issue's targets and where we stand."""

from __future__ import annotations

from typing import Any


def _f(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


#: Issue 24's ingestion targets: rows/s against dlt's parquet path, rows/s, incremental share.
PARQUET_RATIO, ROWS_PER_S, INCREMENTAL_SHARE = 2.0, 35_000, 3.0


def _ratio_lines(by: dict[tuple[str, str], dict[str, Any]], n: int,
                 targets: list[tuple[str, str, str]]) -> list[str]:
    """trainbridge's full-sync rows/s over each dlt path's, per store, and the targets."""
    lines: list[str] = []

    def ok(run: dict[str, Any] | None) -> bool:
        return run is not None and "error" not in run["full"]

    for store in ("sqlite", "postgres"):
        tb = by.get((store, "trainbridge"))
        if not ok(tb):
            continue
        assert tb is not None
        seconds = tb["full"]["seconds"]
        for other, label in (((store, "dlt"), f"dlt sqlalchemy -> {store}"),
                             (("duckdb", "dlt-parquet"), "dlt parquet -> duckdb"),
                             (("duckdb", "dlt-duckdb"), "dlt default -> duckdb")):
            run = by.get(other)
            if not ok(run):
                continue
            assert run is not None
            ratio = run["full"]["seconds"] / seconds
            lines.append(f"| {store} | **trainbridge / {label}, rows/s** | | **{ratio:.2f}x** | | | | |")
            if other[1] == "dlt-parquet":
                targets.append((f"full sync rows/s >= {PARQUET_RATIO:.0f}x dlt's parquet path ({store})",
                                f"{ratio:.2f}x", "met" if ratio >= PARQUET_RATIO else "missed"))
            elif other[1] == "dlt":
                targets.append((f"full sync rows/s >= 1.0x dlt, same store ({store})", f"{ratio:.2f}x",
                                "met" if ratio >= 1 else "missed"))
        rate = n / seconds
        targets.append((f"full sync >= {ROWS_PER_S:,} rows/s ({store})", f"{rate:,.0f} rows/s",
                        "met" if rate >= ROWS_PER_S else "missed"))
        if "error" not in tb["incremental"] and not tb["incremental"].get("timed_out"):
            share = 100 * tb["incremental"]["seconds"] / seconds
            verdict = "met" if share <= INCREMENTAL_SHARE else "missed"
            targets.append((f"incremental (1% changed) <= {INCREMENTAL_SHARE:.0f}% of full ({store}, "
                            "trainbridge)", f"{share:.1f}%", verdict))
    return lines


def render(out: dict[str, Any]) -> str:
    lines: list[str] = []
    targets: list[tuple[str, str, str]] = []
    m = out.get("machine", {})
    lines.append(f"machine: {m.get('nproc')} cores, {m.get('memory_gb')} GB, Python {m.get('python')}, "
                 f"load {m.get('load_avg_at_start')} -> {m.get('load_avg_at_end')}; versions "
                 + ", ".join(f"{k} {v}" for k, v in (m.get("versions") or {}).items() if v))
    if "ceiling" in out:
        c = out["ceiling"]
        through = c.get("small_requests_per_s_requests_client")
        lines += ["", f"fake vendor ceiling ({c['client']}): {c['small_requests_per_s']:,} small "
                      "requests/s" + (f" ({through:,}/s through requests)" if through else "")
                  + f", {c['statements_per_s']:,} statements/s ({c.get('limit', 500):,} per page)"]
    if "full" in out:
        f = out["full"]
        n = f["logical_records"]
        lines += ["", f"full sync: {f['employees']:,} employees, {f['statements']:,} statements, "
                      f"{f['cost_items']:,} training records with cost = {n:,} source records", "",
                  "| store | tool | full s | rows/s | peak RSS MB | incremental s | incr/full "
                  "| rows in store |",
                  "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
        by: dict[tuple[str, str], dict[str, Any]] = {}
        for run in f["runs"]:
            full, incr = run["full"], run["incremental"]
            by[(run["store"], run["tool"])] = run
            if "error" in full:
                lines.append(f"| {run['store']} | {run['tool']} | error: {full['error'][-120:]!r} |")
                continue
            if incr.get("timed_out"):
                incremental = f"> {incr['wall_seconds']:,.0f} (stopped)"
                share = f"> {100 * incr['wall_seconds'] / full['seconds']:,.0f}%"
            elif "error" in incr:
                incremental, share = f"error: {incr['error'][-80:]!r}", "-"
            else:
                incremental = _f(incr["seconds"], 2)
                share = f"{_f(100 * incr['seconds'] / full['seconds'])}%"
            lines.append(
                f"| {run['store']} | {run['tool']} | {_f(full['seconds'])} | {_f(n / full['seconds'], 0)} | "
                f"{_f(full.get('peak_rss_mb'))} | {incremental} | {share} | {_f(incr.get('total_rows'))} |")
        lines += _ratio_lines(by, n, targets)
    if "faults" in out:
        f = out["faults"]
        lines += ["", f"faults: {f['employees']:,} employees, {f['statements']:,} statements; full + "
                      "incremental, clean vs 2% 429 (Retry-After: 1) + 1% 502, SQLite", "",
                  "| tool | clean s | faulty s | 429 / 5xx injected | same final ledger | duplicates |",
                  "| --- | ---: | ---: | ---: | --- | ---: |"]
        for run in f["runs"]:
            clean, faulty = run["clean"], run["faulty"]
            seconds = [sum(r[k].get("seconds") or 0 for k in ("full", "incremental"))
                       for r in (clean, faulty)]
            srv = faulty["server"]
            lines.append(f"| {run['tool']} | {_f(seconds[0])} | {_f(seconds[1])} | {srv['429']} / "
                         f"{srv['5xx']} of {srv['requests']} | {run['same_final_ledger']} | "
                         f"{run['duplicates']} |")
            if run["tool"] == "trainbridge":
                targets.append(("429/5xx: same final ledger, no duplicates",
                                f"same={run['same_final_ledger']}, duplicates={run['duplicates']}",
                                "met" if run["same_final_ledger"] and not run["duplicates"] else "missed"))
    if "scale" in out:
        lines += ["", "scale (xAPI statements only, SQLite): time and peak RSS of the child process", "",
                  "| statements | tool | seconds | rows/s | peak RSS MB |",
                  "| ---: | --- | ---: | ---: | ---: |"]
        rss: dict[str, dict[int, float]] = {}
        for run in out["scale"]["runs"]:
            if "error" in run:
                lines.append(f"| {run['size']:,} | {run['tool']} | error | | |")
                continue
            rss.setdefault(run["tool"], {})[run["size"]] = run["peak_rss_mb"]
            lines.append(f"| {run['size']:,} | {run['tool']} | {_f(run['seconds'])} | "
                         f"{_f(run['size'] / run['seconds'], 0)} | {_f(run['peak_rss_mb'])} |")
        for tool, sizes in rss.items():
            if len(sizes) > 1:
                lo, hi = min(sizes), max(sizes)
                growth = sizes[hi] / sizes[lo]
                lines.append(f"| {lo:,} -> {hi:,} | {tool} peak RSS growth | | | **{growth:.2f}x** |")
                if tool == "trainbridge":
                    targets.append((f"peak memory growth {lo:,} -> {hi:,} events <= 1.2x", f"{growth:.2f}x",
                                    "met" if growth <= 1.2 else "missed"))
    if "domain" in out:
        d = out["domain"]
        lines += ["", "domain throughput (no HTTP, no store)", "",
                  "| what | items | seconds | items/s |", "| --- | ---: | ---: | ---: |"]
        for key, label in (("refunds", "refund quotes (leavers)"), ("incentives", "incentive run (managers)"),
                           ("points_rules", "points: score_event alone")):
            r = d[key]
            note = "" if r.get("complete", True) else f" (stopped after {r['items']:,} of {r['asked']:,})"
            lines.append(f"| {label}{note} | {r['items']:,} | {_f(r['seconds'], 2)} | {_f(r['per_s'], 0)} |")
        for r in d.get("points_job", []):
            what = (f"points: PointsJob.decide (the job; {r['entries']:,} entries, "
                    f"{r.get('taken_back', 0):,} taken back)")
            lines.append(f"| {what} | {r['items']:,} | {_f(r['seconds'], 2)} | {_f(r['per_s'], 0)} |")
        targets.append(("refund quotes: 10k leavers < 2 s", f"{d['refunds']['seconds']:.2f} s",
                        "met" if d["refunds"]["seconds"] < 2 else "missed"))
        for key, label in (("points_rules", "rules alone"),):
            r = d[key]
            projected = 1_000_000 / r["per_s"] if r["per_s"] else None
            how = f"{projected:.0f} s for 1M at {r['per_s']:,.0f}/s" + \
                ("" if r.get("complete") and r["asked"] >= 1_000_000 else " (projected)")
            targets.append((f"points for 1M events < 60 s ({label})", how,
                            "met" if projected and projected < 60 else "missed"))
        if d.get("points_job"):
            r = d["points_job"][-1]
            projected = r["seconds"] * 1_000_000 / r["items"]
            how = f"{r['items']:,} events in {r['seconds']:.1f} s" + \
                ("" if r["items"] >= 1_000_000 else f" ({projected:.0f} s for 1M if linear)")
            targets.append(("points for 1M events < 60 s (PointsJob.decide)", how,
                            "met" if projected < 60 else "missed"))
    if "requests" in out:
        lines += requests_tables(out["requests"])
    if targets:
        lines += ["", "| target | measured | |", "| --- | --- | --- |"]
        lines += [f"| {t} | {v} | {s} |" for t, v, s in targets]
    return "\n".join(lines)


def requests_tables(r: dict[str, Any]) -> list[str]:
    """Requests and full reads per endpoint, one column pair per checkout, full sync and after 1%."""
    runs = r["runs"]
    # a checkout with uncommitted changes is its commit plus something: "4339661+"
    names = [(run["checkout"].get("commit") or run["checkout"]["path"])[:7]
             + ("+" if run["checkout"].get("uncommitted_changes") else "") for run in runs]
    lines: list[str] = []
    for phase, title in (("full", "full sync"), ("incremental", "sync after 1% changed")):
        lines += ["", f"vendor requests per {title} of every job ({r['employees']:,} employees, "
                      f"{r['statements']:,} statements): requests / full reads per endpoint", "",
                  "| endpoint | " + " | ".join(f"{n} requests | {n} reads" for n in names) + " |",
                  "| --- |" + " ---: | ---: |" * len(runs)]
        tallies = [run[phase].get("vendor_requests") or {} for run in runs]
        for run in runs:
            if "error" in run[phase]:
                lines.append(f"| error ({run['checkout']['path']}): {run[phase]['error'][-120:]!r} |")
        for endpoint in sorted({e for t in tallies for e in t}):
            counts = [t.get(endpoint, {"requests": 0, "reads": 0}) for t in tallies]
            cells = " | ".join(f"{c['requests']:,} | {c['reads']:,}" for c in counts)
            lines.append(f"| `{endpoint}` | {cells} |")
        totals = [sum(v["requests"] for v in t.values()) for t in tallies]
        lines.append("| **all** | " + " | ".join(f"**{n:,}** | " for n in totals) + " |")
    return lines
