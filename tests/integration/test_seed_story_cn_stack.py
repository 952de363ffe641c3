"""Issue 11: the seed story with Feishu People, 法大大 and e签宝 evidence (all faked).

Feishu People (飞书人事) is the people source and reports 李娜's offboarding; 法大大 FASC 5.1
signs the training agreements (send, the employee signs, the finished task is downloaded);
e签宝's scene-based evidence service (场景式存证) keeps each signed agreement's SHA-256. The
catalog and the costs come from the built-in file connectors. Every vendor answers with
payloads copied from the connectors' own fixtures, which follow the vendors' official docs
and SDKs (cited in tests/connectors/{feishu,fadada,esign_cn}/conftest.py and their tests).

The story runs over three syncs, as it would in a company: at training time the agreements
go out; the next day the employees have signed in 法大大, so they are downloaded and
deposited; a year later HR approves 李娜's resignation in Feishu and her refund is quoted.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import io
import json
import re
import zipfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from tests.connectors.esign_cn.conftest import fixture_json as esign_json
from tests.connectors.fadada.conftest import APP_ID, APP_SECRET, OPEN_CORP_ID, UAT
from tests.connectors.fadada.conftest import fixture_json as fadada_json
from tests.connectors.feishu.conftest import BASE as FEISHU
from tests.connectors.feishu.conftest import TOKEN as FEISHU_TOKEN
from tests.connectors.feishu.conftest import payload as feishu_json
from tests.integration.conftest import (
    LAST_DAY,
    LEAVER,
    SEED_DAY,
    TRAINEES,
    agreements_job,
    write_catalog,
    write_costs,
)
from trainbridge.core.runner import sync

FEISHU_SECRET = "app-secret-0123456789"
EVIDENCE = "https://smlcunzheng.tsign.cn:9443/evi-service/evidence/v1"
EVIDENCE_PROJECT = "1111563517"
EVIDENCE_SECRET = "95439b0863c241c63a861b87d1e647b7"
SCENE_TEMPLATE = "64b9c14c-a7fd-4141-93b6-d62a238b8fb2"
SEGMENT_TEMPLATE = "fbdd2d5c-4c43-4d33-9c8f-b3b87a1c2e3d"
# Feishu's CoreHR employment ids; the fixtures' E001-E003 keep theirs (李娜 is ...137).
EMPLOYMENT = {eid: str(6893014062142064134 + n) for n, (eid, _) in enumerate(TRAINEES, start=1)}
OFFBOARDING = "7298499290417251879"


def biz(request: Any) -> dict[str, Any]:
    return json.loads(parse_qs(request.body)["bizContent"][0])


class FakeFeishu:
    """A Feishu tenant: the ten trainees on two pages, and (once HR approves it) 李娜's offboarding."""

    def __init__(self, mock: responses.RequestsMock) -> None:
        template = feishu_json("employees_page1")["data"]["items"][0]
        self.people = []
        for eid, name in TRAINEES:
            item = copy.deepcopy(template)
            item.update(employment_id=EMPLOYMENT[eid], employee_number=eid, effective_date="2022-11-10",
                        probation_end_date="2023-02-10", email_address=f"{eid.lower()}@acme.example",
                        work_email_list=[{**template["work_email_list"][0],
                                          "email": f"{eid.lower()}@acme.example"}])
            item["person_info"] = {**template["person_info"], "legal_name": name, "preferred_name": name,
                                   "preferred_local_full_name": name}
            self.people.append(item)
        self.offboardings: list[dict[str, Any]] = []
        self.calls: list[tuple[str, dict[str, str], Any, dict[str, str]]] = []
        mock.add_callback(responses.POST, re.compile(f"{FEISHU}/open-apis/.*"), callback=self._handle)

    def approve_resignation(self) -> None:
        """HR approves 李娜's resignation: the fixture's offboarding, on her last day."""
        offboarding = copy.deepcopy(feishu_json("offboardings")["data"]["items"][0])
        offboarding["offboarding_info"].update(offboarding_date=LAST_DAY.isoformat(),
                                               expected_offboarding_date=LAST_DAY.isoformat())
        self.offboardings = [offboarding]
        leaver = next(p for p in self.people if p["employee_number"] == LEAVER)
        leaver["employment_status"] = feishu_json("employees_page2")["data"]["items"][0]["employment_status"]

    def _handle(self, request: Any) -> tuple[int, dict[str, str], str]:
        url = urlsplit(request.url)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        body: Any = json.loads(request.body) if request.body else None
        self.calls.append((url.path, query, body, dict(request.headers)))
        if url.path == "/open-apis/auth/v3/tenant_access_token/internal":
            return self._json(feishu_json("token"))
        if request.headers.get("Authorization") != f"Bearer {FEISHU_TOKEN}":
            return 400, {}, json.dumps({"code": 99991663, "msg": "Invalid access token for authorization."})
        if url.path == "/open-apis/corehr/v2/employees/search":
            # Two pages, shaped like the fixture's: page_token and has_more on the first.
            first = "page_token" not in query
            answer = feishu_json("employees_page1" if first else "employees_page2")
            answer["data"]["items"] = self.people[:6] if first else self.people[6:]
            return self._json(answer)
        if url.path == "/open-apis/corehr/v2/employees/job_datas/batch_get":
            answer = feishu_json("job_datas")
            answer["data"]["items"] = [i for i in answer["data"]["items"]
                                       if i["employment_id"] in body["employment_ids"]]
            return self._json(answer)
        if url.path == "/open-apis/corehr/v1/offboardings/search":
            answer = feishu_json("offboardings")
            answer["data"]["items"] = [o for o in self.offboardings if o["status"] in body["statuses"]]
            return self._json(answer)
        if url.path == "/open-apis/corehr/v1/offboardings/query":
            return self._json(feishu_json("offboarding_reasons"))
        return 404, {}, json.dumps({"code": 1254000, "msg": "not found"})

    @staticmethod
    def _json(body: Any) -> tuple[int, dict[str, str], str]:
        return 200, {"Content-Type": "application/json"}, json.dumps(body, ensure_ascii=False)


