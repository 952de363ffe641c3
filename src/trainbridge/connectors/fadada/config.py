"""法大大: the instance's configuration, and FASC's names for task statuses and events."""

from __future__ import annotations

from pydantic import Field, SecretStr

from trainbridge.connectors.fadada.signing import PRODUCTION_URL, UAT_URL
from trainbridge.core.connector import ConnectorConfig
from trainbridge.core.http import HttpSettings
from trainbridge.core.records import EnvelopeStatus, WebhookReply
from trainbridge.sdk.webhooks import max_age_field

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
    import_agreements: bool = Field(
        default=False, description="fetch_agreements: read finished sign tasks signed outside trainbridge "
                                   "(their fill fields carry the agreement's terms)")
    agreement_fields: dict[str, str] = Field(
        default_factory=dict, description="Our metadata key -> the fill field's fieldId or fieldName, "
                                          "where they differ")
    token_refresh_margin_seconds: int = Field(default=300, ge=0)
    webhook_max_age_seconds: int = max_age_field(300, description="FASC allows +-5 min")
    http: HttpSettings = Field(default_factory=HttpSettings)
