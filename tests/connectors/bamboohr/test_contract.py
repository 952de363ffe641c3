"""BambooHR against the connector contract, and in a real sync run."""

from __future__ import annotations

from pathlib import Path

import responses
from click.testing import CliRunner

from trainbridge.cli import build_cli
from trainbridge.core.config import Settings, load_settings
from trainbridge.core.manager import load_host
from trainbridge.core.records import Employee, SeparationReason
from trainbridge.core.runner import sync
from trainbridge.testing import check_connector

from .conftest import (
    API_KEY,
    CHANGED,
    EMPLOYMENT_STATUS,
    REPORT,
    TRAINING_TYPES,
    payload,
    report_callback,
    training_url,
)


def fake_bamboohr(fake: responses.RequestsMock) -> None:
    fake.add(responses.GET, CHANGED, json=payload("changed_employees"))
    fake.add_callback(responses.POST, REPORT, callback=report_callback)
    fake.add(responses.GET, EMPLOYMENT_STATUS, json=payload("changed_employment_status"))
    fake.add(responses.GET, TRAINING_TYPES, json=payload("training_types"))
    fake.add(responses.GET, training_url("3"), json=payload("training_records_3"))
    fake.add(responses.GET, training_url("4"), json=payload("training_records_4"))
    fake.add(responses.GET, training_url("10"), json=[])
    fake.add(responses.GET, "https://api.bamboohr.com/api/gateway.php/acme/v1/meta/fields",
             json=[{"id": 1, "name": "First Name", "type": "text", "alias": "firstName"}])


def test_bamboohr_keeps_the_connector_contract(make_bamboo, fake):
    fake_bamboohr(fake)
    bamboo = make_bamboo(results={"table": "customTrainingResults", "id_field": "customResultId"})

    hooks = check_connector(bamboo, exercise=True)

    assert set(hooks) == {"fetch_employees", "fetch_separations", "fetch_learning_events",
                          "fetch_cost_items", "push_training_result", "healthcheck"}


def test_an_instance_offers_only_the_roles_it_is_configured_for(tb_host, tmp_path):
    settings = Settings(path=None, base_dir=tmp_path, connectors={"hr": {
        "type": "bamboohr", "company_domain": "acme", "api_key": API_KEY,
        "sources": ["employees", "separations"]}})
    tb_host.build_instances(settings)

    assert tb_host.hooks_of(tb_host.instances["hr"]) == [
        "fetch_employees", "fetch_separations", "healthcheck"]


def test_trainbridge_plugins_lists_bamboohr():
    result = CliRunner().invoke(build_cli(), ["plugins"])

    assert result.exit_code == 0, result.output
    assert "bamboohr" in result.output


def test_a_sync_run_reads_bamboohr_into_the_ledger(tb_workspace, fake, monkeypatch):
    monkeypatch.setenv("BAMBOOHR_API_KEY", API_KEY)
    fake_bamboohr(fake)
    ws = tb_workspace({"connectors": {"bamboo": {
        "type": "bamboohr", "company_domain": "acme", "api_key": "${BAMBOOHR_API_KEY}",
        "http": {"backoff_base": 0}}}})

    [result] = sync(ws, ["ingest"])

    # the unmapped involuntary termination and the unreadable cost are quarantined
    assert result.status == "partial"
    assert result.counts["quarantined"] == 2
    with ws.ledger.transaction() as conn:
        assert ws.ledger.count_records(conn, "employee") == 3
        assert ws.ledger.count_records(conn, "learning_event") == 3
        assert ws.ledger.count_records(conn, "cost_item") == 1
        leaver = ws.ledger.get_record(conn, "separation", "bamboo:4:separation:2024-06-30")
        zhang = ws.ledger.get_record(conn, "employee", "bamboo:3")
        cursor = ws.ledger.get_cursor(conn, "bamboo", "fetch_employees")
    assert leaver is not None and leaver.reason is SeparationReason.RESIGNATION
    assert isinstance(zhang, Employee) and zhang.source == "bamboo"
    assert cursor == "2024-07-01T09:30:00Z"
    assert all(API_KEY not in e for e in result.errors)


def test_the_documented_plugins_toml_table_is_valid(tmp_path, monkeypatch):
    docs = Path(__file__).parents[3] / "docs" / "connectors" / "bamboohr.md"
    table = docs.read_text(encoding="utf-8").split("```toml\n")[1].split("```")[0]
    (tmp_path / "plugins.toml").write_text(table, encoding="utf-8")
    monkeypatch.setenv("BAMBOOHR_API_KEY", "documented-secret")

    host = load_host(load_settings(tmp_path / "plugins.toml"))

    assert len(host.instances) == 1
