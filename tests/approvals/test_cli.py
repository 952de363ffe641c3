"""``trainbridge approvals`` as HR's operator runs it: 李娜's 850.00 refund in a faked Feishu Approval
(and a faked DingTalk OA), listed, sent, withdrawn, subscribed; ``trainbridge check`` reads the
definitions. The vendors answer in their documented shapes."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import responses
import sqlalchemy as sa

from tests.approvals.conftest import (
    APPROVAL_CODE,
    APPROVER,
    BASE,
    PID,
    FakeFeishu,
    add_refund_proposal,
    feishu_connector,
    instance_event,
    sealed,
)
from tests.approvals.test_dingtalk_approval import AES_KEY, API, APP_KEY, PROCESS, TOKEN, FakeDingTalk
from trainbridge.cli import main
from trainbridge.core.approvals.channel import links_for, sync_approvals
from trainbridge.core.delivery import SYNC_LOCK
from trainbridge.core.ledger import audit_table
from trainbridge.core.runner import Workspace
from trainbridge.core.webhooks import receive_webhook

Run = Callable[..., tuple[int, str, str]]
JSON = {"Content-Type": "application/json; charset=utf-8"}
#: The widgets of the definition HR built (审批管理后台), as GET approvals/{code} lists them.
FORM = [
    {"id": "widget_employee", "custom_id": "employee", "name": "员工", "type": "input"},
    {"id": "widget_kind", "name": "类型", "type": "input"},
    {"id": "widget_amount", "name": "金额", "type": "input"},
    {"id": "widget_reason", "name": "事由", "type": "input"},
    {"id": "widget_explanation", "name": "计算说明", "type": "textarea"},
]


class Feishu(FakeFeishu):
    """The conftest's Feishu, with the approval definition and a subscribe that can refuse."""

    subscribe_answer: tuple[int, dict[str, Any]] = (200, {"code": 0, "msg": "success", "data": {}})
    form: list[dict[str, str]] = FORM
    definition_status = "ACTIVE"

    def install(self, mock: responses.RequestsMock) -> None:
        super().install(mock)
        mock.add_callback(
            responses.GET,
            f"{BASE}/open-apis/approval/v4/approvals/{APPROVAL_CODE}",
            callback=self._definition,
        )

    def _subscribe(self, request: Any) -> tuple[int, dict[str, str], str]:
        status, body = self.subscribe_answer
        if body.get("code") == 0:
            self.subscribed += 1
        return status, {}, json.dumps(body)

    def _definition(self, request: Any) -> tuple[int, dict[str, str], str]:
        data = {
            "approval_name": "培训费用扣回审批",
            "status": self.definition_status,
            "form": json.dumps(self.form, ensure_ascii=False),
            "node_list": [
                {"name": "HR 审批", "need_approver": False, "node_id": "b0bf0d7f", "node_type": "AND"}
            ],
            "viewers": [],
        }
        return 200, JSON, json.dumps({"code": 0, "msg": "success", "data": data}, ensure_ascii=False)


class DingTalk(FakeDingTalk):
    labels = ("员工", "类型", "金额", "事由", "计算说明", "详情链接", "提案编号")

    def install(self, mock: responses.RequestsMock) -> None:
        super().install(mock)
        mock.add_callback(
            responses.GET, f"{API}/v1.0/workflow/forms/schemas/processCodes", callback=self._schema
        )

    def _schema(self, request: Any) -> tuple[int, dict[str, str], str]:
        assert request.params["processCode"] == PROCESS
        items = [
            {
                "componentName": "TextareaField" if label == "计算说明" else "TextField",
                "props": {"id": f"TextField-{i}", "label": label, "required": True},
            }
            for i, label in enumerate(self.labels)
        ]
        result = {
            "name": "培训费用审批",
            "processCode": PROCESS,
            "formCode": PROCESS,
            "schemaContent": {"title": "培训费用审批", "icon": "common", "items": items},
        }
        return 200, JSON, json.dumps({"result": result}, ensure_ascii=False)


@pytest.fixture
def feishu() -> Iterator[Feishu]:
    fake = Feishu()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake.install(mock)
        yield fake


@pytest.fixture
def dingtalk() -> Iterator[DingTalk]:
    fake = DingTalk()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake.install(mock)
        yield fake


@pytest.fixture
def ws(make_workspace: Callable[..., Workspace]) -> Workspace:
    ws = make_workspace(
        {
            "connectors": {
                "approvals": feishu_connector(),
                "payroll": {"type": "jsonl_payroll", "path": "out/payroll.jsonl"},
            },
            "approvals": {"kinds": {"refund": "feishu_approval"}, "approvers": {APPROVER: "hr.li"}},
        }
    )
    add_refund_proposal(ws)
    return ws


