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

Connect (webhooks, JSON SIM): ``X-DocuSign-Signature-1`` (``-2``... one per active key)
is base64(HMAC-SHA256(key, raw body)); any configured key matching any header passes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar

import requests
import requests.auth
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pydantic import Field, SecretStr, model_validator

from trainbridge import hookimpl
from trainbridge.connectors.docusign_archive import DocusignArchive
from trainbridge.core.connector import Connector, ConnectorConfig, ConnectorContext
from trainbridge.core.errors import (
    AuthError,
    ConfigError,
    ConnectorError,
    ServerError,
    WebhookRejected,
)
from trainbridge.core.http import HttpClient, HttpSettings, TokenCache
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
from trainbridge.core.secrets import register_secret
from trainbridge.sdk.webhooks import check_replay, max_age_field

PRODUCTION_URI = "https://www.docusign.net/restapi"
DEMO_URI = "https://demo.docusign.net/restapi"
AGREEMENT_FIELD = "trainbridge_agreement_id"
#: The delivery's idempotency key (the outbox row's), looked up before a create.
KEY_FIELD = "trainbridge_idempotency_key"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# DocuSign's 30-second burst window: the wait when only the burst limit is spent.
BURST_WINDOW_SECONDS = 30.0
ENVELOPE_STATUS = {
    "created": EnvelopeStatus.CREATED,
    "sent": EnvelopeStatus.SENT,
    "correct": EnvelopeStatus.SENT,
    "delivered": EnvelopeStatus.DELIVERED,
    "signed": EnvelopeStatus.SIGNED,
    "completed": EnvelopeStatus.COMPLETED,
    "declined": EnvelopeStatus.DECLINED,
    "voided": EnvelopeStatus.VOIDED,
    "deleted": EnvelopeStatus.VOIDED,
    "timedout": EnvelopeStatus.VOIDED,
}
# Connect JSON SIM event names; recipient-completed means one signer has signed.
EVENT_STATUS = {
    "envelope-created": EnvelopeStatus.CREATED,
    "envelope-sent": EnvelopeStatus.SENT,
    "envelope-resent": EnvelopeStatus.SENT,
    "envelope-delivered": EnvelopeStatus.DELIVERED,
    "envelope-completed": EnvelopeStatus.COMPLETED,
    "envelope-declined": EnvelopeStatus.DECLINED,
    "envelope-voided": EnvelopeStatus.VOIDED,
    "envelope-deleted": EnvelopeStatus.VOIDED,
    "envelope-purge": EnvelopeStatus.VOIDED,
    "recipient-completed": EnvelopeStatus.SIGNED,
    "recipient-declined": EnvelopeStatus.DECLINED,
}
ERROR_HINTS = {
    "USER_AUTHENTICATION_FAILED": "the access token is invalid or expired (DocuSign tokens "
    "last 8 hours): refresh access_token, or configure the JWT grant",
    "AUTHORIZATION_INVALID_TOKEN": "the access token is invalid or expired",
    "USER_LACKS_PERMISSIONS": "the impersonated user lacks a permission (sending envelopes)",
    "USER_LACKS_MEMBERSHIP": "user_id is not a member of account_id",
    "ACCOUNT_LACKS_PERMISSIONS": "the DocuSign plan lacks this feature",
    "PARTNER_AUTHENTICATION_FAILED": "integration_key is unknown to this environment "
    "(demo keys work only on demo.docusign.net)",
    "INVALID_EMAIL_ADDRESS_FOR_RECIPIENT": "a signer's email address is invalid",
    "ENVELOPE_DOES_NOT_EXIST": "no such envelope in account_id",
    "TEMPLATE_ID_INVALID": "the template id is wrong or not shared with the user",
    "HOURLY_APIINVOCATION_LIMIT_EXCEEDED": "the account's hourly API limit is spent",
    "HOURLY_ENVELOPE_POLLING_LIMIT_EXCEEDED": "this envelope was polled too often this "
    "hour: rely on Connect and poll at most every 15 minutes",
}
TOKEN_HINTS = {
    "consent_required": "the user has not granted consent to the integration key: open "
    "https://{host}/oauth/auth?response_type=code&scope=signature%20impersonation"
    "&client_id=<integration_key>&redirect_uri=<a registered URI> once and accept",
    "invalid_grant": "the JWT was refused: check user_id, integration_key, the RSA key pair "
    "registered for the key, and the server clock",
    "invalid_client": "integration_key is unknown to {host}",
}


