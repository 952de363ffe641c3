"""``local_esign``: an e-signature service in a folder, for the demo and for tests.

Each envelope is a folder ``<folder>/<envelope_id>/`` with ``envelope.json``, the
document sent (``document.pdf``) and, once signed, ``signed.pdf`` (the document with the
signing record in its PDF metadata). An envelope is signed by ``trainbridge agreements
sign AGREEMENT_ID`` (or at once with ``auto_sign = true``). Callbacks are signed with an
HMAC like a real vendor's, so the webhook path can be exercised end to end.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, SecretStr

from trainbridge import hookimpl
from trainbridge.core.connector import Connector, ConnectorConfig
from trainbridge.core.errors import ConnectorError, WebhookRejected
from trainbridge.core.records import (
    Agreement,
    Envelope,
    EnvelopeStatus,
    HealthResult,
    SignedDocument,
    Signer,
    WebhookEvent,
    WebhookReply,
    WebhookResult,
    make_id,
)

SIGNATURE_HEADER = "X-Local-Esign-Signature"
TIMESTAMP_HEADER = "X-Local-Esign-Timestamp"
REPLY = WebhookReply(status_code=200, body='{"ok":true}', content_type="application/json")


class LocalEsignConfig(ConnectorConfig):
    folder: str = Field(default="esign", description="Where envelopes are kept (relative to plugins.toml)")
    auto_sign: bool = Field(default=False, description="Sign every envelope as soon as it is sent (demo)")
    webhook_secret: SecretStr | None = Field(default=None, description="HMAC key of the callbacks")
    webhook_tolerance_seconds: int = Field(default=300, ge=0, description="Replay window; 0: none")
    signer_ip: str = Field(default="127.0.0.1", description="Recorded as where the signer signed from")


def callback_signature(secret: str, timestamp: str, body: bytes) -> str:
    """``v1=`` + hex HMAC-SHA256 over ``timestamp.body``: the timestamp is signed with the body."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"v1={mac}"


def signed_callback(secret: str, event: Mapping[str, Any], *,
                    timestamp: int | None = None) -> tuple[dict[str, str], bytes]:
    """Headers and body of a callback as the local service would post it."""
    body = json.dumps(dict(event), ensure_ascii=False, sort_keys=True).encode()
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return ({"Content-Type": "application/json", TIMESTAMP_HEADER: stamp,
             SIGNATURE_HEADER: callback_signature(secret, stamp, body)}, body)


