"""What a sync job is, and what it hands back to the runner.

A job names the record kinds it reads (``inputs``). A sync ingests every source stream that
produces those kinds once, for all the jobs it runs, and only then calls each job's
``decide`` with a :class:`JobContext` inside one transaction. ``decide`` is pure: it reads
the ledger and returns a :class:`Plan` (derived records, decisions, proposals, outbox
writes, files) that the runner writes in that same transaction; no vendor call, no file
write, no sleep. Then the outbox is delivered (vendor calls happen there, outside any
transaction); ``on_delivered`` may keep what a sink answered on disk (a downloaded PDF),
and ``after_delivery`` records the answers in a new plan.
"""

from __future__ import annotations

import base64
import gc
import importlib
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel

from trainbridge.core.records import RECORD_TYPES, Record

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from trainbridge.core.ledger import Ledger, OutboxRow
    from trainbridge.core.manager import PluginHost


@dataclass
class Decision:
    """A decided fact with its explanation (a refund quote, a cost allocation, a flag).

    ``inputs`` maps the id of every record (or earlier decision) it was computed from to
    that input's content hash, so a job can tell when a decision no longer follows its
    inputs and decide again (:meth:`JobContext.stale`).
    """

    id: str
    kind: str
    subject: str | None
    payload: Mapping[str, Any]
    explanation: Sequence[str] = ()
    amount: Decimal | None = None
    currency: str | None = None
    inputs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FileWrite:
    """A file a plan keeps (a rendered agreement): written by the runner after the plan commits.

    ``path`` is absolute (resolve it against ``ctx.base_dir``). Written atomically with mode
    0600; the same content written twice is harmless. Skipped in a dry run.
    """

    path: Path
    content: bytes


@dataclass
class Write:
    """One call to a sink hook, delivered exactly once through the outbox.

    ``instance`` None lets the runner route it (payroll and performance sinks by the
    employee's legal entity; notices to every notifier). ``key`` is the idempotency key
    handed to the sink; it defaults to the id of the first record argument.
    """

    operation: str
    args: Mapping[str, Any]
    instance: str | None = None
    key: str | None = None
    legal_entity: str = ""

    def idempotency_key(self) -> str:
        if self.key:
            return self.key
        for value in self.args.values():
            if isinstance(value, Record):
                return value.id
        msg = f"write {self.operation} needs a key or a record argument"
        raise ValueError(msg)


@dataclass
class Proposal:
    """A write that waits for HR's approval (money, scores), unless its kind is auto-approved."""

    id: str
    kind: str
    subject: str | None
    summary: str
    write: Write
    explanation: Sequence[str] = ()
    amount: Decimal | None = None
    currency: str | None = None


@dataclass
class Plan:
    records: list[Record] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    proposals: list[Proposal] = field(default_factory=list)
    writes: list[Write] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    files: list[FileWrite] = field(default_factory=list)

    def extend(self, other: Plan) -> None:
        self.records += other.records
        self.decisions += other.decisions
        self.proposals += other.proposals
        self.writes += other.writes
        self.summary += other.summary
        self.state.update(other.state)
        self.warnings += other.warnings
        self.files += other.files


