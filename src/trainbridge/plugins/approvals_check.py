"""What ``trainbridge check`` and ``approvals subscribe`` say of each approval channel.

Online, from the vendors' published definitions:

* Feishu 查看指定审批定义 ``GET /open-apis/approval/v4/approvals/{approval_code}``:
  ``data.approval_name``, ``data.status`` (ACTIVE / INACTIVE / DELETED / UNKNOWN) and
  ``data.form``, a JSON *string* of widgets ``[{"id", "custom_id", "name", "type"}]``; every
  configured widget id must be one of them.
* DingTalk 获取表单 schema ``GET /v1.0/workflow/forms/schemas/processCodes?processCode=``
  (permission Workflow.Form.Read): ``result.name`` and ``result.schemaContent.items[].props.label``;
  every configured component label must be one of them.
"""

from __future__ import annotations

import json
from typing import Any

from trainbridge.core.workspace import Workspace

FEISHU_DEFINITION = "/open-apis/approval/v4/approvals/{code}"
DINGTALK_SCHEMA = "/v1.0/workflow/forms/schemas/processCodes"


def channel_instances(ws: Workspace) -> dict[str, Any]:
    """The configured Feishu / DingTalk approval connector instances, by name."""
    from trainbridge.connectors.dingtalk_hrm.approval import DingTalkApproval
    from trainbridge.connectors.feishu.approval import FeishuApproval

    return {
        name: c
        for name, c in sorted(ws.host.instances.items())
        if isinstance(c, FeishuApproval | DingTalkApproval)
    }


def check_channels(ws: Workspace) -> list[tuple[bool, str]]:
    """(ok, line) for ``[approvals]``: each channel's routed kinds, code and definition (online)."""
    from trainbridge.connectors.dingtalk_hrm.approval import DingTalkApproval
    from trainbridge.connectors.feishu.approval import FeishuApproval

    routing = ws.settings.approval_routing
    every = channel_instances(ws)
    used: dict[str, list[str]] = {}
    if routing.default is not None:
        used.setdefault(routing.default, []).append("* (channel)")
    for kind, instance in sorted(routing.kinds.items()):
        if instance is not None:
            used.setdefault(instance, []).append(kind)
    if not used and not every:
        return []
    lines: list[tuple[bool, str]] = []
    for name in sorted(set(used) | set(every)):
        kinds = ", ".join(used.get(name, [])) or "none: no kind is routed here"
        connector = ws.host.instances.get(name)
        if connector is None or not hasattr(connector, "send_for_approval"):
            lines.append(
                (False, f"approvals -> {name}: not an approval channel (no send_for_approval); kinds {kinds}")
            )
            continue
        if isinstance(connector, FeishuApproval):
            ok, said = feishu_definition(connector)
            what = f"审批定义 approval_code {connector.config.approval_code}"
        elif isinstance(connector, DingTalkApproval):
            ok, said = dingtalk_definition(connector)
            what = f"审批表单 process_code {connector.config.process_code}"
        else:
            lines.append((True, f"approvals -> {name} ({type(connector).__name__}): kinds {kinds}"))
            continue
        lines.append((ok, f"approvals -> {name}: {what} {said}; kinds {kinds}"))
        if isinstance(connector, DingTalkApproval) and not (
            connector.config.callback_token and connector.config.callback_aes_key
        ):
            lines.append(
                (
                    False,
                    f"approvals -> {name}: callback_token / callback_aes_key not configured: "
                    "no verdict can arrive (trainbridge approvals subscribe says where)",
                )
            )
    return lines


def feishu_definition(connector: Any) -> tuple[bool, str]:
    from trainbridge.core.errors import ConnectorError

    try:
        data = connector.api.call("GET", FEISHU_DEFINITION.format(code=connector.config.approval_code))
    except ConnectorError as exc:
        return False, f"cannot be read: {exc}"
    status = str(data.get("status") or "")
    try:
        form = json.loads(data.get("form") or "[]")
    except ValueError:
        form = []
    ids = {str(w.get(k)) for w in form if isinstance(w, dict) for k in ("id", "custom_id") if w.get(k)}
    missing = sorted(w for w in connector.config.widgets.values() if w not in ids)
    name = data.get("approval_name") or ""
    if status and status != "ACTIVE":
        return False, f"「{name}」 is {status}, not ACTIVE"
    if missing:
        return False, f"「{name}」 has no widget {', '.join(missing)} (widgets = ...)"
    return True, f"「{name}」 exists ({status or 'status unknown'}), widgets found"


def dingtalk_definition(connector: Any) -> tuple[bool, str]:
    from trainbridge.core.errors import ConnectorError

    try:
        answer = connector.api.v1(
            "GET", DINGTALK_SCHEMA, params={"processCode": connector.config.process_code}
        )
    except ConnectorError as exc:
        return False, f"cannot be read: {exc}"
    result = answer.get("result") or {}
    items = (result.get("schemaContent") or {}).get("items") or []
    labels = {str((i.get("props") or {}).get("label")) for i in items if isinstance(i, dict)}
    missing = sorted(label for label in connector.config.components.values() if label not in labels)
    name = result.get("name") or (result.get("schemaContent") or {}).get("title") or ""
    if missing:
        return False, f"「{name}」 has no component {', '.join(missing)} (components = ...)"
    return True, f"「{name}」 exists, components found"


def dingtalk_setup(connector: Any, base_url: str, language: str) -> tuple[list[str], bool]:
    """What to register in DingTalk's developer console, and whether the keys are configured."""
    cfg, name = connector.config, connector.name
    url = f"{base_url.rstrip('/')}/webhooks/{name}"
    missing = [k for k in ("callback_token", "callback_aes_key") if not getattr(cfg, k)]
    owner = cfg.callback_owner_key or cfg.app_key
    if language == "zh":
        lines = [
            "钉钉的审批事件在开发者后台登记，不经 API 订阅：",
            f"1. 开发者后台 > 应用 {cfg.app_key} > 事件订阅：推送方式 HTTP，请求网址 {url}",
            f"2. 加密 aes_key -> [connectors.{name}] callback_aes_key；签名 token -> callback_token"
            f"（owner key {owner}）",
            "3. 订阅事件：审批实例开始、结束 (bpms_instance_change)",
            "4. 权限：工作流（审批）实例读写、表单读 (Workflow.Form.Read)",
        ]
        if missing:
            lines.append(f"未配置：{', '.join(missing)}")
    else:
        lines = [
            "DingTalk approval events are registered in the developer console, not by an API call:",
            f"1. developer console > app {cfg.app_key} > Event subscription: push by HTTP, request URL {url}",
            f"2. aes_key -> [connectors.{name}] callback_aes_key; token -> callback_token "
            f"(owner key {owner})",
            "3. subscribe the event 审批实例开始、结束 (bpms_instance_change)",
            "4. permissions: workflow (approval) instance read/write, form read (Workflow.Form.Read)",
        ]
        if missing:
            lines.append(f"not configured: {', '.join(missing)}")
    return lines, not missing
