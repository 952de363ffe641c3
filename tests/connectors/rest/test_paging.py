"""Every paging style reads every page once, in order, and stops where it should."""

from __future__ import annotations

import pytest
import responses
from responses import matchers

from trainbridge.core.errors import ConnectorError

from .conftest import HR, LEARN, body, person

PEOPLE_FIELDS = {"employee_id": "employee_no", "name": {"template": "{name.family}{name.given}"}}


def people(*numbers: str) -> list[dict]:
    return [person(n, "名", "姓", "2025-06-01T00:00:00Z") for n in numbers]


def source(make_rest, pagination: dict, records: str = "data.items", **endpoint):
    return make_rest({"base_url": HR, "endpoints": {"employees": {
        "path": "/people", "records": records, "pagination": pagination, "fields": PEOPLE_FIELDS,
        **endpoint}}})


def read_ids(src) -> list[list[str]]:
    return [[r.employee_id for r in page.records] for page in src.fetch_employees(since=None)]


def test_page_numbers_until_a_short_page(fake, make_rest):
    for page, numbers in ((1, ("E1", "E2")), (2, ("E3", "E4")), (3, ("E5",))):
        fake.add(responses.GET, f"{HR}/people", body=body({"data": {"items": people(*numbers)}}),
                 match=[matchers.query_param_matcher({"page": str(page), "per_page": "2", "status": "all"})])
    src = source(make_rest, {"type": "page", "size_param": "per_page", "size": 2}, params={"status": "all"})

    assert read_ids(src) == [["E1", "E2"], ["E3", "E4"], ["E5"]]


def test_page_numbers_until_the_total_pages_of_the_answer(fake, make_rest):
    for page in (0, 1):
        fake.add(responses.GET, f"{HR}/people",
                 body=body({"data": {"items": people(f"E{page}")}, "meta": {"pages": 2}}),
                 match=[matchers.query_param_matcher({"p": str(page)})])
    src = source(make_rest, {"type": "page", "param": "p", "start": 0, "total_pages": "meta.pages"})

    assert read_ids(src) == [["E0"], ["E1"]]


def test_page_numbers_stop_at_an_empty_page(fake, make_rest):
    fake.add(responses.GET, f"{HR}/people", body=body({"data": {"items": people("E1")}}),
             match=[matchers.query_param_matcher({"page": "1"})])
    fake.add(responses.GET, f"{HR}/people", body=body({"data": {"items": []}}),
             match=[matchers.query_param_matcher({"page": "2"})])
    src = source(make_rest, {"type": "page"})

    assert read_ids(src) == [["E1"], []]


def test_offsets_advance_by_the_records_read(fake, make_rest):
    fake.add(responses.GET, f"{HR}/people", body=body(people("E1", "E2", "E3")),
             match=[matchers.query_param_matcher({"offset": "0", "limit": "3"})])
    fake.add(responses.GET, f"{HR}/people", body=body(people("E4")),
             match=[matchers.query_param_matcher({"offset": "3", "limit": "3"})])
    src = source(make_rest, {"type": "offset", "limit": 3}, records="")

    assert read_ids(src) == [["E1", "E2", "E3"], ["E4"]]


def test_a_cursor_from_the_answer_is_sent_back(fake, make_rest):
    fake.add(responses.GET, f"{HR}/people",
             body=body({"data": {"items": people("E1")}, "meta": {"next": "c2"}}),
             match=[matchers.query_param_matcher({"size": "50"})])
    fake.add(responses.GET, f"{HR}/people",
             body=body({"data": {"items": people("E2")}, "meta": {"next": ""}}),
             match=[matchers.query_param_matcher({"after": "c2", "size": "50"})])
    src = source(make_rest, {"type": "cursor", "param": "after", "next": "meta.next",
                             "size_param": "size", "size": 50})

    assert read_ids(src) == [["E1"], ["E2"]]


def test_a_cursor_that_comes_back_is_an_error_not_an_endless_loop(fake, make_rest):
    fake.add(responses.GET, f"{HR}/people",
             body=body({"data": {"items": people("E1")}, "meta": {"next": "again"}}))
    src = source(make_rest, {"type": "cursor", "next": "meta.next"})

    with pytest.raises(ConnectorError, match="paging does not end"):
        read_ids(src)


def test_the_link_header_is_followed_with_its_own_query(fake, make_rest):
    fake.add(responses.GET, f"{LEARN}/people", body=body({"data": {"items": people("E1")}}),
             match=[matchers.query_param_matcher({"status": "all"})],
             headers={"Link": '</api/people?status=all&page=2>; rel="next"'})
    fake.add(responses.GET, f"{LEARN}/people", body=body({"data": {"items": people("E2")}}),
             match=[matchers.query_param_matcher({"status": "all", "page": "2"})],
             headers={"Link": '</api/people?status=all&page=1>; rel="prev"'})
    src = make_rest({"base_url": LEARN, "endpoints": {"employees": {
        "path": "/people", "params": {"status": "all"}, "records": "data.items",
        "pagination": {"type": "link"}, "fields": PEOPLE_FIELDS}}})

    assert read_ids(src) == [["E1"], ["E2"]]


def test_a_next_url_in_the_body_is_followed(fake, make_rest):
    fake.add(responses.GET, f"{HR}/people",
             body=body({"data": {"items": people("E1")}, "links": {"next": f"{HR}/people?page=2"}}),
             match=[matchers.query_param_matcher({})])
    fake.add(responses.GET, f"{HR}/people",
             body=body({"data": {"items": people("E2")}, "links": {"next": None}}),
             match=[matchers.query_param_matcher({"page": "2"})])
    src = source(make_rest, {"type": "link", "next": "links.next"})

    assert read_ids(src) == [["E1"], ["E2"]]


def test_max_pages_stops_a_paging_that_never_ends(fake, make_rest):
    fake.add(responses.GET, f"{HR}/people", body=body({"data": {"items": people("E1")}}))
    src = make_rest({"base_url": HR, "max_pages": 3, "endpoints": {"employees": {
        "path": "/people", "records": "data.items", "pagination": {"type": "page"},
        "fields": PEOPLE_FIELDS}}})

    with pytest.raises(ConnectorError, match=r"more than max_pages \(3\)"):
        read_ids(src)
