"""DingTalk HRM (钉钉智能人事): roster, on-job and resigned employees, separations, callbacks;
``dingtalk_approval``: proposals approved in DingTalk OA approval (docs/approvals.md)."""

from __future__ import annotations

from collections.abc import Callable

from trainbridge import hookimpl
from trainbridge.connectors.dingtalk_hrm.approval import DingTalkApproval, DingTalkApprovalConfig
from trainbridge.connectors.dingtalk_hrm.connector import DingTalkHrm, DingTalkHrmConfig

__all__ = ["DingTalkApproval", "DingTalkApprovalConfig", "DingTalkHrm", "DingTalkHrmConfig"]


@hookimpl
def register_connectors(register: Callable[..., None]) -> None:
    register("dingtalk_hrm", DingTalkHrm)
    register("dingtalk_approval", DingTalkApproval)
