"""Incremental reads: the largest field value seen becomes the next run's query parameter."""

from __future__ import annotations

import json

import responses
from responses import matchers

from .conftest import HR, LEARN, PEOPLE, body, fake_learning, person


def test_the_first_read_sends_initial_and_the_cursor_is_the_newest_change(fake, tables, make_rest):
    fake.add(responses.GET, f"{HR}/people",
             body=body({"data": {"items": PEOPLE}, "meta": {"total_pages": 1}}),
             match=[matchers.query_param_matcher({"status": "all", "page": "1", "per_page": "100",
                                                  "updated_since": "2020-01-01T00:00:00Z"})])
    hr = make_rest(tables["inhouse_hr"])

    [page] = hr.fetch_employees(since=None)

    # 10:00+08:00 on June 1st is the newest instant, whatever the text order says.
    assert json.loads(page.cursor) == {"employees": "2025-06-01T10:00:00+08:00"}


def test_the_next_read_asks_for_changes_since_the_cursor(fake, tables, make_rest):
    changed = person("E002", "芳", "王", "2025-06-03T08:00:00+08:00")
    fake.add(responses.GET, f"{HR}/people",
             body=body({"data": {"items": [changed]}, "meta": {"total_pages": 1}}),
             match=[matchers.query_param_matcher({"updated_since": "2025-06-01T10:00:00+08:00"},
                                                 strict_match=False)])
    hr = make_rest(tables["inhouse_hr"])

    [page] = hr.fetch_employees(since=json.dumps({"employees": "2025-06-01T10:00:00+08:00"}))

    assert [r.employee_id for r in page.records] == ["E002"]
    assert json.loads(page.cursor) == {"employees": "2025-06-03T08:00:00+08:00"}


def test_nothing_changed_keeps_the_cursor(fake, tables, make_rest):
    fake.add(responses.GET, f"{HR}/people", body=body({"data": {"items": []}, "meta": {"total_pages": 1}}))
    hr = make_rest(tables["inhouse_hr"])

    [page] = hr.fetch_employees(since='{"employees": "2025-06-01T10:00:00+08:00"}')

    assert page.records == []
    assert json.loads(page.cursor) == {"employees": "2025-06-01T10:00:00+08:00"}


def test_unsorted_answers_move_the_cursor_only_with_the_last_page(fake, make_rest):
    for page, updated in ((1, "2025-06-05"), (2, "2025-06-02")):
        fake.add(responses.GET, f"{HR}/people",
                 body=body([person(f"E{page}", "名", "姓", updated)]),
                 match=[matchers.query_param_matcher({"page": str(page)}, strict_match=False)])
    fake.add(responses.GET, f"{HR}/people", body=body([]),
             match=[matchers.query_param_matcher({"page": "3"}, strict_match=False)])
    src = make_rest({"base_url": HR, "endpoints": {"employees": {
        "path": "/people", "pagination": {"type": "page"},
        "incremental": {"param": "since", "field": "updated_at"},
        "fields": {"employee_id": "employee_no", "name": "name.given"}}}})

    pages = list(src.fetch_employees(since=None))

    assert [p.cursor for p in pages[:-1]] == [None, None]
    assert json.loads(pages[-1].cursor) == {"employees": "2025-06-05"}
    first = fake.calls[0].request
    assert "since" not in first.url  # no initial: a full first read


def test_ascending_answers_save_the_cursor_with_every_page(fake, tables, make_rest):
    fake.add(responses.GET, f"{HR}/people/leavers",
             body=body({"data": [{"employee_no": "E003", "last_day": "2025-06-01", "reason_code": "01",
                                  "changed_at": "2025-06-01T10:00:00Z"}], "meta": {"next_cursor": "n2"}}))
    fake.add(responses.GET, f"{HR}/people/leavers",
             body=body({"data": [{"employee_no": "E004", "last_day": "2025-06-02", "reason_code": "04",
                                  "changed_at": "2025-06-02T10:00:00Z"}], "meta": {"next_cursor": None}}),
             match=[matchers.query_param_matcher({"cursor": "n2"}, strict_match=False)])
    hr = make_rest(tables["inhouse_hr"])

    first, second = hr.fetch_separations(since=None)

    assert json.loads(first.cursor) == {"separations": "2025-06-01T10:00:00Z"}
    assert json.loads(second.cursor) == {"separations": "2025-06-02T10:00:00Z"}


def test_numeric_change_counters_compare_as_numbers(fake, make_rest):
    fake.add(responses.GET, f"{HR}/people", body=body([
        {**person("E1", "名", "姓", ""), "seq": 9}, {**person("E2", "名", "姓", ""), "seq": 10}]))
    src = make_rest({"base_url": HR, "endpoints": {"employees": {
        "path": "/people", "incremental": {"param": "after_seq", "field": "seq"},
        "fields": {"employee_id": "employee_no", "name": "name.given"}}}})

    [page] = src.fetch_employees(since=None)

    assert json.loads(page.cursor) == {"employees": 10}


def test_a_hook_reading_two_kinds_keeps_one_cursor_per_kind(fake, tables, make_rest):
    fake_learning(fake)
    tables["training"]["endpoints"]["certificates"] = {
        "path": "/certificates", "records": "items", "key": "no",
        "incremental": {"param": "issued_after", "field": "issued"},
        "fields": {"employee_id": "who", "certificate": "cert",
                   "issued_on": {"path": "issued", "parse": "date"}}}
    fake.add(responses.GET, f"{LEARN}/certificates", body=body({"items": [
        {"no": "C-1", "who": "E001", "cert": "fire-operator", "issued": "2024-07-01"}]}),
        match=[matchers.query_param_matcher({"issued_after": "2024-01-01"})])
    training = make_rest(tables["training"], name="training")
    since = json.dumps({"learning_events": "2024-06-01T00:00:00Z", "certificates": "2024-01-01"})

    pages = list(training.fetch_learning_events(since=since))

    kinds = [r.kind for p in pages for r in p.records]
    assert kinds == ["learning_event", "learning_event", "certificate"]
    assert json.loads(pages[-1].cursor) == {"learning_events": "2024-06-03T17:00:00",
                                            "certificates": "2024-07-01"}
    assert fake.calls[0].request.params == {"since": "2024-06-01T00:00:00Z"}
