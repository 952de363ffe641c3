"""``dropbox_sign``: Dropbox Sign (formerly HelloSign) API v3 signature requests.

What it calls (openapi.yaml of github.com/hellosign/hellosign-openapi, the source of the
official SDKs; basic auth with the API key as user name and an empty password)::

    POST /v3/signature_request/send                 multipart: files[0], signers[i][...],
                                                    metadata[...], test_mode, title, subject
    GET  /v3/signature_request/list?query=...       the idempotency lookup (search guide)
    GET  /v3/signature_request/{id}                 status and signatures
    GET  /v3/signature_request/files/{id}?file_type=pdf   the merged signed PDF (409: not ready)
    GET  /v3/account                                healthcheck

Callbacks are multipart POSTs whose ``json`` field holds ``{"event": {...},
"signature_request": {...}}``; ``event_hash`` = hex HMAC-SHA256(key=API key,
msg=event_time + event_type), as the SDKs' ``EventCallbackHelper.is_valid`` computes it.
The answer must be exactly ``Hello API Event Received`` or Dropbox Sign retries for days.

That hash covers the event time and type only, not the payload, so with
``confirm_callbacks`` (the default) the status of a callback is read back from the API
instead of being taken from the unsigned body.
"""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import hmac
import json
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import parse_qs

import requests
from pydantic import Field, SecretStr, model_validator

from trainbridge import hookimpl
from trainbridge.connectors.dropbox_sign_archive import AGREEMENT_KEY, DropboxSignArchive
from trainbridge.connectors.esign_base import SigningConnector, first_live, with_countersigner
from trainbridge.core.connector import ConnectorConfig, ConnectorContext
from trainbridge.core.errors import ConnectorError, NotFound, WebhookRejected
from trainbridge.core.http import HttpClient, HttpSettings
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
)
from trainbridge.sdk.webhooks import check_replay, max_age_field

PRODUCTION_URL = "https://api.hellosign.com/v3"
LOOKUP_KEY = "trainbridge_key"
#: A search token of the delivery's idempotency key (the outbox row's), looked up before a send.
IDEMPOTENCY_KEY = "trainbridge_idempotency_key"
REPLY = WebhookReply(status_code=200, body="Hello API Event Received", content_type="text/plain")
# Dropbox Sign retries an unanswered callback for about three days, keeping its event_time.
DEFAULT_MAX_AGE = 4 * 24 * 3600
FUTURE_SKEW_SECONDS = 300
EVENT_STATUS = {
    "signature_request_sent": EnvelopeStatus.SENT,
    "signature_request_viewed": EnvelopeStatus.DELIVERED,
    "signature_request_signed": EnvelopeStatus.SIGNED,
    "signature_request_all_signed": EnvelopeStatus.COMPLETED,
    "signature_request_declined": EnvelopeStatus.DECLINED,
    "signature_request_canceled": EnvelopeStatus.VOIDED,
    "signature_request_expired": EnvelopeStatus.VOIDED,
    "signature_request_invalid": EnvelopeStatus.VOIDED,
    "signature_request_destroyed": EnvelopeStatus.VOIDED,
}
ERROR_HINTS = {
    "unauthorized": "the API key was refused: check api_key (Dropbox Sign > Settings > API)",
    "payment_required": "requests outside test_mode need a paid API plan; set test_mode = true "
    "to try the integration",
    "forbidden": "the account behind api_key may not do this (paid plan or team permission)",
    "exceeded_rate": "the API rate limit is spent",
    "not_found": "no such signature request for this API key",
    "deleted": "the signature request was canceled or deleted",
    "conflict": "the files are still being prepared or the same request is in progress",
}


