"""``esign_cn_evidence``: e签宝 scene-based evidence deposit (场景式存证) of agreement digests.

The evidence service has its own host and its own credentials (project id and secret,
open.esign.cn/doc/opendoc/evidence). Every POST carries::

    X-timevale-project-id: <project id>
    X-timevale-signature: hex(HMAC-SHA256(project secret, exact JSON body))
    X-timevale-signature-algorithm: HmacSHA256
    X-timevale-mode: package
    Content-Type: application/json

(docs: 请求签名值计算方法, svs9o6; header table of every evidence API page; the official
Java demo's ``HttpHelper.getPOSTHeaders``). One deposit is:

1. ``/v1/sp/scene/voucher``: a voucher (证据链) per agreement; its ``evid`` (``C…``) is the
   receipt id;
2. ``/v1/sp/segment/abstract/url``: a digest evidence point (摘要存证) carrying the SHA-256,
   by default; or, with ``upload_original``, ``/v1/sp/segment/original-adv/url`` and a PUT
   of the file itself;
3. ``/v1/sp/scene/append``: the point appended to the voucher.

``verify_evidence`` reads ``/v1/blockchain/antPushInfo`` and compares the anchored hash.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests
import requests.auth
from pydantic import Field, SecretStr

from trainbridge import hookimpl
from trainbridge.core.connector import Connector, ConnectorConfig, ConnectorContext
from trainbridge.core.errors import ClientError, ConnectorError, TrainbridgeError
from trainbridge.core.http import HttpClient, HttpSettings
from trainbridge.core.records import EvidenceCheck, EvidenceReceipt, HealthResult, make_id
from trainbridge.core.secrets import register_secret

PRODUCTION_URL = "https://evislb.tsign.cn:443"
SANDBOX_URL = "https://smlcunzheng.tsign.cn:9443"
API = "/evi-service/evidence/v1"
SIGNATURE_ALGORITHM = "HmacSHA256"


def body_signature(project_secret: str, body: bytes) -> str:
    """``X-timevale-signature``: hex HMAC-SHA256 of the exact request body."""
    return hmac.new(project_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


class TimevaleAuth(requests.auth.AuthBase):
    """Signs requests bound for the evidence host; the file upload URL goes unsigned."""

    def __init__(self, project_id: str, project_secret: str, base_url: str) -> None:
        self.project_id = project_id
        self.project_secret = project_secret
        self.netloc = urlsplit(base_url).netloc

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        if urlsplit(r.url or "").netloc != self.netloc:
            return r
        body = r.body.encode("utf-8") if isinstance(r.body, str) else (r.body or b"")
        r.headers.update(
            {
                "X-timevale-project-id": self.project_id,
                "X-timevale-signature": body_signature(self.project_secret, body),
                "X-timevale-signature-algorithm": SIGNATURE_ALGORITHM,
                "X-timevale-mode": "package",
                "Content-Type": "application/json",
            }
        )
        return r


class EsignEvidenceConfig(ConnectorConfig):
    project_id: str = Field(min_length=1, description="存证项目ID (X-timevale-project-id)")
    project_secret: SecretStr = Field(description="存证项目密钥")
    base_url: str = Field(
        default=PRODUCTION_URL,
        description="https://evislb.tsign.cn:443; sandbox https://smlcunzheng.tsign.cn:9443",
    )
    scene_template_id: str = Field(min_length=1, description="业务凭证(名称)ID from /v1/sp/temp/scene/add")
    segment_template_id: str = Field(min_length=1, description="证据点名称ID from /v1/sp/temp/seg/add")
    scene_name: str = Field(
        default="培训服务协议 {agreement_id}",
        description="Voucher name; {agreement_id} is filled in",
    )
    segment_fields: dict[str, str] = Field(
        default_factory=dict,
        description="segmentData: paramName defined with seg-prop/add -> key of the deposit meta",
    )
    upload_original: bool = Field(default=False, description="Deposit the file, not only its digest")
    http: HttpSettings = Field(default_factory=HttpSettings)


class EsignEvidenceConnector(Connector):
    """Deposits the SHA-256 of signed agreements with e签宝's evidence service."""

    config_model: ClassVar[type[ConnectorConfig]] = EsignEvidenceConfig
    vendor: ClassVar[str] = "e签宝 (esign.cn) scene-based evidence (场景式存证)"
    config: EsignEvidenceConfig

    def __init__(self, name: str, config: ConnectorConfig, ctx: ConnectorContext | None = None) -> None:
        super().__init__(name, config, ctx)
        register_secret(self.config.project_secret.get_secret_value())
        self._http: HttpClient | None = None

    @property
    def http(self) -> HttpClient:
        if self._http is None:
            cfg = self.config
            auth = TimevaleAuth(cfg.project_id, cfg.project_secret.get_secret_value(), cfg.base_url)
            self._http = self.ctx.http(
                cfg.base_url,
                instance=self.name,
                settings=cfg.http,
                auth=auth,
            )
        return self._http

    def now(self) -> datetime:
        """The context's clock as a UTC time (deposit and check times)."""
        return datetime.fromtimestamp(self.ctx.clock(), tz=UTC)

    def call(self, path: str, body: dict[str, Any], *, idempotent: bool = False) -> dict[str, Any]:
        """POST a signed JSON body; return the answer when ``errCode`` is 0."""
        payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        resp = self.http.post(
            f"{API}{path}",
            data=payload,
            idempotent=idempotent,
            headers={"Content-Type": "application/json"},
        )
        try:
            answer = resp.json()
        except ValueError:
            raise ConnectorError(
                f"POST {path} did not answer JSON",
                instance=self.name,
                status=resp.status_code,
                hint="check base_url: the evidence host is not openapi.esign.cn",
            ) from None
        if str(answer.get("errCode", "")) != "0":
            raise ClientError(
                f"POST {path} failed: errCode {answer.get('errCode')}: {answer.get('msg', '')}",
                instance=self.name,
                hint="check project_id/project_secret and the template ids "
                "(scene_template_id, segment_template_id)",
            )
        return dict(answer)

    @hookimpl
    def deposit_evidence(self, digest: str, meta: Mapping[str, str]) -> EvidenceReceipt:
        agreement_id = meta.get("agreement_id", "")
        if not agreement_id:
            raise ConnectorError(
                "deposit meta has no agreement_id",
                instance=self.name,
                hint="pass meta={'agreement_id': ...}",
            )
        digest = digest.lower()
        cfg = self.config
        # Check the file before anything is deposited: a wrong file must leave no voucher.
        original = self._original(digest, meta) if cfg.upload_original else None
        voucher = self.call(
            "/sp/scene/voucher",
            {
                "sceneName": cfg.scene_name.format(agreement_id=agreement_id),
                "sceneTemplateId": cfg.scene_template_id,
                "linkIds": [],
            },
        )
        chain_id = str(voucher["evid"])
        segment_data = json.dumps(
            {param: meta.get(key, "") for param, key in cfg.segment_fields.items()},
            ensure_ascii=False,
            separators=(",", ":"),
        )
        description = meta.get("file_name") or f"{agreement_id}.pdf"
        if original is not None:
            point_id = self._deposit_file(original, description, segment_data)
        else:
            point = self.call(
                "/sp/segment/abstract/url",
                {
                    "segmentTempletId": cfg.segment_template_id,
                    "segmentData": segment_data,
                    "content": {"contentDescription": description, "contentDigest": digest},
                },
            )
            point_id = str(point["evid"])
        self.call("/sp/scene/append", {"evid": chain_id, "linkIds": [{"type": "0", "value": point_id}]})
        self.log.info(
            "deposited agreement %s as e签宝 evidence %s (point %s)",
            agreement_id,
            chain_id,
            point_id,
        )
        return EvidenceReceipt(
            id=make_id(self.name, agreement_id),
            source=self.name,
            agreement_id=agreement_id,
            digest=digest,
            algorithm="sha256",
            provider="esign_cn_evidence",
            receipt_id=chain_id,
            deposited_at=self.now(),
        )

    def _original(self, digest: str, meta: Mapping[str, str]) -> bytes:
        path = meta.get("document_path")
        if not path:
            raise ConnectorError(
                "upload_original is on but meta has no document_path",
                instance=self.name,
                hint="pass the signed file's path, or turn upload_original off",
            )
        content = self.ctx.resolve(path).read_bytes()
        if hashlib.sha256(content).hexdigest() != digest:
            raise ConnectorError(
                f"{path} does not match the digest being deposited",
                instance=self.name,
                hint="deposit the signed document itself",
            )
        return content

    def _deposit_file(self, content: bytes, description: str, segment_data: str) -> str:
        md5 = base64.b64encode(hashlib.md5(content).digest()).decode("ascii")
        point = self.call(
            "/sp/segment/original-adv/url",
            {
                "segmentTempletId": self.config.segment_template_id,
                "segmentData": segment_data,
                "content": {
                    "contentDescription": description,
                    "contentLength": str(len(content)),
                    "contentBase64Md5": md5,
                },
            },
        )
        self.http.put(
            str(point["url"]),
            data=content,
            headers={"Content-MD5": md5, "Content-Type": "application/octet-stream"},
        )
        return str(point["evid"])

    @hookimpl
    def verify_evidence(self, receipt: EvidenceReceipt, digest: str) -> EvidenceCheck:
        checked = self.now()
        if receipt.digest != digest.lower():
            return EvidenceCheck(
                valid=False,
                checked_at=checked,
                reason="the document's digest differs from the one deposited",
            )
        answer = self.call("/blockchain/antPushInfo", {"eid": receipt.receipt_id}, idempotent=True)
        pushes = answer.get("antPushList") or []
        for push in pushes:
            if str(push.get("docHash", "")).lower() == digest.lower():
                return EvidenceCheck(
                    valid=True,
                    checked_at=checked,
                    reason=(
                        f"e签宝 evidence {receipt.receipt_id} anchors this SHA-256 on the Ant "
                        f"blockchain (tx {push.get('antTxHash', '?')}, "
                        f"pushed {push.get('pushTime', '?')})"
                    ),
                )
        if not pushes:
            return EvidenceCheck(
                valid=False,
                checked_at=checked,
                reason=(
                    f"e签宝 evidence {receipt.receipt_id} is not on the blockchain yet; check again later"
                ),
            )
        return EvidenceCheck(
            valid=False,
            checked_at=checked,
            reason=f"e签宝 evidence {receipt.receipt_id} anchors a different hash",
        )

    @hookimpl
    def healthcheck(self) -> HealthResult:
        try:
            self.call("/blockchain/antPushInfo", {"eid": "C0"}, idempotent=True)
        except TrainbridgeError as exc:
            return HealthResult(ok=False, detail=str(exc))
        return HealthResult(ok=True, detail=f"evidence project {self.config.project_id} accepted")
