"""``fadada``: 法大大 FASC OpenAPI 5.1 sign tasks for training agreements.

Every call is a form POST (``bizContent=<JSON>``) with ``X-FASC-*`` headers. The signature,
as the official SDKs compute it (fasc-openapi-node-sdk ``src/common/sign.ts``, FddCryptUtil
``sign`` of the Java/PHP SDKs, fadada-tech python SDK ``HashUtils.sign``)::

    signText = sha256_hex("k1=v1&k2=v2..."  # X-FASC-* headers and bizContent, sorted by
                                            # name, empty values left out, values not encoded)
    signKey  = HMAC-SHA256(key=appSecret, msg=X-FASC-Timestamp)      # raw 32 bytes
    X-FASC-Sign = hex(HMAC-SHA256(key=signKey, msg=signText))        # lower case

Operations: ``/service/get-access-token`` (cached, refreshed before expiry and on
``100002``), ``/file/get-upload-url`` + PUT + ``/file/process``, ``/sign-task/create``,
``/sign-task/start``, ``/sign-task/app/get-detail``, ``/sign-task/owner/get-download-url``,
and callbacks (``X-FASC-Event``, ``bizContent`` form field) verified the same way.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import time
import uuid
import zipfile
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import requests
import requests.auth
from pydantic import Field, SecretStr

from trainbridge import hookimpl
from trainbridge.core.connector import Connector, ConnectorConfig, ConnectorContext
from trainbridge.core.errors import AuthError, ClientError, ConnectorError, WebhookRejected
from trainbridge.core.http import REQUEST_ID_HEADERS, HttpClient, HttpSettings, TokenCache
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

PRODUCTION_URL = "https://api.fadada.com/api/v5"
UAT_URL = "https://uat-api.fadada.com/api/v5"
SUBVERSION = "5.1"
SIGN_TYPE = "HMAC-SHA256"
OK = "100000"
TOKEN_INVALID = "100002"
REQUEST_ID = "X-FASC-Request-Id"
FORM = "application/x-www-form-urlencoded"
TOKEN_PATH = "/service/get-access-token"
# The headers a callback is signed over (official PHP SDK callback sample).
CALLBACK_SIGNED = (
    "X-FASC-App-Id",
    "X-FASC-Timestamp",
    "X-FASC-Sign-Type",
    "X-FASC-Nonce",
    "X-FASC-Event",
)
TASK_STATUS = {
    "task_created": EnvelopeStatus.CREATED,
    "finish_creation": EnvelopeStatus.CREATED,
    "fill_progress": EnvelopeStatus.SENT,
    "fill_completed": EnvelopeStatus.SENT,
    "sign_progress": EnvelopeStatus.SENT,
    "sign_completed": EnvelopeStatus.SIGNED,
    "task_finished": EnvelopeStatus.COMPLETED,
    "task_terminated": EnvelopeStatus.VOIDED,
    "expired": EnvelopeStatus.VOIDED,
    "abolishing": EnvelopeStatus.VOIDED,
    "revoked": EnvelopeStatus.VOIDED,
}
EVENT_STATUS = {
    "sign-task-start": EnvelopeStatus.SENT,
    "sign-task-signed": EnvelopeStatus.SIGNED,
    "sign-task-sign-rejected": EnvelopeStatus.DECLINED,
    "sign-task-finished": EnvelopeStatus.COMPLETED,
    "sign-task-canceled": EnvelopeStatus.VOIDED,
    "sign-task-abolish": EnvelopeStatus.VOIDED,
    "sign-task-expire": EnvelopeStatus.VOIDED,
}
REPLY = WebhookReply(status_code=200, body='{"msg":"success"}', content_type="application/json")


class TokenExpired(AuthError):
    """FASC answered 100002: the access token expired or was revoked."""


def sign_string(params: Mapping[str, str | None]) -> str:
    """``k=v&...`` sorted by name (ASCII), empty values left out, values as they are."""
    return "&".join(f"{k}={params[k]}" for k in sorted(params) if params[k] not in (None, ""))


def fasc_sign(params: Mapping[str, str | None], timestamp: str, app_secret: str) -> str:
    """The two-step ``X-FASC-Sign`` of the official SDKs."""
    sign_text = hashlib.sha256(sign_string(params).encode("utf-8")).hexdigest()
    sign_key = hmac.new(
        app_secret.encode("utf-8"), timestamp.encode("utf-8"), hashlib.sha256
    ).digest()
    return hmac.new(sign_key, sign_text.encode("utf-8"), hashlib.sha256).hexdigest()


class FascAuth(requests.auth.AuthBase):
    """Signs each attempt anew: FASC refuses a nonce seen in the last 10 minutes."""

    def __init__(
        self,
        app_id: str,
        app_secret: str,
        base_url: str,
        clock: Callable[[], int],
        nonce: Callable[[], str],
    ) -> None:
        self.app_id, self.app_secret = app_id, app_secret
        self.netloc = urlsplit(base_url).netloc
        self.clock, self.nonce = clock, nonce

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        if urlsplit(r.url or "").netloc != self.netloc:
            return r
        timestamp = str(self.clock())
        headers = {
            "X-FASC-App-Id": self.app_id,
            "X-FASC-Sign-Type": SIGN_TYPE,
            "X-FASC-Timestamp": timestamp,
            "X-FASC-Nonce": self.nonce(),
            "X-FASC-Api-SubVersion": SUBVERSION,
        }
        params: dict[str, str | None] = dict(headers)
        token = r.headers.get("X-FASC-AccessToken")
        if token:
            params["X-FASC-AccessToken"] = token
            body = r.body.decode("utf-8") if isinstance(r.body, bytes) else (r.body or "")
            params["bizContent"] = parse_qs(body).get("bizContent", [""])[0]
        else:
            headers["X-FASC-Grant-Type"] = params["X-FASC-Grant-Type"] = "client_credential"
        headers["X-FASC-Sign"] = fasc_sign(params, timestamp, self.app_secret)
        r.headers.update(headers)
        return r


class FadadaConfig(ConnectorConfig):
    app_id: str = Field(min_length=1, description="AppId from 法大大 企业管理后台 - 应用")
    app_secret: SecretStr = Field(description="AppSecret")
    base_url: str = Field(
        default=PRODUCTION_URL, description=f"{PRODUCTION_URL}; test environment {UAT_URL}"
    )
    open_corp_id: str = Field(
        min_length=1, description="openCorpId of the company that sends (initiator, owner)"
    )
    subject: str = Field(default="培训服务协议", max_length=100, description="signTaskSubject")
    file_name: str = Field(default="training-agreement.pdf", description="Must end in .pdf")
    sign_page: int | None = Field(
        default=None, ge=1, description="Page of each signer's field; none: no fixed field"
    )
    sign_x: float = 400.0
    sign_y: float = 150.0
    token_refresh_margin_seconds: int = Field(default=300, ge=0)
    webhook_max_age_seconds: int = max_age_field(300, description="FASC allows +-5 min")
    http: HttpSettings = Field(default_factory=HttpSettings)


class FadadaConnector(Connector):
    """Sends training agreements through 法大大 (FASC 5.1) and reads them back."""

    config_model: ClassVar[type[ConnectorConfig]] = FadadaConfig
    vendor: ClassVar[str] = "法大大 (fadada.com) FASC OpenAPI 5.1"
    config: FadadaConfig

    def __init__(
        self, name: str, config: ConnectorConfig, ctx: ConnectorContext | None = None
    ) -> None:
        super().__init__(name, config, ctx)
        register_secret(self.config.app_secret.get_secret_value())
        self.clock: Callable[[], int] = lambda: int(time.time() * 1000)
        self.nonce: Callable[[], str] = lambda: uuid.uuid4().hex
        self.sleep: Callable[[float], None] = time.sleep
        self._http: HttpClient | None = None
        self._tokens = TokenCache(self._fetch_token, margin=self.config.token_refresh_margin_seconds,
                                  clock=lambda: self.clock() / 1000)

    @property
    def http(self) -> HttpClient:
        if self._http is None:
            cfg = self.config
            auth = FascAuth(
                cfg.app_id,
                cfg.app_secret.get_secret_value(),
                cfg.base_url,
                clock=lambda: self.clock(),
                nonce=lambda: self.nonce(),
            )
            self._http = self.ctx.http(
                cfg.base_url,
                instance=self.name,
                settings=cfg.http,
                auth=auth,
                request_id_headers=(REQUEST_ID, *REQUEST_ID_HEADERS),
                sleep=lambda s: self.sleep(s),
            )
        return self._http

    # --- token and calls ----------------------------------------------------------------

    def access_token(self, *, refresh: bool = False) -> str:
        """The cached token, fetched again ``token_refresh_margin_seconds`` before it expires."""
        return self._tokens.get(force=refresh)

    def _fetch_token(self) -> tuple[str, float]:
        resp = self.http.post(TOKEN_PATH, headers={"Content-Type": FORM}, idempotent=True, ok={200, 401})
        data = self._unwrap(resp, TOKEN_PATH)
        return str(data["accessToken"]), float(int(data.get("expiresIn") or 7200))

    def call(self, path: str, biz: dict[str, Any], *, idempotent: bool = False) -> Any:
        """POST ``biz`` as bizContent; one new token and retry when FASC says it expired."""
        biz_content = json.dumps(biz, ensure_ascii=False, separators=(",", ":"))
        for attempt in (1, 2):
            resp = self.http.post(
                path,
                data={"bizContent": biz_content},
                headers={
                    "X-FASC-AccessToken": self.access_token(refresh=attempt == 2),
                    "Content-Type": FORM,
                },
                idempotent=idempotent,
                ok={200, 401},
            )
            try:
                return self._unwrap(resp, path)
            except TokenExpired:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _unwrap(self, resp: requests.Response, path: str) -> Any:
        request_id = resp.headers.get(REQUEST_ID) or None
        try:
            answer = resp.json()
        except ValueError:
            raise ConnectorError(
                f"POST {path} did not answer JSON",
                instance=self.name,
                status=resp.status_code,
                request_id=request_id,
                hint="check base_url: it ends in /api/v5",
            ) from None
        code, msg = str(answer.get("code", "")), str(answer.get("msg", ""))
        if code == OK:
            return answer.get("data") or {}
        text = f"POST {path} failed: 法大大 code {code}: {msg}"
        if code == TOKEN_INVALID:
            raise TokenExpired(
                text,
                instance=self.name,
                request_id=request_id,
                status=resp.status_code,
                hint="the access token expired or was revoked; a new one is fetched",
            )
        if resp.status_code == 401 or code in ("100001", "100003", "100004", "100012", "100016"):
            raise AuthError(
                text,
                instance=self.name,
                request_id=request_id,
                status=resp.status_code,
                hint="check app_id, app_secret, the server clock (5 min) and the IP "
                "whitelist of the app, and that base_url is the app's environment",
            )
        raise ClientError(
            text,
            instance=self.name,
            request_id=request_id,
            status=resp.status_code,
            hint="法大大 refused the request; its msg says why (codes 21xxxx are "
            "business rules, e.g. the initiator has not authorised the app)",
        )

    # --- sending ------------------------------------------------------------------------

    @hookimpl
    def send_for_signature(
        self, agreement: Agreement, document: bytes, signers: list[Signer]
    ) -> Envelope:
        if agreement.envelope_id and agreement.esign_instance == self.name:
            return self.signature_status(agreement.envelope_id)  # a retried send
        if not signers:
            raise ConnectorError(
                "no signers given",
                instance=self.name,
                hint=f"agreement {agreement.id} needs at least the employee",
            )
        file_id = self._upload(document)
        task = self.call("/sign-task/create", self._task_body(agreement, file_id, signers))
        task_id = str(task["signTaskId"])
        self.call("/sign-task/start", {"signTaskId": task_id}, idempotent=True)
        self.log.info("sent agreement %s as 法大大 sign task %s", agreement.id, task_id)
        return Envelope(
            id=make_id(self.name, task_id),
            source=self.name,
            envelope_id=task_id,
            agreement_id=agreement.id,
            status=EnvelopeStatus.SENT,
            signers=tuple(signers),
        )

    def _upload(self, document: bytes) -> str:
        slot = self.call("/file/get-upload-url", {"fileType": "doc"}, idempotent=True)
        self.http.put(
            str(slot["uploadUrl"]),
            data=document,
            headers={"Content-Type": "application/octet-stream"},
        )
        processed = self.call(
            "/file/process",
            {
                "fddFileUrlList": [
                    {
                        "fileType": "doc",
                        "fddFileUrl": slot["fddFileUrl"],
                        "fileName": self.config.file_name,
                        "fileFormat": "pdf",
                    }
                ]
            },
            idempotent=True,
        )
        return str(processed["fileIdList"][0]["fileId"])

    def _task_body(
        self, agreement: Agreement, file_id: str, signers: list[Signer]
    ) -> dict[str, Any]:
        cfg = self.config
        doc: dict[str, Any] = {"docId": "1", "docName": cfg.file_name, "docFileId": file_id}
        actors, fields = [], []
        for order, signer in enumerate(signers, start=1):
            actor_id = f"{signer.role}-{order}"
            actor: dict[str, Any] = {
                "actor": self._actor(signer, actor_id),
                "signConfigInfo": {"orderNo": order},
            }
            if cfg.sign_page is not None:
                field_id = f"sign-{order}"
                fields.append(
                    {
                        "fieldId": field_id,
                        "fieldName": f"{signer.name} 签名",
                        "fieldType": "person_sign",
                        "position": {
                            "positionMode": "pixel",
                            "positionPageNo": str(cfg.sign_page),
                            "positionX": f"{cfg.sign_x:g}",
                            "positionY": f"{cfg.sign_y + (order - 1) * 80:g}",
                        },
                    }
                )
                actor["signFields"] = [{"fieldDocId": "1", "fieldId": field_id}]
            actors.append(actor)
        if fields:
            doc["docFields"] = fields
        return {
            "signTaskSubject": cfg.subject,
            "signDocType": "contract",
            "initiator": {"idType": "corp", "openId": cfg.open_corp_id},
            "transReferenceId": agreement.id,
            "autoStart": False,
            "autoFinish": True,
            "signInOrder": len(signers) > 1,
            "docs": [doc],
            "actors": actors,
        }

    def _actor(self, signer: Signer, actor_id: str) -> dict[str, Any]:
        mobile = getattr(signer, "mobile", None)
        address = mobile or signer.email
        if not address:
            raise ConnectorError(
                f"signer {signer.name!r} has no mobile number or email",
                instance=self.name,
                hint="法大大 notifies a person signer by mobile or email",
            )
        way = "email" if "@" in address else "mobile"
        return {
            "actorId": actor_id,
            "actorType": "person",
            "actorName": signer.name,
            "permissions": ["sign"],
            "identNameForMatch": signer.name,
            "notification": {"sendNotification": True, "notifyWay": way, "notifyAddress": address},
        }

    # --- reading ------------------------------------------------------------------------

    @hookimpl
    def signature_status(self, envelope_id: str) -> Envelope:
        data = self.call("/sign-task/app/get-detail", {"signTaskId": envelope_id}, idempotent=True)
        status = TASK_STATUS.get(str(data.get("signTaskStatus")), EnvelopeStatus.SENT)
        signers = []
        for item in data.get("actors") or []:
            info = item.get("actorInfo") or item
            if isinstance(info, list):
                info = info[0] if info else {}
            if "sign" not in (info.get("permissions") or ["sign"]):
                continue
            if item.get("signStatus") == "sign_rejected" and status is EnvelopeStatus.VOIDED:
                status = EnvelopeStatus.DECLINED  # task_terminated by a refusal
            notification = info.get("notification") or {}
            signed = item.get("signStatus") == "signed"
            signers.append(
                Signer(
                    name=str(info.get("actorName", "")),
                    email=notification.get("notifyAddress"),
                    role=str(info.get("actorId", "employee")).split("-")[0],
                    signed_at=_from_ms(item.get("signTime")) if signed else None,
                )
            )
        completed = _from_ms(data.get("finishTime")) if status is EnvelopeStatus.COMPLETED else None
        return Envelope(
            id=make_id(self.name, envelope_id),
            source=self.name,
            envelope_id=envelope_id,
            agreement_id=str(data.get("transReferenceId", "")),
            status=status,
            signers=tuple(signers),
            completed_at=completed,
        )

    @hookimpl
    def download_signed(self, envelope_id: str) -> SignedDocument:
        envelope = self.signature_status(envelope_id)
        if envelope.status is not EnvelopeStatus.COMPLETED:
            raise ConnectorError(
                f"sign task {envelope_id} is {envelope.status.value}, not completed",
                instance=self.name,
                hint="法大大 only releases the signed file once the task is finished",
            )
        data = self.call(
            "/sign-task/owner/get-download-url",
            {
                "ownerId": {"idType": "corp", "openId": self.config.open_corp_id},
                "signTaskId": envelope_id,
            },
            idempotent=True,
        )
        content = self.http.get(str(data["downloadUrl"])).content
        return SignedDocument(
            envelope_id=envelope_id, content=_signed_pdf(content, envelope_id, self.name)
        )

    # --- callbacks ----------------------------------------------------------------------

    @hookimpl
    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookResult:
        lower = {k.lower(): v for k, v in headers.items()}
        signed: dict[str, str | None] = {name: lower.get(name.lower()) for name in CALLBACK_SIGNED}
        received = lower.get("x-fasc-sign", "")
        timestamp = signed["X-FASC-Timestamp"] or ""
        if not received or not timestamp or not signed["X-FASC-Event"]:
            raise WebhookRejected(
                "法大大 callback without X-FASC-Sign/Timestamp/Event",
                hint="only 法大大 may post to this URL",
            )
        if signed["X-FASC-App-Id"] != self.config.app_id:
            raise WebhookRejected(
                f"callback for app {signed['X-FASC-App-Id']}, not {self.config.app_id}"
            )
        if (signed["X-FASC-Sign-Type"] or "").upper() != SIGN_TYPE:
            raise WebhookRejected(f"unsupported callback sign type {signed['X-FASC-Sign-Type']!r}")
        biz_content = parse_qs(body.decode("utf-8", "replace")).get("bizContent", [""])[0]
        expected = fasc_sign(
            {**signed, "bizContent": biz_content},
            timestamp,
            self.config.app_secret.get_secret_value(),
        )
        if not hmac.compare_digest(expected, received.strip().lower()):
            raise WebhookRejected(
                "法大大 callback signature does not match", hint="check app_secret of this instance"
            )
        sent = int(timestamp) / 1000 if timestamp.isdigit() else None  # milliseconds
        check_replay(sent, self.clock() / 1000, self.config.webhook_max_age_seconds, instance=self.name)
        try:
            payload = json.loads(biz_content)
        except ValueError as exc:
            raise WebhookRejected("法大大 callback bizContent is not JSON") from exc
        if not isinstance(payload, dict):
            raise WebhookRejected("法大大 callback bizContent is not a JSON object")
        event = str(signed["X-FASC-Event"])
        task_id = str(payload.get("signTaskId", "")) or None
        status = EVENT_STATUS.get(event)
        if payload.get("signTaskStatus") == "task_finished":
            status = EnvelopeStatus.COMPLETED  # the last signer's event carries the finish
        # The event's identity comes from what it says, never from the delivery's nonce: 法大大
        # redelivers the same event with a new nonce and timestamp, which must stay a replay.
        stamp = payload.get("eventTime") or hashlib.sha256(biz_content.encode()).hexdigest()[:16]
        return WebhookResult(
            reply=REPLY,
            events=(
                WebhookEvent(
                    event_id=f"{event}:{task_id}:{payload.get('actorId', '')}:{stamp}",
                    event_type=event,
                    envelope_id=task_id,
                    status=status,
                    occurred_at=_from_ms(payload.get("eventTime")),
                ),
            ),
        )

    @hookimpl
    def healthcheck(self) -> HealthResult:
        try:
            self.access_token(refresh=True)
        except ConnectorError as exc:
            return HealthResult(ok=False, detail=str(exc))
        return HealthResult(
            ok=True, detail=f"法大大 issued an access token for app {self.config.app_id}"
        )


def _signed_pdf(content: bytes, task_id: str, instance: str) -> bytes:
    """The owner download is a zip of the task's documents; take the (first) signed PDF."""
    if content.startswith(b"%PDF"):
        return content
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = sorted(n for n in archive.namelist() if n.lower().endswith(".pdf"))
            if names:
                return archive.read(names[0])
    except zipfile.BadZipFile:
        pass
    raise ConnectorError(
        f"the download of sign task {task_id} holds no PDF",
        instance=instance,
        hint="download it from the 法大大 console and check the task's documents",
    )


def _from_ms(value: Any) -> datetime | None:
    try:
        millis = int(value)
    except (TypeError, ValueError):
        return None
    return datetime.fromtimestamp(millis / 1000, tz=UTC) if millis > 0 else None


@hookimpl
def register_connectors(register: Callable[..., None]) -> None:
    register("fadada", FadadaConnector)