class LocalEsign(Connector):
    """Envelopes as files; the ``agreements sign`` command plays the employee."""

    config_model: ClassVar[type[ConnectorConfig]] = LocalEsignConfig
    vendor = "local folder (demo e-signature)"
    config: LocalEsignConfig

    @property
    def folder(self) -> Path:
        return self.ctx.resolve(self.config.folder)

    def envelope_id_for(self, agreement_id: str) -> str:
        return "env-" + hashlib.sha256(agreement_id.encode()).hexdigest()[:16]

    def _dir(self, envelope_id: str) -> Path:
        if not envelope_id.startswith("env-") or "/" in envelope_id or ".." in envelope_id:
            raise ConnectorError(f"no envelope {envelope_id!r}", instance=self.name)
        return self.folder / envelope_id

    def _load(self, envelope_id: str) -> dict[str, Any]:
        path = self._dir(envelope_id) / "envelope.json"
        if not path.exists():
            raise ConnectorError(f"no envelope {envelope_id!r} in {self.folder}", instance=self.name,
                                 hint="was the agreement sent through this instance?")
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return data

    def _save(self, data: Mapping[str, Any]) -> None:
        folder = self._dir(str(data["envelope_id"]))
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / "envelope.json.tmp"
        tmp.write_text(json.dumps(dict(data), ensure_ascii=False, indent=2), encoding="utf-8")
        os.replace(tmp, folder / "envelope.json")

    def _envelope(self, data: Mapping[str, Any]) -> Envelope:
        completed = data.get("completed_at")
        return Envelope(id=make_id(self.name, data["envelope_id"]), source=self.name,
                        envelope_id=data["envelope_id"], agreement_id=data["agreement_id"],
                        status=EnvelopeStatus(data["status"]),
                        signers=tuple(Signer.model_validate(s) for s in data["signers"]),
                        completed_at=datetime.fromisoformat(completed) if completed else None)

    # --- role hooks ---------------------------------------------------------------------

    @hookimpl
    def send_for_signature(self, agreement: Agreement, document: bytes, signers: list[Signer]) -> Envelope:
        envelope_id = self.envelope_id_for(agreement.id)
        if (self._dir(envelope_id) / "envelope.json").exists():
            return self.signature_status(envelope_id)  # a retried send: one envelope per agreement
        if not signers:
            raise ConnectorError("no signers given", instance=self.name,
                                 hint=f"agreement {agreement.id} needs at least the employee")
        folder = self._dir(envelope_id)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "document.pdf").write_bytes(document)
        data = {"envelope_id": envelope_id, "agreement_id": agreement.id, "status": "sent",
                "signers": [s.model_dump(mode="json") for s in signers],
                "document_sha256": hashlib.sha256(document).hexdigest(),
                "created_at": datetime.now(UTC).isoformat(), "completed_at": None}
        self._save(data)
        if self.config.auto_sign:
            return self.sign(envelope_id)
        return self._envelope(data)

    @hookimpl
    def signature_status(self, envelope_id: str) -> Envelope:
        return self._envelope(self._load(envelope_id))

    @hookimpl
    def download_signed(self, envelope_id: str) -> SignedDocument:
        data = self._load(envelope_id)
        if data["status"] != EnvelopeStatus.COMPLETED.value:
            raise ConnectorError(f"envelope {envelope_id} is {data['status']}, not completed",
                                 instance=self.name, hint="sign it first: trainbridge agreements sign ID")
        content = (self._dir(envelope_id) / "signed.pdf").read_bytes()
        return SignedDocument(envelope_id=envelope_id, content=content)

    @hookimpl
    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookResult:
        if self.config.webhook_secret is None:
            raise WebhookRejected(f"{self.name}: no webhook_secret configured",
                                  hint=f"set webhook_secret in [connectors.{self.name}]")
        lower = {k.lower(): v for k, v in headers.items()}
        stamp = lower.get(TIMESTAMP_HEADER.lower(), "")
        received = lower.get(SIGNATURE_HEADER.lower(), "")
        expected = callback_signature(self.config.webhook_secret.get_secret_value(), stamp, body)
        if not stamp or not hmac.compare_digest(expected, received):
            raise WebhookRejected(f"{self.name}: callback signature does not match",
                                  hint="only the e-signature service holding webhook_secret may post here")
        window = self.config.webhook_tolerance_seconds
        if window and (not stamp.isdigit() or abs(time.time() - int(stamp)) > window):
            raise WebhookRejected(f"{self.name}: callback timestamp is outside the replay window",
                                  hint="check the clocks, or raise webhook_tolerance_seconds")
        try:
            event = json.loads(body)
            status = EnvelopeStatus(event["status"])
            occurred = datetime.fromisoformat(event["occurred_at"]) if event.get("occurred_at") else None
            translated = WebhookEvent(event_id=str(event["event_id"]), event_type=str(event["type"]),
                                      envelope_id=str(event["envelope_id"]), status=status,
                                      occurred_at=occurred)
        except (ValueError, KeyError, TypeError) as exc:
            raise WebhookRejected(f"{self.name}: callback body is not a valid event ({exc})") from None
        return WebhookResult(events=(translated,), reply=REPLY)

    @hookimpl
    def healthcheck(self) -> HealthResult:
        folder = self.folder
        writable = os.access(folder, os.W_OK) if folder.exists() else os.access(folder.parent, os.W_OK)
        return HealthResult(ok=writable, detail=f"envelopes in {folder}")

    # --- the signer's side (the demo command and tests) ----------------------------------

    def sign(self, envelope_id: str, *, at: datetime | None = None) -> Envelope:
        """Every signer signs: ``signed.pdf`` is the document with the signing record in it."""
        data = self._load(envelope_id)
        if data["status"] == EnvelopeStatus.COMPLETED.value:
            return self._envelope(data)
        if data["status"] != EnvelopeStatus.SENT.value:
            raise ConnectorError(f"envelope {envelope_id} is {data['status']}; it cannot be signed",
                                 instance=self.name)
        when = (at or datetime.now(UTC)).astimezone(UTC)
        signers = [{**s, "signed_at": when.isoformat(), "ip_address": self.config.signer_ip}
                   for s in data["signers"]]
        document = (self._dir(envelope_id) / "document.pdf").read_bytes()
        try:
            signed = _with_signing_record(document, envelope_id, signers, when)
        except Exception as exc:  # pypdf raises several types for an unreadable file
            raise ConnectorError(f"envelope {envelope_id}: the document is not a readable PDF ({exc})",
                                 instance=self.name) from None
        (self._dir(envelope_id) / "signed.pdf").write_bytes(signed)
        data.update(status=EnvelopeStatus.COMPLETED.value, signers=signers, completed_at=when.isoformat())
        self._save(data)
        return self._envelope(data)

    def decline(self, envelope_id: str) -> Envelope:
        data = self._load(envelope_id)
        if data["status"] == EnvelopeStatus.SENT.value:
            data["status"] = EnvelopeStatus.DECLINED.value
            self._save(data)
        return self._envelope(data)

    def callback_for(self, envelope: Envelope) -> tuple[dict[str, str], bytes]:
        """The signed callback this service posts when ``envelope`` changes status."""
        if self.config.webhook_secret is None:
            raise ConnectorError("no webhook_secret configured", instance=self.name)
        stamp = envelope.completed_at or datetime.now(UTC)
        event = {"event_id": f"{envelope.envelope_id}:{envelope.status.value}",
                 "type": f"envelope.{envelope.status.value}", "envelope_id": envelope.envelope_id,
                 "status": envelope.status.value, "occurred_at": stamp.isoformat()}
        return signed_callback(self.config.webhook_secret.get_secret_value(), event)


def _with_signing_record(document: bytes, envelope_id: str, signers: list[dict[str, Any]],
                         when: datetime) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(document)))
    names = ", ".join(str(s.get("name", "")) for s in signers)
    writer.add_metadata({
        "/TrainbridgeEnvelope": envelope_id,
        "/TrainbridgeSignedBy": names,
        "/TrainbridgeSignedAt": when.isoformat(),
        "/TrainbridgeOriginalSHA256": hashlib.sha256(document).hexdigest(),
    })
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@hookimpl
def register_connectors(register: Callable[..., None]) -> None:
    register("local_esign", LocalEsign)
