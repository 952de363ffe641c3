"""``tb_clock`` is the clock and sleep of every connector context: nothing waits on the wall clock."""

from __future__ import annotations

from datetime import UTC, datetime

import responses

from trainbridge.core.connector import ConnectorContext
from trainbridge.core.http import HttpSettings
from trainbridge.testing import Clock

API = "https://api.acme.example/v1"


def test_a_context_reads_and_sleeps_on_the_kits_clock(tb_clock: Clock):
    ctx = ConnectorContext()

    assert ctx.clock() == datetime(2025, 6, 2, 9, 0, tzinfo=UTC).timestamp()
    ctx.sleep(90)

    assert tb_clock.sleeps == [90]
    assert ctx.clock() == datetime(2025, 6, 2, 9, 1, 30, tzinfo=UTC).timestamp()


@responses.activate
def test_the_retries_of_a_contexts_client_wait_on_the_kits_clock(tb_clock: Clock):
    responses.get(f"{API}/people", status=503, headers={"Retry-After": "20"})
    responses.get(f"{API}/people", json=[])
    http = ConnectorContext().http(API, instance="acme", settings=HttpSettings(backoff_base=0))

    http.get("/people")

    assert tb_clock.sleeps == [20.0]
    assert tb_clock.now() == datetime(2025, 6, 2, 9, 0, 20, tzinfo=UTC)


def test_a_context_given_its_own_clock_keeps_it(tb_clock: Clock):
    ctx = ConnectorContext(clock=lambda: 1_750_000_000.0)

    assert ctx.clock() == 1_750_000_000.0
