"""What an approval channel (Feishu Approval, DingTalk OA approval) is handed and answers.

These are the arguments and answers of the ``send_for_approval`` and ``withdraw_approval``
role hooks, and what a channel's ``verify_webhook`` carries in ``WebhookEvent.records`` when
a vendor reports that an approval instance was approved, rejected or closed.
"""

from __future__ import annotations

from collections.abc import Container
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

#: What became of an approval instance at the vendor, in trainbridge's words.
OutcomeStatus = Literal["pending", "approved", "rejected", "withdrawn", "closed"]


class FormField(BaseModel):
    """One line of the approval form: ``key`` names it for the channel's widget mapping."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    key: Literal["title", "employee", "kind", "amount", "reason", "explanation", "link", "reference"]
    label: str = Field(description="The Chinese label HR reads (员工, 类型, 金额, ...)")
    value: str


class ApprovalRequest(BaseModel):
    """One proposal to be approved in a vendor's approval app."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    proposal_id: str
    kind: str
    key: str = Field(description="Our idempotency key for the instance (Feishu's uuid); stable per proposal")
    title: str
    fields: tuple[FormField, ...]
    resend: bool = Field(
        default=False,
        description=(
            "An earlier attempt may have created the instance (a crash before its id was recorded): "
            "look it up by key first"
        ),
    )
    since: AwareDatetime | None = Field(default=None, description="When the first attempt was made")

    def value(self, key: str) -> str:
        return next((f.value for f in self.fields if f.key == key), "")

    def placed(self, places: Container[str]) -> list[tuple[str, str]]:
        """(key, value) of each line the vendor's form has a place for, in order; the lines it has
        no place for are written at the top of the explanation (``标签：值``)."""
        unplaced = [f"{f.label}：{f.value}" for f in self.fields if f.key not in places]
        lines = [(f.key, f.value) for f in self.fields if f.key in places]
        return [
            (key, "\n".join([*unplaced, "", value]) if key == "explanation" and unplaced else value)
            for key, value in lines
        ]


class ApprovalTicket(BaseModel):
    """The vendor's approval instance opened for a request."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    ref: str = Field(
        description="The vendor's instance id (Feishu instance_code, DingTalk processInstanceId)"
    )
    key: str = ""
    status: OutcomeStatus = "pending"
    detail: str = ""


class ApprovalOutcome(BaseModel):
    """A vendor's verified report that an approval instance changed status.

    ``approvers`` are vendor-prefixed user ids (``feishu:ou_...``, ``dingtalk:<userid>``) of
    those who decided, in the order they did; the last decided it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    channel: str = Field(description="feishu_approval or dingtalk_approval")
    ref: str
    key: str = ""
    status: OutcomeStatus
    vendor_status: str
    approvers: tuple[str, ...] = ()
    comment: str = ""
    occurred_at: AwareDatetime | None = None