def dingtalk_config(*, callbacks: bool = True) -> dict[str, Any]:
    config = {
        "type": "dingtalk_approval",
        "app_key": APP_KEY,
        "app_secret": "s3cret",
        "process_code": PROCESS,
        "originator": "hr01",
    }
    return {**config, "callback_token": TOKEN, "callback_aes_key": AES_KEY} if callbacks else config


@pytest.fixture
def tb(capsys: pytest.CaptureFixture[str]) -> Callable[[Workspace], Run]:
    """``trainbridge --config <the workspace's plugins.toml> ARGS`` -> (exit code, stdout, stderr)."""

    def bind(ws: Workspace) -> Run:
        def run(*args: str) -> tuple[int, str, str]:
            try:
                main(["--config", str(ws.settings.file), *args])
                code = 0
            except SystemExit as exc:
                code = int(exc.code or 0)
            captured = capsys.readouterr()
            return code, captured.out, captured.err

        return run

    return bind


def link(ws: Workspace) -> dict[str, Any]:
    [only] = links_for(ws)
    return only


def status_of(ws: Workspace) -> str:
    with ws.ledger.transaction() as conn:
        row = ws.ledger.get_proposal(conn, PID)
    assert row is not None
    return str(row["status"])


# --- list -----------------------------------------------------------------------------------


def test_list_shows_each_instance_in_chinese_or_english_from_sent_to_applied(ws, feishu, tb):
    run = tb(ws)
    assert run("approvals", "list") == (0, "没有发往审批渠道的提案\n", "")
    sync_approvals(ws)
    code = link(ws)["ref"]
    status, out, _ = run("approvals", "list")
    assert status == 0
    header, row = out.splitlines()
    assert header.split() == [
        "提案",
        "类型",
        "审批渠道",
        "审批实例",
        "发起时间",
        "状态",
        "审批结论",
        "已执行",
    ]
    assert PID in row and "approvals (飞书审批)" in row and code in row and "审批中" in row
    assert "培训费扣款" in row and row.rstrip().endswith("—")  # the kind in words; not applied yet
    assert run("approvals", "list", "--status", "approved") == (0, "没有处于该状态的审批实例（已通过）\n", "")

    feishu.decide(code, "APPROVED")
    headers, body = sealed(instance_event(code, "APPROVED", key=link(ws)["key"]))
    receive_webhook(ws, "approvals", headers, body)
    _, out, _ = run("approvals", "list", "--language", "en")
    header, row = out.splitlines()
    assert header.split()[:3] == ["proposal", "kind", "channel"]
    assert "approved (hr.li)" in row and "—" not in row.split("approved (hr.li)")[1]
    _, out, _ = run("approvals", "list", "--json")
    [item] = json.loads(out)
    assert item["proposal"] == PID and item["ref"] == code and item["status"] == "approved"
    assert item["verdict"] == "approved" and item["verdict_by"] == [f"feishu:{APPROVER}"]
    assert item["applied_at"] and item["channel"] == "feishu_approval" and item["kind"] == "refund"
    assert item["verdict_accounts"] == ["hr.li"]
    assert datetime.fromisoformat(item["sent_at"]).utcoffset() is not None  # tenant's time with its offset
    assert json.loads(run("approvals", "list", "--status", "open", "--json")[1]) == []


# --- send -----------------------------------------------------------------------------------


def test_send_opens_the_instance_once_without_a_sync(ws, feishu, tb):
    run = tb(ws)
    code, out, _ = run("approvals", "send", "--dry-run")
    assert code == 0 and out == f"{PID}: 将发起审批 -> approvals\n" and feishu.created == []
    code, out, err = run("approvals", "send")
    assert code == 0, err
    assert len(feishu.created) == 1 and link(ws)["status"] == "open"
    assert f"{PID} sent for approval to approvals" in out and "已发起审批: 1" in out
    code, out, _ = run("approvals", "send", "--language", "en")
    assert code == 0 and out == "no proposal waits to be sent\n" and len(feishu.created) == 1
    with ws.ledger.transaction() as conn:
        [latest] = ws.ledger.list_runs(conn, job="approvals", limit=1)
    assert latest["status"] == "ok"


def test_send_waits_for_a_running_sync(ws, feishu, tb):
    holder = ws.ledger.start_run("sync")
    ws.ledger.acquire_lock(SYNC_LOCK, holder, stale_after=timedelta(hours=1))
    try:
        code, _, err = tb(ws)("approvals", "send")
    finally:
        ws.ledger.release_lock(SYNC_LOCK, holder)
    assert code == 75 and "另一个同步正在运行" in err
    assert feishu.created == [] and links_for(ws) == []


