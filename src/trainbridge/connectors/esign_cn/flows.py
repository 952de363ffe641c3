"""``esign_cn``: e签宝 open platform v3 sign flows for training agreements.

Operations (open.esign.cn/doc/opendoc/pdf-sign3 and notify3):

* ``POST /v3/files/file-upload-url``, then ``PUT`` the PDF to the returned ``fileUploadUrl``
  with ``Content-MD5`` and ``Content-Type``; ``GET /v3/files/{fileId}`` until it is usable;
* ``POST /v3/sign-flow/create-by-file`` (one person signer per :class:`Signer`, the
  agreement id as each sign field's ``customBizNum``, our ``notifyUrl``);
* ``GET /v3/sign-flow/{signFlowId}/detail`` for the status;
* ``POST /v3/sign-flow/{signFlowId}/file-download-url`` (the GET form is kept by e签宝
  but no longer recommended), then ``GET`` the signed file;
* callbacks ``SIGN_MISSON_COMPLETE`` and ``SIGN_FLOW_COMPLETE`` verified with
  ``X-Tsign-Open-SIGNATURE`` / ``X-Tsign-Open-TIMESTAMP``.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import Field, SecretStr

from trainbridge import hookimpl
from trainbridge.connectors.esign_base import SigningConnector, json_object
from trainbridge.connectors.esign_cn.client import PRODUCTION_URL, EsignApi
from trainbridge.connectors.esign_cn.signing import (
    callback_query_values,
    callback_signature_matches,
)
from trainbridge.core.connector import ConnectorConfig, ConnectorContext
from trainbridge.core.errors import (
    ClientError,
    ConnectorError,
    NotFound,
    TrainbridgeError,
    WebhookRejected,
)
from trainbridge.core.http import HttpSettings
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

# signFlowStatus of /detail and SIGN_FLOW_COMPLETE (0 draft, 1 signing, 2 done, 3 revoked,
# 5 expired, 7 refused).
FLOW_STATUS = {
    0: EnvelopeStatus.CREATED,
    1: EnvelopeStatus.SENT,
    2: EnvelopeStatus.COMPLETED,
    3: EnvelopeStatus.VOIDED,
    5: EnvelopeStatus.VOIDED,
    7: EnvelopeStatus.DECLINED,
}
# signResult of SIGN_MISSON_COMPLETE: 2 signed, 4 refused.
SIGN_RESULT = {2: EnvelopeStatus.SIGNED, 4: EnvelopeStatus.DECLINED}
READY_FILE_STATUSES = {2, 5}  # uploaded / converted: usable in a sign flow
FAILED_FILE_STATUSES = {3, 9, 12}
REPLY = WebhookReply(
    status_code=200, body='{"code":"200","msg":"success"}', content_type="application/json"
)


class EsignConfig(ConnectorConfig):
    app_id: str = Field(min_length=1, description="应用ID (APP ID) from the e签宝 console")
    app_secret: SecretStr = Field(description="应用密钥 (APP Secret)")
    base_url: str = Field(
        default=PRODUCTION_URL,
        description="https://openapi.esign.cn; sandbox https://smlopenapi.esign.cn",
    )
    callback_url: str | None = Field(default=None, description="notifyUrl for sign-flow callbacks")
    notice_types: str = Field(default="1,2", description="1 SMS, 2 email; '' for none")
    flow_title: str = Field(default="培训服务协议", max_length=100)
    file_name: str = Field(default="training-agreement.pdf", max_length=100)
    sign_page: int | None = Field(
        default=None, ge=1, description="Page of the signature; none: signer places it"
    )
    sign_x: float = 400.0
    sign_y: float = 150.0
    expire_days: int | None = Field(default=None, ge=1, le=90)
    file_ready_checks: int = Field(
        default=10, ge=1, description="GET /v3/files/{id} polls after upload"
    )
    webhook_max_age_seconds: int = max_age_field(900, description="0 turns the replay window off")
    http: HttpSettings = Field(default_factory=HttpSettings)


class EsignConnector(SigningConnector):
    """Sends training agreements for signature through e签宝 and reads them back."""

    config_model: ClassVar[type[ConnectorConfig]] = EsignConfig
    vendor: ClassVar[str] = "e签宝 (esign.cn) open platform v3"
    config: EsignConfig
    envelope_noun = "sign flow"

    def __init__(
        self, name: str, config: ConnectorConfig, ctx: ConnectorContext | None = None
    ) -> None:
        super().__init__(name, config, ctx)  # registers the config's secrets
        self._api: EsignApi | None = None

    @property
    def api(self) -> EsignApi:
        if self._api is None:
            cfg = self.config
            self._api = EsignApi.build(
                self.ctx,
                instance=self.name,
                base_url=cfg.base_url,
                app_id=cfg.app_id,
                app_secret=cfg.app_secret.get_secret_value(),
                settings=cfg.http,
            )
        return self._api

    # --- sending ------------------------------------------------------------------------

    @hookimpl
    def send_for_signature(
        self, agreement: Agreement, document: bytes, signers: list[Signer]
    ) -> Envelope:
        resent = self.sent_before(agreement, signers)  # e签宝 has no idempotency key
        if resent is not None:
            return resent
        file_id = self._upload(document)
        body = self._flow_body(agreement, file_id, signers)
        data = self.api.call("POST", "/v3/sign-flow/create-by-file", body)
        flow_id = str(data["signFlowId"])
        self.log.info("sent agreement %s as e签宝 sign flow %s", agreement.id, flow_id)
        return self.envelope(flow_id, agreement_id=agreement.id, status=EnvelopeStatus.SENT, signers=signers)

    def _upload(self, document: bytes) -> str:
        md5 = base64.b64encode(hashlib.md5(document).digest()).decode("ascii")
        slot = self.api.call(
            "POST",
            "/v3/files/file-upload-url",
            {
                "contentMd5": md5,
                "contentType": "application/pdf",
                "convertToPDF": False,
                "fileName": self.config.file_name,
                "fileSize": len(document),
            },
            idempotent=True,
        )  # asking for an upload slot twice only wastes a slot
        file_id, upload_url = str(slot["fileId"]), str(slot["fileUploadUrl"])
        resp = self.api.http.put(
            upload_url,
            data=document,
            headers={"Content-MD5": md5, "Content-Type": "application/pdf"},
        )
        try:
            answer = resp.json()
        except ValueError:
            answer = {}
        if str(answer.get("errCode", 0)) != "0":
            raise ConnectorError(
                f"upload of file {file_id} refused: {answer.get('msg', '')}",
                instance=self.name,
                status=resp.status_code,
                hint="the Content-MD5 must match the bytes; try again",
            )
        for attempt in range(self.config.file_ready_checks):
            info = self.api.call("GET", f"/v3/files/{file_id}")
            status = int(info.get("fileStatus", 0))
            if status in READY_FILE_STATUSES:
                return file_id
            if status in FAILED_FILE_STATUSES:
                raise ConnectorError(
                    f"e签宝 could not process file {file_id} (fileStatus {status})",
                    instance=self.name,
                    hint="check that the document is a valid PDF",
                )
            if attempt + 1 < self.config.file_ready_checks:
                self.ctx.sleep(1.0)  # polling a vendor job, not retrying a request
        raise ConnectorError(
            f"file {file_id} was not ready after {self.config.file_ready_checks} checks",
            instance=self.name,
            hint="try again later or raise file_ready_checks",
        )

    def _flow_body(
        self, agreement: Agreement, file_id: str, signers: list[Signer]
    ) -> dict[str, Any]:
        cfg = self.config
        flow_config: dict[str, Any] = {
            "signFlowTitle": cfg.flow_title,
            "autoStart": True,
            "autoFinish": True,
            "noticeConfig": {"noticeTypes": cfg.notice_types},
        }
        if cfg.callback_url:
            flow_config["notifyUrl"] = cfg.callback_url
        if cfg.expire_days:
            flow_config["signFlowExpireTime"] = int(self.ctx.clock() * 1000) + cfg.expire_days * 86_400_000
        return {
            "docs": [{"fileId": file_id, "fileName": cfg.file_name}],
            "signFlowConfig": flow_config,
            "signers": [
                self._signer(s, order, file_id, agreement.id)
                for order, s in enumerate(signers, start=1)
            ],
        }

    def _signer(
        self, signer: Signer, order: int, file_id: str, agreement_id: str
    ) -> dict[str, Any]:
        account = getattr(signer, "mobile", None) or signer.email
        if not account:
            raise ConnectorError(
                f"signer {signer.name!r} has no mobile number or email",
                instance=self.name,
                hint="e签宝 identifies a person signer by mobile or email (psnAccount)",
            )
        field: dict[str, Any] = {"signFieldStyle": 1}
        if self.config.sign_page is None:
            field["freeMode"] = True
        else:
            field["signFieldPosition"] = {
                "positionPage": str(self.config.sign_page),
                "positionX": self.config.sign_x,
                "positionY": self.config.sign_y,
            }
        return {
            "signerType": 0,
            "psnSignerInfo": {"psnAccount": account, "psnInfo": {"psnName": signer.name}},
            "signConfig": {"signOrder": order},
            "signFields": [
                {"fileId": file_id, "customBizNum": agreement_id, "normalSignFieldConfig": field}
            ],
        }

    # --- reading ------------------------------------------------------------------------

    @hookimpl
    def signature_status(self, envelope_id: str) -> Envelope:
        data = self.api.call("GET", f"/v3/sign-flow/{envelope_id}/detail")
        status = FLOW_STATUS.get(int(data.get("signFlowStatus", 1)), EnvelopeStatus.SENT)
        signers, agreement_id = [], ""
        for item in data.get("signers") or []:
            person = item.get("psnSigner") or {}
            org = item.get("orgSigner") or {}
            account = person.get("psnAccount") or {}
            fields = item.get("signFields") or []
            agreement_id = agreement_id or next(
                (str(f["customBizNum"]) for f in fields if f.get("customBizNum")), ""
            )
            done = [
                f.get("statusUpdateTime") for f in fields if str(f.get("signFieldStatus")) == "4"
            ]
            signed_at = _from_ms(max(done)) if item.get("signStatus") == 2 and done else None
            signers.append(
                Signer(
                    name=person.get("psnName") or org.get("orgName") or "",
                    email=account.get("accountEmail") or account.get("accountMobile"),
                    role="employee" if person else "organization",
                    signed_at=signed_at,
                    ip_address=item.get("signerIp") or None,
                )
            )
        if status is EnvelopeStatus.SENT and signers and all(s.signed_at for s in signers):
            status = EnvelopeStatus.SIGNED  # everyone signed, flow not finished yet
        completed = (
            _from_ms(data.get("signFlowFinishTime")) if status is EnvelopeStatus.COMPLETED else None
        )
        return self.envelope(envelope_id, agreement_id=agreement_id, status=status, signers=signers,
                             completed_at=completed)

    @hookimpl
    def download_signed(self, envelope_id: str) -> SignedDocument:
        self.completed(envelope_id,
                       hint="e签宝 only releases the signed file once the flow is finished")
        data = self.api.call(
            "POST", f"/v3/sign-flow/{envelope_id}/file-download-url", {}, idempotent=True
        )  # asks for a link, changes nothing
        files = data.get("files") or []
        if not files:
            raise ConnectorError(
                f"sign flow {envelope_id} has no signed files",
                instance=self.name,
                hint="check the flow in the e签宝 console",
            )
        content = self.api.http.get(files[0]["downloadUrl"]).content
        certificate = None
        if data.get("certificateDownloadUrl"):
            certificate = self.api.http.get(data["certificateDownloadUrl"]).content
        return SignedDocument(envelope_id=envelope_id, content=content, certificate=certificate)

    # --- callbacks ----------------------------------------------------------------------

    @hookimpl
    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookResult:
        h = {k.lower(): v for k, v in headers.items()}
        signature = h.get("x-tsign-open-signature", "")
        timestamp = h.get("x-tsign-open-timestamp", "")
        if not signature or not timestamp:
            raise WebhookRejected(
                "e签宝 callback without X-Tsign-Open-SIGNATURE/TIMESTAMP",
                hint="only e签宝 may post to this URL",
            )
        algorithm = h.get("x-tsign-open-signature-algorithm", "hmac-sha256").lower()
        if algorithm != "hmac-sha256":
            raise WebhookRejected(f"unsupported callback signature algorithm {algorithm!r}")
        app_id = h.get("x-tsign-open-app-id")
        if app_id and app_id != self.config.app_id:
            raise WebhookRejected(
                f"callback for app {app_id}, not {self.config.app_id}",
                hint="point that app's webhook at its own instance",
            )
        if not callback_signature_matches(
            self.config.app_secret.get_secret_value(),
            timestamp,
            callback_query_values(self.config.callback_url),
            body,
            signature,
        ):
            raise WebhookRejected(
                "e签宝 callback signature does not match",
                hint="check app_secret and callback_url (its query is signed)",
            )
        self._check_age(timestamp)
        payload = json_object(body, "e签宝 callback body")
        return WebhookResult(events=tuple(e for e in [_event(payload)] if e), reply=REPLY)

    def _check_age(self, timestamp: str) -> None:
        try:
            sent = int(timestamp)
        except ValueError:
            raise WebhookRejected(f"callback timestamp {timestamp!r} is not a number") from None
        check_replay(sent / 1000, self.ctx.clock(), self.config.webhook_max_age_seconds,
                     instance=self.name)  # milliseconds

    @hookimpl
    def healthcheck(self) -> HealthResult:
        # The gateway checks the signature before the flow id: a business answer (even
        # "not found") proves the app id and secret; HTTP 401 means they were refused.
        try:
            self.api.call("GET", "/v3/sign-flow/trainbridge-healthcheck/detail")
        except (NotFound, ClientError) as exc:
            if exc.status is not None:
                return HealthResult(ok=False, detail=str(exc))
        except TrainbridgeError as exc:
            return HealthResult(ok=False, detail=str(exc))
        return HealthResult(
            ok=True, detail=f"e签宝 accepted app {self.config.app_id} at {self.config.base_url}"
        )


def _event(payload: dict[str, Any]) -> WebhookEvent | None:
    action = str(payload.get("action", ""))
    flow_id = str(payload.get("signFlowId", ""))
    if not action or not flow_id:
        return None
    stamp = payload.get("timestamp", "")
    status: EnvelopeStatus | None = None
    event_id = f"{action}:{flow_id}:{stamp}"
    occurred = _from_ms(stamp)
    if action == "SIGN_FLOW_COMPLETE":
        status = FLOW_STATUS.get(_int(payload.get("signFlowStatus")))
        occurred = _from_ms(payload.get("signFlowFinishTime")) or occurred
    elif action == "SIGN_MISSON_COMPLETE":
        status = SIGN_RESULT.get(_int(payload.get("signResult")))
        event_id = f"{event_id}:{payload.get('signOrder', '')}"
        occurred = _from_ms(payload.get("operateTime")) or occurred
    return WebhookEvent(
        event_id=event_id,
        event_type=action,
        envelope_id=flow_id,
        status=status,
        occurred_at=occurred,
    )


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def _from_ms(value: Any) -> datetime | None:
    try:
        millis = int(value)
    except (TypeError, ValueError):
        return None
    return datetime.fromtimestamp(millis / 1000, tz=UTC) if millis > 0 else None
