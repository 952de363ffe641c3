"""A sync: one lock, ingest every needed stream once, then each job decides and delivers.

1. Take the tenant's sync lock (one active sync per tenant: a second one exits 75 having
   touched nothing); a heartbeat thread keeps it alive through every phase.
2. Ingest (:mod:`trainbridge.core.ingest`): each source stream the selected jobs read, once per
   instance, from its cursor.
3. Each job in order: ``decide`` (pure) inside one transaction with its plan's decisions,
   proposals and outbox rows; the plan's files after the commit; then its outbox is delivered
   (:mod:`trainbridge.core.delivery`) and ``after_delivery`` records what the sinks answered.
4. Delivered writes whose vendor reports their fate later are confirmed (``adjustment_status``).

A run killed at any moment and started again delivers nothing twice and skips nothing: each
page's records and cursor commit together; a plan's decisions and outbox rows commit
together; a delivered outbox row is never sent again, and an interrupted one is sent again
with the same idempotency key.
"""

from __future__ import annotations

import logging
import os
import secrets
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from trainbridge.core import progress
from trainbridge.core import results as run_results
from trainbridge.core.delivery import (
    MAX_DELIVERY_ATTEMPTS,
    SYNC_LOCK,
    UNDELIVERED,
    approve_proposals,
    deliver,
    jsonable,
    proposal_row,
    reject_proposals,
    route,
    write_from_proposal,
)
from trainbridge.core.errors import AlreadyRunning, ConfigError, TrainbridgeError
from trainbridge.core.ingest import IngestOutcome, ingest
from trainbridge.core.jobs import FileWrite, Job, JobContext, Plan
from trainbridge.core.ledger import Ledger
from trainbridge.core.localtime import tenant_today
from trainbridge.core.records import RECORD_TYPES, Record, make_id
from trainbridge.core.results import ExitCode, RunResult, SyncResults, fault_point, overall_exit
from trainbridge.core.secrets import redact
from trainbridge.core.streams import STREAMS, kinds_of
from trainbridge.core.workspace import Workspace

__all__ = [
    "MAX_DELIVERY_ATTEMPTS", "ExitCode", "RunResult", "SyncResults", "Workspace", "approve_proposals",
    "deliver", "derived_id", "fault_point", "job_inputs", "overall_exit", "proposal_row", "reject_proposals",
    "retry_quarantined", "route", "run_job", "sync", "write_from_proposal",
]

log = logging.getLogger("trainbridge.runner")
MAX_FOLLOWUP_ROUNDS = 3
INGEST = "ingest"
CONFIRMATION_COUNTS = {"delivery_confirmed", "delivery_failed", "confirmation_failed"}
APPROVAL_COUNTS = {"approvals_sent", "approvals_applied", "approvals_ignored", "approvals_withdrawn",
                   "approvals_failed", "approvals_withdraw_failed"}


def job_inputs(job: Job) -> tuple[str, ...]:
    """The record kinds a job reads (``inputs``, or those of the source hooks it names in ``reads``)."""
    return tuple(dict.fromkeys((*getattr(job, "inputs", ()), *kinds_of(getattr(job, "reads", ())))))


def sync(ws: Workspace, jobs: Sequence[str] = (), *, dry_run: bool = False, today: date | None = None,
         now: datetime | None = None) -> SyncResults:
    """Ingest what the named jobs read (all configured jobs when none), then run them in order."""
    ws.ensure_migrated()
    names = ws.job_names(jobs)
    now = now or datetime.now(UTC)
    today = today or tenant_today(ws.settings, now)  # the tenant's day, not UTC's
    if dry_run:
        with ws.ledger.dry_run():
            return _sync(ws, names, None, today=today, now=now, dry_run=True)
    ledger = ws.ledger
    # The lock is held by a token, not a run: the runs of the sync (ingest, each job) are made
    # once it is taken, and a refused sync records one refused run per job it was asked for.
    token = -1 - secrets.randbelow(2**31 - 1)
    try:
        ledger.acquire_lock(SYNC_LOCK, token, stale_after=timedelta(seconds=ws.settings.lock_timeout_seconds))
    except AlreadyRunning as exc:
        refused = []
        for name in names:
            run_id = ledger.start_run(name)
            ledger.finish_run(run_id, "already_running", {}, [exc.message])
            refused.append(RunResult(job=name, run_id=run_id, status="already_running", errors=[str(exc)]))
        busy = next((r for r in refused if r.job == INGEST),
                    RunResult(job=INGEST, run_id=None, status="already_running", errors=[str(exc)]))
        return SyncResults(refused, busy)
    try:
        ledger.abandon_dead_runs()
        with heartbeat(ledger, SYNC_LOCK, token, ws.settings.lock_timeout_seconds):
            return _sync(ws, names, token, today=today, now=now, dry_run=False)
    finally:
        ledger.release_lock(SYNC_LOCK, token)


