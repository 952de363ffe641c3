"""What docs/plugins.md states of RestStream and Incremental, each statement held to the code."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import responses

from tests.sdk.test_streams import HR, ids, people, query
from trainbridge.core.errors import ConnectorError
from trainbridge.core.http import HttpClient, HttpSettings
from trainbridge.core.records import Employee, make_id
from trainbridge.sdk.streams import Incremental, LinkHeader, Offset, RestStream


@pytest.fixture
def vendor() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as mock:
        yield mock


@pytest.fixture
def http() -> HttpClient:
    return HttpClient(HR, instance="acme_hr", settings=HttpSettings(), sleep=lambda _s: None)


def test_an_offset_walk_with_a_total_goes_on_past_a_short_page_until_the_count_is_read(vendor, http):
    # DocuSign's totalSetSize: a vendor may answer fewer than `limit` before the end
    vendor.get(f"{HR}/envelopes", json={"envelopes": people("E1"), "totalSetSize": "3"},
               match=query(start_position="0", count="2"))
    vendor.get(f"{HR}/envelopes", json={"envelopes": people("E2", "E3"), "totalSetSize": "3"},
               match=query(start_position="1", count="2"))
    paging = Offset(param="start_position", limit_param="count", limit=2, total="totalSetSize")

    pages = list(RestStream(http, "/envelopes", paging=paging, records="envelopes").pages())

    assert ids(pages) == [["E1"], ["E2", "E3"]] and pages[-1].last


def test_an_answer_that_leaves_the_list_out_is_empty_only_with_absent_is_empty(vendor, http):
    vendor.get(f"{HR}/envelopes", json={"resultSetSize": "0"})
    vendor.get(f"{HR}/envelopes", json={"resultSetSize": "0"})

    [page] = RestStream(http, "/envelopes", records="envelopes", absent_is_empty=True).pages()
    with pytest.raises(ConnectorError, match="no list of records at 'envelopes'"):
        list(RestStream(http, "/envelopes", records="envelopes").pages())

    assert page.items == [] and page.last


def test_records_keyed_by_id_become_rows_whose_field_is_the_key(vendor, http):
    vendor.get(f"{HR}/people", json={"people": {"123": {"name": "Li", "id": "old"}, "124": "not an object"}})

    [page] = RestStream(http, "/people", records="people", keyed_by="id").pages()

    assert page.items == [{"name": "Li", "id": "123"}, "not an object"]


def test_a_link_walk_sends_the_incremental_value_with_its_first_request_only(vendor, http):
    vendor.get(f"{HR}/people", json={"data": people("E1", updated="2026-03-02T00:00:00Z")},
               match=query(updated_since="2026-03-01T00:00:00Z"),
               headers={"Link": '</api/people?page=2>; rel="next"'})
    vendor.get(f"{HR}/people", json={"data": people("E2", updated="2026-03-03T00:00:00Z")},
               match=query(page="2"))
    stream = RestStream(http, "/people", paging=LinkHeader(), records="data",
                        incremental=Incremental(param="updated_since", field="updated_at"))

    pages = list(stream.pages(json.dumps({"since": "2026-03-01T00:00:00Z"})))

    assert json.loads(pages[-1].cursor) == {"since": "2026-03-03T00:00:00Z"}


def test_a_bare_saved_value_is_where_the_incremental_read_starts(vendor, http):
    vendor.get(f"{HR}/people", json={"data": []}, match=query(since="2026-03-01"))
    stream = RestStream(http, "/people", records="data", incremental=Incremental(param="since", field="u"))

    [page] = stream.pages("2026-03-01")

    assert json.loads(page.cursor) == {"since": "2026-03-01"}


def test_an_inclusive_vendor_sends_the_boundary_record_again_and_the_ledger_leaves_it_unchanged(
        vendor, http, tb_workspace):
    # updated_since=X answers the record stamped X again: same id, same content
    boundary = {"employee_no": "E2", "updated_at": "2026-03-02T00:00:00Z"}
    vendor.get(f"{HR}/people", json={"data": [boundary]}, match=query(updated_since="2026-03-02T00:00:00Z"))
    stream = RestStream(http, "/people", records="data",
                        incremental=Incremental(param="updated_since", field="updated_at"))
    ws = tb_workspace({})
    record = Employee(id=make_id("hr", "E2"), employee_id="E2", name="Han")
    with ws.ledger.transaction() as conn:
        first = ws.ledger.upsert_records(conn, [record])

    [page] = stream.pages(json.dumps({"since": "2026-03-02T00:00:00Z"}))
    with ws.ledger.transaction() as conn:
        again = ws.ledger.upsert_records(conn, [Employee(id=make_id("hr", item["employee_no"]),
                                                         employee_id=item["employee_no"], name="Han")
                                                for item in page.items])

    assert (first, again) == ((1, 0, 0), (0, 0, 1))
    assert json.loads(page.cursor) == {"since": "2026-03-02T00:00:00Z"}
