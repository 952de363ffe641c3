"""Employees, job history and separations read from Feishu People."""

from __future__ import annotations

import json
from datetime import date
from urllib.parse import parse_qs, urlsplit

import responses

from trainbridge.connectors.feishu import FeishuPeople
from trainbridge.core.records import EmploymentStatus, SeparationReason
from trainbridge.core.runner import sync
from trainbridge.testing import check_connector

from .conftest import (
    EMPLOYEES_URL,
    JOB_DATAS_URL,
    OFFBOARDINGS_URL,
    REASONS_URL,
    TOKEN_URL,
    payload,
)


def query(call) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


def fake_employees(fake: responses.RequestsMock) -> None:
    fake.add(responses.POST, EMPLOYEES_URL, json=payload("employees_page1"))
    fake.add(responses.POST, EMPLOYEES_URL, json=payload("employees_page2"))
    fake.add(responses.POST, JOB_DATAS_URL, json=payload("job_datas"))


def test_employees_come_page_by_page_with_the_cursor_to_resume(feishu: FeishuPeople, fake,
                                                               token_ok):
    fake_employees(fake)
    pages = list(feishu.fetch_employees(since=None))
    assert [json.loads(p.cursor).get("next") for p in pages] == ["6891251722631890445", None]
    searches = [c for c in fake.calls if c.request.url.startswith(EMPLOYEES_URL)]
    assert query(searches[0]) == {"page_size": ["100"], "user_id_type": ["people_corehr_id"],
                                  "department_id_type": ["people_corehr_department_id"]}
    assert query(searches[1])["page_token"] == ["6891251722631890445"]
    body = json.loads(searches[0].request.body)
    assert "person_info.legal_name" in body["fields"] and "department.department_name" in body["fields"]


def test_an_employee_carries_department_job_title_and_history(feishu: FeishuPeople, fake, token_ok):
    fake_employees(fake)
    first = next(iter(feishu.fetch_employees(since=None)))
    [zhang] = first.records
    assert zhang.id == "feishu_hr:6893014062142064135"
    assert (zhang.name, zhang.department, zhang.job_title) == ("张伟", "运营部", "消防中控员")
    assert zhang.email == "zhangwei@acme.example"
    assert (zhang.hire_date, zhang.probation_end) == (date(2021, 3, 16), date(2021, 6, 16))
    assert zhang.manager_id == "7027024823985411287"
    assert zhang.status is EmploymentStatus.ACTIVE
    # The secondary job (primary_job_data false) is not the employee's history.
    assert [(j.effective_date, j.department, j.job_title, j.change) for j in zhang.job_history] == [
        (date(2021, 3, 16), "6893014062142060002", "6893014062142069002", "onboarding"),
        (date(2022, 7, 1), "运营部", "消防中控员", "promotion"),
    ]
    batch = next(c for c in fake.calls if c.request.url.startswith(JOB_DATAS_URL))
    assert json.loads(batch.request.body) == {
        "employment_ids": ["6893014062142064135", "6893014062142064136"], "get_all_version": True}


def test_a_bad_employee_is_quarantined_while_the_page_goes_on(feishu: FeishuPeople, fake, token_ok):
    fake_employees(fake)
    first, second = feishu.fetch_employees(since=None)
    assert [r.employee_id for r in first.records] == ["6893014062142064135"]
    [bad_date] = first.rejects
    assert "hire_date" in bad_date.reason and bad_date.raw["employee_number"] == "E002"
    assert [r.employee_id for r in second.records] == ["6893014062142064137"]
    assert second.records[0].status is EmploymentStatus.TERMINATED
    [no_name] = second.rejects
    assert "corehr:person.legal_name:read" in no_name.reason