class DocusignConfig(ConnectorConfig):
    account_id: str = Field(min_length=1, description="API Account ID (GUID)")
    base_uri: str = Field(
        default=PRODUCTION_URI,
        description=f"The account's base URI (from /oauth/userinfo); demo: {DEMO_URI}",
    )
    access_token: SecretStr | None = Field(default=None, description="OAuth bearer token")
    integration_key: str | None = Field(default=None, description="JWT grant: client id")
    user_id: str | None = Field(default=None, description="JWT grant: user GUID to impersonate")
    private_key: SecretStr | None = Field(default=None, description="JWT grant: RSA PEM")
    private_key_file: str | None = Field(default=None, description="JWT grant: path of a PEM")
    oauth_host: str | None = Field(
        default=None, description="account.docusign.com, or account-d.docusign.com for demo"
    )
    scopes: tuple[str, ...] = ("signature", "impersonation")
    hmac_keys: tuple[SecretStr, ...] = Field(default=(), description="Connect HMAC keys")
    email_subject: str = Field(default="请签署培训服务协议 Training agreement", max_length=100)
    email_blurb: str = Field(default="", max_length=10000)
    document_name: str = "training-agreement.pdf"
    countersigner_name: str | None = Field(default=None, description="HR signer, signs second")
    countersigner_email: str | None = None
    employee_anchor: str | None = Field(default=None, description="Anchor text of the sign tab")
    countersigner_anchor: str | None = None
    anchor_x_offset: str = "0"
    anchor_y_offset: str = "0"
    lookup_days: int = Field(default=90, ge=1, le=3650, description="How far a send looks back")
    import_agreements: bool = Field(
        default=False, description="fetch_agreements: read completed envelopes signed outside trainbridge "
                                   "(their custom fields carry the agreement's terms)")
    agreements_since: date = Field(
        default=date(2020, 1, 1), description="fetch_agreements: the first run reads envelopes from this day")
    agreements_page_size: int = Field(default=100, ge=1, le=1000,
                                      description="fetch_agreements: count per page")
    agreement_fields: dict[str, str] = Field(
        default_factory=dict,
        description="Our metadata key -> the envelope custom field's name, where they differ")
    webhook_max_age_seconds: int = max_age_field(
        0, description="Reject Connect messages generated longer ago; 0: off")
    token_refresh_margin_seconds: int = Field(default=300, ge=0)
    jwt_lifetime_seconds: int = Field(default=3600, ge=60, le=3600)
    http: HttpSettings = Field(default_factory=HttpSettings)

    @model_validator(mode="after")
    def _one_auth(self) -> DocusignConfig:
        jwt = (self.integration_key, self.user_id, self.private_key or self.private_key_file)
        if self.access_token is None and not all(jwt):
            msg = ("set access_token, or integration_key + user_id + private_key "
                   "(or private_key_file) for the JWT grant")
            raise ValueError(msg)
        if bool(self.countersigner_name) != bool(self.countersigner_email):
            msg = "countersigner_name and countersigner_email go together"
            raise ValueError(msg)
        return self


class _Bearer(requests.auth.AuthBase):
    def __init__(self, token: Callable[[], str]) -> None:
        self.token = token

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = f"Bearer {self.token()}"
        return r


