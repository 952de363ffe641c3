"""What a run reports: its status, counts and errors; exit codes; the fault points tests kill at."""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

FAULT_ENV = "TRAINBRIDGE_FAULT"
_fault_counts: dict[str, int] = {}


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    PARTIAL = 3
    ALREADY_RUNNING = 75


def fault_point(name: str) -> None:
    """Test hook: ``TRAINBRIDGE_FAULT=name[:n]`` kills this process the n-th time ``name`` is hit.

    Callers reach it through this module (``results.fault_point``) so a test can replace it.
    """
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    point, _, nth = spec.partition(":")
    if point != name:
        return
    _fault_counts[name] = _fault_counts.get(name, 0) + 1
    if _fault_counts[name] >= int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class RunResult:
    job: str
    run_id: int | None
    status: str = "ok"
    counts: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)
    plan_lines: list[str] = field(default_factory=list)

    def bump(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    @property
    def exit_code(self) -> ExitCode:
        return {"ok": ExitCode.OK, "partial": ExitCode.PARTIAL, "failed": ExitCode.FAILED,
                "already_running": ExitCode.ALREADY_RUNNING}.get(self.status, ExitCode.FAILED)

    def as_dict(self) -> dict[str, Any]:
        return {"job": self.job, "run_id": self.run_id, "status": self.status, "counts": self.counts,
                "errors": self.errors, "summary": self.summary}


class SyncResults(list[RunResult]):
    """The jobs' results of one sync, in the order they ran; ``ingest`` is the ingestion's.

    When the ``ingest`` job itself was named, its result is the ingestion's and is in the list.
    """

    def __init__(self, results: list[RunResult], ingest: RunResult) -> None:
        super().__init__(results)
        self.ingest = ingest

    def all(self) -> list[RunResult]:
        """Every result of the sync, the ingestion's first (once)."""
        return [self.ingest, *(r for r in self if r is not self.ingest)]


def overall_exit(results: list[RunResult]) -> ExitCode:
    every = results.all() if isinstance(results, SyncResults) else list(results)
    codes = [r.exit_code for r in every]
    for code in (ExitCode.FAILED, ExitCode.ALREADY_RUNNING, ExitCode.PARTIAL):
        if code in codes:
            return code
    return ExitCode.OK