def run_job(ws: Workspace, name: str, *, dry_run: bool = False, today: date | None = None,
            now: datetime | None = None) -> RunResult:
    """One job, as a sync of that job alone (it ingests what the job reads first)."""
    results = sync(ws, [name], dry_run=dry_run, today=today, now=now)
    return results[0] if results else results.ingest


def _sync(ws: Workspace, names: list[str], token: int | None, *, today: date, now: datetime,
          dry_run: bool) -> SyncResults:
    """The phases under the lock held by ``token`` (None in a dry run): deliveries claim rows with it."""
    jobs = [ws.job(n) for n in names]
    lock_run = None if dry_run else ws.ledger.start_run(INGEST)
    kinds = {kind for produced in STREAMS.values() for kind in produced} if INGEST in names \
        else {kind for job in jobs for kind in job_inputs(job)}
    ingest_result = RunResult(job=INGEST, run_id=lock_run)
    outcome = IngestOutcome()
    try:
        outcome = ingest(ws, kinds, ingest_result, dry_run=dry_run)
        ingest_result.summary.append(_ingest_summary(ingest_result, outcome))
    except Exception as exc:
        log.exception("ingestion failed")
        ingest_result.status = "failed"
        ingest_result.errors.append(redact(f"{type(exc).__name__}: {exc}"))
    finally:
        if ingest_result.status == "ok" and ingest_result.errors:
            ingest_result.status = "partial"
        if lock_run is not None:
            ws.ledger.finish_run(lock_run, ingest_result.status, ingest_result.counts, ingest_result.errors)
    if not dry_run:
        _approval_channel(ws, ingest_result, "verdicts")
    results: list[RunResult] = []
    for job in jobs:
        if job.name == INGEST:
            results.append(ingest_result)
            continue
        results.append(_run_one(ws, job, token, outcome, today=today, now=now, dry_run=dry_run))
    if not dry_run:
        _confirm(ws, ingest_result)
        _approval_channel(ws, ingest_result, "send")
        if lock_run is not None and ingest_result.counts.keys() & (CONFIRMATION_COUNTS | APPROVAL_COUNTS):
            # what the vendors said of earlier deliveries is kept on the sync's ingestion run
            if ingest_result.status == "ok" and ingest_result.errors:
                ingest_result.status = "partial"
            ws.ledger.finish_run(lock_run, ingest_result.status, ingest_result.counts, ingest_result.errors)
    return SyncResults(results, ingest_result)


def _ingest_summary(result: RunResult, outcome: IngestOutcome) -> str:
    c = result.counts
    kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(outcome.kinds.items())) or "nothing new"
    return (f"read {len(outcome.read)} stream(s) ({len(outcome.failed)} failed): {kinds}; "
            f"{c.get('records_new', 0)} new, {c.get('records_changed', 0)} changed, "
            f"{c.get('quarantined', 0)} quarantined")


def _run_one(ws: Workspace, job: Job, token: int | None, outcome: IngestOutcome, *, today: date,
             now: datetime, dry_run: bool) -> RunResult:
    ledger, pm, tenant = ws.ledger, ws.host.pm, ws.settings.tenant
    run_id = None if dry_run else ledger.start_run(job.name)
    result = RunResult(job=job.name, run_id=run_id)
    progress.job(job.name)
    _warn_failed_inputs(job, outcome, result)
    try:
        if run_id is not None:
            pm.hook.before_run(job=job.name, tenant=tenant, run_id=run_id)
        _job_steps(ws, job, result, token, today=today, now=now, dry_run=dry_run)
    except Exception as exc:
        if isinstance(exc, TrainbridgeError):
            result.errors.append(redact(str(exc)))
        else:
            log.exception("run %s of job %s failed", run_id, job.name)
            result.errors.append(redact(f"{type(exc).__name__}: {exc}"))
        result.status = "failed"
        if run_id is not None:
            _call_quietly(pm.hook.on_run_error, job=job.name, tenant=tenant, run_id=run_id, error=exc)
    finally:
        if result.status == "ok" and result.errors:
            result.status = "partial"
        if run_id is not None:
            ledger.finish_run(run_id, result.status, result.counts, result.errors)
        progress.job(job.name, result)
    if run_id is not None:
        _call_quietly(pm.hook.after_run, job=job.name, tenant=tenant, run_id=run_id, status=result.status,
                      counts=dict(result.counts))
    return result


