"""李娜's 850.00 refund approved in Feishu: sent once, decided once, withdrawn when HR decides elsewhere."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from tests.approvals.conftest import (
    APPROVAL_CODE,
    APPROVER,
    HR_OPEN_ID,
    PID,
    FakeFeishu,
    instance_event,
    sealed,
)
from trainbridge.core.approvals.channel import links_for, sync_approvals
from trainbridge.core.delivery import approve_proposals, reject_proposals
from trainbridge.core.errors import WebhookRejected
from trainbridge.core.ledger import audit_table, outbox_table
from trainbridge.core.runner import Workspace
from trainbridge.core.webhooks import receive_webhook


def proposal(ws: Workspace) -> dict:
    with ws.ledger.transaction() as conn:
        row = ws.ledger.get_proposal(conn, PID)
    assert row is not None
    return row


def audit(ws: Workspace, action: str) -> list[dict]:
    with ws.ledger.transaction() as conn:
        rows = conn.execute(
            sa.select(audit_table).where(
                audit_table.c.tenant == ws.ledger.tenant, audit_table.c.action == action
            )
        ).mappings()
        return [dict(r) for r in rows]


def outbox_rows(ws: Workspace) -> int:
    with ws.ledger.transaction() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count())
                .select_from(outbox_table)
                .where(outbox_table.c.tenant == ws.ledger.tenant, outbox_table.c.proposal_id == PID)
            ).scalar_one()
        )


def sent(ws: Workspace, fake: FakeFeishu) -> str:
    report = sync_approvals(ws)
    assert report.errors == []
    [link] = links_for(ws)
    assert link["status"] == "open"
    return str(link["ref"])


def deliver_event(ws: Workspace, event: dict) -> str:
    headers, body = sealed(event)
    return receive_webhook(ws, "approvals", headers, body).body


def test_a_pending_refund_is_sent_once_with_its_chinese_form(
    approvals_ws: Workspace, fake_feishu: FakeFeishu
):
    code = sent(approvals_ws, fake_feishu)
    sync_approvals(approvals_ws)
    assert len(fake_feishu.created) == 1
    created = fake_feishu.created[0]
    assert created["approval_code"] == APPROVAL_CODE and created["open_id"] == HR_OPEN_ID
    assert created["uuid"] == links_for(approvals_ws)[0]["key"]
    form = fake_feishu.form_of(code)
    assert form["widget_employee"] == "李娜（工号 E001）"
    assert form["widget_amount"] == "¥850.00"
    assert form["widget_kind"].startswith("培训费用扣回")
    explanation = form["widget_explanation"]
    assert "协议 agr-1 可追偿的培训费用 ¥1,700.00（《劳动合同法实施条例》第十六条）" in explanation
    assert "按未服务期比例 0.5 分摊：¥850.00" in explanation
    assert "详情链接：https://tb.acme.cn/proposals/" + PID in explanation  # no widget: in the explanation
    assert [a["subject"] for a in audit(approvals_ws, "approval.sent")] == [PID]


def test_a_send_whose_answer_was_lost_is_found_by_its_uuid_not_sent_twice(
    approvals_ws: Workspace, fake_feishu: FakeFeishu
):
    fake_feishu.lose_next_create_answer = True
    first = sync_approvals(approvals_ws)
    assert first.counts.get("approvals_failed") == 1
    assert links_for(approvals_ws)[0]["status"] == "sending"
    second = sync_approvals(approvals_ws)
    assert second.counts.get("approvals_sent") == 1
    assert len(fake_feishu.created) == 1
    [link] = links_for(approvals_ws)
    assert link["status"] == "open" and link["ref"] == next(iter(fake_feishu.instances))


def test_approved_in_feishu_approves_the_proposal_once_as_the_mapped_account(
    approvals_ws: Workspace, fake_feishu: FakeFeishu
):
    code = sent(approvals_ws, fake_feishu)
    fake_feishu.decide(code, "APPROVED")
    event = instance_event(code, "APPROVED", key=links_for(approvals_ws)[0]["key"])
    assert json.loads(deliver_event(approvals_ws, event)) == {"msg": "success"}
    row = proposal(approvals_ws)
    assert row["status"] in ("approved", "delivered") and row["decided_by"] == "hr.li"
    assert "instance " + code in row["decision_reason"]
    assert outbox_rows(approvals_ws) == 1
    [who] = audit(approvals_ws, "approval.approver")
    assert who["actor"] == "hr.li" and who["detail"]["approvers"] == [f"feishu:{APPROVER}"]
    deliver_event(approvals_ws, event)  # Feishu retries the same event
    assert outbox_rows(approvals_ws) == 1
    assert len(audit(approvals_ws, "proposal.approved")) == 1
    assert links_for(approvals_ws)[0]["status"] == "approved"
    assert fake_feishu.cancelled == []  # its own verdict withdraws nothing


def test_an_approver_without_a_console_account_is_recorded_by_open_id(
    approvals_ws: Workspace, fake_feishu: FakeFeishu
):
    code = sent(approvals_ws, fake_feishu)
    fake_feishu.decide(code, "REJECTED", by="ou_unmapped")
    deliver_event(approvals_ws, instance_event(code, "REJECTED"))
    row = proposal(approvals_ws)
    assert row["status"] == "rejected" and row["decided_by"] == "feishu:ou_unmapped"
    assert outbox_rows(approvals_ws) == 0


def test_a_forged_event_is_refused_and_changes_nothing(approvals_ws: Workspace, fake_feishu: FakeFeishu):
    code = sent(approvals_ws, fake_feishu)
    fake_feishu.decide(code, "APPROVED")
    headers, body = sealed(instance_event(code, "APPROVED"), sign_with="not-the-encrypt-key")
    with pytest.raises(WebhookRejected):
        receive_webhook(approvals_ws, "approvals", headers, body)
    assert proposal(approvals_ws)["status"] == "pending"


def test_a_forged_event_gets_a_4xx_from_the_webhook_server(approvals_ws: Workspace, fake_feishu: FakeFeishu):
    starlette = pytest.importorskip("starlette.testclient")
    from trainbridge.web import create_app

    code = sent(approvals_ws, fake_feishu)
    headers, body = sealed(instance_event(code, "APPROVED"), sign_with="not-the-encrypt-key")
    with starlette.TestClient(create_app(approvals_ws)) as client:
        answer = client.post("/webhooks/approvals", content=body, headers=headers)
    assert 400 <= answer.status_code < 500
    assert proposal(approvals_ws)["status"] == "pending"


def test_an_instance_no_proposal_was_sent_as_is_audited_not_applied(
    approvals_ws: Workspace, fake_feishu: FakeFeishu
):
    sent(approvals_ws, fake_feishu)
    fake_feishu.instances["FOREIGN-1"] = {"instance_code": "FOREIGN-1", "status": "APPROVED", "task_list": []}
    assert json.loads(deliver_event(approvals_ws, instance_event("FOREIGN-1", "APPROVED"))) == {
        "msg": "success"
    }
    [unknown] = audit(approvals_ws, "approval.unknown_instance")
    assert unknown["subject"] == "approvals:FOREIGN-1"
    assert proposal(approvals_ws)["status"] == "pending"


def test_a_proposal_superseded_meanwhile_is_not_approved_by_a_late_event(
    approvals_ws: Workspace, fake_feishu: FakeFeishu
):
    code = sent(approvals_ws, fake_feishu)
    with approvals_ws.ledger.transaction() as conn:  # what the separations job does to a stale quote
        approvals_ws.ledger.decide_proposal(
            conn,
            PID,
            status="rejected",
            actor="job:separations",
            reason="superseded by refund:separations:E001:s2",
        )
    fake_feishu.decide(code, "APPROVED")
    deliver_event(approvals_ws, instance_event(code, "APPROVED"))
    row = proposal(approvals_ws)
    assert row["status"] == "rejected" and row["decided_by"] == "job:separations"
    assert outbox_rows(approvals_ws) == 0
    [ignored] = audit(approvals_ws, "approval.outcome_ignored")
    assert "superseded by refund:separations:E001:s2" in ignored["detail"]["why"]
    assert links_for(approvals_ws)[0]["status"] == "ignored"


def test_approve_then_reject_keeps_the_first_verdict(approvals_ws: Workspace, fake_feishu: FakeFeishu):
    code = sent(approvals_ws, fake_feishu)
    fake_feishu.decide(code, "APPROVED")
    deliver_event(approvals_ws, instance_event(code, "APPROVED"))
    fake_feishu.decide(code, "REJECTED")
    deliver_event(approvals_ws, instance_event(code, "REJECTED"))
    assert proposal(approvals_ws)["status"] in ("approved", "delivered")
    assert outbox_rows(approvals_ws) == 1
    [ignored] = audit(approvals_ws, "approval.outcome_ignored")
    assert "already approved" in ignored["detail"]["why"]


def test_rejected_in_the_console_withdraws_the_feishu_instance(
    approvals_ws: Workspace, fake_feishu: FakeFeishu
):
    code = sent(approvals_ws, fake_feishu)
    assert reject_proposals(approvals_ws, [PID], actor="hr.wang", reason="wrong period") == {PID: "rejected"}
    assert [c["instance_code"] for c in fake_feishu.cancelled] == [code]
    assert fake_feishu.cancelled[0]["user_id"] == HR_OPEN_ID
    assert links_for(approvals_ws)[0]["status"] == "withdrawn"
    [withdrawn] = audit(approvals_ws, "approval.withdrawn")
    assert "hr.wang" in withdrawn["detail"]["reason"]
    deliver_event(approvals_ws, instance_event(code, "CANCELED"))  # Feishu's echo of our cancel
    assert links_for(approvals_ws)[0]["status"] == "withdrawn"
    assert proposal(approvals_ws)["status"] == "rejected"


def test_a_withdrawal_feishu_could_not_take_is_retried_by_the_next_sync(
    approvals_ws: Workspace, fake_feishu: FakeFeishu
):
    code = sent(approvals_ws, fake_feishu)
    fake_feishu.cancel_fails = True
    approve_proposals(approvals_ws, [PID], actor="hr.wang", deliver_now=False)
    assert links_for(approvals_ws)[0]["status"] == "open"
    fake_feishu.cancel_fails = False
    report = sync_approvals(approvals_ws)
    assert report.counts.get("approvals_withdrawn") == 1
    assert [c["instance_code"] for c in fake_feishu.cancelled] == [code]
    assert report.counts.get("approvals_sent") is None


def test_cancelled_in_feishu_leaves_the_proposal_to_the_console(
    approvals_ws: Workspace, fake_feishu: FakeFeishu
):
    code = sent(approvals_ws, fake_feishu)
    fake_feishu.instances[code]["status"] = "CANCELED"
    deliver_event(approvals_ws, instance_event(code, "CANCELED"))
    assert proposal(approvals_ws)["status"] == "pending"
    assert links_for(approvals_ws)[0]["status"] == "closed"
    assert len(audit(approvals_ws, "approval.closed_at_vendor")) == 1
    sync_approvals(approvals_ws)
    assert len(fake_feishu.created) == 1  # not sent again: HR decides in the console now


def test_the_demo_approves_one_proposal_through_a_faked_feishu_by_its_event(tmp_path):
    from datetime import date

    from trainbridge.core.config import load_settings
    from trainbridge.core.demo import run_demo

    lines: list[str] = []
    assert run_demo(tmp_path / "demo", today=date(2026, 11, 23), echo=lines.append) == 0
    text = "\n".join(lines)
    assert "sent repayment:hr:S-E007 to Feishu Approval as DEMO-INSTANCE-1 (金额 ¥1,062.50)" in text
    assert "recorded as hr.li (the name [approvals.approvers] maps" in text
    assert "repayment:hr:S-E007 is delivered" in text
    ws = Workspace(load_settings(tmp_path / "demo" / "plugins.toml"))
    try:
        with ws.ledger.transaction() as conn:
            assert ws.ledger.get_proposal(conn, "refund:hr:S-E003")["status"] == "pending"  # type: ignore[index]
            assert ws.ledger.get_proposal(conn, "repayment:hr:S-E007")["decided_by"] == "hr.li"  # type: ignore[index]
        [who] = audit(ws, "approval.approver")
        # stored as the vendor gave it: no masking of "demo" inside the ids (review item 10)
        assert who["actor"] == "hr.li" and who["detail"]["approvers"] == ["feishu:ou_demo_hr_li"]
        assert "***" not in json.dumps([row["detail"] for row in audit(ws, "approval.approved_at_vendor")])
    finally:
        ws.close()


def test_the_hooks_called_directly_open_and_withdraw_one_instance(
    approvals_ws: Workspace, fake_feishu: FakeFeishu
):
    from trainbridge.core.approvals.models import ApprovalRequest, ApprovalTicket, FormField

    connector = approvals_ws.host.instances["approvals"]
    request = ApprovalRequest(
        proposal_id=PID,
        kind="refund",
        key="0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
        title="培训费用扣回：李娜 ¥850.00",
        fields=(FormField(key="explanation", label="计算说明", value="1700.00 x 50%"),),
    )
    ticket = connector.send_for_approval(request=request, idempotency_key=request.key)
    again = connector.send_for_approval(
        request=request.model_copy(update={"resend": True}), idempotency_key=request.key
    )
    assert again.ref == ticket.ref and len(fake_feishu.created) == 1
    assert connector.withdraw_approval(ticket=ticket, reason="decided in the console").status == "withdrawn"
    closed = connector.withdraw_approval(ticket=ApprovalTicket(ref=ticket.ref), reason="again")
    assert closed.status == "withdrawn" and "already CANCELED" in closed.detail
    assert len(fake_feishu.cancelled) == 1
