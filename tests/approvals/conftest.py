"""A Feishu Approval tenant faked with ``responses`` from the documented payloads, and a ledger
holding 李娜's refund proposal (850.00 CNY: 1700 x 50%, the seed's example)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
import responses

from trainbridge.connectors.feishu.crypto import encrypt_event, signature
from trainbridge.core.delivery import proposal_row
from trainbridge.core.jobs import Proposal, Write
from trainbridge.core.records import AdjustmentKind, Employee, PayrollAdjustment
from trainbridge.core.runner import Workspace

BASE = "https://open.feishu.cn"
APPROVAL_CODE = "7C468A54-8745-2245-9675-08B7C63E7A85"
ENCRYPT_KEY = "encrypt-key-xyz"
VERIFY_TOKEN = "verify-token-abc"
HR_OPEN_ID = "ou_hr_zhang"
APPROVER = "ou_7d8a6e6df7621556ce0d21922b676706ccs"
PID = "refund:separations:E001:s1"


@dataclass
class FakeFeishu:
    """Instances by code, as Feishu keeps them; every create, cancel and read is counted."""

    instances: dict[str, dict[str, Any]] = field(default_factory=dict)
    created: list[dict[str, Any]] = field(default_factory=list)
    cancelled: list[dict[str, Any]] = field(default_factory=list)
    subscribed: int = 0
    lose_next_create_answer: bool = False
    cancel_fails: bool = False

    def install(self, mock: responses.RequestsMock) -> None:
        mock.add(
            responses.POST,
            f"{BASE}/open-apis/auth/v3/tenant_access_token/internal",
            json={"code": 0, "msg": "ok", "tenant_access_token": "t-abc", "expire": 7200},
        )
        mock.add_callback(responses.POST, f"{BASE}/open-apis/approval/v4/instances", callback=self._create)
        mock.add_callback(
            responses.POST, f"{BASE}/open-apis/approval/v4/instances/cancel", callback=self._cancel
        )
        mock.add_callback(responses.GET, f"{BASE}/open-apis/approval/v4/instances", callback=self._list)
        mock.add_callback(
            responses.GET, _pattern(r"/open-apis/approval/v4/instances/[^/?]+"), callback=self._get
        )
        mock.add_callback(
            responses.POST,
            _pattern(r"/open-apis/approval/v4/approvals/[^/]+/subscribe"),
            callback=self._subscribe,
        )

    def _create(self, request: Any) -> tuple[int, dict[str, str], str]:
        body = json.loads(request.body)
        if any(i["uuid"] == body["uuid"] for i in self.instances.values()):
            return 200, {}, json.dumps({"code": 60012, "msg": "uuid conflict"})
        code = f"81D31358-93AF-92D6-7425-{len(self.instances) + 1:012d}"
        self.instances[code] = {**body, "instance_code": code, "status": "PENDING", "task_list": []}
        self.created.append(body)
        if self.lose_next_create_answer:
            self.lose_next_create_answer = False
            return 502, {}, "upstream timed out"
        return 200, {}, json.dumps({"code": 0, "msg": "success", "data": {"instance_code": code}})

    def _cancel(self, request: Any) -> tuple[int, dict[str, str], str]:
        if self.cancel_fails:
            return 503, {}, "unavailable"
        body = json.loads(request.body)
        self.cancelled.append(body)
        self.instances[body["instance_code"]]["status"] = "CANCELED"
        return 200, {}, json.dumps({"code": 0, "msg": "success", "data": {}})

    def _list(self, request: Any) -> tuple[int, dict[str, str], str]:
        data = {"instance_code_list": list(self.instances), "has_more": False, "page_token": ""}
        return 200, {}, json.dumps({"code": 0, "msg": "success", "data": data})

    def _get(self, request: Any) -> tuple[int, dict[str, str], str]:
        code = request.path_url.split("?")[0].rsplit("/", 1)[1]
        found = self.instances.get(code)
        if found is None:
            return 400, {}, json.dumps({"code": 1390003, "msg": "instance code not found"})
        return 200, {}, json.dumps({"code": 0, "msg": "success", "data": found})

    def _subscribe(self, request: Any) -> tuple[int, dict[str, str], str]:
        self.subscribed += 1
        return 200, {}, json.dumps({"code": 0, "msg": "success", "data": {}})

    def decide(self, code: str, status: str, *, by: str = APPROVER) -> None:
        """An approver acts in the Feishu app: the instance and its task change."""
        task = "APPROVED" if status == "APPROVED" else "REJECTED"
        self.instances[code]["status"] = status
        self.instances[code]["task_list"] = [
            {
                "id": "7105",
                "open_id": by,
                "user_id": "u1",
                "status": task,
                "node_name": "HR 审批",
                "end_time": "1766000000000",
            }
        ]

    def form_of(self, code: str) -> dict[str, str]:
        return {w["id"]: w["value"] for w in json.loads(self.instances[code]["form"])}


def _pattern(path: str) -> Any:
    import re

    return re.compile(re.escape(BASE) + path + r"(\?.*)?$")


def instance_event(
    code: str,
    status: str,
    *,
    key: str = "",
    event_uuid: str | None = None,
    approval_code: str = APPROVAL_CODE,
) -> dict[str, Any]:
    """The documented ``approval_instance`` event (schema 1.0, event/common-event/approval-instance-event)."""
    return {
        "ts": "1502199207.7171419",
        "uuid": event_uuid or os.urandom(16).hex(),
        "token": VERIFY_TOKEN,
        "type": "event_callback",
        "event": {
            "app_id": "cli_a1b2c3d4e5f6",
            "tenant_key": "2ca1d211f64f6438",
            "type": "approval_instance",
            "approval_code": approval_code,
            "instance_code": code,
            "status": status,
            "operate_time": int(time.time() * 1000),
            "instance_operate_time": str(int(time.time() * 1000)),
            "uuid": key,
        },
    }


def sealed(
    event: dict[str, Any], *, key: str = ENCRYPT_KEY, sign_with: str | None = None, nonce: str = "13a2b4c5"
) -> tuple[dict[str, str], bytes]:
    """Encrypted and signed as Feishu sends it (X-Lark-* headers over the raw body)."""
    body = json.dumps({"encrypt": encrypt_event(key, json.dumps(event).encode(), os.urandom(16))}).encode()
    timestamp = str(int(time.time()))
    return {
        "X-Lark-Request-Timestamp": timestamp,
        "X-Lark-Request-Nonce": nonce,
        "X-Lark-Signature": signature(timestamp, nonce, sign_with or key, body),
        "Content-Type": "application/json",
    }, body


def feishu_connector(**overrides: Any) -> dict[str, Any]:
    return {
        "type": "feishu_approval",
        "app_id": "cli_a1b2c3d4e5f6",
        "app_secret": "app-secret-0123456789",
        "verification_token": VERIFY_TOKEN,
        "encrypt_key": ENCRYPT_KEY,
        "approval_code": APPROVAL_CODE,
        "originator": HR_OPEN_ID,
        "widgets": {
            "employee": "widget_employee",
            "kind": "widget_kind",
            "amount": "widget_amount",
            "reason": "widget_reason",
            "explanation": "widget_explanation",
        },
        **overrides,
    }


@pytest.fixture
def fake_feishu() -> Iterator[FakeFeishu]:
    fake = FakeFeishu()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake.install(mock)
        yield fake


@pytest.fixture
def approvals_ws(make_workspace: Callable[..., Workspace]) -> Workspace:
    ws = make_workspace(
        {
            "connectors": {
                "approvals": feishu_connector(),
                "payroll": {"type": "jsonl_payroll", "path": "out/payroll.jsonl"},
            },
            "approvals": {
                "kinds": {"refund": "feishu_approval"},
                "approvers": {APPROVER: "hr.li"},
                "proposal_url": "https://tb.acme.cn/proposals/{id}",
            },
        }
    )
    add_refund_proposal(ws)
    return ws


def add_refund_proposal(
    ws: Workspace, pid: str = PID, *, amount: str = "850.00", kind: str = "refund"
) -> None:
    """李娜 left after 1 year of a 2-year service period: 1700 x 50% = 850 owed, deducted with consent."""
    now = datetime.now(UTC)
    with ws.ledger.transaction() as conn:
        ws.ledger.upsert_records(
            conn,
            [
                Employee(
                    id="hris:E001", source="hris", employee_id="E001", name="李娜", legal_entity="ACME-SH"
                )
            ],
        )
        ws.ledger.put_decisions(
            conn,
            [
                {
                    "id": "refund_quote:separations:E001:s1",
                    "kind": "refund_quote",
                    "subject": "E001",
                    "job": "separations",
                    "run_id": None,
                    "amount": Decimal(amount),
                    "currency": "CNY",
                    "payload": {
                        "proposal": pid,
                        "explanation_items": [
                            {
                                "rule": "refundable_base",
                                "article": "Implementing Regulations art. 16",
                                "inputs": {"agreement_id": "agr-1"},
                                "amount": "1700.00",
                                "currency": "CNY",
                            },
                            {
                                "rule": "pro_rata",
                                "article": "LCL art. 22",
                                "inputs": {"agreement_id": "agr-1", "fraction": "0.5"},
                                "amount": amount,
                                "currency": "CNY",
                            },
                            {
                                "rule": "total",
                                "article": "",
                                "inputs": {},
                                "amount": amount,
                                "currency": "CNY",
                            },
                        ],
                    },
                    "explanation": ["1700.00 x 12/24 = 850.00"],
                    "created_at": now,
                }
            ],
        )
        adjustment = PayrollAdjustment(
            id=pid,
            employee_id="E001",
            adjustment=AdjustmentKind.DEDUCTION,
            amount=Decimal(amount),
            currency="CNY",
            effective_date=date(2026, 3, 31),
            legal_entity="ACME-SH",
            reason="培训费用返还 training cost refund",
            proposal_id=pid,
        )
        proposal = Proposal(
            id=pid,
            kind=kind,
            subject="E001",
            amount=Decimal(amount),
            currency="CNY",
            summary="deduct 850.00 CNY from 李娜 (E001): training cost refund, left 2026-03-31 (resignation)",
            write=Write("post_adjustment", {"adjustment": adjustment}, instance="payroll"),
            explanation=["Refundable base 1700.00 CNY.", "Owed 1700.00 x 12/24 = 850.00 CNY."],
        )
        ws.ledger.put_proposals(
            conn, [proposal_row(ws, "separations", proposal, status="pending", run_id=None, now=now)]
        )
