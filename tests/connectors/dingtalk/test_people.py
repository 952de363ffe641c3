"""On-job employees with roster fields, leavers with their reasons, health, contract, sync."""

from __future__ import annotations

import json
from datetime import date
from urllib.parse import parse_qs, urlsplit

import responses

from trainbridge.connectors.dingtalk_hrm import DingTalkHrm
from trainbridge.core.records import SeparationReason
from trainbridge.core.runner import sync
from trainbridge.testing import check_connector

from .conftest import (
    DISMISSIONS_URL,
    INFOS_URL,
    LIST_DIMISSION_URL,
    ON_JOB_URL,
    QUERY_DIMISSION_URL,
    ROSTER_URL,
    TOKEN_URL,
    payload,
)


def query(call) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


def calls_to(fake: responses.RequestsMock, url: str) -> list:
    return [c for c in fake.calls if c.request.url.startswith(url)]


def fake_employees(fake: responses.RequestsMock) -> None:
    fake.add(responses.POST, ON_JOB_URL, json=payload("queryonjob_page1"))
    fake.add(responses.POST, ON_JOB_URL, json=payload("queryonjob_page2"))
    fake.add(responses.POST, ROSTER_URL, json=payload("roster_page1"))
    fake.add(responses.POST, ROSTER_URL, json=payload("roster_page2"))


def fake_leavers(fake: responses.RequestsMock) -> None:
    fake.add(responses.GET, DISMISSIONS_URL, json=payload("dismissions_page1"))
    fake.add(responses.GET, DISMISSIONS_URL, json=payload("dismissions_page2"))
    fake.add(responses.GET, INFOS_URL, json=payload("dimission_infos_page1"))
    fake.add(responses.GET, INFOS_URL, json=payload("dimission_infos_page2"))


def test_on_job_ids_are_paged_and_read_from_the_roster(dingtalk: DingTalkHrm, fake, token_ok):
    fake_employees(fake)
    pages = list(dingtalk.fetch_employees(since=None))
    assert [json.loads(p.cursor).get("next") for p in pages] == [3, None]
    on_job = calls_to(fake, ON_JOB_URL)
    assert [json.loads(c.request.body) for c in on_job] == [
        {"status_list": "2,3,5,-1", "offset": 0, "size": 50},
        {"status_list": "2,3,5,-1", "offset": 3, "size": 50}]
    roster = json.loads(calls_to(fake, ROSTER_URL)[0].request.body)
    assert roster["userIdList"] == ["manager4220", "manager4221", "manager4222"]
    assert roster["appAgentId"] == 1185599675 and "sys00-confirmJoinTime" in roster["fieldFilterList"]


def test_a_roster_entry_becomes_an_employee(dingtalk: DingTalkHrm, fake, token_ok):
    fake_employees(fake)
    first, second = dingtalk.fetch_employees(since=None)
    [zhang] = first.records
    assert zhang.id == "dingtalk_hr:manager4220"
    assert (zhang.name, zhang.department, zhang.job_title) == ("张伟", "运营部", "消防中控员")
    assert zhang.email == "zhangwei@acme.example"
    # 转正日期 2021-06-16 is the first regular day: probation ended the day before.
    assert (zhang.hire_date, zhang.probation_end) == (date(2021, 3, 16), date(2021, 6, 15))
    [liu] = second.records
    assert liu.hire_date == date(2022, 1, 4)  # "2022/1/4"


def test_bad_roster_rows_are_quarantined_while_the_page_goes_on(dingtalk: DingTalkHrm, fake,
                                                                token_ok):
    fake_employees(fake)
    first, _ = dingtalk.fetch_employees(since=None)
    reasons = {r.key: r.reason for r in first.rejects}
    assert "hire_date" in reasons["dingtalk_hr:manager4221"]  # "明年春天"
    assert "no roster entry" in reasons["manager4222"]
    assert len(first.records) == 1


def test_a_run_resumes_at_the_saved_offset(dingtalk: DingTalkHrm, fake, token_ok):
    fake.add(responses.POST, ON_JOB_URL, json=payload("queryonjob_page2"))
    fake.add(responses.POST, ROSTER_URL, json=payload("roster_page2"))
    list(dingtalk.fetch_employees(since=json.dumps({"next": 3})))
    list(dingtalk.fetch_employees(since="at:3"))  # as cursors were saved before the sdk streams
    assert [json.loads(c.request.body)["offset"] for c in calls_to(fake, ON_JOB_URL)] == [3, 3]


def test_leavers_carry_last_day_and_mapped_reason(dingtalk: DingTalkHrm, fake, token_ok):
    fake_leavers(fake)
    first, second = dingtalk.fetch_separations(since=None)
    assert [json.loads(p.cursor).get("next") for p in (first, second)] == [3, None]
    assert [query(c) for c in calls_to(fake, DISMISSIONS_URL)] == [
        {"nextToken": ["0"], "maxResults": ["50"]}, {"nextToken": ["3"], "maxResults": ["50"]}]
    infos = calls_to(fake, INFOS_URL)[0]
    assert json.loads(query(infos)["userIdList"][0]) == ["user001", "user002", "user003"]
    by_id = {r.employee_id: r for r in first.records}
    resigned = by_id["user001"]
    assert resigned.id == "dingtalk_hr:user001"
    assert resigned.last_day == date(2025, 6, 30)  # 1751212800000 ms is midnight in Beijing
    assert resigned.reason is SeparationReason.RESIGNATION
    assert resigned.vendor_reason == "主动: 个人原因"
    assert resigned.note == "世界太大想去看看 | 离职前状态: 正式"
    incapable = by_id["user002"]
    assert incapable.reason is SeparationReason.NO_FAULT_DISMISSAL
    assert incapable.note == "离职前状态: 试用期"


