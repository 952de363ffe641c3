"""The outbox: routing writes to sink instances, delivering them exactly once, and approvals.

A write becomes outbox rows in the transaction of the plan (or approval) that made it; rows
are delivered afterwards, outside any transaction, each with its stable idempotency key. A row
whose delivery was interrupted is delivered again with the same key; a delivered row never is.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel

from trainbridge.core import results as run_results
from trainbridge.core.errors import AlreadyRunning, ConfigError, PluginError, TrainbridgeError
from trainbridge.core.jobs import Job, Proposal, Write, decode_args, encode_args
from trainbridge.core.ledger import OutboxRow
from trainbridge.core.records import DeliveryReceipt, Employee, Notice, Record
from trainbridge.core.results import RunResult
from trainbridge.core.secrets import redact
from trainbridge.core.workspace import Workspace

log = logging.getLogger("trainbridge.delivery")
MAX_DELIVERY_ATTEMPTS = 5
#: The one lock of a tenant's sync; deliveries outside a sync (approvals) take it too.
SYNC_LOCK = "sync"
UNDELIVERED = ("pending", "failed", "delivering")


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


def deliver(ws: Workspace, job: str, result: RunResult | None = None, *,
            claim_id: int | None = None) -> list[OutboxRow]:
    """Deliver this job's undelivered outbox rows; returns the rows delivered in this call.

    ``claim_id`` is the run holding the sync lock (rows it claims are not orphans while it lives).
    """
    ledger = ws.ledger
    run_id = claim_id if claim_id is not None else (result.run_id if result and result.run_id else 0)
    with ledger.transaction() as conn:
        rows = ledger.outbox(conn, job=job, states=UNDELIVERED)
    owner: Job | None = ws.host.jobs.get(job)
    delivered: list[OutboxRow] = []
    for row in rows:
        if row.instance not in ws.host.instances:
            if result:
                result.errors.append(f"outbox {row.id}: instance {row.instance!r} is not configured")
            continue
        if not ledger.claim(row.id, run_id, max_attempts=MAX_DELIVERY_ATTEMPTS):
            continue
        run_results.fault_point("before_deliver")
        kwargs = decode_args(row.args)
        try:
            answer = ws.host.call(row.instance, row.operation, **kwargs,
                                  **_key_argument(ws, row.operation, row.idempotency_key))
            kept = owner.on_delivered(row, answer, base_dir=ws.settings.base_dir,
                                      config=ws.settings.job_config(owner.name, owner.config_model)) \
                if owner else answer
        except Exception as exc:
            message = redact(f"{row.operation} -> {row.instance} ({row.id}) failed: {exc}")
            final = row.attempts + 1 >= MAX_DELIVERY_ATTEMPTS
            ledger.mark_failed(row.id, message, final=final, retry_after=backoff(row.attempts + 1, exc))
            if not isinstance(exc, TrainbridgeError):
                log.exception("delivery of %s failed", row.id)
            if result:
                result.bump("delivery_failed")
                result.errors.append(message)
            continue
        run_results.fault_point("after_deliver_call")
        ref = answer.ref if isinstance(answer, DeliveryReceipt) else getattr(answer, "id", None)
        payload = jsonable(kept.model_dump(mode="json") if isinstance(kept, BaseModel) else kept)
        ledger.mark_delivered(row.id, ref=ref, result=payload, notice=_notice_row(row, kwargs))
        delivered.append(OutboxRow(**{**row.__dict__, "state": "delivered", "ref": ref, "result": payload}))
        log.info("delivered %s -> %s (%s)", row.operation, row.instance, row.id)
        if result:
            result.bump("delivered")
    if result:
        _report_stuck(ws, job, result)
    return delivered


def _key_argument(ws: Workspace, operation: str, key: str) -> dict[str, str]:
    """``idempotency_key=`` for an operation whose spec takes it (the sink hooks), else nothing."""
    spec = getattr(getattr(ws.host.pm.hook, operation, None), "spec", None)
    return {"idempotency_key": key} if spec is not None and "idempotency_key" in spec.kwargnames else {}


def backoff(attempts: int, exc: BaseException | None = None) -> timedelta:
    """Wait before the next try of a failed delivery: 1, 2, 4, ... minutes up to 6 hours, never
    shorter than the vendor's Retry-After."""
    wait = timedelta(minutes=min(2 ** max(attempts - 1, 0), 360))
    retry_after = getattr(exc, "retry_after", None)
    if isinstance(retry_after, int | float) and retry_after > 0:
        wait = max(wait, timedelta(seconds=float(retry_after)))
    return wait