class DropboxSignConfig(ConnectorConfig):
    api_key: SecretStr = Field(description="API key (Settings > API); basic-auth user name")
    base_url: str = Field(default=PRODUCTION_URL, description="API base URL, ending in /v3")
    test_mode: bool = Field(default=False, description="Send requests as test_mode (no legal value)")
    client_id: str | None = Field(default=None, description="API app whose callback URL is used")
    title: str = Field(default="培训服务协议 Training agreement", max_length=255)
    subject: str = Field(default="请签署培训服务协议 Please sign your training agreement",
                         max_length=255)
    message: str = Field(default="", max_length=5000)
    file_name: str = "training-agreement.pdf"
    allow_decline: bool = Field(default=True, description="Let signers decline (reported back)")
    countersigner_name: str | None = Field(default=None, description="HR signer, signs second")
    countersigner_email: str | None = None
    confirm_callbacks: bool = Field(
        default=True, description="Read a callback's status back from the API (see module doc)")
    webhook_max_age_seconds: int = max_age_field(
        DEFAULT_MAX_AGE, description="Reject callbacks whose event_time is older; 0: off")
    import_agreements: bool = Field(
        default=False, description="fetch_agreements: read complete requests signed outside trainbridge "
                                   "(their metadata carries the agreement's terms)")
    account_id: str | None = Field(default=None, description="fetch_agreements: a team member's account, "
                                                              "or 'all'; unset: the API key's own")
    agreement_fields: dict[str, str] = Field(
        default_factory=dict, description="Our metadata key -> the request's metadata key, where they differ")
    http: HttpSettings = Field(default_factory=HttpSettings)

    @model_validator(mode="after")
    def _countersigner_pair(self) -> DropboxSignConfig:
        if bool(self.countersigner_name) != bool(self.countersigner_email):
            msg = "countersigner_name and countersigner_email go together"
            raise ValueError(msg)
        return self


