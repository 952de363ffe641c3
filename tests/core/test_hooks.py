"""Every hook is documented for plugin authors and exercised by a test."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click
import sqlalchemy as sa
from click.testing import CliRunner

from tests.conftest import write
from trainbridge import hookimpl
from trainbridge.core import hookspecs
from trainbridge.core.connector import ConnectorContext
from trainbridge.core.manager import LOAD_ERRORS, PluginHost
from trainbridge.core.records import Notice, PayrollAdjustment, Recipient, TrainingResult
from trainbridge.core.reports import Report, ReportResult
from trainbridge.core.runner import sync
from trainbridge.testing import check_connector

ROOT = Path(__file__).parents[2]
ALL_HOOKS = [*hookspecs.EXTENSION_HOOKS, *hookspecs.ROLE_HOOKS]


def test_every_hook_spec_is_listed():
    declared = {name for name in dir(hookspecs) if hasattr(getattr(hookspecs, name), "trainbridge_spec")}
    assert declared == set(ALL_HOOKS)


def test_every_hook_is_documented_in_the_plugin_authors_guide():
    guide = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    missing = [h for h in ALL_HOOKS if f"`{h}(" not in guide]
    assert missing == [], f"document these hooks in docs/plugins.md: {missing}"


def test_every_hook_has_a_test():
    text = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "tests").rglob("test_*.py"))
    missing = [h for h in ALL_HOOKS if not re.search(rf"\b{h}\(", text)]
    assert missing == [], f"write a test that exercises: {missing}"


def test_every_builtin_plugin_imports():
    PluginHost.create()
    assert LOAD_ERRORS == {}


def test_lifecycle_hooks_see_each_run(make_workspace):
    seen: list[tuple[str, ...]] = []

    class Observer:
        @hookimpl
        def before_run(self, job, tenant, run_id):
            seen.append(("before_run", job))

        @hookimpl
        def after_run(self, job, tenant, run_id, status, counts):
            seen.append(("after_run", job, status))

        @hookimpl
        def on_run_error(self, job, tenant, run_id, error):
            seen.append(("on_run_error", job, type(error).__name__))

    ws = make_workspace({})
    ws.host.pm.register(Observer())

    class Broken:
        name, inputs, reads, order, config_model = "broken", (), (), 1, None

        def decide(self, ctx):
            raise RuntimeError("boom")

    ws.host.jobs["broken"] = Broken()
    [failed] = sync(ws, ["broken"])
    assert failed.status == "failed" and "RuntimeError: boom" in failed.errors[0]
    assert [s for s in seen if s[1] == "broken"] == [
        ("before_run", "broken"), ("on_run_error", "broken", "RuntimeError"),
        ("after_run", "broken", "failed")]


def test_register_migrations_reports_and_commands(make_workspace, tmp_path, monkeypatch):
    class Extension:
        @hookimpl
        def register_migrations(self, register):
            register("acme", 1, lambda conn: conn.execute(sa.text(
                "CREATE TABLE acme_notes (tenant VARCHAR(64), note TEXT)")))

        @hookimpl
        def register_reports(self, register):
            register(Report("headcount", "Headcount", lambda ws, **kw: ReportResult(
                "Headcount", ["department", "people"], [["Operations", 2]])))

        @hookimpl
        def register_jobs(self, register):
            class Noop:
                name, inputs, reads, order, config_model = "acme_noop", (), (), 1, None

                def decide(self, ctx):
                    from trainbridge.core.jobs import Plan

                    return Plan(summary=["nothing to do"])

            register(Noop())

        @hookimpl
        def register_commands(self, cli):
            @cli.command(name="hello-acme")
            def hello() -> None:
                click.echo("hello from acme")

    original = PluginHost.create.__func__  # type: ignore[attr-defined]

    def create(cls, disabled=()):
        host = original(cls, disabled)
        host.pm.register(Extension(), name="acme_ext")
        host.jobs.clear()
        host.reports.clear()
        host.migrations.clear()
        host.connector_types.clear()
        host._collect()
        return host

    monkeypatch.setattr(PluginHost, "create", classmethod(create))
    ws = make_workspace({})
    assert ("acme", 1) in [(n, v) for n, v, _ in ws.host.migrations]
    ws.migrate()
    with ws.ledger.engine.connect() as conn:
        conn.execute(sa.text("SELECT tenant, note FROM acme_notes")).all()
    from trainbridge.cli import build_cli

    out = CliRunner().invoke(build_cli(), ["--config", str(ws.settings.path), "report", "headcount",
                                           "--format", "json"])
    assert json.loads(out.output)["rows"] == [{"department": "Operations", "people": 2}]
    csv_out = CliRunner().invoke(build_cli(), ["--config", str(ws.settings.path), "report", "headcount",
                                               "--format", "csv"])
    assert csv_out.output.splitlines()[:2] == ["department,people", "Operations,2"]
    html = CliRunner().invoke(build_cli(), ["--config", str(ws.settings.path), "report", "headcount",
                                            "--format", "html"]).output
    assert "<td>Operations</td>" in html
    assert CliRunner().invoke(build_cli(), ["hello-acme"]).output == "hello from acme\n"
    assert sync(ws, ["acme_noop"])[0].summary == ["nothing to do"]


def test_demo_prepare_contributes_files_and_config(tmp_path):
    from datetime import date

    from trainbridge.core.demo import prepare_workspace

    fragments = PluginHost.create().pm.hook.demo_prepare(workspace=tmp_path / "raw", today=date(2026, 11, 23))
    assert any("hr" in (f or {}).get("connectors", {}) for f in fragments)
    config = prepare_workspace(tmp_path / "ws", date(2026, 11, 23)).read_text()
    assert "[connectors.hr]" in config and (tmp_path / "ws" / "data" / "employees.csv").exists()


def test_file_connectors_pass_the_contract_check(tb_instance, tmp_path):
    write(tmp_path / "e.csv", "employee_id,name\nE1,张伟\n")
    write(tmp_path / "s.csv", "separation_id,employee_id,last_day,reason\nS1,E1,2026-11-22,resignation\n"
                              "S2,E2,2026-11-22,fired\n")
    write(tmp_path / "c.jsonl", json.dumps({"record": "program", "program_id": "P1", "title": "消防"}) + "\n")
    write(tmp_path / "ev.jsonl", "")
    write(tmp_path / "cost.csv",
          "item_id,category,amount,incurred_on,employee_id\nI1,course_fee,1000,2026-01-01,E1\n")
    write(tmp_path / "m.csv", "metric_id,employee_id,metric,value,as_of\nm1,E1,sales,15,2026-01-01\n")
    instances = {
        "csv_people": {"employees": "e.csv"}, "file_learning": {"catalog": "c.jsonl", "events": "ev.jsonl"},
        "csv_costs": {"path": "cost.csv"}, "csv_metrics": {"path": "m.csv", "results": "r.jsonl"},
        "jsonl_payroll": {"path": "p.jsonl"}, "file_notifier": {"path": "n.jsonl"},
    }
    for type_name, config in instances.items():
        check_connector(tb_instance(type_name, config), exercise=True)
    people = tb_instance("csv_people", {"separations": "s.csv"})
    [seps] = list(people.fetch_separations(since=None))
    assert [r.id for r in seps.records] == ["under_test:S1"] and "reason" in seps.rejects[0].reason
    catalog = tb_instance("file_learning", {"catalog": "c.jsonl"})
    [page] = list(catalog.fetch_training_catalog(since=None))
    assert [r.id for r in page.records] == ["under_test:P1"]
    events = tb_instance("file_learning", {"events": "ev.jsonl"})
    assert [p.records for p in events.fetch_learning_events(since=None)] == [[]]
    [costs] = list(tb_instance("csv_costs", {"path": "cost.csv"}).fetch_cost_items(since=None))
    assert str(costs.records[0].amount) == "1000"  # type: ignore[attr-defined]
    [metrics] = list(tb_instance("csv_metrics", {"path": "m.csv"}).fetch_metrics(since=None))
    assert metrics.records[0].metric == "sales"  # type: ignore[attr-defined]
    assert list(tb_instance("csv_metrics", {"path": "m.csv"}).fetch_metrics(since=metrics.cursor)) == []


def test_file_sinks_are_idempotent_by_id(tmp_path):
    from trainbridge.connectors.files import CsvMetrics, FileNotifier, JsonlPayroll

    ctx = ConnectorContext(base_dir=tmp_path)
    payroll = JsonlPayroll.from_mapping("payroll", {"path": "p.jsonl"}, ctx)
    adjustment = PayrollAdjustment(id="refund:1", employee_id="E003", adjustment="deduction", amount="850.00",
                                   effective_date="2026-11-30", reason="training cost refund")
    first = payroll.post_adjustment(adjustment)
    again = payroll.post_adjustment(adjustment)
    assert again.detail == "already present" and len((tmp_path / "p.jsonl").read_text().splitlines()) == 1
    assert payroll.adjustment_status(first.ref).status == "confirmed"
    assert payroll.adjustment_status("nope").status == "unknown"
    perf = CsvMetrics.from_mapping("kpi", {"path": "m.csv", "results": "r.jsonl"}, ctx)
    result = TrainingResult(id="res:1", employee_id="E1", program_id="P1", completed=True)
    perf.push_training_result(result)
    perf.push_training_result(result)
    assert len((tmp_path / "r.jsonl").read_text().splitlines()) == 1
    notifier = FileNotifier.from_mapping("n", {"path": "n.jsonl"}, ctx)
    notice = Notice(id="n1", notice="reminder", subject="服务期即将到期", body="…",
                    recipients=(Recipient(role="hr"),))
    notifier.send_notice(notice)
    notifier.send_notice(notice)
    assert len((tmp_path / "n.jsonl").read_text().splitlines()) == 1
    assert notifier.healthcheck().ok
