"""What a sync job is, and what it hands back to the runner.

A job names the source hooks it reads; the runner ingests them into the ledger, then
calls ``decide`` with a :class:`JobContext` inside one transaction. ``decide`` returns a
:class:`Plan` (derived records, decisions, proposals, outbox writes) that the runner
writes in that same transaction, then the outbox is delivered. After delivery the
runner calls ``after_delivery`` so a job can record what the sinks answered.
"""

from __future__ import annotations

import base64
import importlib
import logging
from collections.abc import Iterator, Mapping, Sequence
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
    """A decided fact with its explanation (a refund quote, a cost allocation, a flag)."""

    id: str
    kind: str
    subject: str | None
    payload: Mapping[str, Any]
    explanation: Sequence[str] = ()
    amount: Decimal | None = None
    currency: str | None = None


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

    def extend(self, other: Plan) -> None:
        self.records += other.records
        self.decisions += other.decisions
        self.proposals += other.proposals
        self.writes += other.writes
        self.summary += other.summary
        self.state.update(other.state)
        self.warnings += other.warnings


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
    #: Folder of plugins.toml: relative paths in job settings are relative to it.
    base_dir: Path = field(default_factory=Path.cwd)
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("trainbridge.jobs"))

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


class Job:
    """Base of every job. Subclasses set ``name``, ``reads``, and implement ``decide``."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    #: Source hooks to ingest before deciding, e.g. ("fetch_cost_items",).
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
