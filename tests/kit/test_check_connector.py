"""The kit proves exactly-once writes and catches the contract mistakes a vendor author makes."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from trainbridge.testing import SAMPLE_WRITES, ContractError, ContractWarning, check_connector

from .acme import BASE, AcmeConfig, AcmePay, DuplicatedIds, KeylessPay, NoCursor, UnprefixedIds

PEOPLE = [{"id": "E001", "name": "Li Lei"}, {"id": "E002", "name": "Han Meimei"}]


@pytest.fixture
def vendor(tb_vendor: Any) -> Any:
    acme = tb_vendor(BASE)
    acme.serve("GET", "/people", json=PEOPLE)
    acme.resource("/payments")
    return acme


def build(cls: type[AcmePay]) -> AcmePay:
    return cls("acme_sh", AcmeConfig())


def bonus_write() -> dict[str, Any]:
    return {"post_adjustment": SAMPLE_WRITES["post_adjustment"]()}


def test_a_sink_that_sends_the_key_pays_once_twice_delivered_and_after_a_lost_answer(vendor):
    hooks = check_connector(build(AcmePay), exercise=True, writes=bonus_write(), effects=vendor.effects)

    assert hooks == ["fetch_employees", "post_adjustment", "healthcheck"]
    # one write delivered twice, then a fresh one whose first answer was lost (the HTTP client
    # sent it again with its key): every request carried its key, and two payments exist
    keys = [c.idempotency_key() for c in vendor.writes()]
    assert keys[:2] == ["kit:post_adjustment:1"] * 2
    assert set(keys[2:]) == {"kit:post_adjustment:2"} and len(keys) > 3
    assert vendor.effects() == 2


def test_a_sink_without_the_key_is_caught_paying_twice_after_a_lost_answer(vendor):
    with pytest.raises(ContractError) as error:
        check_connector(build(KeylessPay), exercise=True, writes=bonus_write(), effects=vendor.effects)

    said = str(error.value)
    assert "post_adjustment: delivering 'kit:post_adjustment:1' twice answered different refs" in said
    assert "post_adjustment: delivering 'kit:post_adjustment:2' after a lost answer left 2 objects " \
           "at the vendor, not 1" in said


def test_a_source_hook_without_since_is_named(vendor):
    with pytest.raises(ContractError, match=r"fetch_employees: does not take since"):
        check_connector(build(NoCursor), exercise=True)


@pytest.mark.filterwarnings("ignore::trainbridge.testing.ContractWarning")
def test_ids_not_prefixed_with_the_instance_are_named(vendor):
    with pytest.raises(ContractError, match=r"fetch_employees: record id 'E001' is not prefixed with "
                                            r"the instance name \(make_id\('acme_sh', vendor_key\)\)"):
        check_connector(build(UnprefixedIds), exercise=True)


@pytest.mark.filterwarnings("ignore::trainbridge.testing.ContractWarning")
def test_one_id_twice_in_a_page_is_named(vendor):
    with pytest.raises(ContractError, match=r"fetch_employees: page 1 holds id 'acme_sh:E001' twice"):
        check_connector(build(DuplicatedIds), exercise=True)


def test_a_sink_given_no_arguments_is_not_called_and_says_so(vendor):
    with pytest.warns(ContractWarning, match=r"AcmePay.post_adjustment was not exercised"):
        check_connector(build(AcmePay), exercise=True)

    assert vendor.writes() == []


def test_without_exercise_nothing_is_called(vendor):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_connector(build(AcmePay))

    assert vendor.calls == []


def test_tb_clock_holds_the_http_waits_of_a_rate_limited_vendor(tb_clock, tb_vendor):
    acme = tb_vendor(BASE)
    acme.fail_next("GET", "/people", 429, headers={"Retry-After": "30"})
    acme.serve("GET", "/people", json=PEOPLE)
    started = tb_clock.now()

    [page] = build(AcmePay).fetch_employees(since=None)

    assert len(page.records) == 2
    assert tb_clock.sleeps[0] >= 30
    assert (tb_clock.now() - started).total_seconds() >= 30
