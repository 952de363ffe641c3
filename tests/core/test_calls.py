"""One way to call a connector: through pluggy (traced), one instance only, tolerant of spec changes."""

from __future__ import annotations

import logging
import types
from collections.abc import Iterator
from typing import ClassVar

import pluggy
import pytest

from tests.conftest import write
from trainbridge import hookimpl
from trainbridge.core import manager
from trainbridge.core.config import settings_from_mapping
from trainbridge.core.connector import Connector, ConnectorConfig
from trainbridge.core.errors import ConfigError, ConnectorError, PluginError
from trainbridge.core.manager import HookManager, PluginHost, UnusableConnector
from trainbridge.core.records import DeliveryReceipt, Employee, Page, PayrollAdjustment, make_id

hookspec = pluggy.HookspecMarker("trainbridge")

ADJUSTMENT = PayrollAdjustment(id="refund:E003:A1", employee_id="E003", adjustment="deduction",
                               amount="850.00", effective_date="2026-11-30", reason="training cost refund")


@pytest.fixture
def load_errors(monkeypatch):
    """A fresh LOAD_ERRORS, so a deliberately broken plugin does not leak into other tests."""
    errors: dict[str, str] = {}
    monkeypatch.setattr(manager, "LOAD_ERRORS", errors)
    return errors


def two_hr_instances(tmp_path, host: PluginHost) -> None:
    write(tmp_path / "sh.csv", "employee_id,name\nE001,张伟\n")
    write(tmp_path / "bj.csv", "employee_id,name\nE101,李娜\nE102,王芳\n")
    settings = settings_from_mapping({"connectors": {
        "hr_sh": {"type": "csv_people", "employees": "sh.csv"},
        "hr_bj": {"type": "csv_people", "employees": "bj.csv"},
    }}, path=tmp_path / "plugins.toml")
    host.build_instances(settings)


