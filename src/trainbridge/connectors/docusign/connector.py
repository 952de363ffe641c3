"""``docusign``: DocuSign eSignature REST API v2.1 envelopes for training agreements.

What it calls (eSignature REST v2.1 reference; field names checked against the official
``docusign-esign-python-client`` models and ``connect.schema-v2.json`` of
github.com/docusign/OpenAPI-Specifications)::

    POST /v2.1/accounts/{accountId}/envelopes                      Envelopes:create, status "sent"
    GET  /v2.1/accounts/{accountId}/envelopes?from_date&custom_field&include=custom_fields
                                                                   Envelopes:listStatusChanges
    GET  /v2.1/accounts/{accountId}/envelopes/{id}?include=recipients,custom_fields
    GET  /v2.1/accounts/{accountId}/envelopes/{id}/documents/combined?certificate=false
    GET  /v2.1/accounts/{accountId}/envelopes/{id}/documents/certificate
    GET  /v2.1/accounts/{accountId}                                Accounts:get (healthcheck)
    POST https://{account[-d].docusign.com}/oauth/token            JWT grant (RS256 assertion)

Idempotency: DocuSign has no idempotency key, so every envelope carries the agreement id
in a hidden text custom field (``trainbridge_agreement_id``) and a send first lists the
envelopes created in the last ``lookup_days`` with ``custom_field=name=value``; an
envelope found (and not voided) is returned instead of creating a second one. A create
that fails with 5xx or a network error is *not* retried blindly (it may have been made):
the error says so, and the next send finds it by the same lookup.

The parts: ``config`` (the table), ``client`` (token and transport), ``agreements``
(``fetch_agreements``), ``webhooks`` (Connect).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import requests

from trainbridge import hookimpl
from trainbridge.connectors.docusign.agreements import DocusignArchive
from trainbridge.connectors.docusign.client import DocusignApi
from trainbridge.connectors.docusign.config import (
    AGREEMENT_FIELD,
    ENVELOPE_STATUS,
    KEY_FIELD,
    DocusignConfig,
)
from trainbridge.connectors.docusign.webhooks import DocusignConnect
from trainbridge.connectors.esign_agreements import when
from trainbridge.connectors.esign_base import SigningConnector, first_live, with_countersigner
from trainbridge.core.connector import ConnectorConfig, ConnectorContext
from trainbridge.core.errors import ConnectorError
from trainbridge.core.http import HttpClient
from trainbridge.core.records import Agreement, Envelope, EnvelopeStatus, HealthResult, SignedDocument, Signer


class DocusignConnector(DocusignArchive, DocusignConnect, SigningConnector):
    """Sends training agreements as DocuSign envelopes and reads them back."""

    config_model: ClassVar[type[ConnectorConfig]] = DocusignConfig
    vendor: ClassVar[str] = "DocuSign eSignature REST API v2.1"
    config: DocusignConfig

    def __init__(self, name: str, config: ConnectorConfig,
                 ctx: ConnectorContext | None = None) -> None:
        super().__init__(name, config, ctx)  # registers the config's secrets
        self.api = DocusignApi(name, self.config, self.ctx)

    @property
    def api_base(self) -> str:
        return self.api.api_base

    @property
    def oauth_host(self) -> str:
        return self.api.oauth_host

    @property
    def account_path(self) -> str:
        return self.api.account_path

    @property
    def jwt_mode(self) -> bool:
        return self.api.jwt_mode

    @property
    def http(self) -> HttpClient:
        return self.api.http

    def access_token(self) -> str:
        """The configured token, or a JWT-grant token cached until shortly before it expires."""
        return self.api.tokens.get()

    def _request(self, method: str, path: str, **kw: Any) -> requests.Response:
        return self.api.request(method, path, **kw)

    def _json(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        return self.api.json(method, path, **kw)

    # --- sending ------------------------------------------------------------------------

    @hookimpl
    def send_for_signature(self, agreement: Agreement, document: bytes, signers: list[Signer],
                           idempotency_key: str | None = None) -> Envelope:
        # DocuSign has no idempotency key: the lookup by the hidden agreement field stands in.
        existing = self.sent_before(agreement, signers,
                                    lambda: self.find_envelope(agreement.id, idempotency_key))
        if existing is not None:
            return existing
        everyone = with_countersigner(signers, self.config)
        summary = self._create(self.envelope_definition(agreement, document, everyone, idempotency_key))
        envelope_id = str(summary["envelopeId"])
        self.log.info("sent agreement %s as DocuSign envelope %s", agreement.id, envelope_id)
        return self.envelope(envelope_id, agreement_id=agreement.id, signers=everyone,
                             status=ENVELOPE_STATUS.get(str(summary.get("status")), EnvelopeStatus.SENT))

    def envelope_definition(self, agreement: Agreement, document: bytes,
                            signers: list[Signer], idempotency_key: str | None = None) -> dict[str, Any]:
        """The Envelopes:create body: one PDF, signers in order, the agreement id hidden."""
        cfg = self.config
        recipients = []
        for order, signer in enumerate(signers, start=1):
            if not signer.email:
                raise ConnectorError(f"signer {signer.name!r} has no email address",
                                     instance=self.name,
                                     hint="DocuSign sends remote signers their link by email")
            recipient: dict[str, Any] = {"email": signer.email, "name": signer.name,
                                         "recipientId": str(order), "routingOrder": str(order),
                                         "roleName": signer.role}
            anchor = cfg.countersigner_anchor if signer.role == "hr" else cfg.employee_anchor
            if anchor:
                recipient["tabs"] = {"signHereTabs": [{
                    "anchorString": anchor, "anchorUnits": "pixels",
                    "anchorXOffset": cfg.anchor_x_offset, "anchorYOffset": cfg.anchor_y_offset,
                    "anchorIgnoreIfNotPresent": "false"}]}
            recipients.append(recipient)
        definition: dict[str, Any] = {
            "emailSubject": cfg.email_subject,
            "documents": [{"documentBase64": base64.b64encode(document).decode("ascii"),
                           "name": cfg.document_name, "fileExtension": "pdf",
                           "documentId": "1"}],
            "recipients": {"signers": recipients},
            "customFields": {"textCustomFields": [
                {"name": name, "value": agreement_key(value), "show": "false", "required": "false"}
                for name, value in ((AGREEMENT_FIELD, agreement.id), (KEY_FIELD, idempotency_key)) if value]},
            "status": "sent",
        }
        if cfg.email_blurb:
            definition["emailBlurb"] = cfg.email_blurb
        return definition

    def _create(self, definition: dict[str, Any]) -> dict[str, Any]:
        """POST the envelope; only a 429 (refused, so nothing made) is tried again."""
        resp = self.create_once(
            lambda: self._request("POST", "/envelopes", json=definition, idempotent=False,
                                  retry_refused=True),
            what="creating the envelope",
            hint="not retried here; the next send looks the agreement up by its "
                 f"{AGREEMENT_FIELD} custom field before creating another")
        return dict(self.http.json_of(resp) or {})

    def find_envelope(self, agreement_id: str, idempotency_key: str | None = None) -> Envelope | None:
        """The live envelope already made for this delivery (by the hidden key field), else for the
        agreement (by its hidden agreement field: an envelope sent before keys were kept)."""
        lookups = [(KEY_FIELD, idempotency_key)] if idempotency_key else []
        return first_live(envelope for name, value in [*lookups, (AGREEMENT_FIELD, agreement_id)]
                          for envelope in self._lookup(name, agreement_key(str(value)), agreement_id))

    def _lookup(self, name: str, key: str, agreement_id: str) -> Iterator[Envelope]:
        since = datetime.fromtimestamp(self.ctx.clock(), tz=UTC) - timedelta(days=self.config.lookup_days)
        answer = self._json("GET", "/envelopes", params={
            "from_date": since.strftime("%Y-%m-%dT%H:%M:%SZ"), "from_to_status": "created",
            "custom_field": f"{name}={key}", "include": "custom_fields,recipients",
        })
        for item in answer.get("envelopes") or []:
            if _custom_field(item, name) == key:
                yield self._envelope(item, agreement_id)

    # --- reading ------------------------------------------------------------------------

    @hookimpl
    def signature_status(self, envelope_id: str) -> Envelope:
        data = self._json("GET", f"/envelopes/{envelope_id}",
                          params={"include": "recipients,custom_fields"})
        return self._envelope(data)

    def _envelope(self, data: Mapping[str, Any], agreement_id: str | None = None) -> Envelope:
        envelope_id = str(data["envelopeId"])
        raw_status = str(data.get("status", "")).lower()
        status = ENVELOPE_STATUS.get(raw_status)
        if status is None:
            self.log.warning("envelope %s has unknown status %r; read as sent", envelope_id,
                             raw_status)
            status = EnvelopeStatus.SENT
        signers = []
        for item in (data.get("recipients") or {}).get("signers") or []:
            signed = str(item.get("status", "")).lower() in ("signed", "completed")
            signers.append(Signer(name=str(item.get("name", "")), email=item.get("email"),
                                  role=str(item.get("roleName") or "employee"),
                                  signed_at=when(item.get("signedDateTime")) if signed else None))
        return self.envelope(
            envelope_id, agreement_id=agreement_id or _custom_field(data) or "", status=status,
            signers=signers,
            completed_at=when(data.get("completedDateTime"))
            if status is EnvelopeStatus.COMPLETED else None)

    @hookimpl
    def download_signed(self, envelope_id: str) -> SignedDocument:
        self.completed(envelope_id,
                       hint="DocuSign serves the partly signed PDF before completion; wait for "
                            "envelope-completed")
        path = f"/envelopes/{envelope_id}/documents"
        combined = self._request("GET", f"{path}/combined", params={"certificate": "false"},
                                 headers={"Accept": "application/pdf"})
        certificate = self._request("GET", f"{path}/certificate",
                                    headers={"Accept": "application/pdf"})
        for what, resp in (("combined document", combined), ("certificate", certificate)):
            if not resp.content.startswith(b"%PDF"):
                raise ConnectorError(f"the {what} of envelope {envelope_id} is not a PDF",
                                     instance=self.name,
                                     request_id=resp.headers.get("X-DocuSign-TraceToken"),
                                     hint="check base_uri: it must be the account's base URI")
        return SignedDocument(envelope_id=envelope_id, content=combined.content,
                              certificate=certificate.content)

    @hookimpl
    def healthcheck(self) -> HealthResult:
        try:
            account = self._json("GET", "")
        except ConnectorError as exc:
            return HealthResult(ok=False, detail=str(exc))
        name = account.get("accountName", self.config.account_id)
        how = "JWT grant" if self.jwt_mode else "access token"
        return HealthResult(ok=True, detail=f"{how} accepted for DocuSign account {name}")


def agreement_key(agreement_id: str) -> str:
    """The custom field value: the id itself, or its digest when longer than DocuSign's 100."""
    if len(agreement_id) <= 100:
        return agreement_id
    return "sha256:" + hashlib.sha256(agreement_id.encode()).hexdigest()


def _custom_field(data: Mapping[str, Any], name: str = AGREEMENT_FIELD) -> str | None:
    for field in (data.get("customFields") or {}).get("textCustomFields") or []:
        if field.get("name") == name:
            return str(field.get("value", ""))
    return None
