"""Feishu / Lark connectors. ``feishu_people``: CoreHR people, job history and separations."""

from __future__ import annotations

from collections.abc import Callable

from trainbridge import hookimpl
from trainbridge.connectors.feishu.people import FeishuPeople, FeishuPeopleConfig

__all__ = ["FeishuPeople", "FeishuPeopleConfig"]


@hookimpl
def register_connectors(register: Callable[..., None]) -> None:
    register("feishu_people", FeishuPeople)