def test_a_run_resumes_from_the_saved_page_token(feishu: FeishuPeople, fake, token_ok):
    fake_employees(fake)
    first = next(iter(feishu.fetch_employees(since=None)))
    fake.add(responses.POST, EMPLOYEES_URL, json=payload("employees_page2"))
    pages = list(feishu.fetch_employees(since=first.cursor))
    assert len(pages) == 1
    assert query(fake.calls[-2])["page_token"] == ["6891251722631890445"]
    # After a complete read the next run starts again from the first page.
    fake.add(responses.POST, EMPLOYEES_URL, json=payload("employees_page2"))
    list(feishu.fetch_employees(since=pages[-1].cursor))
    assert "page_token" not in query(fake.calls[-2])


def test_a_cursor_saved_before_the_sdk_streams_still_resumes(feishu: FeishuPeople, fake, token_ok):
    fake.add(responses.POST, EMPLOYEES_URL, json=payload("employees_page2"))
    fake.add(responses.POST, JOB_DATAS_URL, json={"code": 0, "msg": "success", "data": {"items": []}})
    assert len(list(feishu.fetch_employees(since="page:6891251722631890445"))) == 1
    assert query(fake.calls[1])["page_token"] == ["6891251722631890445"]
    fake.add(responses.POST, EMPLOYEES_URL, json=payload("employees_page2"))
    list(feishu.fetch_employees(since="complete"))
    assert "page_token" not in query(fake.calls[-2])


def separations(feishu: FeishuPeople, fake: responses.RequestsMock):
    fake.add(responses.POST, OFFBOARDINGS_URL, json=payload("offboardings"))
    fake.add(responses.POST, REASONS_URL, json=payload("offboarding_reasons"))
    [page] = feishu.fetch_separations(since=None)
    return page


def test_offboarding_reasons_map_by_identifier_parent_and_name(feishu: FeishuPeople, fake,
                                                               token_ok):
    page = separations(feishu, fake)
    by_id = {r.id: r for r in page.records}
    resigned = by_id["feishu_hr:7298499290417251879"]
    # "个人发展" is in no table; its parent "voluntary" is (read from offboardings/query).
    assert resigned.reason is SeparationReason.RESIGNATION
    assert resigned.last_day == date(2025, 6, 30)
    assert resigned.employee_id == "6893014062142064137"
    assert resigned.vendor_reason == "reason_for_offboarding_option8 (个人发展 / Personal development)"
    assert resigned.note == "个人原因辞职 | 升学"
    dismissed = by_id["feishu_hr:7298499290417251880"]
    assert dismissed.reason is SeparationReason.DISMISSAL_FOR_CAUSE  # the statutory name
    search = next(c for c in fake.calls if c.request.url.startswith(OFFBOARDINGS_URL))
    assert json.loads(search.request.body) == {"statuses": ["Approved", "Offboarded", "NoNeedApproval"]}
    assert query(search) == {"page_size": ["100"], "user_id_type": ["people_corehr_id"]}


def test_an_unmappable_reason_is_quarantined_never_guessed(feishu: FeishuPeople, fake, token_ok):
    page = separations(feishu, fake)
    reasons = {r.key: r.reason for r in page.rejects}
    other = reasons["7298499290417251881"]
    assert "reason_for_offboarding_option20 (其他)" in other and "[connectors.feishu_hr.reasons]" in other
    assert "corehr:employment.offboarding_reason:read" in reasons["7298499290417251882"]
    assert "last_day" in next(r.reason for r in page.rejects if r.model == "separation"
                              and r.key == "feishu_hr:7298499290417251883")
    assert len(page.records) == 2


def test_the_operator_table_overrides_the_defaults(make_connector, fake, token_ok):
    conn = make_connector(reasons={"reason_for_offboarding_option20": "no_fault_dismissal",
                                   "reason_for_offboarding_option12": "mutual_agreement"})
    page = separations(conn, fake)
    by_id = {r.id: r.reason for r in page.records}
    assert by_id["feishu_hr:7298499290417251881"] is SeparationReason.NO_FAULT_DISMISSAL
    assert by_id["feishu_hr:7298499290417251880"] is SeparationReason.MUTUAL_AGREEMENT