@dataclass
class JobContext:
    """What ``decide`` sees: the ledger (read through ``conn``), settings, the clock, config."""

    job: str
    tenant: str
    run_id: int | None
    conn: Connection
    ledger: Ledger
    host: PluginHost
    today: date
    now: datetime
    config: Any = None
    dry_run: bool = False
    #: ``[tenant] timezone``: the zone a date-time becomes a day in (``core.localtime.tenant_zone(ctx)``).
    timezone: str = "UTC"
    #: Folder of plugins.toml: relative paths in job settings are relative to it.
    base_dir: Path = field(default_factory=Path.cwd)
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("trainbridge.jobs"))
    #: Counts of what :meth:`flush` wrote before the plan (the runner adds them to the run's).
    flushed: dict[str, int] = field(default_factory=dict)
    #: How :meth:`flush` writes proposals and outbox writes: the runner's own way (auto-approval,
    #: routing), set by the runner; None (a context built by hand) keeps them in the plan.
    write_outbound: Callable[[Plan], None] | None = None

    def records(self, kind: str, *, subject: str | None = None) -> Iterator[Record]:
        return self.ledger.iter_records(self.conn, kind, subject=subject)

    def record(self, kind: str, record_id: str) -> Record | None:
        return self.ledger.get_record(self.conn, kind, record_id)

    def changed(self, kind: str, *, watermark: str = "seq") -> Iterator[Record]:
        """Records of ``kind`` changed since this job last committed a plan."""
        since = self.ledger.get_state(self.conn, self.job, f"{watermark}:{kind}", -1)
        return self.ledger.iter_records(self.conn, kind, since_seq=since)

    def mark_seen(self, plan: Plan, kind: str, *, watermark: str = "seq") -> None:
        """Advance the ``changed`` watermark when ``plan`` commits."""
        plan.state[f"{watermark}:{kind}"] = self.ledger.max_seq(self.conn)

    def state(self, key: str, default: Any = None) -> Any:
        return self.ledger.get_state(self.conn, self.job, key, default)

    def hashes(self, kind: str, ids: Iterable[str]) -> dict[str, str]:
        """The current content hash of each record of ``kind`` among ``ids`` (absent ones left out)."""
        return self.ledger.record_hashes(self.conn, kind, ids)

    def records_with_hashes(self, kind: str, *, subject: str | None = None) -> Iterator[tuple[Record, str]]:
        """Records of ``kind`` (optionally one subject's) with their content hashes."""
        return self.ledger.iter_records(self.conn, kind, subject=subject, with_hash=True)

    def decisions(self, kind: str, *, subject: str | None = None) -> list[dict[str, Any]]:
        """Decisions of ``kind`` recorded so far (rows with ``payload``, ``inputs``, ...)."""
        return self.ledger.list_decisions(self.conn, kind, subject=subject)

    def stale(self, decision: Mapping[str, Any], current: Mapping[str, str]) -> bool:
        """True when ``current`` inputs (id -> hash) differ from those ``decision`` was made from."""
        return dict(decision.get("inputs") or {}) != dict(current)

    def nothing_new(self, plan: Plan, kinds: Iterable[str], *also: Any) -> bool:
        """True when no record of ``kinds`` was written since this job last committed a plan, and the
        job's settings and ``also`` (the day, which sinks are configured, ...) are what they were then:
        a job whose decisions follow only from these has nothing to decide. ``plan`` carries the new
        watermark (state ``watermark``) either way, so it moves only when the plan commits."""
        import json

        from trainbridge.core.ledger import queries
        from trainbridge.core.records import digest_id

        settings = self.config.model_dump(mode="json") if isinstance(self.config, BaseModel) else self.config
        key = digest_id(json.dumps([settings, *also], sort_keys=True, default=str))
        last = self.state("watermark")
        plan.state["watermark"] = {"seq": self.ledger.max_seq(self.conn), "key": key}
        return isinstance(last, dict) and last.get("key") == key and \
            not queries.changed_since(self.ledger, self.conn, kinds, int(last.get("seq", -1)))

    def flush(self, plan: Plan) -> None:
        """Write ``plan``'s records, decisions, proposals and writes now, in the run's transaction,
        and empty those lists.

        For a job that decides in batches (a million learning events, a hundred thousand
        leavers): memory stays that of one batch. Nothing is committed before the plan is (a
        failed ``decide`` leaves nothing, a dry run rolls everything back); proposals and writes
        go the runner's way (auto-approved kinds to the outbox, writes routed), when the runner
        set :attr:`write_outbound`, else they stay in the plan; state, summary, warnings and
        files are written with the plan as usual, and the counts of what was flushed join the run's.
        """
        from trainbridge.core.ledger import bulk, decisions_table

        if plan.records:
            added, changed, _ = self.ledger.upsert_records(self.conn, plan.records, run_id=self.run_id)
            self.flushed["derived_records"] = self.flushed.get("derived_records", 0) + added + changed
            plan.records = []
        if plan.decisions:
            rows = [{"tenant": self.tenant, "id": d.id, "kind": d.kind, "subject": d.subject, "job": self.job,
                     "run_id": self.run_id, "amount": d.amount, "currency": d.currency,
                     "payload": d.payload, "explanation": list(d.explanation),
                     "inputs": dict(d.inputs) or None, "created_at": self.now} for d in plan.decisions]
            added = bulk.insert_ignore(self.conn, decisions_table, rows)
            self.flushed["decisions"] = self.flushed.get("decisions", 0) + added
            plan.decisions = []
        if (plan.proposals or plan.writes) and self.write_outbound is not None:
            self.write_outbound(plan)
            plan.proposals, plan.writes = [], []