class FakeFadada:
    """法大大: sign tasks that the employees sign when the test says so; the owner download is a zip."""

    UPLOAD = fadada_json("get_upload_url.json")["data"]["uploadUrl"]

    def __init__(self, mock: responses.RequestsMock) -> None:
        self.tasks: dict[str, dict[str, Any]] = {}
        self.uploads: list[bytes] = []
        self.signed = False
        self.calls: list[tuple[str, Any, dict[str, str]]] = []
        mock.add_callback(responses.POST, re.compile(f"{re.escape(UAT)}/.*"), callback=self._handle)
        mock.add_callback(responses.PUT, self.UPLOAD, callback=self._upload)
        mock.add_callback(responses.GET, re.compile(r"https://doc-test-os1\.fadada\.com/download/.*"),
                          callback=self._download)

    def employees_sign(self) -> None:
        self.signed = True

    def _upload(self, request: Any) -> tuple[int, dict[str, str], str]:
        self.uploads.append(request.body)
        return 200, {}, ""

    def _handle(self, request: Any) -> tuple[int, dict[str, str], str]:
        path = request.url.removeprefix(UAT)
        content: Any = biz(request) if request.body else None
        self.calls.append((path, content, dict(request.headers)))
        if path == "/service/get-access-token":
            return self._json(fadada_json("access_token.json"))
        if path == "/file/get-upload-url":
            return self._json(fadada_json("get_upload_url.json"))
        if path == "/file/process":
            answer = fadada_json("file_process.json")
            answer["data"]["fileIdList"][0]["fileId"] = str(18438605689 + len(self.uploads))
            return self._json(answer)
        if path == "/sign-task/create":
            task = str(1656657193146145802 + len(self.tasks))
            self.tasks[task] = {"create": content, "document": self.uploads[-1]}
            answer = fadada_json("sign_task_create.json")
            answer["data"]["signTaskId"] = task
            return self._json(answer)
        if path == "/sign-task/start":
            return self._json(fadada_json("sign_task_start.json"))
        if path == "/sign-task/app/get-detail":
            return self._json(self._detail(content["signTaskId"]))
        if path == "/sign-task/owner/get-download-url":
            answer = fadada_json("owner_download_url.json")
            answer["data"]["downloadUrl"] = answer["data"]["downloadUrl"].replace(
                "1656657193146145802", content["signTaskId"])
            return self._json(answer)
        return 404, {}, ""

    def _detail(self, task_id: str) -> dict[str, Any]:
        created = self.tasks[task_id]["create"]
        answer = fadada_json("sign_task_detail_finished.json" if self.signed
                             else "sign_task_detail_progress.json")
        data = answer["data"]
        data.update(signTaskId=task_id, transReferenceId=created["transReferenceId"])
        actor = data["actors"][0]["actorInfo"]
        sent = created["actors"][0]["actor"]
        actor.update(actorName=sent["actorName"], identNameForMatch=sent["actorName"],
                     notification=sent["notification"])
        return answer

    def _download(self, request: Any) -> tuple[int, dict[str, str], str]:
        task_id = urlsplit(request.url).path.rsplit("/", 1)[1].removesuffix(".zip")
        signed = self.tasks[task_id]["document"] + f"\n% signed in 法大大 task {task_id}\n".encode()
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as zipped:
            zipped.writestr("training-agreement.pdf", signed)
        return 200, {"Content-Type": "application/zip"}, archive.getvalue()  # type: ignore[return-value]

    @staticmethod
    def _json(body: Any) -> tuple[int, dict[str, str], str]:
        return 200, {"Content-Type": "application/json"}, json.dumps(body, ensure_ascii=False)


