"""The xAPI connector against the connector contract, and in a real sync run."""

from __future__ import annotations

from pathlib import Path

import responses
from click.testing import CliRunner
from responses import matchers

from trainbridge.cli import build_cli
from trainbridge.core.config import load_settings
from trainbridge.core.manager import load_host
from trainbridge.core.records import LearningEvent, LearningEventKind
from trainbridge.core.runner import Workspace, sync
from trainbridge.testing import check_connector

from .conftest import (
    ABOUT,
    SECRET,
    STATEMENTS,
    first_page,
    more_page,
    payload,
    voided_lookup,
)


def fake_lrs(fake: responses.RequestsMock) -> None:
    fake.add(responses.GET, ABOUT, json=payload("about"))
    first_page(fake)
    more_page(fake)
    voided_lookup(fake)


def test_xapi_keeps_the_connector_contract(lrs, fake):
    fake_lrs(fake)
    fake.add(responses.GET, STATEMENTS, json={"statements": [], "more": ""},
             match=[matchers.query_param_matcher({"limit": "1", "format": "ids"})])

    hooks = check_connector(lrs, exercise=True)

    assert set(hooks) == {"fetch_learning_events", "healthcheck"}


def test_trainbridge_plugins_lists_xapi():
    result = CliRunner().invoke(build_cli(), ["plugins"])

    assert result.exit_code == 0, result.output
    assert "xapi" in result.output


PLUGINS_TOML = """
[ledger]
url = "sqlite:///trainbridge.db"

[connectors.lrs]
type = "xapi"
endpoint = "https://lrs.example.com/xapi/"
username = "lrs-key"
password = "${LRS_SECRET}"
http = { backoff_base = 0 }

[connectors.lrs.verbs]
"https://xapi.example.cn/verbs/submitted-action-plan" = "action_plan_submitted"
"""


def test_a_sync_run_reads_the_lrs_into_the_ledger(tmp_path, fake, monkeypatch):
    monkeypatch.setenv("LRS_SECRET", SECRET)
    fake_lrs(fake)
    path = tmp_path / "plugins.toml"
    path.write_text(PLUGINS_TOML, encoding="utf-8")
    ws = Workspace(load_settings(path))
    ws.ensure_migrated()

    [result] = sync(ws, ["ingest"])

    assert result.status == "partial"  # the Group and the anonymous learner are quarantined
    assert result.counts["quarantined"] == 2
    with ws.ledger.transaction() as conn:
        assert ws.ledger.count_records(conn, "learning_event") == 4
        voiding = ws.ledger.get_record(conn, "learning_event",
                                       "lrs:e05aa883-acaf-40ad-bf54-02c8ce485fb1")
        cursor = ws.ledger.get_cursor(conn, "lrs", "fetch_learning_events")
    assert isinstance(voiding, LearningEvent) and voiding.event is LearningEventKind.VOIDED
    assert voiding.voids == "lrs:6690e6c9-3ef0-4ed3-8b37-7f3964730bee"
    assert cursor == "2024-05-20T09:00:00.900Z"
    assert all(SECRET not in e for e in result.errors)
    ws.close()


def test_the_documented_plugins_toml_table_is_valid(tmp_path, monkeypatch):
    docs = Path(__file__).parents[3] / "docs" / "connectors" / "xapi.md"
    table = docs.read_text(encoding="utf-8").split("```toml\n")[1].split("```")[0]
    (tmp_path / "plugins.toml").write_text(table, encoding="utf-8")
    monkeypatch.setenv("LRS_SECRET", "documented-secret")

    host = load_host(load_settings(tmp_path / "plugins.toml"))

    assert len(host.instances) == 1
