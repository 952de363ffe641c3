"""Runs (one row per job run) and the run lock with its heartbeat and takeover rules.

A lock is taken over only from a dead holder: on the same host, when its process is gone (a
zombie counts as gone); on another host, when it has sent no heartbeat for
``lock_timeout_seconds``. A live holder on this host keeps its lock however late its heartbeat.
"""

from __future__ import annotations

import os
import socket
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from trainbridge.core.errors import AlreadyRunning
from trainbridge.core.ledger.engine import _aware, _insert_ignore, now_utc
from trainbridge.core.ledger.tables import locks_table, runs_table
from trainbridge.core.secrets import scrub


class RunsMixin:
    tenant: str

    def transaction(self) -> AbstractContextManager[Connection]:
        raise NotImplementedError

    def active_run_ids(self, conn: Connection) -> set[int]:
        rows = conn.execute(sa.select(locks_table.c.run_id).where(locks_table.c.tenant == self.tenant))
        return {int(r.run_id) for r in rows}


    def start_run(self, job: str) -> int:
        with self.transaction() as conn:
            result = conn.execute(runs_table.insert().values(
                tenant=self.tenant, job=job, status="running", started_at=now_utc(),
                host=socket.gethostname(), pid=os.getpid(), counts={}, errors=[]))
            return int(result.inserted_primary_key[0])  # type: ignore[index]

    def finish_run(self, run_id: int, status: str, counts: dict[str, int], errors: list[str]) -> None:
        with self.transaction() as conn:
            conn.execute(sa.update(runs_table).where(runs_table.c.id == run_id).values(
                status=status, finished_at=now_utc(), counts=counts, errors=[scrub(e) for e in errors]))

    def list_runs(self, conn: Connection, *, job: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        t = runs_table
        query = sa.select(t).where(t.c.tenant == self.tenant)
        if job:
            query = query.where(t.c.job == job)
        rows = conn.execute(query.order_by(t.c.id.desc()).limit(limit)).mappings().all()
        result = []
        for row in rows:
            item = dict(row)
            item["started_at"] = _aware(item["started_at"])
            item["finished_at"] = _aware(item["finished_at"])
            result.append(item)
        return result

    def acquire_lock(self, job: str, run_id: int, *, stale_after: timedelta) -> None:
        """Take the (tenant, job) lock or raise AlreadyRunning; a dead holder's lock is taken over."""
        t = locks_table
        now = now_utc()
        row = {"tenant": self.tenant, "job": job, "run_id": run_id, "host": socket.gethostname(),
               "pid": os.getpid(), "acquired_at": now, "heartbeat_at": now}
        with self.transaction() as conn:
            if _insert_ignore(conn, t, [row]):
                return
            held = conn.execute(sa.select(t).where(t.c.tenant == self.tenant, t.c.job == job)).first()
            if held is None:
                if _insert_ignore(conn, t, [row]):
                    return
                held = conn.execute(sa.select(t).where(t.c.tenant == self.tenant,
                                                       t.c.job == job)).first()
            assert held is not None
            if not _holder_is_dead(held, now, stale_after):
                # a sync (and approvals sending) holds the lock by a negative token, not a run id
                run = f"run {held.run_id}, " if held.run_id > 0 else ""
                msg = (f"job {job!r} of tenant {self.tenant!r} is already running "
                       f"({run}pid {held.pid} on {held.host})")
                raise AlreadyRunning(msg, hint="wait for it to finish; a killed run's lock is taken "
                                                "over automatically once its process is gone")
            taken = conn.execute(sa.update(t).where(
                t.c.tenant == self.tenant, t.c.job == job, t.c.run_id == held.run_id,
            ).values(**{k: v for k, v in row.items() if k not in ("tenant", "job")})).rowcount
            if not taken:
                msg = f"job {job!r} of tenant {self.tenant!r} was just taken by another run"
                raise AlreadyRunning(msg, hint="wait for it to finish")
            conn.execute(sa.update(runs_table).where(
                runs_table.c.id == held.run_id, runs_table.c.status == "running",
            ).values(status="abandoned", finished_at=now))

    def lock_held(self, name: str, *, stale_after: timedelta) -> bool:
        """True while a live holder has the lock ``name`` (a dead holder's lock counts as free)."""
        with self.transaction() as conn:
            held = conn.execute(sa.select(locks_table).where(
                locks_table.c.tenant == self.tenant, locks_table.c.job == name)).first()
        return held is not None and not _holder_is_dead(held, now_utc(), stale_after)

    def abandon_dead_runs(self) -> int:
        """Runs still 'running' whose process on this host is gone and that hold no lock (killed
        before or after their lock) become 'abandoned'. Returns how many."""
        t = runs_table
        host = socket.gethostname()
        with self.transaction() as conn:
            holders = self.active_run_ids(conn)
            rows = conn.execute(sa.select(t.c.id, t.c.pid, t.c.started_at).where(
                t.c.tenant == self.tenant, t.c.status == "running", t.c.host == host)).all()
            dead = [row.id for row in rows if row.id not in holders
                    and (row.pid is None or not process_alive(int(row.pid), since=_aware(row.started_at)))]
            if dead:
                conn.execute(sa.update(t).where(t.c.id.in_(dead)).values(status="abandoned",
                                                                         finished_at=now_utc()))
        return len(dead)

    def heartbeat(self, job: str, run_id: int) -> None:
        with self.transaction() as conn:
            conn.execute(sa.update(locks_table).where(
                locks_table.c.tenant == self.tenant, locks_table.c.job == job,
                locks_table.c.run_id == run_id).values(heartbeat_at=now_utc()))

    def release_lock(self, job: str, run_id: int) -> None:
        with self.transaction() as conn:
            conn.execute(sa.delete(locks_table).where(
                locks_table.c.tenant == self.tenant, locks_table.c.job == job,
                locks_table.c.run_id == run_id))



def process_alive(pid: int, *, since: datetime | None = None) -> bool:
    """True when ``pid`` runs on this host, is not a zombie (a killed, unreaped process) and, given
    ``since``, started before it (a later process with the same pid is someone else)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    state = next((line.split()[1] for line in status.splitlines() if line.startswith("State:")), "")
    if state in ("Z", "X"):
        return False
    started = _process_start(pid)
    return since is None or started is None or started <= since + timedelta(seconds=1)


def _process_start(pid: int) -> datetime | None:
    """When ``pid`` started (Linux /proc), or None where that cannot be known."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
        ticks = os.sysconf("SC_CLK_TCK")
        return datetime.fromtimestamp(boot + int(fields[19]) / ticks, UTC)
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def _holder_is_dead(held: Any, now: datetime, stale_after: timedelta) -> bool:
    if held.host == socket.gethostname():
        return not process_alive(int(held.pid), since=_aware(held.acquired_at))
    heartbeat = _aware(held.heartbeat_at)
    return heartbeat is None or now - heartbeat > stale_after
