"""``fadada``: 法大大 FASC OpenAPI 5.1 sign tasks for training agreements.

Operations: ``/service/get-access-token`` (see :mod:`.client`), ``/file/get-upload-url`` + PUT
+ ``/file/process``, ``/sign-task/create``, ``/sign-task/start``, ``/sign-task/app/get-detail``,
``/sign-task/owner/get-download-url``, callbacks (:mod:`.webhooks`) and, for
``fetch_agreements``, ``/sign-task/owner/get-list`` + ``/sign-task/field/list``
(:mod:`.agreements`).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from typing import Any, ClassVar

from trainbridge import hookimpl
from trainbridge.connectors.esign_agreements import from_millis
from trainbridge.connectors.esign_base import SigningConnector
from trainbridge.connectors.fadada.agreements import FadadaArchive
from trainbridge.connectors.fadada.client import FascApi
from trainbridge.connectors.fadada.config import TASK_STATUS, FadadaConfig
from trainbridge.connectors.fadada.webhooks import FadadaCallbacks
from trainbridge.core.connector import ConnectorConfig, ConnectorContext
from trainbridge.core.errors import ConnectorError
from trainbridge.core.http import HttpClient
from trainbridge.core.records import Agreement, Envelope, EnvelopeStatus, HealthResult, SignedDocument, Signer


class FadadaConnector(FadadaArchive, FadadaCallbacks, SigningConnector):
    """Sends training agreements through 法大大 (FASC 5.1) and reads them back."""

    config_model: ClassVar[type[ConnectorConfig]] = FadadaConfig
    vendor: ClassVar[str] = "法大大 (fadada.com) FASC OpenAPI 5.1"
    config: FadadaConfig
    envelope_noun = "sign task"

    def __init__(
        self, name: str, config: ConnectorConfig, ctx: ConnectorContext | None = None
    ) -> None:
        super().__init__(name, config, ctx)  # registers the config's secrets
        self.api = FascApi(name, self.config, self.ctx)

    @property
    def http(self) -> HttpClient:
        return self.api.http

    @property
    def nonce(self) -> Callable[[], str]:
        """The ``X-FASC-Nonce`` of each request (a random hex; tests give a sequence)."""
        return self.api.nonce

    @nonce.setter
    def nonce(self, value: Callable[[], str]) -> None:
        self.api.nonce = value

    def access_token(self, *, refresh: bool = False) -> str:
        """The cached token, fetched again ``token_refresh_margin_seconds`` before it expires."""
        return self.api.tokens.get(force=refresh)

    def call(self, path: str, biz: dict[str, Any], *, idempotent: bool = False) -> Any:
        """POST ``biz`` as bizContent; one new token and retry when FASC says it expired."""
        return self.api.call(path, biz, idempotent=idempotent)

    # --- sending ------------------------------------------------------------------------

    @hookimpl
    def send_for_signature(
        self, agreement: Agreement, document: bytes, signers: list[Signer]
    ) -> Envelope:
        resent = self.sent_before(agreement, signers)
        if resent is not None:
            return resent
        file_id = self._upload(document)
        task = self.call("/sign-task/create", self._task_body(agreement, file_id, signers))
        task_id = str(task["signTaskId"])
        self.call("/sign-task/start", {"signTaskId": task_id}, idempotent=True)
        self.log.info("sent agreement %s as 法大大 sign task %s", agreement.id, task_id)
        return self.envelope(task_id, agreement_id=agreement.id, status=EnvelopeStatus.SENT, signers=signers)

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
                    signed_at=from_millis(item.get("signTime")) if signed else None,
                )
            )
        completed = from_millis(data.get("finishTime")) if status is EnvelopeStatus.COMPLETED else None
        return self.envelope(envelope_id, agreement_id=str(data.get("transReferenceId", "")),
                             status=status, signers=signers, completed_at=completed)

    @hookimpl
    def download_signed(self, envelope_id: str) -> SignedDocument:
        self.completed(envelope_id,
                       hint="法大大 only releases the signed file once the task is finished")
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