class DocusignConnector(DocusignArchive, Connector):
    """Sends training agreements as DocuSign envelopes and reads them back."""

    config_model: ClassVar[type[ConnectorConfig]] = DocusignConfig
    vendor: ClassVar[str] = "DocuSign eSignature REST API v2.1"
    config: DocusignConfig

    def __init__(self, name: str, config: ConnectorConfig,
                 ctx: ConnectorContext | None = None) -> None:
        super().__init__(name, config, ctx)
        cfg = self.config
        for secret in (cfg.access_token, cfg.private_key, *cfg.hmac_keys):
            if secret is not None:
                register_secret(secret.get_secret_value())
        base = cfg.base_uri.rstrip("/")
        self.api_base = base if base.endswith("/restapi") else f"{base}/restapi"
        self.oauth_host = cfg.oauth_host or (
            "account-d.docusign.com" if "demo." in base else "account.docusign.com")
        self.account_path = f"/v2.1/accounts/{cfg.account_id}"
        self.clock: Callable[[], float] = time.time
        self.sleep: Callable[[float], None] = time.sleep
        self._http: HttpClient | None = None
        self._oauth: HttpClient | None = None
        self._tokens = TokenCache(self._jwt_grant, margin=cfg.token_refresh_margin_seconds,
                                  clock=lambda: self.clock())

    # --- transport ----------------------------------------------------------------------

    @property
    def jwt_mode(self) -> bool:
        return self.config.access_token is None

    @property
    def http(self) -> HttpClient:
        if self._http is None:
            self._http = self.ctx.http(
                self.api_base, instance=self.name, settings=self.config.http,
                auth=_Bearer(self.access_token), error_hint=_error_hint,
                sleep=lambda s: self.sleep(s))
            self._http.session.hooks["response"].append(self._rate_limit_hook)
        return self._http

    def _rate_limit_hook(self, resp: requests.Response, *args: Any, **kwargs: Any) -> None:
        """Turn DocuSign's rate-limit headers into the Retry-After HttpClient honours."""
        if resp.status_code != 429 or "Retry-After" in resp.headers:
            return
        if resp.headers.get("X-RateLimit-Remaining") == "0":
            try:
                reset = float(resp.headers["X-RateLimit-Reset"])
            except (KeyError, ValueError):
                return
            resp.headers["Retry-After"] = str(max(1, int(reset - self.clock() + 0.999)))
        elif resp.headers.get("X-BurstLimit-Remaining") == "0":
            resp.headers["Retry-After"] = str(int(BURST_WINDOW_SECONDS))

    def access_token(self) -> str:
        """The configured token, or a JWT-grant token cached until shortly before it expires."""
        cfg = self.config
        if cfg.access_token is not None:
            return cfg.access_token.get_secret_value()
        return self._tokens.get()

    def _jwt_grant(self) -> tuple[str, float]:
        cfg, host = self.config, self.oauth_host
        now = int(self.clock())
        claims = {"iss": cfg.integration_key, "sub": cfg.user_id, "aud": host, "iat": now,
                  "exp": now + cfg.jwt_lifetime_seconds, "scope": " ".join(cfg.scopes)}
        if self._oauth is None:
            self._oauth = self.ctx.http(f"https://{host}", instance=self.name,
                                        settings=cfg.http, sleep=lambda s: self.sleep(s))
        resp = self._oauth.post(
            "/oauth/token", data={"grant_type": JWT_GRANT,
                                  "assertion": rs256_jwt(claims, self._private_key())},
            idempotent=True, ok={200, 400, 401})
        try:
            answer = resp.json()
        except ValueError:
            answer = {}
        token = answer.get("access_token") if isinstance(answer, dict) else None
        if resp.status_code != 200 or not token:
            code = str(answer.get("error", "")) if isinstance(answer, dict) else ""
            detail = str(answer.get("error_description", "")) if isinstance(answer, dict) else ""
            raise AuthError(
                f"JWT grant refused by {host}: {code or resp.reason} {detail}".strip(),
                instance=self.name, status=resp.status_code,
                request_id=resp.headers.get("X-DocuSign-TraceToken"),
                hint=TOKEN_HINTS.get(code, "check the JWT grant settings of "
                                           f"[connectors.{self.name}]").format(host=host))
        register_secret(str(token))
        return str(token), float(answer.get("expires_in") or 3600)

    def _private_key(self) -> rsa.RSAPrivateKey:
        cfg = self.config
        if cfg.private_key is not None:
            text = cfg.private_key.get_secret_value()
            # A PEM kept in one environment variable often arrives with its newlines escaped.
            pem = (text.replace("\\n", "\n") if "\n" not in text else text).encode()
        else:
            path = self.ctx.resolve(str(cfg.private_key_file))
            try:
                pem = path.read_bytes()
            except OSError as exc:
                raise ConfigError(f"cannot read {path}: {exc.strerror}", table=f"connectors.{self.name}",
                                  key="private_key_file") from None
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except ValueError:
            key = None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ConfigError("private key is not an unencrypted RSA PEM",
                              table=f"connectors.{self.name}", key="private_key",
                              hint="paste the RSA key pair's private key generated for the "
                                   "integration key (-----BEGIN RSA PRIVATE KEY-----)")
        return key

    def _request(self, method: str, path: str, **kw: Any) -> requests.Response:
        """One call; with the JWT grant, a refused token is replaced once and the call repeated."""
        try:
            return self.http.request(method, self.account_path + path, **kw)
        except AuthError as exc:
            if exc.status != 401 or not self.jwt_mode:
                raise
            self._tokens.invalidate()
            return self.http.request(method, self.account_path + path, **kw)

    def _json(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        """One call's JSON object; an HTML page (a proxy, a login) is a ConnectorError with a hint."""
        answer = self.http.json_of(self._request(method, path, **kw))
        if not isinstance(answer, dict):
            msg = f"{method} {self.account_path + path} answered {type(answer).__name__}, not an object"
            raise ConnectorError(msg, instance=self.name,
                                 hint=f"check base_url and account_id of [connectors.{self.name}]")
        return answer

    # --- sending ------------------------------------------------------------------------

    @hookimpl
    def send_for_signature(self, agreement: Agreement, document: bytes, signers: list[Signer],
                           idempotency_key: str | None = None) -> Envelope:
        # DocuSign has no idempotency key: the lookup by the hidden agreement field stands in.
        if agreement.envelope_id and agreement.esign_instance == self.name:
            return self.signature_status(agreement.envelope_id)
        if not signers:
            raise ConnectorError("no signers given", instance=self.name,
                                 hint=f"agreement {agreement.id} needs at least the employee")
        existing = self.find_envelope(agreement.id, idempotency_key)
        if existing is not None:
            self.log.info("agreement %s already has envelope %s", agreement.id,
                          existing.envelope_id)
            return existing
        everyone = self._with_countersigner(signers)
        summary = self._create(self.envelope_definition(agreement, document, everyone, idempotency_key))
        envelope_id = str(summary["envelopeId"])
        self.log.info("sent agreement %s as DocuSign envelope %s", agreement.id, envelope_id)
        return Envelope(id=make_id(self.name, envelope_id), source=self.name,
                        envelope_id=envelope_id, agreement_id=agreement.id,
                        status=ENVELOPE_STATUS.get(str(summary.get("status")), EnvelopeStatus.SENT),
                        signers=tuple(everyone))

    def _with_countersigner(self, signers: list[Signer]) -> list[Signer]:
        cfg = self.config
        if not cfg.countersigner_email or any(s.role == "hr" for s in signers):
            return list(signers)
        return [*signers, Signer(name=str(cfg.countersigner_name),
                                 email=cfg.countersigner_email, role="hr")]

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
        try:
            resp = self._request("POST", "/envelopes", json=definition, idempotent=False,
                                 retry_refused=True)
        except ConnectorError as exc:
            if exc.status is not None and exc.status < 500:
                raise
            raise ServerError(
                f"creating the envelope failed and may or may not have happened: "
                f"{exc.message}", instance=self.name, status=exc.status,
                request_id=exc.request_id,
                hint="not retried here; the next send looks the agreement up by its "
                     f"{AGREEMENT_FIELD} custom field before creating another") from None
        return dict(self.http.json_of(resp) or {})

    def find_envelope(self, agreement_id: str, idempotency_key: str | None = None) -> Envelope | None:
        """The live envelope already made for this delivery (by the hidden key field), else for the
        agreement (by its hidden agreement field: an envelope sent before keys were kept)."""
        lookups = [(KEY_FIELD, idempotency_key)] if idempotency_key else []
        for name, value in [*lookups, (AGREEMENT_FIELD, agreement_id)]:
            found = self._lookup(name, agreement_key(str(value)), agreement_id)
            if found is not None:
                return found
        return None

    def _lookup(self, name: str, key: str, agreement_id: str) -> Envelope | None:
        since = datetime.fromtimestamp(self.clock(), tz=UTC) - timedelta(days=self.config.lookup_days)
        answer = self._json("GET", "/envelopes", params={
            "from_date": since.strftime("%Y-%m-%dT%H:%M:%SZ"), "from_to_status": "created",
            "custom_field": f"{name}={key}", "include": "custom_fields,recipients",
        })
        for item in answer.get("envelopes") or []:
            if _custom_field(item, name) != key:
                continue
            envelope = self._envelope(item, agreement_id)
            if envelope.status is not EnvelopeStatus.VOIDED:
                return envelope
        return None

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
                                  signed_at=_when(item.get("signedDateTime")) if signed else None))
        return Envelope(
            id=make_id(self.name, envelope_id), source=self.name, envelope_id=envelope_id,
            agreement_id=agreement_id or _custom_field(data) or "", status=status,
            signers=tuple(signers),
            completed_at=_when(data.get("completedDateTime"))
            if status is EnvelopeStatus.COMPLETED else None)

    @hookimpl
    def download_signed(self, envelope_id: str) -> SignedDocument:
        envelope = self.signature_status(envelope_id)
        if envelope.status is not EnvelopeStatus.COMPLETED:
            raise ConnectorError(
                f"envelope {envelope_id} is {envelope.status.value}, not completed",
                instance=self.name,
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

    # --- Connect ------------------------------------------------------------------------

    @hookimpl
    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookResult:
        keys = [k.get_secret_value().encode("utf-8") for k in self.config.hmac_keys]
        if not keys:
            raise WebhookRejected("no Connect HMAC key configured",
                                  hint=f"add hmac_keys to [connectors.{self.name}]; unsigned "
                                       "Connect messages are never accepted")
        lower = {k.lower(): v for k, v in headers.items()}
        digest = (lower.get("x-authorization-digest") or "HMACSHA256").upper()
        if digest != "HMACSHA256":
            raise WebhookRejected(f"unsupported Connect digest {digest!r}")
        received = [v.strip() for k, v in lower.items() if k.startswith("x-docusign-signature-")]
        if not received:
            raise WebhookRejected("Connect message without X-DocuSign-Signature-1",
                                  hint="enable 'Include HMAC signature' in the Connect "
                                       "configuration")
        expected = [connect_signature(key, body) for key in keys]
        if not any(hmac.compare_digest(e, r.encode()) for e in expected for r in received):
            raise WebhookRejected("Connect HMAC signature does not match",
                                  hint="check hmac_keys against the keys of the Connect "
                                       "configuration")
        try:
            message = json.loads(body)
        except ValueError:
            raise WebhookRejected("Connect message is not JSON",
                                  hint="set the Connect configuration to JSON SIM "
                                       "(eventData version restv2.1)") from None
        if not isinstance(message, dict) or not isinstance(message.get("data") or {}, dict):
            raise WebhookRejected("Connect message is not a JSON object with an object data",
                                  hint="set the Connect configuration to JSON SIM "
                                       "(eventData version restv2.1)")
        return WebhookResult(events=(self._event(message),), reply=WebhookReply())

    def _event(self, message: Mapping[str, Any]) -> WebhookEvent:
        event = str(message.get("event", ""))
        data = message.get("data") or {}
        envelope_id = str(data.get("envelopeId") or "") or None
        if not event or envelope_id is None:
            raise WebhookRejected("Connect message without event or data.envelopeId")
        generated = _when(message.get("generatedDateTime"))
        check_replay(generated, self.clock(), self.config.webhook_max_age_seconds, instance=self.name)
        recipient = str(data.get("recipientId") or "")
        # Stable across Connect's retries of one message, so the ledger sees it once.
        event_id = ":".join(p for p in ("docusign", envelope_id, event, recipient) if p)
        return WebhookEvent(event_id=event_id, event_type=event, envelope_id=envelope_id,
                            status=EVENT_STATUS.get(event), occurred_at=generated)

    @hookimpl
    def healthcheck(self) -> HealthResult:
        try:
            account = self._json("GET", "")
        except ConnectorError as exc:
            return HealthResult(ok=False, detail=str(exc))
        name = account.get("accountName", self.config.account_id)
        how = "JWT grant" if self.jwt_mode else "access token"
        return HealthResult(ok=True, detail=f"{how} accepted for DocuSign account {name}")


def connect_signature(key: bytes, body: bytes) -> bytes:
    """``X-DocuSign-Signature-N``: base64 of HMAC-SHA256 over the raw body."""
    return base64.b64encode(hmac.new(key, body, hashlib.sha256).digest())


def rs256_jwt(claims: Mapping[str, Any], key: rsa.RSAPrivateKey) -> str:
    """A compact JWS (RFC 7515) signed RS256, as DocuSign's JWT grant requires."""
    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")

    header = part(json.dumps({"typ": "JWT", "alg": "RS256"}, separators=(",", ":")).encode())
    payload = part(json.dumps(dict(claims), separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}".encode("ascii")
    return f"{header}.{payload}.{part(key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256()))}"


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


def _when(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _error_hint(resp: requests.Response) -> str | None:
    try:
        code = str(resp.json().get("errorCode", ""))
    except (ValueError, AttributeError):
        return None
    return ERROR_HINTS.get(code.upper(), f"DocuSign errorCode {code}" if code else None)


@hookimpl
def register_connectors(register: Callable[..., None]) -> None:
    register("docusign", DocusignConnector)
