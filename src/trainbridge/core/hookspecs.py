"""Every hook trainbridge calls, with the contract a plugin author implements from.

Two families:

* **Extension hooks** are implemented by plugin *modules* (built-in or installed through
  the ``trainbridge`` entry-point group): they register connector types, jobs, commands
  and reports, and supply refund policies.
* **Role hooks** are implemented by connector *instances*: one object per table in
  ``plugins.toml``, registered under the instance name. A connector implements the
  role hooks its vendor supports; the runner calls each instance on its own.

Source hooks (``fetch_*``) return an iterable of :class:`~trainbridge.core.records.Page`;
the runner commits each page's records, rejects and cursor in one transaction, so a
source may stream any number of pages and must never hold a whole source in memory.
Sink hooks (``send_for_signature``, ``deposit_evidence``, ``push_training_result``,
``post_adjustment``, ``send_notice``) are called from the outbox and must have one effect
however often they are called: after a crash or a lost answer the same write is delivered
again. Each receives ``idempotency_key``: the outbox row's key, the same on every attempt
of that write and after a restart (None only when called outside the outbox). Send it as
the vendor's idempotency key where the vendor has one (``HttpClient.post(...,
idempotency_key=key)``); otherwise look the earlier write up before creating one.
``idempotency_key`` is optional: an implementation that does not declare it is not given it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click

    from trainbridge.core.approvals.models import ApprovalRequest, ApprovalTicket
    from trainbridge.core.records import (
        Agreement,
        DeliveryReceipt,
        Envelope,
        EvidenceCheck,
        EvidenceReceipt,
        HealthResult,
        Notice,
        Page,
        PayrollAdjustment,
        SignedDocument,
        Signer,
        TrainingResult,
        WebhookResult,
    )

hookspec = pluggy.HookspecMarker("trainbridge")


# --- extension hooks --------------------------------------------------------------


@hookspec
def register_connectors(register: Callable[..., None]) -> None:
    """Register connector types: ``register(name, cls)``.

    ``cls`` has a class attribute ``config_model`` (a pydantic model of its
    ``plugins.toml`` table, without ``type``) and is built as ``cls(name, config, ctx)``.
    Two plugins registering one name is a :class:`PluginError` naming both.
    """


@hookspec
def register_jobs(register: Callable[..., None]) -> None:
    """Register sync jobs: ``register(job)`` with a :class:`trainbridge.core.jobs.Job`.

    A job names the source hooks it reads and decides from the ledger; see
    ``docs/plugins.md``. Job names are unique across plugins.
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add click commands or groups to the ``trainbridge`` command line."""


@hookspec
def register_reports(register: Callable[..., None]) -> None:
    """Register reports: ``register(report)`` with a :class:`trainbridge.core.reports.Report`.

    Each becomes ``trainbridge report NAME`` with table, json, csv and html output.
    """


@hookspec
def register_migrations(register: Callable[..., None]) -> None:
    """Register ledger migrations: ``register(namespace, version, upgrade)``.

    ``upgrade(connection)`` runs once per ledger in a transaction, in version order
    within its namespace. Tables a plugin adds must carry a ``tenant`` column.
    """


@hookspec(firstresult=True)
def refund_policy(jurisdiction: str) -> Any:
    """Return the refund policy object for ``jurisdiction`` (e.g. ``"prc"``), or None.

    The first plugin to answer wins; the built-in ``prc`` policy answers ``"prc"``.
    """


@hookspec
def demo_prepare(workspace: Path, today: date) -> Mapping[str, Any] | None:
    """Write sample data for ``trainbridge demo`` into ``workspace``.

    Return the ``plugins.toml`` tables to add (``{"connectors": {...}, "jobs": {...}}``)
    or None. Paths in the returned tables are relative to ``workspace``.
    """


@hookspec
def before_run(job: str, tenant: str, run_id: int) -> None:
    """Called when a run of ``job`` has taken its lock, before any source is read."""


@hookspec
def after_run(job: str, tenant: str, run_id: int, status: str, counts: Mapping[str, int]) -> None:
    """Called when a run ends (status ok, partial or failed), after the lock is released."""


@hookspec
def on_run_error(job: str, tenant: str, run_id: int, error: BaseException) -> None:
    """Called when a run fails with an unexpected error, before ``after_run``."""


# --- role hooks: sources ------------------------------------------------------------


@hookspec
def fetch_employees(since: str | None) -> Iterable[Page]:
    """People (HRIS): yield pages of ``Employee`` records changed since the cursor.

    ``since`` is the cursor this instance returned last time, or None for a full read.
    Set ``page.cursor`` to resume after that page (opaque text, at most 1000 chars).
    Validation failures go in ``page.rejects``; raise :class:`ConnectorError` only when
    the whole instance cannot be read. Re-reading returns the same ids.
    """


@hookspec
def fetch_separations(since: str | None) -> Iterable[Page]:
    """People (HRIS): yield pages of ``Separation`` records (who left, last day, reason).

    Map vendor reasons to :class:`SeparationReason` and keep the vendor's own in
    ``vendor_reason``; a reason that cannot be mapped is a reject, never a guess.
    """


@hookspec
def fetch_training_catalog(since: str | None) -> Iterable[Page]:
    """Learning: yield pages of ``TrainingProgram``, ``TrainingSession`` and ``Enrollment``."""


@hookspec
def fetch_learning_events(since: str | None) -> Iterable[Page]:
    """Learning (LMS, xAPI LRS, check-in): yield pages of ``LearningEvent`` and ``Certificate``.

    A retracted event is a ``LearningEvent`` with ``event=voided`` and ``voids`` set.
    """


@hookspec
def fetch_cost_items(since: str | None) -> Iterable[Page]:
    """Cost sources (finance, expense, LMS invoices): yield pages of ``CostItem``."""


@hookspec
def fetch_metrics(since: str | None) -> Iterable[Page]:
    """Performance: yield pages of ``MetricValue`` (KPIs, review scores per competency)."""


@hookspec
def fetch_agreements(since: str | None) -> Iterable[Page]:
    """Agreements signed elsewhere (paper, an e-signature system's archive): yield pages of ``Agreement``.

    Each with its service period (end date or months), clause amount and signing date
    (``signed_at``); the refund engine uses only agreements signed on or before the last day.
    """


# --- role hooks: e-signature and evidence ------------------------------------------


@hookspec
def send_for_signature(agreement: Agreement, document: bytes, signers: list[Signer],
                       idempotency_key: str | None = None) -> Envelope:
    """E-signature: send ``document`` (a PDF) to ``signers``; return the new envelope.

    Idempotent on ``idempotency_key`` (else ``agreement.id``): pass it to the vendor as its
    idempotency key or look the envelope up first, so a retried send creates one envelope.
    """


@hookspec
def signature_status(envelope_id: str) -> Envelope:
    """E-signature: the envelope's current status and signers. Read-only."""


@hookspec
def download_signed(envelope_id: str) -> SignedDocument:
    """E-signature: the signed document (and the certificate of completion, if any).

    Raise :class:`ConnectorError` when the envelope is not completed.
    """


@hookspec
def verify_webhook(headers: Mapping[str, str], body: bytes) -> WebhookResult:
    """E-signature and other callbacks: verify and translate one vendor callback.

    Check the vendor's signature on the raw ``body`` in constant time (and the
    timestamp's replay window where the vendor sends one); raise
    :class:`WebhookRejected` when it fails. Return the events and the exact reply the
    vendor requires (e.g. a challenge echo). Must not change any state itself.
    An event about a write this instance delivered earlier (a payroll paid or cancelled)
    sets ``delivery_ref`` to the ``ref`` of that write's receipt and ``delivery_status``
    to ``confirmed`` or ``failed``; trainbridge marks the outbox row.
    """


@hookspec
def deposit_evidence(digest: str, meta: Mapping[str, str],
                     idempotency_key: str | None = None) -> EvidenceReceipt:
    """Evidence: deposit a SHA-256 hex ``digest`` with a third party; return the receipt.

    ``meta`` has at least ``agreement_id``; the receipt's ``id`` should derive from it
    so a retried deposit is recognisable. ``idempotency_key`` is the delivery's key.
    """


@hookspec
def verify_evidence(receipt: EvidenceReceipt, digest: str) -> EvidenceCheck:
    """Evidence: check that ``receipt`` proves ``digest`` (valid or not, with the reason)."""


# --- role hooks: sinks ----------------------------------------------------------------


@hookspec
def push_training_result(result: TrainingResult, idempotency_key: str | None = None) -> DeliveryReceipt:
    """Performance sink: write a training result (completion, certificate, points).

    Idempotent on ``idempotency_key`` (else ``result.id``): writing it again must not add a
    second entry, and returns a receipt with the same ``ref``.
    """


@hookspec
def post_adjustment(adjustment: PayrollAdjustment, idempotency_key: str | None = None) -> DeliveryReceipt:
    """Payroll sink: post a bonus, deduction or credit. Idempotent on ``idempotency_key``.

    After a crash or a lost answer the outbox delivers the same adjustment again with the
    same key: send it as the vendor's idempotency key, or look the earlier write up (by a tag
    derived from the key or ``adjustment.id``), and return a receipt with the same ``ref``.
    """


@hookspec
def adjustment_status(ref: str) -> DeliveryReceipt:
    """Payroll sink: what became of a posted adjustment, by the ``ref`` its receipt gave. Read-only.

    Return a receipt whose ``status`` is ``confirmed`` once the vendor has paid or deducted it
    for good, ``failed`` once it never will be (cancelled, reversed, deleted), and anything
    else (``scheduled``, ``calculated``...) while it is still on its way; say what the vendor
    reported in ``detail``. After each sync trainbridge asks about delivered adjustments until
    they are confirmed or failed; a failed one marks its proposal failed for HR to see.
    """


@hookspec
def send_notice(notice: Notice, idempotency_key: str | None = None) -> DeliveryReceipt:
    """Notifier: deliver ``notice`` to its recipients in ``notice.language``.

    Sent at most once per ``notice.id`` by the outbox; a notifier that can deduplicate
    (by ``idempotency_key``, one per notifier instance) should.
    """


# --- role hooks: approval channels ----------------------------------------------------


@hookspec
def send_for_approval(request: ApprovalRequest, idempotency_key: str | None = None) -> ApprovalTicket:
    """Approval channel (Feishu Approval, DingTalk OA): open one approval instance for a proposal.

    ``request`` carries the form (``fields``: employee, kind, amount, reason, explanation,
    link, reference, in Chinese) and ``key``, equal to ``idempotency_key``: send it as the
    vendor's idempotency key (Feishu ``uuid``) or keep it in the form. With ``request.resend``
    an earlier attempt may have created the instance: find it by the key and return it
    instead of opening a second one. Return the vendor's instance id as ``ref``.
    """


@hookspec
def withdraw_approval(ticket: ApprovalTicket, reason: str) -> ApprovalTicket:
    """Approval channel: withdraw (cancel, terminate) an instance whose proposal was decided elsewhere.

    ``ticket.ref`` is the instance id, or empty when only ``ticket.key`` is known (find it by
    the key; when none exists, return the ticket with ``detail`` saying so). An instance that
    is already closed is not an error. ``reason`` is a short text for the vendor's comment.
    """


@hookspec
def healthcheck() -> HealthResult:
    """Every connector: prove configuration and credentials with one cheap call."""


EXTENSION_HOOKS = (
    "register_connectors", "register_jobs", "register_commands", "register_reports",
    "register_migrations", "refund_policy", "demo_prepare", "before_run", "after_run",
    "on_run_error",
)
SOURCE_HOOKS = (
    "fetch_employees", "fetch_separations", "fetch_training_catalog", "fetch_learning_events",
    "fetch_cost_items", "fetch_metrics", "fetch_agreements",
)
SINK_HOOKS = ("send_for_signature", "deposit_evidence", "push_training_result", "post_adjustment",
              "send_notice")
ROLE_HOOKS = (
    *SOURCE_HOOKS, "send_for_signature", "signature_status", "download_signed", "verify_webhook",
    "deposit_evidence", "verify_evidence", "push_training_result", "post_adjustment",
    "adjustment_status", "send_notice", "send_for_approval", "withdraw_approval", "healthcheck",
)