def _warn_failed_inputs(job: Job, outcome: IngestOutcome, result: RunResult) -> None:
    wanted = set(job_inputs(job))
    for (instance, stream), produced in outcome.failed_kinds.items():
        if wanted & set(produced):
            result.errors.append(f"input {instance}.{stream} could not be read this run: decided on what "
                                 "the ledger already held")


def _call_quietly(hook: Any, **kwargs: Any) -> None:
    """A lifecycle hook that raises is logged; it never leaves a lock or a running run behind."""
    try:
        hook(**kwargs)
    except Exception:
        log.exception("hook %s raised", getattr(hook, "name", hook))


def _job_steps(ws: Workspace, job: Job, result: RunResult, token: int | None, *, today: date,
               now: datetime, dry_run: bool) -> None:
    with ws.ledger.transaction() as conn:
        ctx = ws.context(job, conn, result.run_id, today=today, now=now, dry_run=dry_run)
        ctx.write_outbound = lambda part: _write_outbound(ws, job, ctx, part, result)  # ctx.flush
        plan = job.decide(ctx)
        _write_plan(ws, job, ctx, plan, result)
    _keep_files(plan, result, dry_run=dry_run)
    result.summary.extend(plan.summary)
    result.errors.extend(plan.warnings)
    run_results.fault_point("after_plan")
    if dry_run:
        with ws.ledger.transaction() as conn:
            for row in ws.ledger.outbox(conn, job=job.name, states=UNDELIVERED):
                result.plan_lines.append(f"would deliver {row.operation} -> {row.instance}: {row.id}")
        return
    delivered = deliver(ws, job.name, result, claim_id=token)
    # A follow-up's own deliveries get after_delivery too (an e-signature answer leads to an
    # evidence deposit whose receipt must be recorded); bounded so a job cannot loop forever.
    for _ in range(MAX_FOLLOWUP_ROUNDS):
        if not delivered:
            break
        with ws.ledger.transaction() as conn:
            ctx = ws.context(job, conn, result.run_id, today=today, now=now, dry_run=False)
            followup = job.after_delivery(ctx, delivered)
            if followup:
                _write_plan(ws, job, ctx, followup, result)
        if followup:
            _keep_files(followup, result, dry_run=False)
            result.summary.extend(followup.summary)
            result.errors.extend(followup.warnings)
        delivered = deliver(ws, job.name, result, claim_id=token) \
            if followup and (followup.writes or followup.proposals) else []


def _write_plan(ws: Workspace, job: Job, ctx: JobContext, plan: Plan, result: RunResult) -> None:
    ledger, conn = ws.ledger, ctx.conn
    for key, count in ctx.flushed.items():  # written by ctx.flush during decide
        result.bump(key, count)
    if plan.records:
        added, changed, _ = ledger.upsert_records(conn, plan.records, run_id=result.run_id)
        result.bump("derived_records", added + changed)
    if plan.decisions:
        rows = [{"id": d.id, "kind": d.kind, "subject": d.subject, "job": job.name,
                 "run_id": result.run_id, "amount": d.amount, "currency": d.currency,
                 "payload": jsonable(d.payload), "explanation": list(d.explanation),
                 "inputs": dict(d.inputs) or None, "created_at": ctx.now} for d in plan.decisions]
        result.bump("decisions", ledger.put_decisions(conn, rows))
    _write_outbound(ws, job, ctx, plan, result)
    for key, value in plan.state.items():
        ledger.set_state(conn, job.name, key, value)


