"""One training scan serves both hooks: learning events and cost items ask BambooHR once."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import responses

from trainbridge.connectors.bamboohr.scan import ScanSpool
from trainbridge.core.records import CostItem, LearningEvent

from .conftest import CHANGED_3_4


def training_requests(fake: responses.RequestsMock) -> list[str]:
    return [urlsplit(c.request.url).path.rsplit("/", 1)[-1] for c in fake.calls
            if "/training/record/employee/" in c.request.url]


def test_cost_items_replay_the_scan_the_learning_events_just_made(make_bamboo, training):
    bamboo = make_bamboo(page_size=1)

    events = list(bamboo.fetch_learning_events(since=None))
    asked = len(training.calls)
    costs = list(bamboo.fetch_cost_items(since=None))

    assert training_requests(training) == ["3", "4"]  # each employee once, for both hooks
    assert len(training.calls) == asked  # the replay asks BambooHR nothing at all
    assert [p.cursor for p in costs] == [p.cursor for p in events] == \
        ["1970-01-01T00:00:00Z|3", "2024-07-01T09:30:00Z"]
    assert all(isinstance(r, LearningEvent) for p in events for r in p.records if r.kind == "learning_event")
    fees = [r for p in costs for r in p.records]
    assert [f.id for f in fees] == ["bamboo:training:31:cost"]
    assert all(isinstance(f, CostItem) for f in fees)
    assert [r.key for p in costs for r in p.rejects] == ["bamboo:training:41:cost"]


def test_the_replay_gives_the_same_pages_as_reading_again(make_bamboo, training):
    shared = make_bamboo()
    list(shared.fetch_learning_events(since=None))
    replayed = list(shared.fetch_cost_items(since=None))

    fresh = list(make_bamboo(training_scan_reuse_seconds=0).fetch_cost_items(since=None))

    assert [(p.cursor, p.records, [r.reason for r in p.rejects]) for p in replayed] == \
        [(p.cursor, p.records, [r.reason for r in p.rejects]) for p in fresh]


@pytest.mark.parametrize("second_since", ["1970-01-01T00:00:00Z|3", "2024-07-01T09:30:00Z"])
def test_a_scan_from_another_cursor_reads_bamboohr(make_bamboo, training, second_since):
    bamboo = make_bamboo(training_scan="changed")
    list(bamboo.fetch_learning_events(since=None))

    list(bamboo.fetch_cost_items(since=second_since))

    assert len(training_requests(training)) > 2


def test_a_hook_never_replays_its_own_scan(make_bamboo, training):
    bamboo = make_bamboo()
    list(bamboo.fetch_learning_events(since=None))
    list(bamboo.fetch_learning_events(since=None))

    assert training_requests(training) == ["3", "4", "3", "4"]


def test_reuse_can_be_turned_off(make_bamboo, training):
    bamboo = make_bamboo(training_scan_reuse_seconds=0)
    list(bamboo.fetch_learning_events(since=None))
    list(bamboo.fetch_cost_items(since=None))

    assert training_requests(training) == ["3", "4", "3", "4"]


def test_an_old_scan_is_read_again(make_bamboo, training):
    bamboo = make_bamboo(training_scan_reuse_seconds=60)
    now = [1000.0]
    bamboo._scans.clock = lambda: now[0]
    list(bamboo.fetch_learning_events(since=None))

    now[0] += 61
    list(bamboo.fetch_cost_items(since=None))

    assert training_requests(training) == ["3", "4", "3", "4"]


def test_a_scan_stopped_halfway_is_not_replayed(make_bamboo, training):
    bamboo = make_bamboo(page_size=1)
    scan = bamboo.fetch_learning_events(since=None)
    next(scan)  # the run died after the first page's commit
    scan.close()

    costs = list(bamboo.fetch_cost_items(since=None))

    assert training_requests(training) == ["3", "3", "4"]
    assert costs[-1].cursor == "2024-07-01T09:30:00Z"


def test_a_scan_that_failed_is_not_replayed(make_bamboo, fake):
    from .conftest import CHANGED, TRAINING_TYPES, payload, training_url

    fake.add(responses.GET, CHANGED, json=CHANGED_3_4)
    fake.add(responses.GET, TRAINING_TYPES, json=payload("training_types"))
    fake.add(responses.GET, training_url("3"), json=payload("training_records_3"))
    fake.add(responses.GET, training_url("4"), status=404)
    bamboo = make_bamboo()
    with pytest.raises(Exception, match="404"):
        list(bamboo.fetch_learning_events(since=None))

    fake.replace(responses.GET, training_url("4"), json=payload("training_records_4"))
    [page] = list(bamboo.fetch_cost_items(since=None))

    assert training_requests(fake) == ["3", "4", "3", "4"]
    assert [r.id for r in page.records] == ["bamboo:training:31:cost"]


def test_a_recording_is_replayed_once_and_then_read_again():
    spool = ScanSpool(reuse_seconds=10, clock=lambda: 0.0)
    items = [("start", "L", ["1", "2"], {}), ("batch", ["1", "2"], {"1": "1", "2": "2"}),
             ("records", "1", {"11": {"id": 11}}), ("records", "2", [])]

    assert list(spool.scan(("S", None), "learning_event", lambda: iter(items))) == items
    replayed = list(spool.scan(("S", None), "cost_item", lambda: pytest.fail("read again")))

    assert replayed == items
    again = list(spool.scan(("S", None), "learning_event", lambda: iter([("start", "L2", [], {})])))
    assert again == [("start", "L2", [], {})]
