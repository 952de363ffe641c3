"""Records delivered as an object keyed by id (``{"123": {...}, "124": {...}}``), as BambooHR's
changed-since answers and many PHP-built in-house systems send them: ``records_keyed_by``."""

from __future__ import annotations

import pytest
import responses
from responses import matchers

from trainbridge.core.errors import ConnectorError

from .conftest import HR, body

FIELDS = {"employee_id": "id", "name": {"template": "{last} {first}"},
          "department": {"path": "dept", "default": ""}}


def keyed(make_rest, **endpoint):
    return make_rest({"base_url": HR, "endpoints": {"employees": {
        "path": "/people", "records": "people", "records_keyed_by": "id", "fields": FIELDS,
        "key": "id", **endpoint}}})


def test_each_value_becomes_a_row_with_its_key_as_id(fake, make_rest):
    fake.add(responses.GET, f"{HR}/people", body=body({"people": {
        "123": {"first": "Wei", "last": "Zhang", "dept": "Sales"},
        "124": {"first": "Fang", "last": "Wang"}}}))

    [page] = list(keyed(make_rest).fetch_employees(since=None))

    assert [(r.id, r.employee_id, r.name, r.department) for r in page.records] == [
        ("inhouse_hr:123", "123", "Zhang Wei", "Sales"), ("inhouse_hr:124", "124", "Wang Fang", "")]
    assert not page.rejects


def test_an_empty_object_or_phps_empty_list_is_no_record_and_a_value_that_is_no_object_a_reject(
        fake, make_rest):
    fake.add(responses.GET, f"{HR}/people", body=body({"people": {"125": "deleted", "126": {
        "first": "Na", "last": "Li"}}}), match=[matchers.query_param_matcher({"page": "1"})])
    fake.add(responses.GET, f"{HR}/people", body=body({"people": []}),
             match=[matchers.query_param_matcher({"page": "2"})])

    pages = list(keyed(make_rest, pagination={"type": "page"}).fetch_employees(since=None))

    assert [r.employee_id for p in pages for r in p.records] == ["126"]
    [reject] = [r for p in pages for r in p.rejects]
    assert reject.raw == "deleted" and "no vendor key" in reject.reason


def test_without_records_keyed_by_an_object_is_still_refused_naming_the_path(fake, make_rest):
    fake.add(responses.GET, f"{HR}/people", body=body({"people": {"123": {"first": "Wei"}}}))
    src = make_rest({"base_url": HR, "endpoints": {"employees": {
        "path": "/people", "records": "people", "fields": FIELDS}}})

    with pytest.raises(ConnectorError, match="no list of records at 'people'"):
        list(src.fetch_employees(since=None))