class FakeEvidence:
    """e签宝 scene-based evidence: a voucher (C...) and a digest point (H...) per deposit."""

    def __init__(self, mock: responses.RequestsMock) -> None:
        self.calls: list[tuple[str, bytes, dict[str, str]]] = []
        mock.add_callback(responses.POST, re.compile(f"{re.escape(EVIDENCE)}/.*"), callback=self._handle)

    def bodies(self, path: str) -> list[dict[str, Any]]:
        return [json.loads(body) for p, body, _ in self.calls if p == path]

    def _handle(self, request: Any) -> tuple[int, dict[str, str], str]:
        path = request.url.removeprefix(EVIDENCE)
        self.calls.append((path, request.body, dict(request.headers)))
        serial = len(self.calls)
        if path == "/sp/scene/voucher":
            answer = {**esign_json("evidence_voucher.json"), "evid": f"C12941607262560{serial:05d}"}
        elif path == "/sp/segment/abstract/url":
            answer = {**esign_json("evidence_abstract_point.json"), "evid": f"H12941607263147{serial:05d}"}
        elif path == "/sp/scene/append":
            answer = esign_json("evidence_append.json")
        else:
            return 404, {}, ""
        return 200, {"Content-Type": "application/json"}, json.dumps(answer, ensure_ascii=False)


@pytest.fixture
def vendors() -> Iterator[tuple[FakeFeishu, FakeFadada, FakeEvidence]]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield FakeFeishu(mock), FakeFadada(mock), FakeEvidence(mock)