def _write_outbound(ws: Workspace, job: Job, ctx: JobContext, plan: Plan, result: RunResult) -> None:
    """``plan``'s proposals (auto-approved kinds to the outbox) and writes (routed to the outbox)."""
    ledger, conn = ws.ledger, ctx.conn
    auto = set(ws.settings.auto_approve)
    outbox_rows: list[dict[str, Any]] = []
    rows = [proposal_row(ws, job.name, p, status="approved" if p.kind in auto else "pending",
                         run_id=result.run_id, now=ctx.now) for p in plan.proposals]
    new_ids = ledger.put_proposals(conn, rows)
    for proposal in plan.proposals:
        if proposal.id not in new_ids:
            continue
        new_ids.discard(proposal.id)  # a plan naming one id twice proposes it once
        result.bump("proposals")
        if proposal.kind in auto:
            outbox_rows += route(ws, conn, proposal.write, job=job.name, proposal_id=proposal.id)
        if ctx.dry_run:
            result.plan_lines.append(f"would propose {proposal.kind} {proposal.id}: {proposal.summary}")
    for write in plan.writes:
        outbox_rows += route(ws, conn, write, job=job.name, proposal_id=None)
    if outbox_rows:
        added = ledger.enqueue(conn, [{**r, "run_id": result.run_id} for r in outbox_rows])
        result.bump("outbox", added)


def _keep_files(plan: Plan, result: RunResult, *, dry_run: bool) -> None:
    for file in plan.files:
        if dry_run:
            result.plan_lines.append(f"would write {file.path} ({len(file.content)} bytes)")
            continue
        write_private_file(file)
        result.bump("files")


def write_private_file(file: FileWrite) -> None:
    """Write atomically, readable by the owner only (HR documents): folders 0700, files 0600."""
    path = Path(file.path)
    missing = [p for p in (path.parent, *path.parent.parents) if not p.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)
    if path.exists() and path.read_bytes() == file.content:
        return
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(file.content)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _confirm(ws: Workspace, result: RunResult) -> None:
    """Ask sinks what became of delivered writes (paid, failed), where they can say."""
    try:
        from trainbridge.core.confirmations import confirm_deliveries
    except ImportError:
        return
    try:
        confirm_deliveries(ws, result)
    except Exception as exc:
        log.exception("confirming deliveries failed")
        result.errors.append(redact(f"confirming deliveries failed: {type(exc).__name__}: {exc}"))


def _approval_channel(ws: Workspace, result: RunResult, step: str) -> None:
    """Proposals approved in Feishu / DingTalk (docs/approvals.md): before the jobs, the verdicts
    that arrived are applied (the jobs then deliver them); after, decided proposals' instances
    are withdrawn and new proposals sent."""
    if not ws.settings.approval_routing.active:
        return
    from trainbridge.core.approvals import channel

    try:
        if step == "verdicts":
            report = channel.apply_outcomes(ws, deliver_now=False)
        else:
            report = channel.send_pending(ws, channel.withdraw_decided(ws))
    except Exception as exc:
        log.exception("the approval channel failed")
        result.errors.append(redact(f"approval channel: {type(exc).__name__}: {exc}"))
        return
    for name, n in report.counts.items():
        result.bump(name, n)
    result.errors.extend(report.errors)
    result.summary.extend(report.lines)


@contextmanager
def heartbeat(ledger: Ledger, lock: str, run_id: int, timeout_seconds: int) -> Iterator[None]:
    """Beat the lock from a background thread during every phase (decide, delivery, slow vendors)."""
    stop = threading.Event()
    interval = max(1.0, min(30.0, timeout_seconds / 4))

    def beat() -> None:
        while not stop.wait(interval):
            try:
                ledger.heartbeat(lock, run_id)
            except Exception as exc:  # a busy database must not kill the run; the next beat retries
                log.warning("heartbeat of run %s failed: %s", run_id, exc)

    thread = threading.Thread(target=beat, name=f"heartbeat-{run_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def retry_quarantined(ws: Workspace, qid: int, *, data: dict[str, Any] | None = None,
                      actor: str = "cli") -> Record:
    """Validate a quarantined record again (optionally corrected); on success it enters the ledger."""
    ws.ensure_migrated()
    with ws.ledger.transaction() as conn:
        row = ws.ledger.get_quarantined(conn, qid)
        if row is None:
            raise ConfigError(f"no quarantined record {qid}", hint="trainbridge quarantine list")
        model = RECORD_TYPES.get(row["model"])
        if model is None:
            raise ConfigError(f"quarantined record {qid} has unknown kind {row['model']!r}")
        payload = data if data is not None else row["data"]
        record = model.model_validate({"source": row["instance"], **payload})
        ws.ledger.upsert_records(conn, [record])
        ws.ledger.set_quarantine_status(conn, qid, "resolved")
        ws.ledger.audit(conn, actor=actor, action="quarantine.retry", subject=str(qid),
                        detail={"record": record.id})
    return record


def derived_id(job: str, *parts: object) -> str:
    """Ids for records a job derives (agreements, points entries): ``job:part:...``."""
    return make_id(job, *parts)
