"""``[approvals]`` in plugins.toml: which proposal kinds HR approves in Feishu or DingTalk.

::

    [approvals]
    channel = "feishu_approval"     # console (default), feishu_approval, dingtalk_approval,
                                    # or the name of a [connectors.NAME] table of such a type
    proposal_url = "https://tb.acme.cn/proposals/{id}"   # a link on the form (optional)
    [approvals.kinds]
    refund = "feishu_approval"      # per proposal kind; overrides channel
    bonus = "console"
    [approvals.approvers]           # vendor user id -> console account, for the audit log
    "ou_7d8a6e6df7621556ce0d21922b676706ccs" = "hr.li"

A channel type names the one instance of that type; with two Feishu apps, name the instance.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from trainbridge.core.errors import ConfigError

CONSOLE = "console"
#: The built-in channel connector types; any instance implementing send_for_approval works too.
CHANNEL_TYPES = ("feishu_approval", "dingtalk_approval")
KEYS = {"channel", "kinds", "approvers", "proposal_url"}


@dataclass(frozen=True)
class ApprovalRouting:
    """Where each proposal kind is approved: a connector instance, or the console (None)."""

    default: str | None = None
    kinds: dict[str, str | None] = field(default_factory=dict)
    approvers: dict[str, str] = field(default_factory=dict)
    proposal_url: str = ""

    @property
    def active(self) -> bool:
        return self.default is not None or any(v is not None for v in self.kinds.values())

    def instance_for(self, kind: str) -> str | None:
        return self.kinds.get(kind, self.default)

    def account_for(self, vendor_user: str) -> str:
        """The console account mapped to ``feishu:ou_...`` (or its bare id), else the vendor id."""
        bare = vendor_user.split(":", 1)[1] if ":" in vendor_user else vendor_user
        return self.approvers.get(vendor_user) or self.approvers.get(bare) or vendor_user


def parse_routing(
    table: Mapping[str, Any], connectors: Mapping[str, Mapping[str, Any]], *, file: str
) -> ApprovalRouting:
    """Validate the channel keys of ``[approvals]`` (``auto`` is read by the config itself)."""
    channel = table.get("channel", CONSOLE)
    default = _instance(channel, connectors, file=file, key="channel")
    kinds_table = table.get("kinds", {})
    if not isinstance(kinds_table, dict):
        raise ConfigError(
            "must be a table",
            file=file,
            table="approvals.kinds",
            hint='write [approvals.kinds] with lines like refund = "feishu_approval"',
        )
    kinds = {
        str(kind): _instance(value, connectors, file=file, key=f"kinds.{kind}")
        for kind, value in kinds_table.items()
    }
    approvers = table.get("approvers", {})
    if not isinstance(approvers, dict) or not all(isinstance(v, str) and v for v in approvers.values()):
        raise ConfigError(
            "must be a table of vendor user id = console account",
            file=file,
            table="approvals.approvers",
            hint='e.g. "ou_7d8a6e6d..." = "hr.li"',
        )
    url = table.get("proposal_url", "")
    if not isinstance(url, str) or (url and not url.startswith(("https://", "http://"))):
        raise ConfigError(
            "must be an http(s) URL",
            file=file,
            table="approvals",
            key="proposal_url",
            hint='e.g. proposal_url = "https://tb.acme.cn/proposals/{id}"',
        )
    return ApprovalRouting(
        default=default, kinds=kinds, approvers={str(k): v for k, v in approvers.items()}, proposal_url=url
    )


def _instance(value: Any, connectors: Mapping[str, Mapping[str, Any]], *, file: str, key: str) -> str | None:
    if not isinstance(value, str) or not value:
        raise ConfigError(
            "must be a channel name",
            file=file,
            table="approvals",
            key=key,
            hint=f'e.g. "{CONSOLE}", "feishu_approval" or "dingtalk_approval"',
        )
    if value == CONSOLE:
        return None
    if value in connectors:
        return value
    typed = sorted(name for name, t in connectors.items() if t.get("type") == value)
    if len(typed) == 1:
        return typed[0]
    if typed:
        raise ConfigError(
            f"{len(typed)} connector instances have type {value!r}",
            file=file,
            table="approvals",
            key=key,
            hint=f"name one of them: {', '.join(typed)}",
        )
    kinds = ", ".join(CHANNEL_TYPES)
    raise ConfigError(
        f"no [connectors.NAME] table of type {value!r} (or named so)",
        file=file,
        table="approvals",
        key=key,
        hint=f'add [connectors.approvals] with type = "{value}" (channel types: {kinds}), '
        f'or write "{CONSOLE}"',
    )