@pytest.fixture
def cn_stack(make_workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FEISHU_APP_SECRET", FEISHU_SECRET)
    monkeypatch.setenv("FADADA_APP_SECRET", APP_SECRET)
    monkeypatch.setenv("ESIGN_EVI_PROJECT_SECRET", EVIDENCE_SECRET)
    fast = {"backoff_base": 0, "backoff_max": 0, "max_attempts": 2}
    return make_workspace({
        "connectors": {
            "feishu_hr": {"type": "feishu_people", "app_id": "cli_a1b2c3d4e5f6",
                          "app_secret": "${FEISHU_APP_SECRET}", "http": fast},
            "lms": {"type": "file_learning", "catalog": write_catalog(tmp_path, EMPLOYMENT)},
            "finance": {"type": "csv_costs",
                        "path": write_costs(tmp_path, "CNY", course_fees=True, ids=EMPLOYMENT)},
            "fadada": {"type": "fadada", "app_id": APP_ID, "app_secret": "${FADADA_APP_SECRET}",
                       "base_url": UAT, "open_corp_id": OPEN_CORP_ID, "http": fast},
            "esign_evidence": {"type": "esign_cn_evidence", "project_id": EVIDENCE_PROJECT,
                               "project_secret": "${ESIGN_EVI_PROJECT_SECRET}",
                               "base_url": "https://smlcunzheng.tsign.cn:9443",
                               "scene_template_id": SCENE_TEMPLATE, "segment_template_id": SEGMENT_TEMPLATE,
                               "segment_fields": {"agreementNo": "agreement_id", "employeeId": "employee_id"},
                               "http": fast},
            "notices": {"type": "file_notifier", "path": "out/notices.jsonl"},
        },
        "jobs": {"agreements": agreements_job("CNY")},
    })


def records(ws, kind: str) -> list[Any]:
    with ws.ledger.transaction() as conn:
        return list(ws.ledger.iter_records(conn, kind))


def run(ws) -> dict[str, Any]:
    results = {r.job: r for r in sync(ws, today=SEED_DAY)}
    assert {r.status for r in results.values()} == {"ok"}, \
        {job: r.errors for job, r in results.items() if r.errors}
    return results


def test_seed_story_with_feishu_people_fadada_and_esign_evidence(cn_stack, vendors):
    feishu, fadada, evidence = vendors
    ws = cn_stack
    leaver_id = EMPLOYMENT[LEAVER]
    agreement_id = "agreement:lms:FIRE-CTRL-1-E003"

    # 1. The agreements go out through 法大大; nobody has signed yet, nobody has left.
    run(ws)
    assert len(records(ws, "employee")) == 10 and records(ws, "separation") == []
    assert {a.status for a in records(ws, "agreement")} == {"sent"}
    assert len(fadada.tasks) == 10 and evidence.calls == []
    [create] = [t["create"] for t in fadada.tasks.values() if t["create"]["transReferenceId"] == agreement_id]
    assert create["initiator"] == {"idType": "corp", "openId": OPEN_CORP_ID}
    assert create["actors"][0]["actor"]["actorName"] == "李娜"
    assert create["actors"][0]["actor"]["notification"] == {
        "sendNotification": True, "notifyWay": "email", "notifyAddress": "e003@acme.example"}
    assert all(upload.startswith(b"%PDF") for upload in fadada.uploads)

    # 2. The employees sign in 法大大: the finished tasks are downloaded and deposited with e签宝.
    fadada.employees_sign()
    run(ws)
    agreements = {a.id: a for a in records(ws, "agreement")}
    assert {a.status for a in agreements.values()} == {"signed"}
    signed = agreements[agreement_id]
    kept = next((ws.settings.base_dir / "documents").glob("**/signed-*.pdf"))
    assert kept.read_bytes().startswith(b"%PDF")
    receipts = {r.agreement_id: r for r in records(ws, "evidence_receipt")}
    assert set(receipts) == set(agreements)
    assert receipts[agreement_id].provider == "esign_cn_evidence"
    assert receipts[agreement_id].digest == signed.signed_document_sha256
    assert receipts[agreement_id].receipt_id.startswith("C")
    points = {json.loads(b["segmentData"])["agreementNo"]: b
              for b in evidence.bodies("/sp/segment/abstract/url")}
    assert points[agreement_id]["content"] == {"contentDescription": f"{agreement_id}.pdf",
                                               "contentDigest": signed.signed_document_sha256}
    assert json.loads(points[agreement_id]["segmentData"]) == {"agreementNo": agreement_id,
                                                                "employeeId": leaver_id}

    # 3. A year on, HR approves 李娜's resignation in Feishu ("个人发展", filed under 主动离职).
    feishu.approve_resignation()
    results = run(ws)

    [separation] = records(ws, "separation")
    assert (separation.id, separation.employee_id, separation.last_day, separation.reason) == (
        f"feishu_hr:{OFFBOARDING}", leaver_id, LAST_DAY, "resignation")
    assert separation.vendor_reason == "reason_for_offboarding_option8 (个人发展 / Personal development)"
    with ws.ledger.transaction() as conn:
        [quote] = ws.ledger.list_decisions(conn, "refund_quote", subject=leaver_id)
        [proposal] = ws.ledger.list_proposals(conn, kind="refund")
    assert quote["amount"] == Decimal("850.00") and quote["currency"] == "CNY"
    assert quote["payload"]["agreements"] == [agreement_id]
    assert quote["explanation"] == [
        "Departure: last day 2026-05-10 (served in full), reason resignation; probation ended 2023-02-10.",
        f"[{agreement_id}] Agreement for program FIRE-CTRL (signed 2023-11-14): service period "
        "2025-05-11 to 2027-05-11 (end exclusive, 24 months), proration by month.",
        f"[{agreement_id}] Refundable base 1700.00 CNY = course_fee 1000.00 (finance:FEE-E003) + "
        "instructor 200.00 (finance:INSTR-1) + travel 500.00 (finance:TRV-1) "
        "(Implementing Regulations art. 16).",
        f"[{agreement_id}] Served 12 of 24 months through 2026-05-10; unserved 12 months.",
        f"[{agreement_id}] Pro rata: 1700.00 x 12 / 24 = 1700.00 x 1/2 = 850.00 CNY, rounded half-up "
        "once (LCL arts. 22, 37; LCL art. 22 caps the penalty at the cost of the unserved part).",
        f"[{agreement_id}] Owed: 850.00 CNY.",
        "Total owed: 850.00 CNY.",
    ]
    assert (proposal["id"], proposal["status"], proposal["amount"]) == (
        f"refund:feishu_hr:{OFFBOARDING}", "pending", Decimal("850.00"))
    assert proposal["summary"] == (f"deduct 850.00 CNY from 李娜 ({leaver_id}): training cost refund, "
                                   "left 2026-05-10 (resignation)")
    assert "李娜 (6893014062142064137) left 2026-05-10 (resignation): owes 850.00 CNY under 1 agreement" \
        in results["separations"].summary

    # Nothing was sent or deposited twice over the three runs.
    assert len(fadada.tasks) == 10
    assert len(evidence.bodies("/sp/scene/voucher")) == 10

    # What we sent Feishu: the tenant token from app id and secret, then Bearer on every call.
    token_calls = [c for c in feishu.calls if c[0].endswith("/tenant_access_token/internal")]
    assert token_calls[0][2] == {"app_id": "cli_a1b2c3d4e5f6", "app_secret": FEISHU_SECRET}
    searches = [c for c in feishu.calls if c[0] == "/open-apis/corehr/v2/employees/search"]
    assert searches[0][1] == {"page_size": "100", "user_id_type": "people_corehr_id",
                              "department_id_type": "people_corehr_department_id"}
    assert searches[1][1]["page_token"] == feishu_json("employees_page1")["data"]["page_token"]
    offboarding_searches = [c for c in feishu.calls if c[0] == "/open-apis/corehr/v1/offboardings/search"]
    assert offboarding_searches[-1][2] == {"statuses": ["Approved", "Offboarded", "NoNeedApproval"]}
    assert all(c[3]["Authorization"] == f"Bearer {FEISHU_TOKEN}"
               for c in feishu.calls if c not in token_calls)
    # ... 法大大: every call signed with the two-step HMAC under our app id and access token.
    for path, _, headers in fadada.calls:
        assert headers["X-FASC-App-Id"] == APP_ID and headers["X-FASC-Sign-Type"] == "HMAC-SHA256"
        assert headers["X-FASC-Api-SubVersion"] == "5.1" and len(headers["X-FASC-Sign"]) == 64
        if path != "/service/get-access-token":
            assert headers["X-FASC-AccessToken"] == fadada_json("access_token.json")["data"]["accessToken"]
    downloads = [c for c in fadada.calls if c[0] == "/sign-task/owner/get-download-url"]
    assert len(downloads) == 10 and downloads[0][1]["ownerId"] == {"idType": "corp", "openId": OPEN_CORP_ID}
    # ... e签宝: every body signed with the project secret (X-timevale-signature).
    for _, body, headers in evidence.calls:
        assert headers["X-timevale-project-id"] == EVIDENCE_PROJECT
        assert headers["X-timevale-signature-algorithm"] == "HmacSHA256"
        assert headers["X-timevale-signature"] == hmac.new(EVIDENCE_SECRET.encode(), body,
                                                           hashlib.sha256).hexdigest()
