"""xAPI statements as learning events: the query we send, paging, cursors, verbs, voiding."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from trainbridge.core.errors import AuthError, ServerError
from trainbridge.core.records import LearningEventKind

from .conftest import (
    ABOUT,
    MORE,
    SECRET,
    STATEMENTS,
    VOIDED_ID,
    first_page,
    more_page,
    payload,
    voided_lookup,
)


def query(call: responses.Call) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


def read_all(lrs, since=None):
    return list(lrs.fetch_learning_events(since=since))


def first(lrs):
    """Only the first page: the rest is never requested."""
    return next(iter(lrs.fetch_learning_events(since=None)))


def test_the_first_query_asks_for_stored_order_and_follows_more(lrs, fake):
    first_page(fake)
    more_page(fake)
    voided_lookup(fake)

    pages = read_all(lrs)

    first = fake.calls[0].request
    expected = "Basic " + base64.b64encode(f"lrs-key:{SECRET}".encode()).decode()
    assert first.headers["Authorization"] == expected
    assert first.headers["X-Experience-API-Version"] == "1.0.3"
    assert query(fake.calls[0]) == {"limit": ["500"], "ascending": ["true"], "format": ["ids"]}
    # "more" is relative to the LRS host and carries the whole query
    more = [c for c in fake.calls if "more=" in c.request.url]
    assert [c.request.url for c in more] == [f"{STATEMENTS}?more={MORE}"]
    assert more[0].request.headers["X-Experience-API-Version"] == "1.0.3"
    assert len(pages) == 2


def test_statements_become_learning_events(lrs, fake):
    first_page(fake)
    more_page(fake)
    voided_lookup(fake)

    pages = read_all(lrs)

    events = {e.id: e for p in pages for e in p.records}
    attended = events["lrs:6690e6c9-3ef0-4ed3-8b37-7f3964730bee"]
    assert (attended.employee_id, attended.event) == ("zhang.san", LearningEventKind.ATTENDED)
    assert attended.occurred_at == datetime(2024, 5, 17, 21, 32, 34, 804000, tzinfo=UTC)
    assert attended.checked_in_at == attended.occurred_at
    assert attended.object_id == "http://www.example.com/meetings/occurances/34534"
    passed = events["lrs:7ccd3322-e1a5-411a-a67d-6a735c76f119"]
    assert (passed.employee_id, passed.event) == ("E0004", LearningEventKind.PASSED)
    assert passed.score == Decimal("95.00")  # scaled 0.95 as a percentage
    assert passed.occurred_at == datetime(2024, 5, 18, 6, 0, tzinfo=UTC)  # no offset: timezone
    plan = events["lrs:0c1f3c4e-7f7a-4a53-9d7e-2b1f0f6e9a42"]
    assert plan.event is LearningEventKind.ACTION_PLAN_SUBMITTED  # a configured custom verb
    # "experienced" is activity noise: neither an event nor a reject
    assert "lrs:fd41c918-b88b-4b20-a0a5-a4c32391aaa0" not in events


def test_bad_statements_are_quarantined_and_the_page_goes_on(lrs, fake):
    first_page(fake)

    page = first(lrs)

    assert len(page.records) == 2
    reasons = {r.key: r.reason for r in page.rejects}
    assert "not an Agent" in reasons["lrs:a5b8b9a2-5e42-4c2d-8f34-3c8a7c0e1d11"]
    assert "mbox_sha1sum" in reasons["lrs:3b8d0a64-1bd5-4b2b-9c1f-1f5d4b1e6a77"]
    assert all(r.raw["id"] for r in page.rejects)


def test_a_voiding_statement_voids_the_learners_event(lrs, fake):
    first_page(fake)
    more_page(fake)
    voided_lookup(fake)

    pages = read_all(lrs)

    voiding = next(e for e in pages[1].records if e.event is LearningEventKind.VOIDED)
    assert voiding.id == "lrs:e05aa883-acaf-40ad-bf54-02c8ce485fb1"
    assert voiding.voids == f"lrs:{VOIDED_ID}"
    assert voiding.employee_id == "zhang.san"  # the learner's, not the administrator's
    [lookup] = [c for c in fake.calls if "voidedStatementId" in c.request.url]
    assert query(lookup) == {"voidedStatementId": [VOIDED_ID], "format": ["ids"]}


def test_a_voiding_of_a_statement_the_lrs_never_had_is_rejected(lrs, fake):
    first_page(fake, body={"statements": [], "more": "/xapi/statements?more=" + MORE})
    more_page(fake)
    voided_lookup(fake, status=404, json={"error": "no such statement"})

    pages = read_all(lrs)

    [reject] = pages[1].rejects
    assert VOIDED_ID in reject.reason


def test_without_lookup_the_voider_is_named(make_lrs, fake):
    lrs = make_lrs(voided_lookup=False)
    first_page(fake, body={"statements": [], "more": "/xapi/statements?more=" + MORE})
    more_page(fake)

    pages = read_all(lrs)

    voiding = next(e for e in pages[1].records if e.event is LearningEventKind.VOIDED)
    assert voiding.employee_id == "admin"
    assert not [c for c in fake.calls if "voidedStatementId" in c.request.url]


def test_the_cursor_is_the_newest_stored_but_never_past_consistent_through(lrs, fake):
    first_page(fake, headers={"X-Experience-API-Consistent-Through": "2024-05-18T06:15:00Z"})
    more_page(fake)
    voided_lookup(fake)

    pages = read_all(lrs)

    # page 1 holds statements stored up to 06:30, but the LRS vouches only up to 06:15
    assert pages[0].cursor == "2024-05-18T06:15:00.000Z"
    assert pages[1].cursor == "2024-05-20T09:00:00.900Z"


def test_an_incremental_read_starts_a_little_before_the_cursor(lrs, fake):
    first_page(fake, body={"statements": [], "more": ""})

    [page] = read_all(lrs, since="2024-05-20T09:00:00.900Z")

    assert query(fake.calls[0])["since"] == ["2024-05-20T08:59:59.900Z"]  # overlap_seconds = 1
    assert page.records == [] and page.cursor == "2024-05-20T09:00:00.900Z"  # it stays


def test_activity_filters_are_sent_when_configured(make_lrs, fake):
    lrs = make_lrs(activity="https://lms.example.cn/courses/negotiation", related_activities=True,
                   format="exact", page_size=100)
    first_page(fake, body={"statements": [], "more": ""})

    read_all(lrs)

    assert query(fake.calls[0]) == {
        "limit": ["100"], "ascending": ["true"], "format": ["exact"],
        "activity": ["https://lms.example.cn/courses/negotiation"],
        "related_activities": ["true"]}


def test_programs_and_sessions_come_from_the_object_or_its_context(make_lrs, fake):
    lrs = make_lrs(programs={"http://www.example.com/meetings/series/267": "MEET-267"},
                   sessions={"http://www.example.com/meetings/occurances/34534": "S-34534"})
    first_page(fake)

    page = first(lrs)

    attended = page.records[0]
    assert (attended.program_id, attended.session_id) == ("MEET-267", "S-34534")


@pytest.mark.parametrize(("key", "zhang", "e0004"), [
    ("mbox", "zhang.san@example.cn", None),
    ("mbox_local", "zhang.san", None),
    ("account_name", None, "E0004"),
])
def test_actor_mapping_is_configurable(make_lrs, fake, key, zhang, e0004):
    lrs = make_lrs(actor_key=key)
    first_page(fake)

    page = first(lrs)

    by_statement = {e.id: e.employee_id for e in page.records}
    assert by_statement.get("lrs:6690e6c9-3ef0-4ed3-8b37-7f3964730bee") == zhang
    assert by_statement.get("lrs:7ccd3322-e1a5-411a-a67d-6a735c76f119") == e0004


def test_a_lookup_table_and_domain_list_decide_who_is_an_employee(make_lrs, fake):
    lrs = make_lrs(employee_ids={"zhang.san@example.cn": "E0003"}, mbox_domains=["corp.cn"])
    first_page(fake)

    page = first(lrs)

    assert page.records[0].employee_id == "E0003"


def test_unmapped_verbs_can_be_rejected_instead_of_ignored(make_lrs, fake):
    lrs = make_lrs(unmapped_verbs="reject")
    first_page(fake)

    page = first(lrs)

    assert any("experienced" in r.reason for r in page.rejects)


def test_rate_limits_and_server_hiccups_are_retried(lrs, fake):
    fake.add(responses.GET, STATEMENTS, status=429, headers={"Retry-After": "5"})
    fake.add(responses.GET, STATEMENTS, status=502)
    first_page(fake, body={"statements": payload("statements_page1")["statements"][:1],
                           "more": ""})

    [page] = read_all(lrs)

    assert len(page.records) == 1
    assert lrs.sleeps[0] >= 5


def test_an_lrs_that_keeps_failing_is_an_error(lrs, fake):
    for _ in range(3):
        fake.add(responses.GET, STATEMENTS, status=503)

    with pytest.raises(ServerError):
        read_all(lrs)


def test_refused_credentials_are_an_auth_error_with_a_hint(lrs, fake):
    fake.add(responses.GET, STATEMENTS, status=401, json={"error": "unauthorized"})

    with pytest.raises(AuthError) as caught:
        read_all(lrs)

    assert "lrs-key" in caught.value.hint and "password" in caught.value.hint
    assert SECRET not in str(caught.value)


def test_the_health_check_reads_about_then_one_statement(lrs, fake):
    fake.add(responses.GET, ABOUT, json=payload("about"))
    fake.add(responses.GET, STATEMENTS, json={"statements": [], "more": ""})

    health = lrs.healthcheck()

    assert health.ok and "1.0.3" in health.detail
    assert query(fake.calls[1]) == {"limit": ["1"], "format": ["ids"]}


def test_the_health_check_notices_an_lrs_of_another_version(lrs, fake):
    fake.add(responses.GET, ABOUT, json={"version": ["0.95"]})

    health = lrs.healthcheck()

    assert not health.ok and "0.95" in health.detail


def test_a_page_is_validated_at_once_and_a_malformed_statement_alone_goes_to_quarantine(lrs, fake):
    good = payload("statements_page1")["statements"][0]
    statements = [{**good, "id": f"00000000-0000-4000-8000-00000000000{n}"} for n in range(3)]
    # no time at all: the statement is read, but its event cannot be (occurred_at is required)
    statements[1] = {k: v for k, v in statements[1].items() if k not in ("timestamp", "stored")}
    first_page(fake, body={"statements": statements, "more": ""})

    page = first(lrs)

    assert [e.id for e in page.records] == ["lrs:00000000-0000-4000-8000-000000000000",
                                            "lrs:00000000-0000-4000-8000-000000000002"]
    [bad] = page.rejects
    assert bad.key == "lrs:00000000-0000-4000-8000-000000000001"
    assert "occurred_at" in bad.reason and bad.raw["id"].endswith("1")
