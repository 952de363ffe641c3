"""Gusto against the connector contract, and as the payroll sink of a real sync run."""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from trainbridge.cli import build_cli
from trainbridge.core.config import load_settings
from trainbridge.core.demo import prepare_workspace, to_toml
from trainbridge.core.runner import Workspace, approve_proposals, sync
from trainbridge.testing import check_connector

from .conftest import COMPANY, EMPLOYEE, TOKEN, bonus

SEED_DAY = date(2025, 6, 2)


@pytest.mark.filterwarnings("ignore::trainbridge.testing.ContractWarning")  # the sink: below
def test_gusto_keeps_the_connector_contract(gusto, company):
    hooks = check_connector(gusto, exercise=True)

    assert set(hooks) == {"post_adjustment", "adjustment_status", "verify_webhook", "healthcheck"}


def test_a_bonus_is_one_payroll_delivered_twice_or_after_a_lost_answer(gusto, company):
    # Gusto has no idempotency key: the lookup (memo tag, or an untouched payroll to adopt) stands in.
    hooks = check_connector(gusto, exercise=True, writes={"post_adjustment": {"adjustment": bonus()}},
                            effects=lambda: len(company.payrolls))

    assert set(hooks) == {"post_adjustment", "adjustment_status", "verify_webhook", "healthcheck"}


def test_trainbridge_plugins_lists_gusto():
    result = CliRunner().invoke(build_cli(), ["plugins"])

    assert result.exit_code == 0, result.output
    assert "connector type gusto" in result.output


def test_the_documented_plugins_toml_table_is_valid(monkeypatch):
    doc = Path(__file__).parents[3] / "docs" / "connectors" / "gusto.md"
    table = doc.read_text(encoding="utf-8").split("```toml\n", 1)[1].split("```", 1)[0]
    settings = tomllib.loads(table)["connectors"]["payroll_us"]

    from trainbridge.connectors.gusto import GustoConfig

    config = GustoConfig.model_validate(
        {k: ("x-secret" if str(v).startswith("${") else v) for k, v in settings.items() if k != "type"})
    assert settings["type"] == "gusto"
    assert config.base_url == "https://api.gusto-demo.com"


class Crash(BaseException):
    """The process dies: after Gusto answered, before the ledger recorded the delivery."""


@pytest.fixture
def seed_workspace(tmp_path, monkeypatch):
    """The demo's seed story with Gusto as the payroll: 李娜 (E003) owes 1700 x 50% = 850."""
    path = prepare_workspace(tmp_path, SEED_DAY)
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    # The demo's money is CNY; this instance accepts it so the seed story runs unchanged.
    data["connectors"]["payroll"] = {
        "type": "gusto", "company_id": COMPANY, "access_token": "${GUSTO_ACCESS_TOKEN}",
        "currency": "CNY", "employees": {"E003": EMPLOYEE}, "http": {"backoff_base": 0}}
    path.write_text(to_toml(data), encoding="utf-8")
    monkeypatch.setenv("GUSTO_ACCESS_TOKEN", TOKEN)
    ws = Workspace(load_settings(path))
    yield ws
    ws.close()


def test_a_leavers_refund_is_approved_and_posted_to_gusto_once(seed_workspace, company):
    ws = seed_workspace
    results = sync(ws, ["ingest", "agreements", "costs", "separations"], today=SEED_DAY)
    assert [r.status for r in results] == ["ok", "ok", "ok", "ok"]
    assert company.writes() == []  # money waits for HR

    outcome = approve_proposals(ws, ["refund:hr:S-E003"], actor="hr")

    assert outcome == {"refund:hr:S-E003": "approved and delivered"}
    [garnishment] = company.ours()
    assert garnishment["amount"] == "850.00"
    with ws.ledger.transaction() as conn:
        [row] = ws.ledger.outbox(conn, operation="post_adjustment")
    assert row.state == "delivered"
    assert row.ref == f"garnishment:{garnishment['uuid']}"


def test_a_crash_between_gustos_answer_and_our_commit_does_not_post_twice(seed_workspace, company,
                                                                          monkeypatch):
    ws = seed_workspace
    sync(ws, ["ingest", "agreements", "costs", "separations"], today=SEED_DAY)
    real = ws.ledger.mark_delivered
    crashes = []

    def crash_once(*args, **kw):
        if not crashes:
            crashes.append(args)
            raise Crash
        return real(*args, **kw)

    monkeypatch.setattr(ws.ledger, "mark_delivered", crash_once)
    with pytest.raises(Crash):
        approve_proposals(ws, ["refund:hr:S-E003"], actor="hr")
    assert len(company.ours()) == 1

    [result] = sync(ws, ["separations"], today=SEED_DAY)  # the next scheduled run

    assert result.counts.get("delivered") == 1
    assert len(company.writes("POST")) == 1
    assert len(company.ours()) == 1
    with ws.ledger.transaction() as conn:
        [row] = ws.ledger.outbox(conn, operation="post_adjustment")
    assert row.state == "delivered"
    assert "found, posted earlier" in row.result["detail"]
