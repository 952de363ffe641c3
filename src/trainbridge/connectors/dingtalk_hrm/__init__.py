"""DingTalk HRM (钉钉智能人事): roster, on-job and resigned employees, separations, callbacks."""

from __future__ import annotations

from collections.abc import Callable

from trainbridge import hookimpl
from trainbridge.connectors.dingtalk_hrm.connector import DingTalkHrm, DingTalkHrmConfig

__all__ = ["DingTalkHrm", "DingTalkHrmConfig"]


@hookimpl
def register_connectors(register: Callable[..., None]) -> None:
    register("dingtalk_hrm", DingTalkHrm)
