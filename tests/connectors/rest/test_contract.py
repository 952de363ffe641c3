"""The rest connector against the connector contract, and the documented example in a sync run."""

from __future__ import annotations

import json

import responses
from click.testing import CliRunner

from trainbridge.cli import build_cli
from trainbridge.core.config import load_settings
from trainbridge.core.runner import Workspace, sync
from trainbridge.testing import check_connector

from .conftest import (
    ATTENDANCE,
    COSTS,
    COURSES,
    HR,
    LEAVERS,
    PEOPLE,
    SECRETS,
    body,
    doc_tables,
    doc_toml,
    fake_finance,
    fake_hr,
    fake_learning,
)

EVERY_KIND = {
    "employees": {"path": "/people", "records": "data.items",
                  "fields": {"employee_id": "employee_no", "name": "name.given"}},
    "separations": {"path": "/people/leavers", "records": "data", "key": ["employee_no", "last_day"],
                    "fields": {"employee_id": "employee_no", "last_day": "last_day",
                               "reason": {"path": "reason_code", "map": {"01": "resignation"}}}},
    "programs": {"path": "/courses", "records": "courses", "key": "code",
                 "fields": {"program_id": "code", "title": "title"}},
    "learning_events": {"path": "/attendance", "records": "records", "key": "record_id",
                        "fields": {"employee_id": "learner.employee_no", "event": {"const": "attended"},
                                   "occurred_at": {"path": "checked_at", "parse": "datetime"}}},
    "cost_items": {"path": "/training-costs", "records": "rows", "key": "voucher_line",
                   "fields": {"amount": "amount", "category": {"const": "course_fee"},
                              "incurred_on": "posted_at"}},
    "metrics": {"path": "/kpis", "key": ["emp", "kpi", "month"],
                "fields": {"employee_id": "emp", "metric": "kpi", "value": "value",
                           "as_of": {"template": "{month}-01", "parse": "date"}}},
}


def test_rest_keeps_the_connector_contract_for_every_kind(fake, make_rest):
    fake.add(responses.GET, f"{HR}/people", body=body({"data": {"items": PEOPLE}}))
    fake.add(responses.GET, f"{HR}/people/leavers", body=body({"data": LEAVERS}))
    fake.add(responses.GET, f"{HR}/courses", body=body(COURSES))
    fake.add(responses.GET, f"{HR}/attendance", body=body({"records": ATTENDANCE}))
    fake.add(responses.GET, f"{HR}/training-costs", body=body({"rows": COSTS}))
    fake.add(responses.GET, f"{HR}/kpis", body=body([{"emp": "E001", "kpi": "error_rate", "value": 0.05,
                                                      "month": "2024-05"}]))
    src = make_rest({"base_url": HR, "endpoints": EVERY_KIND})

    hooks = check_connector(src, exercise=True)

    assert set(hooks) == {"fetch_employees", "fetch_separations", "fetch_training_catalog",
                          "fetch_learning_events", "fetch_cost_items", "fetch_metrics", "healthcheck"}


def test_an_instance_offers_only_the_hooks_of_its_endpoints(tmp_path):
    path = tmp_path / "plugins.toml"
    path.write_text(doc_toml() + '\n[ledger]\nurl = "sqlite:///t.db"\n', encoding="utf-8")
    for name, value in SECRETS.items():
        path.write_text(path.read_text(encoding="utf-8").replace(name, value), encoding="utf-8")
    ws = Workspace(load_settings(path))
    try:
        assert ws.host.hooks_of(ws.host.instances["finance"]) == ["fetch_cost_items", "healthcheck"]
        assert ws.host.hooks_of(ws.host.instances["training"]) == [
            "fetch_training_catalog", "fetch_learning_events", "healthcheck"]
    finally:
        ws.close()


def test_trainbridge_plugins_lists_rest():
    result = CliRunner().invoke(build_cli(), ["plugins"])

    assert result.exit_code == 0, result.output
    assert "connector type rest" in result.output


def test_the_documented_example_syncs_into_the_ledger(fake, tmp_path, monkeypatch):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name.strip("${}"), value)
    fake_hr(fake)
    fake_finance(fake)
    fake_learning(fake)
    path = tmp_path / "plugins.toml"
    path.write_text('[ledger]\nurl = "sqlite:///trainbridge.db"\n\n' + doc_toml(), encoding="utf-8")
    ws = Workspace(load_settings(path))
    ws.ensure_migrated()
    try:
        [first] = sync(ws, ["ingest"])

        assert first.status == "partial"  # the leaver with reason code 99 is quarantined
        assert first.counts["quarantined"] == 1
        assert first.counts["records_new"] == 3 + 1 + 2 + 1 + 2
        with ws.ledger.transaction() as conn:
            assert ws.ledger.count_records(conn, "employee") == 3
            assert ws.ledger.count_records(conn, "cost_item") == 2
            cursor = ws.ledger.get_cursor(conn, "inhouse_hr", "fetch_employees")
        assert json.loads(cursor) == {"employees": "2025-06-01T10:00:00+08:00"}

        fake.calls.reset()
        [second] = sync(ws, ["ingest"])

        people_call = next(c.request for c in fake.calls if c.request.url.startswith(f"{HR}/people?"))
        assert people_call.params["updated_since"] == "2025-06-01T10:00:00+08:00"
        assert second.counts.get("records_new", 0) == 0
    finally:
        ws.close()


def test_the_documented_tables_name_three_instances():
    assert sorted(doc_tables()) == ["finance", "inhouse_hr", "training"]