class DropboxSignConnector(DropboxSignArchive, SigningConnector):
    """Sends training agreements as Dropbox Sign signature requests and reads them back."""

    config_model: ClassVar[type[ConnectorConfig]] = DropboxSignConfig
    vendor: ClassVar[str] = "Dropbox Sign API v3"
    config: DropboxSignConfig
    envelope_noun = "signature request"

    def __init__(self, name: str, config: ConnectorConfig,
                 ctx: ConnectorContext | None = None) -> None:
        super().__init__(name, config, ctx)  # registers the config's secrets
        self._http: HttpClient | None = None

    @property
    def http(self) -> HttpClient:
        if self._http is None:
            self._http = self.ctx.http(
                self.config.base_url, instance=self.name, settings=self.config.http,
                auth=(self.config.api_key.get_secret_value(), ""), error_hint=_error_hint)
            self._http.session.hooks["response"].append(self._rate_limit_hook)
        return self._http

    def _rate_limit_hook(self, resp: requests.Response, *args: Any, **kwargs: Any) -> None:
        """A 429 without Retry-After waits until ``X-Ratelimit-Reset`` (Unix time)."""
        if resp.status_code != 429 or "Retry-After" in resp.headers:
            return
        try:
            reset = float(resp.headers["X-Ratelimit-Reset"])
        except (KeyError, ValueError):
            return
        resp.headers["Retry-After"] = str(max(1, int(reset - self.ctx.clock() + 0.999)))

    # --- sending ------------------------------------------------------------------------

    @hookimpl
    def send_for_signature(self, agreement: Agreement, document: bytes, signers: list[Signer],
                           idempotency_key: str | None = None) -> Envelope:
        # Dropbox Sign has no idempotency key: the lookup by the metadata token stands in.
        existing = self.sent_before(agreement, signers,
                                    lambda: self.find_request(agreement.id, idempotency_key))
        if existing is not None:
            return existing
        everyone = with_countersigner(signers, self.config)
        answer = self._send(self.request_fields(agreement, everyone, idempotency_key),
                            {"files[0]": (self.config.file_name, document, "application/pdf")})
        envelope = self._envelope(self._signature_request(answer, "POST /signature_request/send"))
        self.log.info("sent agreement %s as Dropbox Sign request %s%s", agreement.id,
                      envelope.envelope_id, " (test mode)" if self.config.test_mode else "")
        return envelope

    def request_fields(self, agreement: Agreement, signers: list[Signer],
                       idempotency_key: str | None = None) -> list[tuple[str, str]]:
        """The form fields of ``/signature_request/send`` (the file goes separately)."""
        cfg = self.config
        fields = [("title", cfg.title), ("subject", cfg.subject)]
        if cfg.message:
            fields.append(("message", cfg.message))
        for i, signer in enumerate(signers):
            if not signer.email:
                raise ConnectorError(f"signer {signer.name!r} has no email address",
                                     instance=self.name,
                                     hint="Dropbox Sign sends each signer a link by email")
            fields += [(f"signers[{i}][email_address]", signer.email),
                       (f"signers[{i}][name]", signer.name)]
            if len(signers) > 1:
                fields.append((f"signers[{i}][order]", str(i)))
        fields += [(f"metadata[{AGREEMENT_KEY}]", agreement.id),
                   (f"metadata[{LOOKUP_KEY}]", lookup_token(agreement.id)),
                   *([(f"metadata[{IDEMPOTENCY_KEY}]", lookup_token(idempotency_key))]
                     if idempotency_key else []),
                   ("test_mode", "1" if cfg.test_mode else "0"),
                   ("allow_decline", "1" if cfg.allow_decline else "0")]
        if cfg.client_id:
            fields.append(("client_id", cfg.client_id))
        return fields

    def _send(self, fields: list[tuple[str, str]], files: dict[str, Any]) -> dict[str, Any]:
        """POST the request; only a 429 (refused, so nothing made) is tried again."""
        resp = self.create_once(
            lambda: self.http.post("/signature_request/send", data=fields, files=files,
                                   idempotent=False, retry_refused=True),
            what="sending the signature request",
            hint="not retried here; the next send looks the agreement up by its metadata before "
                 "sending another")
        answer = self.http.json_of(resp)
        return answer if isinstance(answer, dict) else {}

    def find_request(self, agreement_id: str, idempotency_key: str | None = None) -> Envelope | None:
        """The live request already sent for this delivery (by the token of its idempotency key), else
        for ``agreement_id`` (by its metadata token: a request sent before keys were kept).

        Dropbox Sign indexes new requests with a short delay, so this protects re-runs, not
        a retry seconds after an ambiguous failure (which is why those are not retried).
        """
        lookups = [(IDEMPOTENCY_KEY, lookup_token(idempotency_key))] if idempotency_key else []
        return first_live(envelope for key, token in [*lookups, (AGREEMENT_KEY, None)]
                          for envelope in self._search(agreement_id, key, token))

    def _search(self, agreement_id: str, key: str, token: str | None) -> Iterator[Envelope]:
        answer = self.http.get_json("/signature_request/list",
                                    params={"query": token or lookup_token(agreement_id), "page_size": 20})
        items = answer.get("signature_requests") if isinstance(answer, dict) else None
        for item in items if isinstance(items, list) else []:
            if (item.get("metadata") or {}).get(key) == (token or agreement_id):
                yield self._envelope(item)

    # --- reading ------------------------------------------------------------------------

    @hookimpl
    def signature_status(self, envelope_id: str) -> Envelope:
        resp = self.http.get(f"/signature_request/{envelope_id}", ok={200, 410})
        if resp.status_code == 410:
            return self.envelope(envelope_id, agreement_id="", status=EnvelopeStatus.VOIDED)
        return self._envelope(self._signature_request(self.http.json_of(resp),
                                                      f"GET /signature_request/{envelope_id}"))

    def _signature_request(self, answer: Any, what: str) -> Mapping[str, Any]:
        """The ``signature_request`` object of an answer; anything else is a ConnectorError."""
        request = answer.get("signature_request") if isinstance(answer, dict) else None
        if not isinstance(request, dict) or not request.get("signature_request_id"):
            msg = f"{what} answered without a signature_request: {str(answer)[:120]}"
            raise ConnectorError(msg, instance=self.name,
                                 hint=f"check base_url of [connectors.{self.name}]")
        return request

    def _envelope(self, request: Mapping[str, Any]) -> Envelope:
        request_id = str(request["signature_request_id"])
        signatures = request.get("signatures") or []
        if request.get("test_mode") and not self.config.test_mode:
            self.log.warning("signature request %s is in test mode: it has no legal value",
                             request_id)
        signers, signed_times = [], []
        for item in signatures:
            signed_at = _from_unix(item.get("signed_at"))
            if signed_at is not None:
                signed_times.append(signed_at)
            email_address = item.get("signer_email_address")
            hr = bool(email_address) and email_address == self.config.countersigner_email
            signers.append(Signer(name=str(item.get("signer_name") or ""), email=email_address,
                                  role="hr" if hr else "employee", signed_at=signed_at))
        status = _request_status(request, signatures)
        if request.get("has_error"):
            self.log.warning("signature request %s has an error; read as voided", request_id)
        return self.envelope(
            request_id, agreement_id=str((request.get("metadata") or {}).get(AGREEMENT_KEY) or ""),
            status=status, signers=signers,
            completed_at=max(signed_times) if status is EnvelopeStatus.COMPLETED and signed_times
            else None)

    @hookimpl
    def download_signed(self, envelope_id: str) -> SignedDocument:
        self.completed(envelope_id,
                       hint="Dropbox Sign serves the unsigned file before completion; wait for "
                            "signature_request_all_signed")
        resp = self.http.get(f"/signature_request/files/{envelope_id}",
                             params={"file_type": "pdf"}, ok={200, 409})
        if resp.status_code == 409:
            raise ConnectorError(f"the signed file of {envelope_id} is still being prepared",
                                 instance=self.name, status=409,
                                 hint="try again after signature_request_downloadable")
        if not resp.content.startswith(b"%PDF"):
            raise ConnectorError(f"the file of signature request {envelope_id} is not a PDF",
                                 instance=self.name, hint="check base_url: it ends in /v3")
        # By default the audit trail is merged into this PDF; there is no separate certificate.
        return SignedDocument(envelope_id=envelope_id, content=resp.content)

    # --- callbacks ----------------------------------------------------------------------

    @hookimpl
    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookResult:
        payload = callback_json(headers, body)
        event = payload.get("event")
        if not isinstance(event, dict):
            raise WebhookRejected("Dropbox Sign callback without an event")
        event_time, event_type = str(event.get("event_time", "")), str(event.get("event_type", ""))
        received = str(event.get("event_hash", "")).strip().lower()
        if not (event_time and event_type and received):
            raise WebhookRejected("Dropbox Sign callback without event_time/type/hash")
        expected = event_hash(self.config.api_key.get_secret_value(), event_time, event_type)
        if not hmac.compare_digest(expected, received):
            raise WebhookRejected("Dropbox Sign event_hash does not match",
                                  hint=f"check api_key of [connectors.{self.name}]")
        occurred = self._check_age(event_time)
        request = payload.get("signature_request")
        if event_type == "callback_test" or not isinstance(request, dict):
            return WebhookResult(reply=REPLY)
        request_id = str(request.get("signature_request_id") or "")
        if not request_id:
            raise WebhookRejected("Dropbox Sign callback without signature_request_id")
        status = EVENT_STATUS.get(event_type)
        if self.config.confirm_callbacks:
            status = self._confirmed_status(request_id)
        related = str((event.get("event_metadata") or {}).get("related_signature_id") or "")
        event_id = ":".join(p for p in ("dropbox_sign", request_id, event_type, event_time, related) if p)
        return WebhookResult(reply=REPLY, events=(WebhookEvent(
            event_id=event_id, event_type=event_type, envelope_id=request_id, status=status,
            occurred_at=occurred),))

    def _check_age(self, event_time: str) -> datetime:
        try:
            seconds = int(event_time)
        except ValueError:
            raise WebhookRejected(f"event_time {event_time!r} is not Unix time") from None
        check_replay(seconds, self.ctx.clock(), self.config.webhook_max_age_seconds, instance=self.name,
                     max_ahead_seconds=FUTURE_SKEW_SECONDS)
        return datetime.fromtimestamp(seconds, tz=UTC)

    def _confirmed_status(self, request_id: str) -> EnvelopeStatus:
        try:
            return self.signature_status(request_id).status
        except NotFound:
            raise WebhookRejected(f"callback names signature request {request_id}, which this "
                                  "API key cannot read", hint="a forged or foreign callback") from None

    @hookimpl
    def healthcheck(self) -> HealthResult:
        try:
            account = self.http.get_json("/account").get("account") or {}
        except ConnectorError as exc:
            return HealthResult(ok=False, detail=str(exc))
        left = (account.get("quotas") or {}).get("api_signature_requests_left")
        mode = "test mode" if self.config.test_mode else "live"
        return HealthResult(ok=True, detail=f"API key accepted for {account.get('email_address')} "
                                            f"({mode}; API requests left: {left})")


