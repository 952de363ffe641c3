"""Run a job: lock, ingest from cursors, decide, write the plan, deliver the outbox.

A run killed at any moment and started again delivers nothing twice and skips nothing:
each page's records and cursor commit together; the plan's decisions and outbox rows
commit together; a delivered outbox row is never sent again, and a row whose delivery
was interrupted is sent again with the same idempotency key.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import IntEnum
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel

from trainbridge.core.config import Settings
from trainbridge.core.errors import AlreadyRunning, ConfigError, PluginError, TrainbridgeError
from trainbridge.core.jobs import Job, JobContext, Plan, Proposal, Write, decode_args, encode_args
from trainbridge.core.ledger import Ledger, OutboxRow
from trainbridge.core.manager import PluginHost, load_host
from trainbridge.core.records import DeliveryReceipt, Employee, Notice, Record, make_id
from trainbridge.core.secrets import redact

log = logging.getLogger("trainbridge.runner")
FAULT_ENV = "TRAINBRIDGE_FAULT"
MAX_DELIVERY_ATTEMPTS = 5
MAX_FOLLOWUP_ROUNDS = 3
_fault_counts: dict[str, int] = {}


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    PARTIAL = 3
    ALREADY_RUNNING = 75


def fault_point(name: str) -> None:
    """Test hook: ``TRAINBRIDGE_FAULT=name[:n]`` kills this process the n-th time ``name`` is hit."""
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


class Workspace:
    """Settings + plugins + ledger for one tenant: what every command and task starts from."""

    def __init__(self, settings: Settings, host: PluginHost | None = None,
                 ledger: Ledger | None = None) -> None:
        self.settings = settings
        self.host = host or load_host(settings)
        self.ledger = ledger or Ledger(settings.resolved_ledger_url(), settings.tenant)
        self._migrated = False

    def migrate(self) -> list[tuple[str, int]]:
        applied = self.ledger.migrate(self.host.migrations)
        self._migrated = True
        return applied

    def ensure_migrated(self) -> None:
        if not self._migrated:
            self.migrate()

    def job(self, name: str) -> Job:
        try:
            job: Job = self.host.jobs[name]
        except KeyError:
            known = ", ".join(sorted(self.host.jobs)) or "(none)"
            raise ConfigError(f"unknown job {name!r}", hint=f"jobs: {known}") from None
        return job

    def job_names(self, requested: Sequence[str] = ()) -> list[str]:
        names = list(requested) or list(self.settings.sync_jobs) or list(self.host.jobs)
        for name in names:
            self.job(name)
        return sorted(names, key=lambda n: (self.host.jobs[n].order, n))

    def context(self, job: Job, conn: Any, run_id: int | None, *, today: date, now: datetime,
                dry_run: bool) -> JobContext:
        return JobContext(job=job.name, tenant=self.settings.tenant, run_id=run_id, conn=conn,
                          ledger=self.ledger, host=self.host, today=today, now=now,
                          config=self.settings.job_config(job.name, job.config_model), dry_run=dry_run,
                          base_dir=self.settings.base_dir)

    def close(self) -> None:
        self.ledger.dispose()


def sync(ws: Workspace, jobs: Sequence[str] = (), *, dry_run: bool = False, today: date | None = None,
         now: datetime | None = None) -> list[RunResult]:
    """Run the named jobs (all registered jobs when none) one after another."""
    ws.ensure_migrated()
    return [run_job(ws, name, dry_run=dry_run, today=today, now=now) for name in ws.job_names(jobs)]


def overall_exit(results: Sequence[RunResult]) -> ExitCode:
    codes = [r.exit_code for r in results]
    for code in (ExitCode.FAILED, ExitCode.ALREADY_RUNNING, ExitCode.PARTIAL):
        if code in codes:
            return code
    return ExitCode.OK


def run_job(ws: Workspace, name: str, *, dry_run: bool = False, today: date | None = None,
            now: datetime | None = None) -> RunResult:
    job = ws.job(name)
    now = now or datetime.now(UTC)
    today = today or now.date()
    if dry_run:
        result = RunResult(job=name, run_id=None)
        with ws.ledger.dry_run():
            _run_steps(ws, job, result, today=today, now=now, dry_run=True)
        return result

    ledger = ws.ledger
    run_id = ledger.start_run(name)
    result = RunResult(job=name, run_id=run_id)
    try:
        ledger.acquire_lock(name, run_id, stale_after=timedelta(seconds=ws.settings.lock_timeout_seconds))
    except AlreadyRunning as exc:
        result.status = "already_running"
        result.errors.append(str(exc))
        ledger.finish_run(run_id, "already_running", {}, [exc.message])
        return result
    ws.host.pm.hook.before_run(job=name, tenant=ws.settings.tenant, run_id=run_id)
    try:
        _run_steps(ws, job, result, today=today, now=now, dry_run=False)
    except TrainbridgeError as exc:
        result.status = "failed"
        result.errors.append(redact(str(exc)))
        ws.host.pm.hook.on_run_error(job=name, tenant=ws.settings.tenant, run_id=run_id, error=exc)
    except Exception as exc:
        log.exception("run %s of job %s failed", run_id, name)
        result.status = "failed"
        result.errors.append(redact(f"{type(exc).__name__}: {exc}"))
        ws.host.pm.hook.on_run_error(job=name, tenant=ws.settings.tenant, run_id=run_id, error=exc)
    finally:
        if result.status == "ok" and result.errors:
            result.status = "partial"
        ledger.finish_run(run_id, result.status, result.counts, result.errors)
        ledger.release_lock(name, run_id)
    ws.host.pm.hook.after_run(job=name, tenant=ws.settings.tenant, run_id=run_id,
                              status=result.status, counts=dict(result.counts))
    return result


def _run_steps(ws: Workspace, job: Job, result: RunResult, *, today: date, now: datetime,
               dry_run: bool) -> None:
    for hook in job.reads:
        for instance in ws.host.instances_with(hook):
            _ingest(ws, job, instance.name, hook, result, dry_run=dry_run)
    with ws.ledger.transaction() as conn:
        ctx = ws.context(job, conn, result.run_id, today=today, now=now, dry_run=dry_run)
        plan = job.decide(ctx)
        _write_plan(ws, job, ctx, plan, result)
    result.summary.extend(plan.summary)
    result.errors.extend(plan.warnings)
    fault_point("after_plan")
    if dry_run:
        with ws.ledger.transaction() as conn:
            for row in ws.ledger.outbox(conn, job=job.name, states=("pending", "failed", "delivering")):
                result.plan_lines.append(f"would deliver {row.operation} -> {row.instance}: {row.id}")
        return
    delivered = deliver(ws, job.name, result)
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
                result.summary.extend(followup.summary)
                result.errors.extend(followup.warnings)
        delivered = deliver(ws, job.name, result) if followup and (followup.writes or followup.proposals) \
            else []


def _ingest(ws: Workspace, job: Job, instance: str, hook: str, result: RunResult, *,
            dry_run: bool) -> None:
    ledger = ws.ledger
    with ledger.transaction() as conn:
        cursor = ledger.get_cursor(conn, job.name, instance, hook)
    pages = 0
    try:
        for page in ws.host.call(instance, hook, since=cursor):
            records = [r if r.source else r.model_copy(update={"source": instance}) for r in page.records]
            with ledger.transaction() as conn:
                added, changed, same = ledger.upsert_records(conn, records, run_id=result.run_id)
                ledger.quarantine(conn, page.rejects, run_id=result.run_id, job=job.name,
                                  instance=instance, hook=hook)
                if page.cursor is not None:
                    ledger.set_cursor(conn, job.name, instance, hook, page.cursor)
            pages += 1
            result.bump("read", len(records) + len(page.rejects))
            result.bump("records_new", added)
            result.bump("records_changed", changed)
            result.bump("records_unchanged", same)
            if page.rejects:
                result.bump("quarantined", len(page.rejects))
                result.errors.append(f"{instance}.{hook}: {len(page.rejects)} record(s) quarantined "
                                     f"(trainbridge quarantine list)")
            if dry_run:
                result.plan_lines.append(
                    f"would read {instance}.{hook}: {len(records)} record(s) "
                    f"({added} new, {changed} changed), {len(page.rejects)} rejected")
            elif result.run_id is not None and pages % 20 == 0:
                ledger.heartbeat(job.name, result.run_id)
            fault_point("after_page")
    except TrainbridgeError as exc:
        result.bump("instances_failed")
        result.errors.append(redact(f"{instance}.{hook} failed: {exc}"))
    except Exception as exc:
        log.exception("%s.%s failed", instance, hook)
        result.bump("instances_failed")
        result.errors.append(redact(f"{instance}.{hook} failed: {type(exc).__name__}: {exc}"))


def _write_plan(ws: Workspace, job: Job, ctx: JobContext, plan: Plan, result: RunResult) -> None:
    ledger, conn = ws.ledger, ctx.conn
    if plan.records:
        added, changed, _ = ledger.upsert_records(conn, plan.records, run_id=result.run_id)
        result.bump("derived_records", added + changed)
    if plan.decisions:
        rows = [{"id": d.id, "kind": d.kind, "subject": d.subject, "job": job.name,
                 "run_id": result.run_id, "amount": d.amount, "currency": d.currency,
                 "payload": _jsonable(d.payload), "explanation": list(d.explanation),
                 "created_at": ctx.now} for d in plan.decisions]
        result.bump("decisions", ledger.put_decisions(conn, rows))
    auto = set(ws.settings.auto_approve)
    outbox_rows: list[dict[str, Any]] = []
    for proposal in plan.proposals:
        status = "approved" if proposal.kind in auto else "pending"
        row = proposal_row(ws, job.name, proposal, status=status, run_id=result.run_id, now=ctx.now)
        if ledger.put_proposals(conn, [row]):
            result.bump("proposals")
            if status == "approved":
                outbox_rows += route(ws, conn, proposal.write, job=job.name, proposal_id=proposal.id)
            if ctx.dry_run:
                result.plan_lines.append(f"would propose {proposal.kind} {proposal.id}: {proposal.summary}")
    for write in plan.writes:
        outbox_rows += route(ws, conn, write, job=job.name, proposal_id=None)
    if outbox_rows:
        added = ledger.enqueue(conn, [{**r, "run_id": result.run_id} for r in outbox_rows])
        result.bump("outbox", added)
    for key, value in plan.state.items():
        ledger.set_state(conn, job.name, key, value)


def proposal_row(ws: Workspace, job: str, proposal: Proposal, *, status: str, run_id: int | None,
                 now: datetime) -> dict[str, Any]:
    return {"id": proposal.id, "kind": proposal.kind, "subject": proposal.subject, "job": job,
            "run_id": run_id, "summary": proposal.summary, "amount": proposal.amount,
            "currency": proposal.currency, "operation": proposal.write.operation,
            "instance": proposal.write.instance,
            "args": {"args": encode_args(proposal.write.args), "key": proposal.write.key,
                     "legal_entity": proposal.write.legal_entity},
            "explanation": list(proposal.explanation), "status": status, "created_at": now}


def write_from_proposal(row: dict[str, Any]) -> Write:
    stored = row["args"]
    return Write(operation=row["operation"], args=decode_args(stored["args"]), instance=row["instance"],
                 key=stored.get("key"), legal_entity=stored.get("legal_entity", ""))


def route(ws: Workspace, conn: Any, write: Write, *, job: str,
          proposal_id: str | None) -> list[dict[str, Any]]:
    """Outbox rows for one write: the named instance, or routed by role and legal entity."""
    key = write.idempotency_key()
    if write.instance:
        targets = [write.instance]
        if write.instance not in ws.host.instances:
            raise ConfigError(f"write {write.operation} names unknown instance {write.instance!r}",
                              file=ws.settings.file, hint="add it under [connectors] or fix the routing")
    else:
        candidates = ws.host.instances_with(write.operation)
        if not candidates:
            raise PluginError(f"no configured connector implements {write.operation}",
                              hint=f"add a [connectors.NAME] table whose type implements {write.operation}")
        if write.operation == "send_notice":
            targets = [c.name for c in candidates]
        else:
            targets = [_pick_by_entity(ws, conn, write, candidates)]
    args = encode_args(write.args)
    return [{"id": f"{key}@{target}" if len(targets) > 1 or write.operation == "send_notice" else key,
             "job": job, "operation": write.operation, "instance": target, "idempotency_key": key,
             "args": args, "proposal_id": proposal_id} for target in targets]


def _pick_by_entity(ws: Workspace, conn: Any, write: Write, candidates: list[Any]) -> str:
    entity = write.legal_entity
    if not entity:
        employee_id = next((getattr(v, "employee_id", None) for v in write.args.values()
                            if isinstance(v, Record)), None)
        if employee_id:
            employee = _find_employee(ws, conn, employee_id)
            entity = employee.legal_entity if employee else ""
    named = [c for c in candidates if entity and entity in c.config.legal_entities]
    default = [c for c in candidates if not c.config.legal_entities]
    chosen = named or default
    if len(chosen) != 1:
        where = f"legal entity {entity!r}" if entity else "writes with no legal entity"
        raise ConfigError(
            f"{len(chosen)} {write.operation} connectors match {where}", file=ws.settings.file,
            hint="give each sink instance legal_entities = [...] and leave exactly one without it "
                 "as the default")
    return str(chosen[0].name)


def _find_employee(ws: Workspace, conn: Any, employee_id: str) -> Employee | None:
    from trainbridge.core.ledger import records_table as t

    row = conn.execute(sa.select(t.c.payload).where(
        t.c.tenant == ws.settings.tenant, t.c.kind == "employee", t.c.subject == employee_id)).first()
    return Employee.model_validate(row.payload) if row else None


def deliver(ws: Workspace, job: str, result: RunResult | None = None) -> list[OutboxRow]:
    """Deliver this job's pending outbox rows; returns the rows delivered in this call."""
    ledger = ws.ledger
    run_id = result.run_id if result and result.run_id is not None else 0
    with ledger.transaction() as conn:
        rows = ledger.outbox(conn, job=job, states=("pending", "failed", "delivering"))
    delivered: list[OutboxRow] = []
    for row in rows:
        if row.instance not in ws.host.instances:
            if result:
                result.errors.append(f"outbox {row.id}: instance {row.instance!r} is not configured")
            continue
        if not ledger.claim(row.id, run_id, max_attempts=MAX_DELIVERY_ATTEMPTS):
            continue
        fault_point("before_deliver")
        kwargs = decode_args(row.args)
        try:
            answer = ws.host.call(row.instance, row.operation, **kwargs)
        except Exception as exc:
            message = redact(f"{row.operation} -> {row.instance} ({row.id}) failed: {exc}")
            final = row.attempts + 1 >= MAX_DELIVERY_ATTEMPTS
            ledger.mark_failed(row.id, message, final=final)
            if not isinstance(exc, TrainbridgeError):
                log.exception("delivery of %s failed", row.id)
            if result:
                result.bump("delivery_failed")
                result.errors.append(message)
            continue
        fault_point("after_deliver_call")
        ref = answer.ref if isinstance(answer, DeliveryReceipt) else getattr(answer, "id", None)
        payload = answer.model_dump(mode="json") if isinstance(answer, BaseModel) else answer
        notice = None
        if row.operation == "send_notice":
            sent = kwargs.get("notice")
            if isinstance(sent, Notice):
                notice = {"id": sent.id, "instance": row.instance, "notice": sent.notice,
                          "related_id": sent.related_id, "subject": sent.subject}
        ledger.mark_delivered(row.id, ref=ref, result=_jsonable(payload), notice=notice)
        delivered.append(OutboxRow(**{**row.__dict__, "state": "delivered", "ref": ref, "result": payload}))
        if result:
            result.bump("delivered")
    return delivered