def test_unmappable_or_conflicting_reasons_are_quarantined(dingtalk: DingTalkHrm, fake, token_ok):
    fake_leavers(fake)
    first, second = dingtalk.fetch_separations(since=None)
    [unknown] = first.rejects
    assert unknown.key == "user003" and "被动 违反公司制度" in unknown.reason
    assert "[connectors.dingtalk_hr.reasons]" in unknown.reason
    # user004 (status 4: resignation not yet approved) is no leaver; user005 disagrees.
    assert second.records == []
    [conflict] = second.rejects
    assert conflict.key == "user005" and "disagree" in conflict.reason


def test_the_operator_table_decides_what_the_defaults_cannot(make_connector, fake, token_ok):
    conn = make_connector(reasons={"违反公司制度": "dismissal_for_cause"})
    fake_leavers(fake)
    first, _ = conn.fetch_separations(since=None)
    assert {r.employee_id: r.reason for r in first.records}["user003"] is \
        SeparationReason.DISMISSAL_FOR_CAUSE


def test_voluntary_default_reject_makes_every_unknown_voluntary_reason_a_reject(make_connector,
                                                                                fake, token_ok):
    conn = make_connector(voluntary_default="reject", default_reasons=False)
    fake_leavers(fake)
    first, _ = conn.fetch_separations(since=None)
    assert first.records == []
    assert {r.key for r in first.rejects} == {"user001", "user002", "user003"}


def test_the_old_api_maps_reason_type_one_to_nine(make_connector, fake, token_ok):
    conn = make_connector(dimission_api="topapi")
    fake.add(responses.POST, QUERY_DIMISSION_URL, json=payload("querydimission"))
    fake.add(responses.POST, LIST_DIMISSION_URL, json=payload("listdimission"))
    [page] = conn.fetch_separations(since=None)
    assert json.loads(calls_to(fake, QUERY_DIMISSION_URL)[0].request.body) == {"offset": 0,
                                                                               "size": 50}
    assert json.loads(calls_to(fake, LIST_DIMISSION_URL)[0].request.body) == {
        "userid_list": "user001,user002,user006"}
    reasons = {r.employee_id: (r.reason, r.vendor_reason) for r in page.records}
    assert reasons == {"user001": (SeparationReason.RESIGNATION, "reason_type 2 个人原因"),
                       "user002": (SeparationReason.DISMISSAL_FOR_CAUSE, "reason_type 8 严重违法违纪")}
    [other] = page.rejects
    assert other.key == "user006" and "reason_type 9 (其他)" in other.reason


def test_reason_types_can_be_configured_from_toml_keys(make_connector, fake, token_ok):
    conn = make_connector(dimission_api="topapi", reason_types={"9": "resignation"})
    fake.add(responses.POST, QUERY_DIMISSION_URL, json=payload("querydimission"))
    fake.add(responses.POST, LIST_DIMISSION_URL, json=payload("listdimission"))
    [page] = conn.fetch_separations(since=None)
    assert len(page.records) == 3 and page.rejects == []


def test_healthcheck_proves_token_and_permission(dingtalk: DingTalkHrm, fake, token_ok):
    fake.add(responses.GET, DISMISSIONS_URL, json=payload("dismissions_page2"))
    health = dingtalk.healthcheck()
    assert health.ok, health.detail
    assert query(calls_to(fake, DISMISSIONS_URL)[0])["maxResults"] == ["1"]


def test_healthcheck_names_the_missing_permission(dingtalk: DingTalkHrm, fake, token_ok):
    fake.add(responses.GET, DISMISSIONS_URL, status=403, json={
        "code": "Forbidden.AccessDenied.AccessTokenPermissionDenied", "requestid": "perm-2",
        "message": "没有调用该接口的权限"})
    health = dingtalk.healthcheck()
    assert not health.ok and "qyapi_hrm_read_user" in health.detail


def test_the_connector_meets_the_contract(dingtalk: DingTalkHrm, fake, token_ok):
    fake.add(responses.GET, DISMISSIONS_URL, json=payload("dismissions_page2"))  # healthcheck
    for _ in range(2):
        fake_employees(fake)
    for _ in range(2):
        fake_leavers(fake)
    hooks = check_connector(dingtalk, exercise=True)
    assert set(hooks) == {"fetch_employees", "fetch_separations", "verify_webhook", "healthcheck"}


def test_a_sync_run_reads_dingtalk_into_the_ledger(tb_workspace, fake, monkeypatch):
    monkeypatch.setenv("DINGTALK_APP_SECRET", "dt-app-secret-0123456789")
    fake.add(responses.POST, TOKEN_URL, json=payload("token"))
    fake_employees(fake)
    fake_leavers(fake)
    ws = tb_workspace({"connectors": {"dingtalk_hr": {
        "type": "dingtalk_hrm", "app_key": "dingxyz0123456789",
        "app_secret": "${DINGTALK_APP_SECRET}", "agent_id": 1185599675,
        "http": {"backoff_base": 0}}}})
    [result] = sync(ws, ["ingest"])
    assert result.status == "partial" and result.counts["quarantined"] == 4
    with ws.ledger.transaction() as conn:
        assert ws.ledger.count_records(conn, "employee") == 2
        assert ws.ledger.count_records(conn, "separation") == 2
        leaver = ws.ledger.get_record(conn, "separation", "dingtalk_hr:user001")
    assert leaver is not None and leaver.last_day == date(2025, 6, 30)
