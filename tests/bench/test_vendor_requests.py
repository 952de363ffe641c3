"""The fake vendor counts requests per endpoint and how many times each endpoint's data was read."""

from __future__ import annotations

import pytest
import requests
from bench.fake_vendor import DataSet, serve_in_thread

pytestmark = pytest.mark.slow  # starts a local HTTP server


@pytest.fixture
def vendor():
    server, url = serve_in_thread(DataSet(10, 25, seed=1))
    yield url
    server.shutdown()
    server.server_close()


def tally(url: str, *, clear: bool = False) -> dict[str, dict[str, int]]:
    answer = requests.post(f"{url}/_bench/requests", params={"clear": 1} if clear else {}, timeout=5)
    return answer.json()["endpoints"]


def test_a_second_scan_of_the_training_records_is_a_second_read(vendor):
    for employee in ("2", "4", "2", "4", "6"):
        requests.get(f"{vendor}/bamboo/v1/training/record/employee/{employee}", timeout=5)

    assert tally(vendor)["GET /bamboo/v1/training/record/employee/{id}"] == \
        {"requests": 5, "reads": 2, "items": 3}


def test_report_pages_of_one_pass_are_one_read_and_an_unfiltered_report_reads_everyone(vendor):
    report = f"{vendor}/bamboo/v1/reports/custom"
    for ids in ([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]):
        requests.post(report, json={"fields": ["displayName"], "filters": {"employeeIds": ids}}, timeout=5)
    assert tally(vendor)["POST /bamboo/v1/reports/custom"] == {"requests": 2, "reads": 1, "items": 10}

    requests.post(report, json={"fields": ["employeeNumber"]}, timeout=5)
    assert tally(vendor)["POST /bamboo/v1/reports/custom"] == {"requests": 3, "reads": 2, "items": 10}


def test_the_pages_of_an_xapi_listing_are_one_read(vendor):
    url: str | None = f"{vendor}/xapi/statements?limit=10"
    while url:
        more = requests.get(url, timeout=5).json()["more"]
        url = vendor + more if more else None
    requests.get(f"{vendor}/bamboo/v1/employees/changed", params={"since": "2024-01-01T00:00:00Z"},
                 timeout=5)

    counted = tally(vendor, clear=True)

    assert counted["GET /xapi/statements"] == {"requests": 3, "reads": 1, "items": 1}
    assert counted["GET /bamboo/v1/employees/changed"] == {"requests": 1, "reads": 1, "items": 1}
    assert tally(vendor) == {}  # cleared


def test_a_refused_request_counts_as_a_request_but_reads_nothing(vendor):
    requests.post(f"{vendor}/_bench/faults", params={"p5xx": 1}, timeout=5)
    requests.get(f"{vendor}/bamboo/v1/training/type", timeout=5)

    assert tally(vendor)["GET /bamboo/v1/training/type"] == {"requests": 1, "reads": 0, "items": 0}
