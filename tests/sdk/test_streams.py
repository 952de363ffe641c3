"""RestStream against a faked vendor: every paging style, the last page, an empty one, resuming."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import responses
from responses import matchers

from trainbridge.core.connector import ConnectorContext
from trainbridge.core.errors import ConnectorError
from trainbridge.core.http import HttpClient, HttpSettings
from trainbridge.sdk.streams import (
    Cursor,
    Incremental,
    LinkHeader,
    NextUrl,
    Offset,
    PageNumber,
    RestStream,
    StreamPage,
)

HR = "https://hr.acme.example/api"


@pytest.fixture
def vendor() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as mock:
        yield mock


@pytest.fixture
def http() -> HttpClient:
    return HttpClient(HR, instance="acme_hr", settings=HttpSettings(), sleep=lambda _s: None)


def people(*numbers: str, updated: str = "2026-03-01T09:00:00Z") -> list[dict[str, Any]]:
    return [{"employee_no": n, "updated_at": updated} for n in numbers]


def query(**params: str) -> list[Any]:
    return [matchers.query_param_matcher(params)]


def ids(pages: list[StreamPage]) -> list[list[str]]:
    return [[item["employee_no"] for item in page.items] for page in pages]


# --- page numbers -------------------------------------------------------------------


def test_page_numbers_stop_at_a_short_page(vendor, http):
    vendor.get(f"{HR}/people", json={"data": people("E1", "E2")}, match=query(page="1", per_page="2"))
    vendor.get(f"{HR}/people", json={"data": people("E3")}, match=query(page="2", per_page="2"))
    stream = RestStream(http, "/people", paging=PageNumber(size_param="per_page", size=2), records="data")

    pages = list(stream.pages())

    assert ids(pages) == [["E1", "E2"], ["E3"]]
    assert [p.last for p in pages] == [False, True]


def test_page_numbers_stop_at_an_empty_page(vendor, http):
    vendor.get(f"{HR}/people", json={"data": people("E1")}, match=query(page="1"))
    vendor.get(f"{HR}/people", json={"data": []}, match=query(page="2"))

    pages = list(RestStream(http, "/people", paging=PageNumber(), records="data").pages())

    assert ids(pages) == [["E1"], []]
    assert pages[-1].last


def test_page_numbers_stop_at_the_page_count_in_the_answer(vendor, http):
    for page in (0, 1):
        vendor.get(f"{HR}/people", json={"data": people(f"E{page}"), "meta": {"pages": 2}},
                   match=query(p=str(page)))
    stream = RestStream(http, "/people", paging=PageNumber(param="p", start=0, total_pages="meta.pages"),
                        records="data")

    assert ids(list(stream.pages())) == [["E0"], ["E1"]]


def test_a_page_number_walk_resumes_at_the_page_after_the_last_one_read(vendor, http):
    vendor.get(f"{HR}/people", json={"data": people("E1")}, match=query(page="1"))
    stream = RestStream(http, "/people", paging=PageNumber(), records="data")
    first = next(iter(stream.pages()))
    vendor.get(f"{HR}/people", json={"data": []}, match=query(page="2"))

    rest = list(stream.pages(first.cursor))

    assert ids(rest) == [[]]
    assert [c.request.url for c in vendor.calls][-1] == f"{HR}/people?page=2"


# --- offsets ------------------------------------------------------------------------


def test_offsets_advance_by_the_items_read_until_a_short_page(vendor, http):
    vendor.get(f"{HR}/people", json=people("E1", "E2", "E3"), match=query(offset="0", limit="3"))
    vendor.get(f"{HR}/people", json=people("E4"), match=query(offset="3", limit="3"))

    pages = list(RestStream(http, "/people", paging=Offset(limit=3)).pages())

    assert ids(pages) == [["E1", "E2", "E3"], ["E4"]]


def test_an_empty_first_page_is_the_last_one(vendor, http):
    vendor.get(f"{HR}/people", json=[], match=query(offset="0", limit="3"))

    [page] = RestStream(http, "/people", paging=Offset(limit=3)).pages()

    assert page.items == [] and page.last


def test_an_offset_walk_resumes_at_its_offset(vendor, http):
    vendor.get(f"{HR}/people", json=people("E1", "E2", "E3"), match=query(offset="0", limit="3"))
    first = next(iter(RestStream(http, "/people", paging=Offset(limit=3)).pages()))
    vendor.get(f"{HR}/people", json=people("E4"), match=query(offset="3", limit="3"))

    assert ids(list(RestStream(http, "/people", paging=Offset(limit=3)).pages(first.cursor))) == [["E4"]]


# --- cursors in the body --------------------------------------------------------------


def test_the_cursor_in_the_answer_is_sent_back_until_it_is_empty(vendor, http):
    vendor.get(f"{HR}/people", json={"data": people("E1"), "meta": {"next": "c2"}}, match=query(size="50"))
    vendor.get(f"{HR}/people", json={"data": people("E2"), "meta": {"next": ""}},
               match=query(after="c2", size="50"))
    stream = RestStream(http, "/people", records="data",
                        paging=Cursor(next="meta.next", param="after", size_param="size", size=50))

    pages = list(stream.pages())

    assert ids(pages) == [["E1"], ["E2"]]
    assert pages[0].next == "c2" and pages[1].next is None


def test_a_cursor_walk_resumes_with_the_saved_cursor(vendor, http):
    vendor.get(f"{HR}/people", json={"data": people("E2"), "meta": {"next": None}}, match=query(cursor="c2"))
    saved = json.dumps({"since": None, "newest": None, "next": "c2"})

    assert ids(list(RestStream(http, "/people", paging=Cursor(next="meta.next"), records="data")
                    .pages(saved))) == [["E2"]]


def test_a_cursor_that_comes_back_is_an_error_not_an_endless_loop(vendor, http):
    vendor.get(f"{HR}/people", json={"data": people("E1"), "meta": {"next": "again"}})
    stream = RestStream(http, "/people", paging=Cursor(next="meta.next"), records="data", name="employees")

    with pytest.raises(ConnectorError, match="employees: paging does not end: cursor 'again' came back"):
        list(stream.pages())


# --- links ----------------------------------------------------------------------------


def test_the_link_header_is_followed_with_its_own_query(vendor, http):
    vendor.get(f"{HR}/people", json={"data": people("E1")}, match=query(status="all"),
               headers={"Link": '</api/people?status=all&page=2>; rel="next"'})
    vendor.get(f"{HR}/people", json={"data": people("E2")}, match=query(status="all", page="2"),
               headers={"Link": '</api/people?status=all&page=1>; rel="prev"'})
    stream = RestStream(http, "/people", paging=LinkHeader(), records="data", params={"status": "all"})

    pages = list(stream.pages())

    assert ids(pages) == [["E1"], ["E2"]]
    assert pages[0].next == f"{HR}/people?status=all&page=2"


def test_a_link_walk_resumes_at_the_saved_url(vendor, http):
    vendor.get(f"{HR}/people", json={"data": []}, match=query(status="all", page="7"))
    saved = json.dumps({"since": None, "next": f"{HR}/people?status=all&page=7"})

    [page] = RestStream(http, "/people", paging=LinkHeader(), records="data").pages(saved)

    assert page.items == [] and page.last


def test_a_next_url_in_the_body_is_followed_until_it_is_null(vendor, http):
    vendor.get(f"{HR}/people", json={"data": people("E1"), "links": {"next": "/api/people?page=2"}},
               match=query())
    vendor.get(f"{HR}/people", json={"data": people("E2"), "links": {"next": None}}, match=query(page="2"))

    pages = list(RestStream(http, "/people", paging=NextUrl(next="links.next"), records="data").pages())

    assert ids(pages) == [["E1"], ["E2"]]
    assert pages[-1].last


def test_max_pages_stops_paging_that_never_ends(vendor, http):
    vendor.get(f"{HR}/people", json={"data": people("E1")})
    stream = RestStream(http, "/people", paging=PageNumber(), records="data", max_pages=3)

    with pytest.raises(ConnectorError, match=r"more than max_pages \(3\)") as stopped:
        list(stream.pages())
    assert "[connectors.acme_hr]" in stopped.value.hint


# --- incremental reads ------------------------------------------------------------------


def test_the_cursor_after_the_last_page_is_the_newest_change_seen(vendor, http):
    vendor.get(f"{HR}/people", json={"data": [*people("E1", updated="2026-03-05T10:00:00+08:00"),
                                              *people("E2", updated="2026-03-05T03:00:00Z")]},
               match=query(updated_since="2026-03-01T00:00:00Z"))
    stream = RestStream(http, "/people", records="data",
                        incremental=Incremental(param="updated_since", field="updated_at"))

    [page] = stream.pages(json.dumps({"since": "2026-03-01T00:00:00Z"}))

    # 10:00 in Shanghai is 02:00 UTC: the later instant wins, not the larger text.
    assert json.loads(page.cursor) == {"since": "2026-03-05T03:00:00Z"}


def test_the_first_read_starts_from_the_initial_value_and_nothing_read_keeps_it(vendor, http):
    vendor.get(f"{HR}/people", json={"data": []}, match=query(since="2026-01-01"))
    stream = RestStream(http, "/people", records="data",
                        incremental=Incremental(param="since", field="updated_at", initial="2026-01-01"))

    [page] = stream.pages()

    assert json.loads(page.cursor) == {"since": "2026-01-01"}


def test_a_walk_resumed_in_the_middle_asks_from_where_it_started(vendor, http):
    vendor.get(f"{HR}/people", json={"data": people("E1", updated="2026-03-02"), "meta": {"next": "c2"}},
               match=query(since="2026-03-01"))
    stream = RestStream(http, "/people", records="data", paging=Cursor(next="meta.next"),
                        incremental=Incremental(param="since", field="updated_at"))
    first = next(iter(stream.pages("2026-03-01")))
    vendor.get(f"{HR}/people", json={"data": people("E2", updated="2026-03-01T12:00:00"),
                                     "meta": {"next": None}},
               match=query(since="2026-03-01", cursor="c2"))

    [last] = stream.pages(first.cursor)

    assert json.loads(last.cursor) == {"since": "2026-03-02"}


def test_decimals_in_the_answer_stay_decimals_and_the_cursor_is_json(vendor, http):
    vendor.get(f"{HR}/costs", body='[{"id": "C1", "amount": 12.30, "seq": 9.5}]',
               content_type="application/json")
    stream = RestStream(http, "/costs", incremental=Incremental(param="after", field="seq"))

    [page] = stream.pages()

    assert page.items[0]["amount"] == Decimal("12.30")
    assert json.loads(page.cursor) == {"since": "9.5"}


# --- answers that are not pages ----------------------------------------------------------


def test_an_answer_without_the_record_list_names_the_path_and_the_table(vendor, http):
    vendor.get(f"{HR}/people", json={"items": []})
    stream = RestStream(http, "/people", records="data", name="employees",
                        where="[connectors.acme_hr.endpoints.employees]")

    no_list = "employees: GET /people has no list of records at 'data'"
    with pytest.raises(ConnectorError, match=no_list) as bad:
        list(stream.pages())
    assert "endpoints.employees" in bad.value.hint


def test_an_html_answer_is_a_connector_error_not_a_traceback(vendor, http):
    vendor.get(f"{HR}/people", body="<html>login</html>", content_type="text/html")

    with pytest.raises(ConnectorError, match="text/html, not JSON"):
        list(RestStream(http, "/people").pages())


# --- pacing ---------------------------------------------------------------------------


def test_min_interval_waits_with_the_context_clock_and_sleep(vendor, http):
    vendor.get(f"{HR}/people", json={"data": people("E1")}, match=query(page="1"))
    vendor.get(f"{HR}/people", json={"data": []}, match=query(page="2"))
    now = [1000.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    ctx = ConnectorContext(clock=lambda: now[0], sleep=sleep)
    stream = RestStream(http, "/people", paging=PageNumber(), records="data", min_interval=0.5, ctx=ctx)

    assert ids(list(stream.pages())) == [["E1"], []]
    assert slept == [0.5]


def test_the_stream_holds_one_page_at_a_time(vendor, http):
    vendor.get(f"{HR}/people", json={"data": people("E1")}, match=query(page="1"))
    vendor.get(f"{HR}/people", json={"data": []}, match=query(page="2"))
    pages = RestStream(http, "/people", paging=PageNumber(), records="data").pages()

    next(pages)
    asked_for_the_first = len(vendor.calls)
    list(pages)

    assert (asked_for_the_first, len(vendor.calls)) == (1, 2)


def test_a_context_with_its_own_sleep_hands_it_to_the_http_retries(vendor):
    vendor.get(f"{HR}/people", status=429, headers={"Retry-After": "7"})
    vendor.get(f"{HR}/people", json=[])
    slept: list[float] = []
    http = ConnectorContext(sleep=slept.append).http(HR, instance="acme_hr")

    [page] = RestStream(http, "/people").pages()

    assert page.items == [] and slept and slept[0] >= 7
