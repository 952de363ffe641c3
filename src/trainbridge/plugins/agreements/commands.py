"""The ``agreements`` and ``evidence`` commands, and the operations they and the console call.

``list_agreements``, ``sign_locally`` (the demo's employee signs at a ``local_esign``
instance) and ``verify_agreement_evidence``. Vendor callbacks go through the core's webhook
intake (:func:`trainbridge.core.webhooks.receive_webhook`); ``apply_webhook`` is its old name.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from trainbridge.core.errors import ConfigError, TrainbridgeError
from trainbridge.core.records import (
    Agreement,
    AgreementStatus,
    Employee,
    Envelope,
    EvidenceCheck,
    EvidenceReceipt,
    TrainingProgram,
)
from trainbridge.core.webhooks import receive_webhook
from trainbridge.plugins.agreements.config import JOB, AgreementsConfig
from trainbridge.plugins.agreements.documents import DocumentStore, TemplateRegistry, sha256_hex

if TYPE_CHECKING:
    from trainbridge.core.workspace import Workspace

#: The old name of the core's webhook intake (the console and connector tests call it so).
apply_webhook = receive_webhook


# --- operations (the command line and the web console call these) ---------------------------


def job_config(ws: Workspace) -> AgreementsConfig:
    config: AgreementsConfig = ws.settings.job_config(JOB, AgreementsConfig)
    return config


def document_store(ws: Workspace) -> DocumentStore:
    return DocumentStore(ws.settings.base_dir / job_config(ws).documents_dir)


def get_agreement(ws: Workspace, agreement_id: str) -> Agreement:
    ws.ensure_migrated()
    with ws.ledger.transaction() as conn:
        record = ws.ledger.get_record(conn, "agreement", agreement_id)
    if not isinstance(record, Agreement):
        raise TrainbridgeError(f"no agreement {agreement_id!r}", hint="trainbridge agreements list")
    return record


def receipts_for(ws: Workspace, agreement_id: str) -> list[EvidenceReceipt]:
    with ws.ledger.transaction() as conn:
        return [r for r in ws.ledger.iter_records(conn, "evidence_receipt")
                if isinstance(r, EvidenceReceipt) and r.agreement_id == agreement_id]


def list_agreements(ws: Workspace, *, statuses: Sequence[str] = (),
                    employee_id: str | None = None) -> list[dict[str, Any]]:
    """Agreements with their employee, program and evidence, as plain dicts."""
    ws.ensure_migrated()
    store = document_store(ws)
    with ws.ledger.transaction() as conn:
        names = {r.employee_id: r.name for r in ws.ledger.iter_records(conn, "employee")
                 if isinstance(r, Employee)}
        titles = {r.program_id: r.title for r in ws.ledger.iter_records(conn, "program")
                  if isinstance(r, TrainingProgram)}
        receipts: dict[str, EvidenceReceipt] = {}
        for r in ws.ledger.iter_records(conn, "evidence_receipt"):
            assert isinstance(r, EvidenceReceipt)
            receipts[f"{r.agreement_id}:{r.digest}"] = r
        agreements = [r for r in ws.ledger.iter_records(conn, "agreement", subject=employee_id)
                      if isinstance(r, Agreement)]
    rows = []
    for a in sorted(agreements, key=lambda a: a.id):
        if statuses and a.status.value not in statuses:
            continue
        receipt = receipts.get(f"{a.id}:{a.signed_document_sha256}")
        rows.append({
            **a.model_dump(mode="json"),
            "employee_name": names.get(a.employee_id, ""),
            "program_title": titles.get(a.program_id, ""),
            "document": str(store.path(a.id, "draft", a.document_sha256)) if a.document_sha256 else None,
            "signed_document": (str(store.path(a.id, "signed", a.signed_document_sha256))
                                if a.signed_document_sha256 else None),
            "evidence": ({"provider": receipt.provider, "receipt_id": receipt.receipt_id,
                          "deposited_at": receipt.deposited_at.isoformat(), "instance": receipt.source}
                         if receipt else None),
        })
    return rows


def sign_locally(ws: Workspace, agreement_id: str, *, at: datetime | None = None) -> Envelope:
    """Sign an agreement sent through a ``local_esign`` instance (the demo's employee signs).

    When the instance has a ``webhook_secret`` its signed callback goes through the core's
    webhook intake at once (an ``Envelope`` record); otherwise the next sync polls the
    envelope. Either way the next ``agreements`` run records the agreement signed, downloads
    the signed PDF and timestamps its digest. Returns the envelope as the service has it now.
    """
    from trainbridge.connectors.local_esign import LocalEsign

    agreement = get_agreement(ws, agreement_id)
    if not agreement.envelope_id or not agreement.esign_instance:
        raise TrainbridgeError(f"{agreement_id} has not been sent for signature (status "
                               f"{agreement.status.value})", hint="trainbridge sync agreements")
    instance = ws.host.instances.get(agreement.esign_instance)
    if not isinstance(instance, LocalEsign):
        raise TrainbridgeError(f"{agreement_id} was sent through {agreement.esign_instance!r}, which is "
                               "not a local_esign instance", hint="the employee signs at the vendor")
    envelope = instance.sign(agreement.envelope_id, at=at)
    if instance.config.webhook_secret is not None:
        headers, body = instance.callback_for(envelope)
        receive_webhook(ws, instance.name, headers, body)
    return envelope


def verify_agreement_evidence(ws: Workspace, agreement_id: str, file: Path | None = None) -> EvidenceCheck:
    """Re-check a signed agreement: the file's digest against the one recorded, then the token."""
    agreement = get_agreement(ws, agreement_id)
    now = datetime.now(UTC)
    recorded = agreement.signed_document_sha256
    if agreement.status is not AgreementStatus.SIGNED or not recorded:
        return EvidenceCheck(valid=False, checked_at=now, reason=(
            f"not signed: {agreement_id} is {agreement.status.value} and has no signed document digest"))
    path = file or document_store(ws).path(agreement.id, "signed", recorded)
    if not path.exists():
        return EvidenceCheck(valid=False, checked_at=now, reason=f"missing file: {path} does not exist")
    digest = sha256_hex(path.read_bytes())
    if digest != recorded:
        return EvidenceCheck(valid=False, checked_at=now, reason=(
            f"tampered file: {path} has SHA-256 {digest}; the signed document's is {recorded}"))
    receipts = [r for r in receipts_for(ws, agreement_id) if r.digest == recorded]
    if not receipts:
        return EvidenceCheck(valid=False, checked_at=now, reason=(
            f"no evidence: no receipt for SHA-256 {recorded} (has `trainbridge sync agreements` run?)"))
    receipt = max(receipts, key=lambda r: r.deposited_at)
    if receipt.source not in ws.host.instances:
        raise ConfigError(f"the receipt was issued through {receipt.source!r}, which is not configured",
                          file=ws.settings.file, hint="keep the evidence connector's table to verify")
    check: EvidenceCheck = ws.host.call(receipt.source, "verify_evidence", receipt=receipt, digest=digest)
    if check.valid:
        detail = check.reason.removeprefix("valid: ")
        return check.model_copy(update={"reason": f"{path}: SHA-256 {digest} matches; {detail}"})
    reason = check.reason if check.reason.startswith("wrong token") else f"wrong token: {check.reason}"
    return check.model_copy(update={"reason": reason})


# --- commands ----------------------------------------------------------------------------------


@click.group(name="agreements")
def agreements_group() -> None:
    """Training agreements: list, sign (local demo e-signature), templates."""


@agreements_group.command(name="list")
@click.option("--status", "statuses", multiple=True, type=click.Choice([s.value for s in AgreementStatus]),
              help="Only these statuses (repeatable).")
@click.option("--employee", "employee_id", help="Only this employee's agreements.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def agreements_list(state: Any, statuses: tuple[str, ...], employee_id: str | None, as_json: bool) -> None:
    """Agreements with their status, service period and envelope (filter by status or employee)."""
    rows = list_agreements(state.workspace(read_only=True), statuses=statuses, employee_id=employee_id)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for r in rows:
        evidence = f"timestamped {r['evidence']['deposited_at']}" if r["evidence"] else "no evidence"
        digest = r["signed_document_sha256"]
        signed = f" signed sha256 {digest[:16]}..." if digest else ""
        click.echo(f"{r['id']} [{r['status']}] {r['employee_id']} {r['employee_name']} {r['program_id']} "
                   f"{r['template_id']} v{r['template_version']} {r['service_start']} to "
                   f"{r['service_end']}{signed}; {evidence}")
    if not rows:
        click.echo("no agreements")


@agreements_group.command(name="sign")
@click.argument("agreement_id")
@click.pass_obj
def agreements_sign(state: Any, agreement_id: str) -> None:
    """Sign an agreement held by a local_esign instance (the demo's employee signs)."""
    envelope = sign_locally(state.workspace(), agreement_id)
    click.echo(f"{agreement_id}: envelope {envelope.envelope_id} signed; the envelope is "
               f"{envelope.status.value}")
    click.echo("next: trainbridge sync agreements  (records the agreement signed, downloads the signed PDF "
               "and timestamps its digest)")


@agreements_group.command(name="templates")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def agreements_templates(state: Any, as_json: bool) -> None:
    """Agreement templates with their versions, and whether each has every required clause."""
    ws = state.workspace()
    config = job_config(ws)
    extra = ws.settings.base_dir / config.templates_dir if config.templates_dir else None
    registry = TemplateRegistry.load(extra)
    rows = [{"template": t.template_id, "version": t.version, "origin": t.origin,
             "valid": t.problem is None, "problem": t.problem}
            for (_, _), t in sorted(registry.templates.items())]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for r in rows:
        click.echo(f"{r['template']} v{r['version']} ({r['origin']}): {'ok' if r['valid'] else r['problem']}")


@click.group(name="evidence")
def evidence_group() -> None:
    """Evidence of signed agreements (trusted timestamps)."""


@evidence_group.command(name="verify")
@click.argument("agreement_id")
@click.option("--file", "file", type=click.Path(dir_okay=False, path_type=Path),
              help="Check this copy of the signed PDF (default: the one kept in documents_dir).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def evidence_verify(state: Any, agreement_id: str, file: Path | None, as_json: bool) -> None:
    """Re-check the signed document's digest against the file and the timestamp token."""
    check = verify_agreement_evidence(state.workspace(), agreement_id, file)
    if as_json:
        click.echo(json.dumps({"agreement_id": agreement_id, **check.model_dump(mode="json")},
                              ensure_ascii=False, indent=2))
    else:
        click.echo(f"{'valid' if check.valid else 'INVALID'}: {check.reason}")
    if not check.valid:
        sys.exit(1)
