"""李娜's refund approved in DingTalk OA: the documented calls and the bpms_instance_change callback."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
import responses

from tests.approvals.conftest import PID, add_refund_proposal
from trainbridge.connectors.dingtalk_hrm.connector import QUERY_HEADER
from trainbridge.connectors.dingtalk_hrm.crypto import CallbackCrypto, new_encoding_aes_key
from trainbridge.core.approvals.channel import links_for, sync_approvals
from trainbridge.core.delivery import reject_proposals
from trainbridge.core.errors import WebhookRejected
from trainbridge.core.runner import Workspace
from trainbridge.core.webhooks import receive_webhook

API = "https://api.dingtalk.com"
APP_KEY = "dingabcdefg123456"
TOKEN = "callback-token"
AES_KEY = new_encoding_aes_key()
PROCESS = "PROC-FF6Y4BE1N2-B3OQZGC9RLR4SY1MTNLQ-A1B2C3D4-1"


class FakeDingTalk:
    def __init__(self) -> None:
        self.instances: dict[str, dict[str, Any]] = {}
        self.started: list[dict[str, Any]] = []
        self.terminated: list[dict[str, Any]] = []

    def install(self, mock: responses.RequestsMock) -> None:
        mock.add(
            responses.POST, f"{API}/v1.0/oauth2/accessToken", json={"accessToken": "at-1", "expireIn": 7200}
        )
        mock.add_callback(responses.POST, f"{API}/v1.0/workflow/processInstances", callback=self._start)
        mock.add_callback(responses.GET, f"{API}/v1.0/workflow/processInstances", callback=self._get)
        mock.add_callback(
            responses.POST, f"{API}/v1.0/workflow/processInstances/terminate", callback=self._end
        )

    def _start(self, request: Any) -> tuple[int, dict[str, str], str]:
        assert request.headers["x-acs-dingtalk-access-token"] == "at-1"
        body = json.loads(request.body)
        ref = f"a1b2c3-{len(self.instances) + 1}"
        self.instances[ref] = {**body, "status": "RUNNING", "operationRecords": []}
        self.started.append(body)
        return 200, {}, json.dumps({"instanceId": ref})

    def _get(self, request: Any) -> tuple[int, dict[str, str], str]:
        ref = request.params["processInstanceId"]
        return 200, {}, json.dumps({"success": True, "result": self.instances[ref]})

    def _end(self, request: Any) -> tuple[int, dict[str, str], str]:
        body = json.loads(request.body)
        self.terminated.append(body)
        self.instances[body["processInstanceId"]]["status"] = "TERMINATED"
        return 200, {}, json.dumps({"success": True, "result": True})

    def agree(self, ref: str, user: str = "manager0912") -> None:
        self.instances[ref].update(
            status="COMPLETED",
            result="agree",
            operationRecords=[
                {"userId": "hr01", "type": "START_PROCESS_INSTANCE", "result": "NONE"},
                {"userId": user, "type": "EXECUTE_TASK_NORMAL", "result": "AGREE", "remark": "同意"},
            ],
        )


@pytest.fixture
def fake_dingtalk() -> Iterator[FakeDingTalk]:
    fake = FakeDingTalk()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake.install(mock)
        yield fake


@pytest.fixture
def dingtalk_ws(make_workspace: Callable[..., Workspace]) -> Workspace:
    ws = make_workspace(
        {
            "connectors": {
                "oa": {
                    "type": "dingtalk_approval",
                    "app_key": APP_KEY,
                    "app_secret": "s3cret",
                    "process_code": PROCESS,
                    "originator": "hr01",
                    "callback_token": TOKEN,
                    "callback_aes_key": AES_KEY,
                },
                "payroll": {"type": "jsonl_payroll", "path": "out/payroll.jsonl"},
            },
            "approvals": {"channel": "dingtalk_approval", "approvers": {"manager0912": "hr.li"}},
        }
    )
    add_refund_proposal(ws)
    return ws


def callback(event: dict[str, Any], *, token: str = TOKEN) -> tuple[dict[str, str], bytes]:
    """Encrypted and signed as DingTalk sends it (msg_signature, timestamp, nonce in the URL)."""
    crypto = CallbackCrypto(token, AES_KEY, APP_KEY)
    encrypt = crypto.encrypt(json.dumps(event))
    stamp, nonce = str(int(time.time() * 1000)), "nonce123"
    query = {"msg_signature": crypto.signature(stamp, nonce, encrypt), "timestamp": stamp, "nonce": nonce}
    return {QUERY_HEADER: urlencode(query)}, json.dumps({"encrypt": encrypt}).encode()


def finished(ref: str, result: str = "agree") -> dict[str, Any]:
    """The documented bpms_instance_change body of a finished instance."""
    return {
        "EventType": "bpms_instance_change",
        "processInstanceId": ref,
        "corpId": "ding123",
        "createTime": 1766000000000,
        "finishTime": 1766000900000,
        "title": "培训费用扣回",
        "type": "finish",
        "staffId": "hr01",
        "result": result,
        "processCode": PROCESS,
        "businessId": "202603310001",
        "eventId": f"evt-{ref}-{result}",
    }


def test_sent_once_with_named_components_and_approved_by_the_callback(
    dingtalk_ws: Workspace, fake_dingtalk: FakeDingTalk
):
    sync_approvals(dingtalk_ws)
    sync_approvals(dingtalk_ws)
    [started] = fake_dingtalk.started
    assert started["processCode"] == PROCESS and started["originatorUserId"] == "hr01"
    values = {v["name"]: v["value"] for v in started["formComponentValues"]}
    assert values["金额"] == "¥850.00" and values["提案编号"] == PID
    [link] = links_for(dingtalk_ws)
    fake_dingtalk.agree(link["ref"])
    headers, body = callback(finished(link["ref"]))
    receive_webhook(dingtalk_ws, "oa", headers, body)
    receive_webhook(dingtalk_ws, "oa", headers, body)  # redelivered
    with dingtalk_ws.ledger.transaction() as conn:
        row = dingtalk_ws.ledger.get_proposal(conn, PID)
    assert row is not None and row["status"] in ("approved", "delivered") and row["decided_by"] == "hr.li"
    assert links_for(dingtalk_ws)[0]["status"] == "approved"


def test_a_callback_signed_with_another_token_is_refused(dingtalk_ws: Workspace, fake_dingtalk: FakeDingTalk):
    sync_approvals(dingtalk_ws)
    headers, body = callback(finished(links_for(dingtalk_ws)[0]["ref"]), token="forged")
    with pytest.raises(WebhookRejected):
        receive_webhook(dingtalk_ws, "oa", headers, body)
    with dingtalk_ws.ledger.transaction() as conn:
        assert dingtalk_ws.ledger.get_proposal(conn, PID)["status"] == "pending"  # type: ignore[index]


def test_rejected_in_the_console_terminates_the_dingtalk_instance(
    dingtalk_ws: Workspace, fake_dingtalk: FakeDingTalk
):
    sync_approvals(dingtalk_ws)
    ref = links_for(dingtalk_ws)[0]["ref"]
    reject_proposals(dingtalk_ws, [PID], actor="hr.wang", reason="重复")
    assert [t["processInstanceId"] for t in fake_dingtalk.terminated] == [ref]
    assert fake_dingtalk.terminated[0]["operatingUserId"] == "hr01"
    assert links_for(dingtalk_ws)[0]["status"] == "withdrawn"
