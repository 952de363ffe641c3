"""The jobs scenario end to end at a tiny size: a filled ledger, ``trainbridge sync JOB`` twice.

What each job decided and that the second run (nothing new) decided nothing; no timing
assertions (timings are BENCHMARKS.md's business).
"""

from __future__ import annotations

import pytest

from bench import jobs

pytestmark = pytest.mark.slow  # starts the CLI in child processes


def test_each_job_decides_through_the_cli_then_has_nothing_new(tmp_path):
    data = jobs.scenario(["separations", "points", "points:worst", "incentives", "report:costs"], [40],
                         ["sqlite"], tmp_path, timeout=300)

    runs = {entry["job"]: entry["sizes"] for entry in data["runs"]}
    assert [r["subjects"] for r in runs["points"]] == [400]  # learning-event jobs are 10x
    leavers = runs["separations"][0]
    assert leavers["first"]["status"] == "ok", leavers["first"]
    # every employee leaves: one quote each, and a proposal for whoever owes something
    assert leavers["first"]["counts"]["decisions"] == 40
    assert leavers["again"]["status"] == "ok" and "decisions" not in leavers["again"]["counts"]
    points = runs["points"][0]
    assert points["first"]["counts"]["decisions"] > 0 and points["first"]["counts"]["derived_records"] > 0
    assert points["again"]["counts"] == {}  # nothing new: nothing read, nothing decided
    # realistic events mostly earn points; the worst case's earn fewer (a decision with reasons each
    # for the others: nine in ten from 10k events on, when every manager has a hundred)
    share = points["first"]["counts"]["derived_records"] / points["first"]["counts"]["decisions"]
    worst = runs["points:worst"][0]["first"]
    assert share > 0.75 and worst["status"] == "ok"
    assert worst["counts"]["derived_records"] / worst["counts"]["decisions"] < share
    incentives = runs["incentives"][0]
    assert incentives["first"]["counts"]["proposals"] >= 40  # the review points of every manager, at least
    assert incentives["again"]["counts"] == {}
    report = runs["report:costs"][0]
    assert report["first"]["exit"] == 0 and report["again"]["exit"] == 0
    for entry in data["runs"]:
        for run in entry["sizes"]:
            assert "error" not in run["first"] and "error" not in run["again"], (entry["job"], run)
            assert run["first"]["peak_rss_mb"] > 0 and run["first"]["cpu_seconds"] > 0
    assert "| separations | sqlite | 40 |" in jobs.table(data)