def test_the_trace_shows_each_fetch_employees_call_once_per_instance(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv(manager.TRACE_ENV, "1")
    host = PluginHost.create()
    two_hr_instances(tmp_path, host)
    caplog.set_level(logging.INFO, logger="trainbridge.plugins")

    sh = [r.id for page in host.call("hr_sh", "fetch_employees", since=None) for r in page.records]
    bj = [r.id for page in host.call("hr_bj", "fetch_employees", since=None) for r in page.records]

    assert sh == ["hr_sh:E001"] and bj == ["hr_bj:E101", "hr_bj:E102"]  # each instance read alone
    calls = [r.getMessage() for r in caplog.records if r.getMessage().startswith("hook: fetch_employees")]
    assert calls == ["hook: fetch_employees@hr_sh(since=None)", "hook: fetch_employees@hr_bj(since=None)"]


def test_the_trace_names_a_hook_that_raised_and_cuts_long_arguments(monkeypatch, caplog):
    monkeypatch.setenv(manager.TRACE_ENV, "1")
    host = PluginHost.create()

    class ClosedPayroll(Connector):
        @hookimpl
        def post_adjustment(self, adjustment):
            raise ConnectorError("payroll period is closed", instance=self.name)

    payroll = ClosedPayroll("payroll_sh", ConnectorConfig())
    host.pm.register(payroll, name="connector:payroll_sh")
    host.instances["payroll_sh"] = payroll
    caplog.set_level(logging.INFO, logger="trainbridge.plugins")
    long_story = ADJUSTMENT.model_copy(update={"explanation": ("1700 x 50% = 850",) * 50})

    with pytest.raises(ConnectorError, match="closed"):
        host.call("payroll_sh", "post_adjustment", adjustment=long_story)

    [call, raised] = [r.getMessage() for r in caplog.records if "@payroll_sh" in r.getMessage()]
    # pluggy fills the optional idempotency_key (the outbox gives one; this direct call does not)
    assert call.startswith("hook: post_adjustment@payroll_sh(idempotency_key=None, "
                           "adjustment=PayrollAdjustment(")
    assert call.endswith(" chars))") and len(call) < 250
    assert raised == ("hook: !! post_adjustment@payroll_sh raised ConnectorError: "
                      "payroll_sh: payroll period is closed")


def test_a_call_reaches_one_instance_even_after_another_registers(tmp_path):
    host = PluginHost.create()
    two_hr_instances(tmp_path, host)
    host.call("hr_sh", "fetch_employees", since=None)  # caches hr_sh's caller

    class Intruder(Connector):
        @hookimpl
        def fetch_employees(self, since):
            raise AssertionError("a call to hr_sh reached another instance")

    host.pm.register(Intruder("intruder", ConnectorConfig()), name="connector:intruder")
    pages = list(host.call("hr_sh", "fetch_employees", since=None))
    assert [r.id for p in pages for r in p.records] == ["hr_sh:E001"]


def test_calling_a_hook_the_instance_lacks_says_where_to_route_it(tmp_path):
    host = PluginHost.create()
    two_hr_instances(tmp_path, host)
    with pytest.raises(PluginError, match="'hr_sh' .* does not implement post_adjustment") as caught:
        host.call("hr_sh", "post_adjustment", adjustment=ADJUSTMENT)
    assert "route post_adjustment" in caught.value.hint
    with pytest.raises(PluginError, match="'fetch_employes' is not a role hook"):
        host.call("hr_sh", "fetch_employes", since=None)


# --- spec changes: an implementation declares only the arguments it uses -----------------------


def newer_specs() -> types.ModuleType:
    """The payroll spec as a later release might have it: an optional ``memo`` added."""
    specs = types.ModuleType("newer_specs")

    def post_adjustment(adjustment, memo=None):  # type: ignore[no-untyped-def]
        """Payroll sink: post a bonus or deduction (``memo`` is new and optional)."""

    specs.post_adjustment = hookspec(post_adjustment)  # type: ignore[attr-defined]
    return specs


class PayrollOfLastYear(Connector):
    """Written against the spec before ``memo`` existed."""

    @hookimpl
    def post_adjustment(self, adjustment):
        return DeliveryReceipt(ref=f"old:{adjustment.id}", detail="no memo known")


class PayrollOfThisYear(Connector):
    @hookimpl
    def post_adjustment(self, adjustment, memo):
        return DeliveryReceipt(ref=f"new:{adjustment.id}", detail=f"memo {memo!r}")


@pytest.fixture
def newer_host() -> PluginHost:
    pm = HookManager("trainbridge")
    pm.add_hookspecs(newer_specs())
    host = PluginHost(pm=pm)
    for name, cls in (("old_payroll", PayrollOfLastYear), ("new_payroll", PayrollOfThisYear)):
        instance = cls(name, ConnectorConfig())
        pm.register(instance, name=f"connector:{name}")
        host.instances[name] = instance
    return host


def test_a_new_optional_argument_breaks_no_installed_connector(newer_host):
    old = newer_host.call("old_payroll", "post_adjustment", adjustment=ADJUSTMENT, memo="November payroll")
    assert old == DeliveryReceipt(ref="old:refund:E003:A1", detail="no memo known")
    new = newer_host.call("new_payroll", "post_adjustment", adjustment=ADJUSTMENT, memo="November payroll")
    assert new.detail == "memo 'November payroll'"


def test_an_outbox_row_stored_before_the_argument_existed_gets_its_default(newer_host):
    stored_last_year = {"adjustment": ADJUSTMENT}
    assert newer_host.call("new_payroll", "post_adjustment", **stored_last_year).detail == "memo None"


def test_an_argument_the_spec_no_longer_has_is_dropped_with_a_debug_line(newer_host, caplog):
    caplog.set_level(logging.DEBUG, logger="trainbridge.plugins")
    stored_long_ago = {"adjustment": ADJUSTMENT, "cost_center": "CC-7"}
    receipt = newer_host.call("old_payroll", "post_adjustment", **stored_long_ago)
    assert receipt.ref == "old:refund:E003:A1"
    assert "dropping argument(s) cost_center" in caplog.text


# --- misnamed arguments: reported, the other plugins keep working -------------------------------


class MisspelledPeople(Connector):
    config_model: ClassVar[type[ConnectorConfig]] = ConnectorConfig

    @hookimpl
    def fetch_employees(self, sinse) -> Iterator[Page]:  # "since", misspelled
        page = Page()
        page.add(Employee, {"id": make_id(self.name, "X1"), "employee_id": "X1", "name": "x"})
        yield page


class MisspelledPlugin:
    @hookimpl
    def register_connectors(self, register):
        register("misspelled_people", MisspelledPeople)


class MisspelledJobs:
    @hookimpl
    def register_jobs(self, registr):
        raise AssertionError("never called: the plugin is left out")


def host_with(plugins: dict[str, object]) -> PluginHost:
    host = PluginHost.create()
    for name, plugin in plugins.items():
        host._register_plugin(plugin, name)
    host.connector_types.clear()
    host.jobs.clear()
    host.reports.clear()
    host.migrations.clear()
    host._collect()
    return host


def test_a_misnamed_argument_names_plugin_hook_and_argument_and_the_rest_loads(load_errors):
    host = host_with({"acme_jobs": MisspelledJobs(), "acme_misspelled": MisspelledPlugin()})
    assert load_errors["acme_jobs"] == ("register_jobs(registr) declares 'registr', which the spec "
                                        "register_jobs(register) does not have")
    assert host.load_errors["acme_misspelled"] == (
        "connector type 'misspelled_people': fetch_employees(sinse) declares 'sinse', which the spec "
        "fetch_employees(since) does not have")
    assert "acme_jobs" not in dict(host.pm.list_name_plugin())
    assert {"ingest", "points"} <= set(host.jobs) and "csv_people" in host.connector_types


def test_an_instance_of_a_misnamed_type_fails_its_check_and_not_the_others(tmp_path, load_errors):
    host = host_with({"acme_misspelled": MisspelledPlugin()})
    write(tmp_path / "e.csv", "employee_id,name\nE001,张伟\n")
    settings = settings_from_mapping({"connectors": {
        "hr": {"type": "csv_people", "employees": "e.csv"},
        "acme": {"type": "misspelled_people"},
    }}, path=tmp_path / "plugins.toml")
    host.build_instances(settings)

    broken = host.instances["acme"]
    assert isinstance(broken, UnusableConnector)
    health = broken.healthcheck()
    assert not health.ok
    assert "[connectors.acme]" in health.detail and "plugin acme_misspelled" in health.detail
    assert "fetch_employees(sinse) declares 'sinse'" in health.detail
    assert host.instances["hr"].healthcheck().ok
    assert [r.id for p in host.call("hr", "fetch_employees", since=None)
            for r in p.records] == ["hr:E001"]
    with pytest.raises(ConfigError, match=r"\[connectors.acme\]"):
        host.instances_with("fetch_employees")  # its people are not silently skipped
    with pytest.raises(ConfigError, match="sinse"):
        host.call("acme", "fetch_employees", since=None)
    assert host.instances_with("post_adjustment") == []  # roles it does not play are unaffected


def test_built_in_plugins_are_listed_explicitly_and_all_load(load_errors):
    host = PluginHost.create()
    registered = {name for name, _ in host.pm.list_name_plugin()}
    assert set(manager.BUILTIN_PLUGINS) <= registered
    assert "trainbridge.plugins.agreements" in manager.BUILTIN_PLUGINS
    assert "trainbridge.plugins.refunds" in manager.BUILTIN_PLUGINS
    assert all(row["builtin"] == (row["name"] in manager.BUILTIN_PLUGINS) for row in host.plugin_rows())
    assert host.load_errors == {}


def test_a_listed_module_that_fails_to_import_is_reported_and_skipped(monkeypatch, load_errors):
    monkeypatch.setattr(manager, "BUILTIN_PLUGINS", (*manager.BUILTIN_PLUGINS, "trainbridge.plugins.nope"))
    manager.builtin_modules.cache_clear()
    try:
        host = PluginHost.create()
    finally:
        manager.builtin_modules.cache_clear()
    assert "ModuleNotFoundError" in host.load_errors["trainbridge.plugins.nope"]
    assert "csv_people" in host.connector_types