def test_send_that_feishu_refuses_exits_1_and_is_tried_again(ws, feishu, tb):
    feishu.lose_next_create_answer = True  # a 502 after Feishu created it
    code, _, err = tb(ws)("approvals", "send")
    assert code == 1 and "not sent" in err and link(ws)["status"] == "sending"
    code, _, err = tb(ws)("approvals", "send")
    assert code == 0, err
    assert len(feishu.created) == 1 and link(ws)["status"] == "open"  # found by its uuid, not created twice


def test_send_without_a_routed_kind_is_a_usage_error(make_workspace, tb):
    plain = make_workspace({"connectors": {"payroll": {"type": "jsonl_payroll", "path": "p.jsonl"}}})
    code, _, err = tb(plain)("approvals", "send")
    assert code == 2 and "[approvals]" in err


# --- withdraw -------------------------------------------------------------------------------


def test_withdraw_cancels_the_instance_and_leaves_the_proposal_to_the_console(ws, feishu, tb):
    run = tb(ws)
    run("approvals", "send")
    code = link(ws)["ref"]
    status, out, err = run("approvals", "withdraw", PID, "--reason", "金额待复核", "--by", "hr.wang")
    assert status == 0, err
    assert "审批实例已撤回" in out and code in out
    [cancel] = feishu.cancelled
    assert cancel["instance_code"] == code and cancel["approval_code"] == APPROVAL_CODE
    assert link(ws)["status"] == "withdrawn" and status_of(ws) == "pending"
    with ws.ledger.transaction() as conn:
        [row] = conn.execute(
            sa.select(audit_table).where(
                audit_table.c.tenant == ws.ledger.tenant, audit_table.c.action == "approval.withdrawn"
            )
        ).mappings()
    assert row["actor"] == "hr.wang" and row["subject"] == PID and row["detail"]["reason"] == "金额待复核"
    run("approvals", "send")
    assert len(feishu.created) == 1  # a withdrawn instance is not sent again


def test_withdraw_what_the_approver_already_decided_changes_nothing(ws, feishu, tb):
    run = tb(ws)
    run("approvals", "send")
    feishu.decide(link(ws)["ref"], "APPROVED")  # decided in Feishu; the event is still on its way
    code, _, err = run("approvals", "withdraw", PID)
    assert code == 1 and "审批端未撤回" in err and "already APPROVED" in err
    assert feishu.cancelled == [] and link(ws)["status"] == "open"


def test_withdraw_of_a_proposal_never_sent_exits_1(ws, feishu, tb):
    code, _, err = tb(ws)("approvals", "withdraw", PID, "--language", "en")
    assert code == 1 and "no approval instance for this proposal" in err


def test_withdraw_of_an_unknown_id_is_a_usage_error_naming_the_ids_sent(ws, feishu, tb):
    run = tb(ws)
    code, _, err = run("approvals", "withdraw", "nope", "--language", "en")
    assert code == 2 and err == "nope: no such proposal; no proposal has been sent for approval yet\n"
    sync_approvals(ws)
    code, _, err = run("approvals", "withdraw", "nope")
    assert code == 2 and err == f"nope: 没有这个提案；已发往审批的提案: {PID}\n"
    assert link(ws)["status"] == "open"


def test_an_approver_without_a_mapping_today_is_shown_as_the_account_the_verdict_was_recorded_as(ws):
    from trainbridge.plugins.approvals_cli import accounts_for

    applied = {"outcome_by": ["feishu:ou_gone"], "applied_at": datetime.now(UTC), "status": "approved"}
    assert accounts_for(ws, applied, {"decided_by": "hr.zhao"}) == ["hr.zhao"]
    mapped = {**applied, "outcome_by": [f"feishu:{APPROVER}"]}
    assert accounts_for(ws, mapped, {"decided_by": "x"}) == ["hr.li"]
    assert accounts_for(ws, {**applied, "applied_at": None}, {}) == ["feishu:ou_gone"]


# --- subscribe ------------------------------------------------------------------------------


def test_subscribe_calls_feishu_for_the_approval_code_and_says_what_to_register(ws, feishu, tb):
    code, out, err = tb(ws)("approvals", "subscribe", "--url", "https://tb.acme.cn")
    assert code == 0, err
    assert feishu.subscribed == 1 and f"approvals {APPROVAL_CODE}: 已订阅审批事件" in out
    assert "https://tb.acme.cn/webhooks/approvals" in out and "approval_instance" in out