def approve_proposals(ws: Workspace, ids: Sequence[str], *, actor: str, reason: str = "",
                      deliver_now: bool = True) -> dict[str, str]:
    """Approve pending proposals: each becomes an outbox row in the same transaction."""
    ws.ensure_migrated()
    outcome: dict[str, str] = {}
    jobs: set[str] = set()
    with ws.ledger.transaction() as conn:
        for pid in ids:
            row = ws.ledger.get_proposal(conn, pid)
            if row is None:
                outcome[pid] = "not found"
                continue
            if not ws.ledger.decide_proposal(conn, pid, status="approved", actor=actor, reason=reason):
                outcome[pid] = f"not pending (status {row['status']})"
                continue
            rows = route(ws, conn, write_from_proposal(row), job=row["job"], proposal_id=pid)
            ws.ledger.enqueue(conn, rows)
            outcome[pid] = "approved"
            jobs.add(row["job"])
    if deliver_now:
        for job in sorted(jobs):
            _deliver_under_lock(ws, job, outcome)
    return outcome


def _deliver_under_lock(ws: Workspace, job: str, outcome: dict[str, str]) -> None:
    run_id = ws.ledger.start_run(job)
    try:
        ws.ledger.acquire_lock(job, run_id, stale_after=timedelta(seconds=ws.settings.lock_timeout_seconds))
    except AlreadyRunning:
        ws.ledger.finish_run(run_id, "already_running", {}, ["delivery left to the running job"])
        return
    result = RunResult(job=job, run_id=run_id)
    try:
        for row in deliver(ws, job, result):
            if row.proposal_id in outcome:
                outcome[row.proposal_id] = "approved and delivered"
    finally:
        status = "partial" if result.errors else "ok"
        ws.ledger.finish_run(run_id, status, {**result.counts, "approval_delivery": 1}, result.errors)
        ws.ledger.release_lock(job, run_id)


def reject_proposals(ws: Workspace, ids: Sequence[str], *, actor: str, reason: str) -> dict[str, str]:
    ws.ensure_migrated()
    outcome = {}
    with ws.ledger.transaction() as conn:
        for pid in ids:
            ok = ws.ledger.decide_proposal(conn, pid, status="rejected", actor=actor, reason=reason)
            outcome[pid] = "rejected" if ok else "not pending or not found"
    return outcome


def retry_quarantined(ws: Workspace, qid: int, *, data: dict[str, Any] | None = None,
                      actor: str = "cli") -> Record:
    """Validate a quarantined record again (optionally corrected); on success it enters the ledger."""
    from trainbridge.core.records import RECORD_TYPES

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


def _jsonable(value: Any) -> Any:
    import json

    return json.loads(json.dumps(value, default=str)) if value is not None else None


def derived_id(job: str, *parts: object) -> str:
    """Ids for records a job derives (agreements, points entries): ``job:part:...``."""
    return make_id(job, *parts)