def test_without_the_reason_tree_scope_parents_are_not_used(feishu: FeishuPeople, fake, token_ok):
    fake.add(responses.POST, OFFBOARDINGS_URL, json=payload("offboardings"))
    fake.add(responses.POST, REASONS_URL, status=400, json={
        "code": 99991672, "msg": "Access denied. One of the following scopes is required: "
        "[corehr:common_data.preset_data:read]"})
    [page] = feishu.fetch_separations(since=None)
    assert [r.id for r in page.records] == ["feishu_hr:7298499290417251880"]
    assert len([c for c in fake.calls if c.request.url.startswith(REASONS_URL)]) == 1


def test_healthcheck_proves_the_token_and_the_reason_scope(feishu: FeishuPeople, fake, token_ok):
    fake.add(responses.POST, OFFBOARDINGS_URL, json=payload("offboardings"))
    fake.add(responses.POST, EMPLOYEES_URL, json=payload("employees_page2"))
    health = feishu.healthcheck()
    assert health.ok, health.detail
    assert "offboarding reasons readable" in health.detail
    search = next(c for c in fake.calls if c.request.url.startswith(OFFBOARDINGS_URL))
    assert query(search)["page_size"] == ["1"]


def test_healthcheck_says_when_the_reason_scope_is_missing(feishu: FeishuPeople, fake, token_ok):
    without_reason = payload("offboardings")
    without_reason["data"]["items"] = [without_reason["data"]["items"][3]]
    fake.add(responses.POST, OFFBOARDINGS_URL, json=without_reason)
    fake.add(responses.POST, EMPLOYEES_URL, json=payload("employees_page2"))
    health = feishu.healthcheck()
    assert not health.ok
    assert "corehr:employment.offboarding_reason:read" in health.detail


def test_healthcheck_reports_refused_credentials(feishu: FeishuPeople, fake):
    fake.add(responses.POST, TOKEN_URL, json={"code": 10003, "msg": "invalid param"})
    health = feishu.healthcheck()
    assert not health.ok and "app_id and app_secret" in health.detail


def test_the_connector_meets_the_contract(feishu: FeishuPeople, fake, token_ok):
    # In call order: healthcheck's two searches, then each source read twice.
    fake.add(responses.POST, OFFBOARDINGS_URL, json=payload("offboardings"))
    fake.add(responses.POST, EMPLOYEES_URL, json=payload("employees_page2"))
    for _ in range(2):
        fake_employees(fake)
    for _ in range(2):
        fake.add(responses.POST, OFFBOARDINGS_URL, json=payload("offboardings"))
    fake.add(responses.POST, REASONS_URL, json=payload("offboarding_reasons"))
    hooks = check_connector(feishu, exercise=True)
    assert set(hooks) == {"fetch_employees", "fetch_separations", "verify_webhook", "healthcheck"}


def test_a_sync_run_reads_feishu_into_the_ledger(tb_workspace, fake, monkeypatch):
    monkeypatch.setenv("FEISHU_APP_SECRET", "app-secret-0123456789")
    fake.add(responses.POST, TOKEN_URL, json=payload("token"))
    fake_employees(fake)
    fake.add(responses.POST, OFFBOARDINGS_URL, json=payload("offboardings"))
    fake.add(responses.POST, REASONS_URL, json=payload("offboarding_reasons"))
    ws = tb_workspace({"connectors": {"feishu_hr": {
        "type": "feishu_people", "app_id": "cli_a1b2c3d4e5f6",
        "app_secret": "${FEISHU_APP_SECRET}", "http": {"backoff_base": 0}}}})
    [result] = sync(ws, ["ingest"])
    assert result.status == "partial"  # the bad rows went to quarantine, the rest is in
    assert result.counts["quarantined"] == 5
    with ws.ledger.transaction() as conn:
        assert ws.ledger.count_records(conn, "employee") == 2
        assert ws.ledger.count_records(conn, "separation") == 2
        leaver = ws.ledger.get_record(conn, "separation", "feishu_hr:7298499290417251879")
    assert leaver is not None and leaver.reason is SeparationReason.RESIGNATION
