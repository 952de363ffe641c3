"""Feishu / Lark connectors. ``feishu_people``: CoreHR people, job history and separations;
``feishu_approval``: proposals approved in Feishu Approval (docs/approvals.md)."""

from __future__ import annotations

from collections.abc import Callable

from trainbridge import hookimpl
from trainbridge.connectors.feishu.approval import FeishuApproval, FeishuApprovalConfig
from trainbridge.connectors.feishu.people import FeishuPeople, FeishuPeopleConfig

__all__ = ["FeishuApproval", "FeishuApprovalConfig", "FeishuPeople", "FeishuPeopleConfig"]


@hookimpl
def register_connectors(register: Callable[..., None]) -> None:
    register("feishu_people", FeishuPeople)
    register("feishu_approval", FeishuApproval)
