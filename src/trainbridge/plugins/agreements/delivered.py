"""What comes back for the ``agreements`` job: signed documents, evidence receipts, delivered writes.

A signed agreement's PDF is fetched through the outbox (``download_signed``) and kept in the
document store by :func:`keep_signed_document` as soon as the vendor answers; the run records
its digest with who signed when, deposits the digest with the evidence provider
(``deposit_evidence``) and keeps the receipt. A delivery answered but not recorded (a run killed
in between) is recorded from the outbox row's ``result``.

A mixin of :class:`~trainbridge.plugins.agreements.job.AgreementRun`, like
:mod:`~trainbridge.plugins.agreements.gate`.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from trainbridge.core.errors import ConnectorError
from trainbridge.core.jobs import Decision, Write
from trainbridge.core.ledger import OutboxRow
from trainbridge.core.records import Agreement, AgreementStatus, Envelope, EvidenceReceipt, SignedDocument
from trainbridge.core.secrets import MASK
from trainbridge.plugins.agreements.config import AgreementsConfig
from trainbridge.plugins.agreements.documents import DocumentStore
from trainbridge.plugins.agreements.view import RunParts, agreement_of_download, download_key, evidence_key

WAITING = ("pending", "failed", "delivering")
DONE = ("delivered", "confirmed")


def keep_signed_document(row: OutboxRow, answer: Any, *, base_dir: Path, config: Any = None) -> Any:
    """A downloaded signed PDF goes to the document store; the outbox keeps where and its digest."""
    if row.operation != "download_signed":
        return answer
    if not isinstance(answer, SignedDocument):
        raise ConnectorError(f"download_signed answered {type(answer).__name__}, not a signed document",
                             instance=row.instance)
    envelope_id = str(row.args.get("envelope_id") or answer.envelope_id)
    if answer.envelope_id != envelope_id:
        raise ConnectorError(f"asked for the signed document of envelope {envelope_id}, got "
                             f"{answer.envelope_id}'s", instance=row.instance)
    cfg: AgreementsConfig = config or AgreementsConfig()
    store = DocumentStore(base_dir / cfg.documents_dir)
    path = store.put(agreement_of_download(row.idempotency_key, envelope_id), "signed", answer.content)
    return {"envelope_id": envelope_id, "sha256": answer.sha256, "path": _relative(path, base_dir)}


def _relative(path: Path, base_dir: Path) -> str:
    try:
        return str(path.relative_to(base_dir))
    except ValueError:
        return str(path)


class Deliveries(RunParts):
    """Signed documents and evidence of a run, and what delivered writes answered."""

    evidence: str | None

    def put(self, agreement: Agreement) -> None:
        raise NotImplementedError

    def outbox(self, operation: str) -> dict[str, list[OutboxRow]]:
        raise NotImplementedError

    def sent(self, agreement: Agreement, envelope: Envelope, instance: str) -> Agreement:
        raise NotImplementedError

    def collect_signed(self, ids: Iterable[str] | None = None) -> None:
        """A signed agreement without its signed document: the download is an outbox write; a download
        delivered but not recorded (a crash) is recorded from the outbox."""
        downloads = self.outbox("download_signed")
        for agreement in self.agreements(ids):
            if agreement.status is not AgreementStatus.SIGNED or agreement.signed_document_sha256 \
                    or not agreement.envelope_id:
                continue
            key = download_key(agreement.id, agreement.envelope_id)
            rows = downloads.get(key, [])
            done = [r for r in rows if r.state in DONE and isinstance(r.result, dict)
                    and r.result.get("sha256")]
            if done:
                self.record_signed(agreement, done[0].result)
            elif any(r.state in WAITING for r in rows):
                continue
            elif any(r.state == "dead" for r in rows):
                error = next(r.last_error for r in rows if r.state == "dead")
                self.plan.warnings.append(f"downloading the signed {agreement.id} failed for good: {error}")
            elif not agreement.esign_instance or agreement.esign_instance not in self.ctx.host.instances:
                self.plan.warnings.append(f"{agreement.id}: its envelope is at {agreement.esign_instance!r}, "
                                          "which is not configured; the signed document is not fetched")
            else:
                self.plan.writes.append(Write("download_signed", {"envelope_id": agreement.envelope_id},
                                              instance=agreement.esign_instance, key=key))

    def record_signed(self, agreement: Agreement, kept: dict[str, Any]) -> Agreement:
        """Record the signed document ``on_delivered`` kept, with who signed, when and from where."""
        digest = str(kept["sha256"])
        signed = agreement.model_copy(update={"signed_document_sha256": digest})
        self.put(signed)
        envelope = self.view.envelope_of(agreement)
        signers = [s.model_dump(mode="json") for s in envelope.signers] if envelope else []
        path = kept.get("path")
        self.decide_once(Decision(
            id=f"agreement_signed:{agreement.id}", kind="agreement_signed", subject=agreement.employee_id,
            payload={"agreement_id": agreement.id, "envelope_id": agreement.envelope_id,
                     "esign_instance": agreement.esign_instance, "signers": signers,
                     "signed_at": agreement.signed_at.isoformat() if agreement.signed_at else None,
                     "signed_document_sha256": digest, "document": path},
            explanation=(f"envelope {agreement.envelope_id} at {agreement.esign_instance} is completed",
                         f"signed document kept at {path}, SHA-256 {digest}")))
        self.note("signed", f"{agreement.id} ({self.employee_name(agreement.employee_id)}), "
                            f"SHA-256 {digest[:16]}...")
        return signed

    # --- 3. evidence ----------------------------------------------------------------

    def deposit_missing(self, ids: Iterable[str] | None = None) -> None:
        deposits = self.outbox("deposit_evidence")
        waiting = []
        for agreement in self.agreements(ids):
            if agreement.status is not AgreementStatus.SIGNED or not agreement.signed_document_sha256 \
                    or self.view.has_receipt(agreement):
                continue
            if self.evidence is None:
                waiting.append(agreement.id)
                continue
            rows = deposits.get(evidence_key(agreement), [])
            if any(r.state in WAITING for r in rows):
                continue
            if any(self.keep_receipt(r) for r in rows if r.state in DONE):
                continue
            if any(r.state == "dead" for r in rows):
                error = next(r.last_error for r in rows if r.state == "dead")
                self.plan.warnings.append(f"depositing evidence for {agreement.id} failed for good: {error}")
                continue
            # A delivered deposit whose receipt was lost (killed before it was recorded) is made again.
            key = evidence_key(agreement) + (f"#{len(rows) + 1}" if rows else "")
            meta = {"agreement_id": agreement.id, "employee_id": agreement.employee_id,
                    "template": f"{agreement.template_id} v{agreement.template_version}",
                    "envelope_id": agreement.envelope_id or ""}
            self.plan.writes.append(Write("deposit_evidence", {"digest": agreement.signed_document_sha256,
                                                               "meta": meta},
                                          instance=self.evidence, key=key))
        if waiting:
            self.plan.warnings.append(f"{len(waiting)} signed agreement(s) have no evidence deposited: "
                                      "configure an evidence connector (e.g. type = \"rfc3161\")")

    def keep_receipt(self, row: OutboxRow) -> bool:
        """Record the receipt a delivered deposit answered; False when it cannot be rebuilt."""
        # An empty token is a whole receipt: some providers (e签宝 evidence) prove by receipt_id alone.
        if not isinstance(row.result, dict) or row.result.get("token") in (None, MASK):
            return False
        receipt = EvidenceReceipt.model_validate(row.result)
        if not receipt.source:
            receipt = receipt.model_copy(update={"source": row.instance})
        self.view.receipts.setdefault(receipt.agreement_id, []).append(receipt)
        self.plan.records.append(receipt)
        self.decide_once(Decision(
            id=f"evidence_deposited:{receipt.agreement_id}:{receipt.digest[:16]}", kind="evidence_deposited",
            subject=None, payload={"agreement_id": receipt.agreement_id, "receipt": receipt.id,
                                   "provider": receipt.provider, "receipt_id": receipt.receipt_id,
                                   "digest": receipt.digest,
                                   "deposited_at": receipt.deposited_at.isoformat()},
            explanation=(f"the signed document's SHA-256 {receipt.digest} was deposited with "
                         f"{receipt.provider} at {receipt.deposited_at.isoformat()}",
                         f"check it any time: trainbridge evidence verify {receipt.agreement_id}")))
        self.note("timestamped", f"{receipt.agreement_id}: {receipt.provider}, "
                                 f"{receipt.deposited_at.isoformat()}")
        return True

    def apply_delivery(self, row: OutboxRow) -> str | None:
        """Record what a sink answered; returns the agreement it concerns."""
        if row.operation == "send_for_signature" and isinstance(row.result, dict):
            envelope = Envelope.model_validate(row.result)
            agreement = self.agreement(envelope.agreement_id)
            if agreement is None:
                return None
            self.sent(agreement, envelope, row.instance)
            return agreement.id
        if row.operation == "download_signed" and isinstance(row.result, dict) and row.result.get("sha256"):
            agreement = self.agreement(agreement_of_download(row.idempotency_key,
                                                             str(row.result.get("envelope_id", ""))))
            if agreement is None or agreement.signed_document_sha256 \
                    or agreement.envelope_id != row.result.get("envelope_id"):
                return None
            self.record_signed(agreement, row.result)
            return agreement.id
        if row.operation == "deposit_evidence" and self.keep_receipt(row):
            return str(row.result["agreement_id"])
        return None