def event_hash(api_key: str, event_time: str, event_type: str) -> str:
    """The callback's ``event_hash``: hex HMAC-SHA256 keyed with the API key."""
    return hmac.new(api_key.encode("utf-8"), f"{event_time}{event_type}".encode(),
                    hashlib.sha256).hexdigest()


def callback_json(headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
    """The ``json`` field of a callback (multipart or urlencoded form), or a bare JSON body."""
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    text: str | None = None
    if content_type.lower().startswith("multipart/"):
        raw = b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
        for part in message.iter_parts():
            if part.get_param("name", header="content-disposition") == "json":
                data = part.get_payload(decode=True)
                text = data.decode("utf-8") if isinstance(data, bytes) else str(data)
    elif "urlencoded" in content_type.lower():
        text = parse_qs(body.decode("utf-8", "replace")).get("json", [None])[0]
    else:
        text = body.decode("utf-8", "replace")
    try:
        payload = json.loads(text or "")
    except ValueError:
        raise WebhookRejected("Dropbox Sign callback has no JSON in its 'json' field") from None
    if not isinstance(payload, dict):
        raise WebhookRejected("Dropbox Sign callback JSON is not an object")
    return payload


def lookup_token(agreement_id: str) -> str:
    """A search-safe token for the agreement id (the search syntax treats ':' as a field)."""
    return "tb" + hashlib.sha256(agreement_id.encode()).hexdigest()[:30]


def _request_status(request: Mapping[str, Any], signatures: list[Any]) -> EnvelopeStatus:
    codes = {str(s.get("status_code") or "") for s in signatures}
    if request.get("is_complete"):
        return EnvelopeStatus.COMPLETED
    if request.get("is_declined") or "declined" in codes:
        return EnvelopeStatus.DECLINED
    if request.get("has_error") or "expired" in codes:
        return EnvelopeStatus.VOIDED
    if "signed" in codes:
        return EnvelopeStatus.SIGNED
    if any(s.get("last_viewed_at") for s in signatures):
        return EnvelopeStatus.DELIVERED
    return EnvelopeStatus.SENT


def _from_unix(value: Any) -> datetime | None:
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        return None
    return datetime.fromtimestamp(seconds, tz=UTC) if seconds > 0 else None


def _error_hint(resp: requests.Response) -> str | None:
    try:
        error = resp.json().get("error") or {}
    except (ValueError, AttributeError):
        return None
    name, path = str(error.get("error_name", "")), error.get("error_path")
    hint = ERROR_HINTS.get(name, f"Dropbox Sign {name}" if name else "")
    return f"{hint} (field {path})" if path else hint or None


@hookimpl
def register_connectors(register: Callable[..., None]) -> None:
    register("dropbox_sign", DropboxSignConnector)
