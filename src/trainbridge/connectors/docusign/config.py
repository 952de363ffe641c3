"""DocuSign: the instance's configuration, and the vendor's names for statuses, events and errors."""

from __future__ import annotations

from datetime import date

from pydantic import Field, SecretStr, model_validator

from trainbridge.core.connector import ConnectorConfig
from trainbridge.core.http import HttpSettings
from trainbridge.core.records import EnvelopeStatus
from trainbridge.sdk.webhooks import max_age_field

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