def test_subscribing_again_is_fine_and_a_refusal_exits_1(ws, feishu, tb):
    feishu.subscribe_answer = (400, {"code": 1390007, "msg": "subscription existed"})
    code, out, _ = tb(ws)("approvals", "subscribe", "approvals", "--language", "en")
    assert code == 0 and "already subscribed" in out
    feishu.subscribe_answer = (
        400,
        {
            "code": 99991672,
            "msg": "Access denied. One of the following scopes is required: [approval:approval]",
        },
    )
    code, _, err = tb(ws)("approvals", "subscribe")
    assert code == 1 and "99991672" in err and "approval:approval" in err


def test_subscribe_names_only_approval_channels(ws, feishu, tb):
    code, _, err = tb(ws)("approvals", "subscribe", "payroll")
    assert code == 2 and "not an approval channel" in err and "approvals" in err


def test_subscribe_explains_the_dingtalk_registration(make_workspace, dingtalk, tb):
    oa = make_workspace(
        {"connectors": {"oa": dingtalk_config()}, "approvals": {"channel": "dingtalk_approval"}}
    )
    code, out, _ = tb(oa)("approvals", "subscribe", "--url", "https://tb.acme.cn/")
    assert code == 0
    assert "https://tb.acme.cn/webhooks/oa" in out and "bpms_instance_change" in out and APP_KEY in out
    bare = make_workspace({"connectors": {"oa": dingtalk_config(callbacks=False)}})
    code, out, _ = tb(bare)("approvals", "subscribe", "--language", "en")
    assert code == 1 and "not configured: callback_token, callback_aes_key" in out


def test_subscribe_with_one_channel_failing_is_partial(make_workspace, feishu, dingtalk, tb):
    both = make_workspace({"connectors": {"approvals": feishu_connector(), "oa": dingtalk_config()}})
    feishu.subscribe_answer = (500, {"code": 1390001, "msg": "internal error"})
    code, out, err = tb(both)("approvals", "subscribe")
    assert code == 3 and "FAIL approvals" in err and "ok   oa" in out


# --- check ----------------------------------------------------------------------------------


def test_check_reads_the_feishu_definition_and_its_widgets(ws, feishu, tb):
    code, out, err = tb(ws)("check")
    assert code == 0, out + err
    assert (
        f"ok   approvals -> approvals: 审批定义 approval_code {APPROVAL_CODE} 「培训费用扣回审批」 exists"
        in out
    )
    assert "kinds refund" in out
    feishu.form = [w for w in FORM if w["id"] != "widget_amount"]
    code, out, _ = tb(ws)("check")
    assert code == 1 and "FAIL approvals -> approvals" in out and "no widget widget_amount" in out
    feishu.form, feishu.definition_status = FORM, "INACTIVE"
    code, out, _ = tb(ws)("check")
    assert code == 1 and "is INACTIVE" in out


def test_check_reads_the_dingtalk_form_schema(make_workspace, dingtalk, tb):
    oa = make_workspace({"connectors": {"oa": dingtalk_config()}, "approvals": {"kinds": {"refund": "oa"}}})
    code, out, err = tb(oa)("check")
    assert code == 0, out + err
    assert (
        f"ok   approvals -> oa: 审批表单 process_code {PROCESS} 「培训费用审批」 exists, components found"
        in out
    )
    dingtalk.labels = ("员工", "金额")
    code, out, _ = tb(oa)("check")
    assert code == 1 and "no component 事由, 提案编号, 类型, 计算说明, 详情链接" in out


def test_check_without_approval_channels_says_nothing_of_them(make_workspace, tb):
    plain = make_workspace({"connectors": {"payroll": {"type": "jsonl_payroll", "path": "p.jsonl"}}})
    code, out, _ = tb(plain)("check")
    assert code == 0 and "approvals ->" not in out


def test_list_needs_no_connector_secret(make_workspace, tb, monkeypatch):
    monkeypatch.setenv("FEISHU_APP_SECRET", "app-secret-0123456789")
    ws = make_workspace(
        {
            "connectors": {"approvals": feishu_connector(app_secret="${FEISHU_APP_SECRET}")},
            "approvals": {"channel": "feishu_approval"},
        }
    )
    monkeypatch.delenv("FEISHU_APP_SECRET")
    assert tb(ws)("approvals", "list", "--json")[:2] == (0, "[]\n")
    code, _, err = tb(ws)("approvals", "send")
    assert code == 2 and "FEISHU_APP_SECRET" in err
