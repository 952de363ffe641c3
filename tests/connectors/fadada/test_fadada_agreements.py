"""Agreements signed in 法大大 before trainbridge: finished sign tasks and their fill fields.

Shapes from the official fasc-openapi-node-sdk v5.1 models: ``GetOwnerListRequest``
(``ownerId``, ``listFilter.signTaskStatus``, ``listPageNo``, ``listPageSize``),
``GetOwnerListResponse`` (``signTasks[]``: ``signTaskId``, ``transReferenceId``,
``signTaskStatus``, ``finishTime``; ``listPageNo``, ``countInPage``, ``listPageCount``,
``totalCount``) and ``GetSignTaskFieldListResponse`` (``fillFields[]``: ``fieldId``,
``fieldName``, ``fieldType``, ``fieldValue``).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from urllib.parse import parse_qs

import responses

from trainbridge.core.records import Agreement, AgreementStatus

from .conftest import OPEN_CORP_ID, UAT, fixture_json

LIST = f"{UAT}/sign-task/owner/get-list"
FIELDS = f"{UAT}/sign-task/field/list"
TOKEN = f"{UAT}/service/get-access-token"


def biz(call: responses.Call) -> dict:
    return json.loads(parse_qs(call.request.body)["bizContent"][0])


@responses.activate
def test_finished_sign_tasks_become_signed_agreements_page_by_page(fadada) -> None:
    conn = fadada(import_agreements=True, agreement_fields={"service_last_day": "服务期最后一日"})
    responses.post(TOKEN, json=fixture_json("access_token.json"))
    responses.post(LIST, json=fixture_json("owner_get_list_page_1.json"))
    responses.post(FIELDS, json=fixture_json("field_list_101.json"))
    responses.post(FIELDS, json={"code": "100000", "msg": "请求成功",
                                 "data": {"signTaskId": "1656657193146145802", "fillFields": []}})
    responses.post(LIST, json=fixture_json("owner_get_list_page_2.json"))
    responses.post(FIELDS, json=fixture_json("field_list_103.json"))

    first, second = conn.fetch_agreements(None)

    lists = [biz(c) for c in responses.calls if c.request.url == LIST]
    assert lists == [{"ownerId": {"idType": "corp", "openId": OPEN_CORP_ID},
                      "listFilter": {"signTaskStatus": ["task_finished"]},
                      "listPageNo": number, "listPageSize": 100} for number in (1, 2)]
    assert [biz(c)["signTaskId"] for c in responses.calls if c.request.url == FIELDS] == [
        "1700000000000000101", "1656657193146145802", "1700000000000000103"]
    # The paper-era agreement: terms from the fill fields, the last day renamed by agreement_fields.
    [fire] = first.records
    assert isinstance(fire, Agreement) and fire.status is AgreementStatus.SIGNED
    assert fire.id == "fdd:1700000000000000101" and fire.envelope_id == "1700000000000000101"
    assert (fire.employee_id, fire.program_id, fire.template_id) == ("E003", "FIRE-CTRL", "fadada")
    assert (fire.service_start, fire.service_end, fire.service_months) == (
        date(2025, 5, 11), date(2027, 5, 11), 24)
    assert fire.clause_amount == Decimal("1700.00") and fire.deduction_consent is True
    assert fire.signed_at == datetime(2025, 5, 3, 2, 0, tzinfo=UTC)  # finishTime 1746237600000
    # trainbridge's own task (its transReferenceId is the agreement id, no terms) is skipped.
    assert first.rejects == [] and first.cursor is None
    # A task without the employee is quarantined with a plain reason.
    assert second.records == [] and second.cursor == "listPageSize=100;listPageCount=2"
    [reject] = second.rejects
    assert reject.key == "fdd:1700000000000000103"
    assert reject.reason.startswith("fadada envelope 1700000000000000103 cannot become a training "
                                    "agreement: metadata employee_id is missing")
    assert "docs/connectors/fadada.md" in reject.reason


@responses.activate
def test_an_expired_token_is_renewed_once_while_listing(fadada) -> None:
    conn = fadada(import_agreements=True, agreement_fields={"service_last_day": "f_last_day"})
    responses.post(TOKEN, json=fixture_json("access_token.json"))
    responses.post(LIST, json={"code": "100002", "msg": "accessToken无效或已过期", "data": None})
    answer = fixture_json("owner_get_list_page_2.json")
    answer["data"].update(listPageNo=1, listPageCount=1)
    responses.post(LIST, json=answer)
    responses.post(FIELDS, json=fixture_json("field_list_101.json"))

    [page] = conn.fetch_agreements(None)

    urls = [c.request.url for c in responses.calls]
    assert urls == [TOKEN, LIST, TOKEN, LIST, FIELDS]
    assert [(r.id, r.employee_id) for r in page.records] == [("fdd:1700000000000000103", "E003")]


@responses.activate
def test_reading_agreements_is_off_unless_configured(fadada) -> None:
    conn = fadada()
    assert conn.produces("fetch_agreements") == ()
    assert list(conn.fetch_agreements(None)) == []
    assert len(responses.calls) == 0
