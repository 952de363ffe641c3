"""The demo's approval step: one proposal through a Feishu Approval faked on 127.0.0.1.

A small in-process server answers the four Feishu calls the channel makes (token, create,
read, list) from the documented shapes; the demo then sends 赵敏's repayment request,
"approves" it as a Feishu approver would, and hands the encrypted, signed
``approval_instance`` event to the webhook intake, which approves the proposal through the
console's path (outbox, payroll delivery, audit). Nothing leaves the machine.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from trainbridge.connectors.feishu.crypto import encrypt_event, signature
from trainbridge.core.approvals.channel import links_for, send_pending
from trainbridge.core.approvals.routing import ApprovalRouting
from trainbridge.core.webhooks import receive_webhook
from trainbridge.core.workspace import Workspace

INSTANCE = "feishu_demo"
APPROVAL_CODE = "DEMO-7C468A54-8745-2245-9675"
APPROVER = "ou_demo_hr_li"
#: Fake credentials, long and random like real ones (made afresh each run): a short word such as
#: "demo" would be a registered secret that the log and error masking looks for.
APP_SECRET, KEY, TOKEN, ACCESS_TOKEN = (f"fake-{os.urandom(16).hex()}" for _ in range(4))


class _FakeFeishu(BaseHTTPRequestHandler):
    instances: dict[str, dict[str, Any]] = {}  # noqa: RUF012 (one fresh dict per server, see fake_feishu)

    def log_message(self, *args: Any) -> None:  # quiet: the demo prints its own lines
        return

    def _answer(self, data: dict[str, Any], **extra: Any) -> None:
        body = json.dumps({"code": 0, "msg": "success", "data": data, **extra}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        path = urlsplit(self.path).path
        if path.endswith("/tenant_access_token/internal"):
            body = json.dumps(
                {"code": 0, "msg": "ok", "tenant_access_token": ACCESS_TOKEN, "expire": 7200}
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        code = f"DEMO-INSTANCE-{len(self.instances) + 1}"
        self.instances[code] = {**body, "instance_code": code, "status": "PENDING", "task_list": []}
        self._answer({"instance_code": code})

    def do_GET(self) -> None:
        code = urlsplit(self.path).path.rsplit("/", 1)[1]
        if code == "instances":
            self._answer({"instance_code_list": list(self.instances), "has_more": False})
        else:
            self._answer(self.instances.get(code, {}))


@contextmanager
def fake_feishu() -> Iterator[tuple[str, dict[str, dict[str, Any]]]]:
    handler: type[_FakeFeishu] = type("FakeFeishu", (_FakeFeishu,), {"instances": {}})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="fake-feishu", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler.instances
    finally:
        server.shutdown()
        server.server_close()


def approve_one_in_feishu(ws: Workspace, kind: str, echo: Callable[[str], None]) -> str | None:
    """Route the pending proposals of ``kind`` through the faked Feishu; approve the first by its event."""
    with fake_feishu() as (base_url, instances):
        connector = {
            "type": "feishu_approval",
            "base_url": base_url,
            "app_id": "cli_demo",
            "app_secret": APP_SECRET,
            "encrypt_key": KEY,
            "verification_token": TOKEN,
            "approval_code": APPROVAL_CODE,
            "originator": "ou_demo_hr_zhang",
            "widgets": {"amount": "widget_amount", "explanation": "widget_explanation"},
        }
        settings = dataclasses.replace(
            ws.settings,
            connectors={**ws.settings.connectors, INSTANCE: connector},
            approval_routing=ApprovalRouting(kinds={kind: INSTANCE}, approvers={APPROVER: "hr.li"}),
        )
        routed = Workspace(settings, ledger=ws.ledger)
        report = send_pending(routed)
        for error in report.errors:
            echo(f"  ! {error}")
        link = next((row for row in links_for(routed) if row["instance"] == INSTANCE and row["ref"]), None)
        if link is None:
            return None
        form = {w["id"]: w["value"] for w in json.loads(instances[link["ref"]]["form"])}
        echo(
            f"  sent {link['proposal_id']} to Feishu Approval as {link['ref']} (金额 {form['widget_amount']})"
        )
        instances[link["ref"]].update(
            status="APPROVED",
            task_list=[{"open_id": APPROVER, "status": "APPROVED", "end_time": str(int(time.time() * 1000))}],
        )
        headers, body = _signed_event(link["ref"], link["key"])
        receive_webhook(routed, INSTANCE, headers, body)
        with ws.ledger.transaction() as conn:
            proposal = ws.ledger.get_proposal(conn, link["proposal_id"])
        assert proposal is not None
        echo(
            f"  approved in Feishu by {APPROVER}, recorded as {proposal['decided_by']} "
            f"(the name [approvals.approvers] maps that Feishu user to; no console login is made for it): "
            f"{link['proposal_id']} is {proposal['status']}"
        )
        return str(link["proposal_id"])


def _signed_event(code: str, key: str) -> tuple[dict[str, str], bytes]:
    event = {
        "uuid": os.urandom(16).hex(),
        "token": TOKEN,
        "ts": f"{time.time():.3f}",
        "type": "event_callback",
        "event": {
            "type": "approval_instance",
            "approval_code": APPROVAL_CODE,
            "instance_code": code,
            "status": "APPROVED",
            "operate_time": int(time.time() * 1000),
            "uuid": key,
        },
    }
    body = json.dumps({"encrypt": encrypt_event(KEY, json.dumps(event).encode(), os.urandom(16))}).encode()
    stamp, nonce = str(int(time.time())), os.urandom(4).hex()
    return {
        "X-Lark-Request-Timestamp": stamp,
        "X-Lark-Request-Nonce": nonce,
        "X-Lark-Signature": signature(stamp, nonce, KEY, body),
    }, body
