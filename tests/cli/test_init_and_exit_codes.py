"""``init`` gives a folder that passes ``check`` and ``sync``; exit codes tell the truth."""

from __future__ import annotations

import json

from tests.cli.conftest import replace


def test_init_writes_config_and_sample_data_that_check_and_sync_accept(initialised, tb):
    employees = (initialised / "data" / "employees.csv").read_text(encoding="utf-8")
    assert employees.startswith("employee_id,name")
    assert tb("check")[0] == 0
    code, out, err = tb("sync", "--json")
    assert code == 0, err
    results = {r["job"]: r for r in json.loads(out)}
    assert results["ingest"]["counts"]["records_new"] == 8
    assert results["costs"]["summary"][0].startswith("1 cost item(s) allocated to 1 employee(s): 1000.00 CNY")


def test_init_keeps_an_operators_files(initialised, tb):
    (initialised / "data" / "employees.csv").write_text("employee_id,name\nE9,王芳\n", encoding="utf-8")
    code, out, _ = tb("init")
    assert code == 0 and "exists; keeping it" in out
    kept = (initialised / "data" / "employees.csv").read_text(encoding="utf-8")
    assert kept == "employee_id,name\nE9,王芳\n"


def test_every_source_failing_is_a_failed_sync_and_the_dry_run_says_so_too(initialised, tb):
    for name in ("employees.csv", "separations.csv", "catalog.jsonl", "learning_events.jsonl",
                 "cost_items.csv", "metrics.csv"):
        (initialised / "data" / name).unlink()
    dry, _, _ = tb("sync", "--dry-run")
    real, _, err = tb("sync")
    assert (dry, real) == (1, 1), err
    assert "data/employees.csv" in err


def test_a_dry_run_exits_as_the_run_would_when_one_source_fails(initialised, tb):
    (initialised / "data" / "metrics.csv").unlink()
    dry, _, _ = tb("sync", "--dry-run")
    real, _, _ = tb("sync")
    assert dry == real == 3


def test_a_failed_delivery_on_approval_is_reported_and_exits_1(initialised, tb):
    # training results written to a folder: every delivery of the review_points proposal fails
    replace(initialised, 'results = "out/training_results.jsonl"', 'results = "data"')
    assert tb("sync")[0] in (0, 3)
    code, out, _ = tb("proposals", "list", "--json", "--status", "pending")
    pending = [p["id"] for p in json.loads(out)]
    assert pending, "the sample data makes one incentive proposal"
    code, out, _err = tb("proposals", "approve", *pending)
    assert code == 1
    assert f"{pending[0]}: approved; delivery failed" in out
