"""Ingestion reads the next page while the current one is written, and never ahead of the ledger.

One reader thread per stream reads and serialises pages into a bounded queue; the writer
commits each page with its cursor before taking the next. So the reader is at most a few pages
ahead, a writer that stops stops the reader (and closes the source), and a source that fails
fails after the pages it gave. The kill -9 tests of tests/core/test_runner.py
(``after_page:1``) prove the cursor: a killed run re-reads from the last committed page.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from trainbridge.core import ingest
from trainbridge.core.records import Employee, Page, Reject


def person(n: int) -> Employee:
    return Employee(id=f"hr:{n}", employee_id=f"E{n:03d}", name=f"员工{n}")


class Source:
    """Pages of one employee each, remembering how far it was read and whether it was closed."""

    def __init__(self, pages: int, fail_at: int | None = None) -> None:
        self.pages, self.fail_at = pages, fail_at
        self.given = 0
        self.closed = threading.Event()

    def __iter__(self) -> Iterator[Page]:
        try:
            for n in range(1, self.pages + 1):
                if n == self.fail_at:
                    raise RuntimeError(f"vendor failed on page {n}")
                self.given = n
                yield Page(records=[person(n)], cursor=f"c{n}")
        finally:
            self.closed.set()


def test_every_page_arrives_in_order_with_its_cursor_and_records_serialised_once():
    source = Source(5)
    ready = list(ingest._prepared_pages(iter(source), "hr", read_ahead=True))

    assert [r.cursor for r in ready] == ["c1", "c2", "c3", "c4", "c5"]
    assert [p.id for r in ready for p in r.records] == [f"hr:{n}" for n in range(1, 6)]
    first = ready[0].records[0]
    assert first.source == "hr" and first.kind == "employee"
    assert '"name": "员工1"' in first.payload  # the text stored, as dumped once


def test_the_reader_stays_a_bounded_number_of_pages_ahead_and_stops_with_the_writer():
    source = Source(50)
    pages = ingest._prepared_pages(iter(source), "hr", read_ahead=True)
    assert next(pages).cursor == "c1"
    # page 1 is with the writer; the queue holds READ_AHEAD more and the reader holds one in hand
    threading.Event().wait(0.3)
    assert source.given <= 1 + ingest.READ_AHEAD + 1
    pages.close()  # the writer stops (an error writing page 1, or a kill of the thread)
    assert source.closed.wait(5)
    assert source.given < 50
    assert not [t for t in threading.enumerate() if t.name.startswith("trainbridge-read-")]


def test_a_source_that_fails_fails_the_stream_after_the_pages_it_gave():
    source = Source(5, fail_at=3)
    got: list[str | None] = []
    with pytest.raises(RuntimeError, match="vendor failed on page 3"):
        for ready in ingest._prepared_pages(iter(source), "hr", read_ahead=True):
            got.append(ready.cursor)
    assert got == ["c1", "c2"]


def test_a_record_with_nul_is_a_reject_naming_the_field_the_rest_of_the_page_is_kept():
    page = Page(records=[person(1), Employee(id="hr:2", employee_id="E002", name="bad\x00name"),
                         Employee(id="hr:3", employee_id="E003", name="a literal \\u0000 is fine")],
                rejects=[Reject(model="employee", reason="no id", raw={"x": "\x00"})], cursor="c")
    ready = ingest.prepare_page(page, "hr")

    assert [r.id for r in ready.records] == ["hr:1", "hr:3"]
    nul, reject = sorted(ready.rejects, key=lambda r: r.reason)
    assert nul.key == "hr:2" and "field name" in nul.reason
    assert reject.raw == {"x": "\\u0000"}  # rejects are made storable too