@contextmanager
def fewer_collections(threshold: int = 50_000) -> Iterator[None]:
    """Run the block with Python's young-generation collection every ``threshold`` allocations
    instead of every 700: a job that makes millions of short-lived objects (records, decisions)
    spends a quarter of its time in collections that find nothing to free, since its objects
    live until their batch is written. Cycles are still collected, less often."""
    before = gc.get_threshold()
    gc.set_threshold(max(threshold, before[0]), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


class Job:
    """Base of every job. Subclasses set ``name``, ``inputs``, and implement ``decide``."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    #: Record kinds the job reads, e.g. ("cost_item", "employee"): the sync ingests the source
    #: streams that produce them (``trainbridge.core.streams``) before any job decides.
    inputs: ClassVar[tuple[str, ...]] = ()
    #: Older form: source hooks to ingest, e.g. ("fetch_cost_items",); mapped to their kinds.
    reads: ClassVar[tuple[str, ...]] = ()
    #: Pydantic model of the ``[jobs.NAME]`` table, or None.
    config_model: ClassVar[type[BaseModel] | None] = None
    #: Lower runs first when several jobs run in one ``sync``.
    order: ClassVar[int] = 100

    def decide(self, ctx: JobContext) -> Plan:
        raise NotImplementedError

    def after_delivery(self, ctx: JobContext, delivered: Sequence[OutboxRow]) -> Plan | None:
        """Record what sinks answered (e.g. an envelope id); runs in its own transaction.

        It sees the rows delivered by this run. A run killed between a delivery and this call
        leaves the answer in the outbox (``ctx.ledger.outbox(conn, job=..., states=("delivered",))``,
        ``row.result``): ``decide`` should pick such answers up, as the agreements job does.
        """
        return None

    def on_delivered(self, row: OutboxRow, answer: Any, *, base_dir: Path, config: Any = None) -> Any:
        """Keep what a sink answered before the row is marked delivered; return what the outbox stores.

        Called outside any transaction, right after the hook answered (so it may write files,
        e.g. a downloaded signed PDF under ``base_dir``, where ``config`` - the job's validated
        ``[jobs.NAME]`` table - says); it must be idempotent, as a run killed before the row is
        marked delivered calls the hook and this again. The default keeps the answer as it is.
        """
        return answer


# --- outbox argument encoding ---------------------------------------------------------


def encode_args(args: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _encode(v) for k, v in args.items()}


def decode_args(args: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _decode(v) for k, v in args.items()}


def _encode(value: Any) -> Any:
    if isinstance(value, Record):
        return {"__record__": value.kind, "payload": value.payload()}
    if isinstance(value, BaseModel):
        cls = type(value)
        return {"__model__": f"{cls.__module__}:{cls.__qualname__}", "data": value.model_dump(mode="json")}
    if isinstance(value, bytes):
        return {"__bytes__": base64.b64encode(value).decode()}
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, Decimal | date | datetime):
        return str(value)
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if "__record__" in value:
            return RECORD_TYPES[value["__record__"]].model_validate(value["payload"])
        if "__model__" in value:
            module, _, name = value["__model__"].partition(":")
            cls = getattr(importlib.import_module(module), name)
            return cls.model_validate(value["data"])
        if "__bytes__" in value:
            return base64.b64decode(value["__bytes__"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value
