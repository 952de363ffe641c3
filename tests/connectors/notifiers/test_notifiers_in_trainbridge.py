"""The four notifiers as trainbridge sees them: the contract check, the plugin listing, the
plugins.toml tables of their docs, and a real sync that sends a notice through the outbox."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import ClassVar

import pytest
from click.testing import CliRunner

from trainbridge.cli import cli
from trainbridge.core.config import load_settings
from trainbridge.core.jobs import Job, JobContext, Plan, Write
from trainbridge.core.records import Notice, Recipient
from trainbridge.core.runner import Workspace, sync
from trainbridge.testing import check_connector

DOCS = Path(__file__).parents[3] / "docs" / "connectors"
FEISHU_HOOK = "https://open.feishu.cn/open-apis/bot/v2/hook/0b8a4a6c"


@pytest.mark.parametrize(("type_name", "config", "url", "answer"), [
    ("feishu_bot", {"hook_token": "0b8a4a6c", "secret": "s3cret"}, FEISHU_HOOK,
     {"code": 9499, "data": {}, "msg": "Bad Request"}),
    ("dingtalk_bot", {"access_token": "t0ken", "secret": "SECabc"},
     "https://oapi.dingtalk.com/robot/send", {"errcode": 40035, "errmsg": "缺少参数 json"}),
    ("wecom_bot", {"key": "k3y-k3y"}, "https://qyapi.weixin.qq.com/cgi-bin/webhook/send",
     {"errcode": 44004, "errmsg": "text content is empty"}),
])
def test_each_chat_robot_passes_the_contract_check(tb_instance, vendor, type_name, config, url,
                                                   answer) -> None:
    vendor.post(url, json=answer)

    hooks = check_connector(tb_instance(type_name, config), exercise=True)

    assert hooks == ["send_notice", "healthcheck"]


def test_smtp_passes_the_contract_check(tb_instance, smtp_server) -> None:
    server = smtp_server()
    notifier = tb_instance("smtp", {"host": "127.0.0.1", "port": server.port, "security": "none",
                                    "from_address": "training@example.cn"})

    assert check_connector(notifier, exercise=True) == ["send_notice", "healthcheck"]


def test_trainbridge_plugins_lists_the_notifier_types() -> None:
    result = CliRunner().invoke(cli, ["plugins"])

    assert result.exit_code == 0, result.output
    for type_name in ("feishu_bot", "dingtalk_bot", "wecom_bot", "smtp"):
        assert re.search(rf"connector type {type_name}: send_notice, healthcheck", result.output)


@pytest.mark.parametrize("type_name", ["feishu_bot", "dingtalk_bot", "wecom_bot", "smtp"])
def test_the_plugins_toml_table_in_the_docs_loads(type_name, tmp_path, monkeypatch) -> None:
    doc = (DOCS / f"{type_name}.md").read_text(encoding="utf-8")
    [table] = re.findall(r"```toml\n(.*?)```", doc, flags=re.S)
    for name in re.findall(r"\$\{(\w+)\}", table):
        monkeypatch.setenv(name, f"value-of-{name.lower()}")
    (tmp_path / "plugins.toml").write_text(
        f'[ledger]\nurl = "sqlite:///trainbridge.db"\n\n{table}', encoding="utf-8")
    settings = load_settings(tmp_path / "plugins.toml")
    ws = Workspace(settings)
    try:
        [instance] = [i for i in ws.host.instances.values() if type(i).__name__ != "FileNotifier"]
        assert tomllib.loads(table)["connectors"][instance.name]["type"] == type_name
    finally:
        ws.close()


class RemindEndingServicePeriods(Job):
    """A stand-in for the reminder job: one notice for one employee."""

    name: ClassVar[str] = "remind_service_period"

    def decide(self, ctx: JobContext) -> Plan:
        notice = Notice(
            id="remind:TA-2023-017:2025-05-31", notice="service_period_ending",
            subject="服务期即将结束提醒", body="张伟：培训协议 TA-2023-017 的服务期于 2025-06-30 结束。",
            recipients=(Recipient(name="张伟", employee_id="E1001"),), related_id="TA-2023-017")
        plan = Plan()
        plan.writes.append(Write("send_notice", {"notice": notice}))
        return plan


def test_a_sync_sends_the_notice_to_the_group_once(tb_workspace, vendor, monkeypatch) -> None:
    monkeypatch.setenv("FEISHU_HOOK_TOKEN", "0b8a4a6c")
    monkeypatch.setenv("FEISHU_BOT_SECRET", "s3cret")
    vendor.post(FEISHU_HOOK, json={"code": 0, "data": {}, "msg": "success"})
    ws = tb_workspace({"connectors": {"hr_group": {
        "type": "feishu_bot", "hook_token": "${FEISHU_HOOK_TOKEN}", "secret": "${FEISHU_BOT_SECRET}"}}})
    ws.host.jobs[RemindEndingServicePeriods.name] = RemindEndingServicePeriods()

    [first] = sync(ws, [RemindEndingServicePeriods.name])
    [again] = sync(ws, [RemindEndingServicePeriods.name])

    assert first.status == "ok", first.errors
    assert again.status == "ok", again.errors
    [call] = vendor.calls
    body = json.loads(call.request.body)
    assert body["content"]["post"]["zh_cn"]["title"] == "服务期即将结束提醒"
    assert "sign" in body and "timestamp" in body
    with ws.ledger.transaction() as conn:
        [sent] = ws.ledger.notices_sent(conn, related_id="TA-2023-017")
    assert sent["instance"] == "hr_group"
