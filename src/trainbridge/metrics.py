"""Prometheus metrics of runs, exposed by a Celery worker (optional extra ``celery``).

The worker's pool processes run the jobs and its main process serves the metrics, so
the values go through prometheus_client's multiprocess mode: every process writes its
own files in ``PROMETHEUS_MULTIPROC_DIR`` and the server sums them. That variable must
be set before prometheus_client is first imported, which :func:`prepare` does; nothing
is recorded until :func:`prepare` has run, so a plain ``trainbridge sync`` pays nothing.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Mapping
from typing import Any

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
PORT_ENV = "TRAINBRIDGE_METRICS_PORT"
ADDR_ENV = "TRAINBRIDGE_METRICS_ADDR"
DURATION_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
#: run count key -> metric name (a counter, summed per tenant and job)
COUNTED = {
    "read": ("trainbridge_records_read", "Records read from sources (including rejected ones)"),
    "decisions": ("trainbridge_decisions", "Decisions recorded"),
    "proposals": ("trainbridge_proposals", "Proposals waiting for or auto-approved by HR"),
    "delivered": ("trainbridge_deliveries", "Outbox rows delivered to sinks"),
    "delivery_failed": ("trainbridge_delivery_failures", "Outbox deliveries that failed"),
    "instances_failed": ("trainbridge_instance_failures", "Source instances that failed during a run"),
    "quarantined": ("trainbridge_quarantined", "Records quarantined as invalid"),
}

_metrics: dict[str, Any] = {}
_started: dict[tuple[str, str, int], float] = {}


def prepare(directory: str | None = None) -> str:
    """Switch on recording in this process and its children; returns the multiprocess folder."""
    folder = directory or os.environ.get(MULTIPROC_ENV) or tempfile.mkdtemp(prefix="trainbridge-metrics-")
    os.makedirs(folder, exist_ok=True)
    os.environ[MULTIPROC_ENV] = folder
    return folder


def enabled() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


def _build() -> dict[str, Any]:
    if _metrics:
        return _metrics
    from prometheus_client import Counter, Gauge, Histogram

    labels = ("tenant", "job")
    _metrics["runs"] = Counter("trainbridge_runs", "Runs by final status (ok, partial, failed, "
                               "already_running, skipped)", (*labels, "status"))
    _metrics["duration"] = Histogram("trainbridge_run_duration_seconds", "Wall time of a run",
                                     labels, buckets=DURATION_BUCKETS)
    _metrics["last"] = Gauge("trainbridge_run_last_finished_timestamp_seconds",
                             "When a run of the job last finished, by status", (*labels, "status"),
                             multiprocess_mode="max")
    for key, (name, doc) in COUNTED.items():
        _metrics[key] = Counter(name, doc, labels)
    return _metrics


def run_started(tenant: str, job: str, run_id: int) -> None:
    if enabled():
        _started[(tenant, job, run_id)] = time.monotonic()


def run_finished(tenant: str, job: str, run_id: int | None, status: str,
                 counts: Mapping[str, int] | None = None) -> None:
    """Record one run (or a refused duplicate: already_running, skipped)."""
    started = _started.pop((tenant, job, run_id), None) if run_id is not None else None
    if not enabled():
        return
    m = _build()
    m["runs"].labels(tenant, job, status).inc()
    m["last"].labels(tenant, job, status).set(time.time())
    if started is not None:
        m["duration"].labels(tenant, job).observe(time.monotonic() - started)
    for key, value in (counts or {}).items():
        if key in COUNTED and value:
            m[key].labels(tenant, job).inc(value)


def serve(port: int, addr: str = "0.0.0.0") -> None:
    """Serve every process's metrics (the multiprocess folder) on ``addr:port`` from this process.

    All interfaces by default: Prometheus scrapes the pod or the host from outside."""
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    start_http_server(port, addr=addr, registry=registry)


def render() -> str:
    """The current metrics as Prometheus text (for a test or a one-off look)."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    return generate_latest(registry).decode("utf-8")