def _report_stuck(ws: Workspace, job: str, result: RunResult) -> None:
    """Approved writes that cannot be delivered keep every run non-zero until retried or abandoned."""
    with ws.ledger.transaction() as conn:
        dead = ws.ledger.outbox(conn, job=job, states=("dead",))
    for row in dead:
        what = f"proposal {row.proposal_id}" if row.proposal_id else f"{row.operation} {row.id}"
        result.errors.append(f"{what} is undeliverable after {row.attempts} attempt(s): {row.last_error} "
                             f"(trainbridge outbox retry {row.id} | outbox abandon {row.id} --reason ...)")


def _notice_row(row: OutboxRow, kwargs: dict[str, Any]) -> dict[str, Any] | None:
    sent = kwargs.get("notice") if row.operation == "send_notice" else None
    if not isinstance(sent, Notice):
        return None
    return {"id": sent.id, "instance": row.instance, "notice": sent.notice, "related_id": sent.related_id,
            "subject": sent.subject}


def approve_proposals(ws: Workspace, ids: Sequence[str], *, actor: str, reason: str = "",
                      deliver_now: bool = True) -> dict[str, str]:
    """Approve pending proposals: each becomes an outbox row in the same transaction.

    Each outcome says what became of the proposal: ``approved and delivered``, ``approved;
    delivery failed: ...`` (it is retried by the next sync), ``approved; delivery waits for the
    running sync``, ``approved`` (not delivered now), ``not found`` or ``not pending (...)``.
    """
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
    _withdraw_elsewhere(ws, [pid for pid, said in outcome.items() if said == "approved"])
    if deliver_now and jobs:
        _deliver_under_lock(ws, sorted(jobs), outcome)
    return outcome


def _deliver_under_lock(ws: Workspace, jobs: list[str], outcome: dict[str, str]) -> None:
    run_id = ws.ledger.start_run("approval")
    try:
        ws.ledger.acquire_lock(SYNC_LOCK, run_id,
                               stale_after=timedelta(seconds=ws.settings.lock_timeout_seconds))
    except AlreadyRunning:
        ws.ledger.finish_run(run_id, "already_running", {}, ["delivery left to the running sync"])
        for pid, said in outcome.items():
            if said == "approved":
                outcome[pid] = "approved; delivery waits for the running sync"
        return
    result = RunResult(job="approval", run_id=run_id)
    try:
        for job in jobs:
            deliver(ws, job, result)
    finally:
        status = "partial" if result.errors else "ok"
        ws.ledger.finish_run(run_id, status, {**result.counts, "approval_delivery": 1}, result.errors)
        ws.ledger.release_lock(SYNC_LOCK, run_id)
    approved = [pid for pid, said in outcome.items() if said == "approved"]
    with ws.ledger.transaction() as conn:
        rows = [r for r in ws.ledger.outbox(conn) if r.proposal_id in approved]
    for row in rows:
        assert row.proposal_id is not None
        if row.state in ("delivered", "confirmed"):
            outcome[row.proposal_id] = "approved and delivered"
        elif row.last_error:
            outcome[row.proposal_id] = f"approved; delivery failed: {row.last_error}"


def reject_proposals(ws: Workspace, ids: Sequence[str], *, actor: str, reason: str) -> dict[str, str]:
    ws.ensure_migrated()
    outcome = {}
    with ws.ledger.transaction() as conn:
        for pid in ids:
            ok = ws.ledger.decide_proposal(conn, pid, status="rejected", actor=actor, reason=reason)
            outcome[pid] = "rejected" if ok else "not pending or not found"
    _withdraw_elsewhere(ws, [pid for pid, said in outcome.items() if said == "rejected"])
    return outcome


def _withdraw_elsewhere(ws: Workspace, decided: list[str]) -> None:
    """A proposal decided here withdraws its Feishu / DingTalk approval instance (docs/approvals.md);
    a vendor that cannot be reached now is tried again by the next sync."""
    if not decided or not ws.settings.approval_routing.active:
        return
    from trainbridge.core.approvals.channel import withdraw_decided

    try:
        report = withdraw_decided(ws, proposal_ids=decided)
    except Exception:
        log.exception("withdrawing the approval instances of %s failed; the next sync tries again", decided)
        return
    for error in report.errors:
        log.warning("%s (the next sync tries again)", error)


def jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str)) if value is not None else None
