"""The runner: ingest, quarantine, decide, outbox, approval, crash and concurrency safety."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from tests.conftest import write
from tests.core.sample_jobs import AttendanceBonus
from trainbridge.core.errors import AlreadyRunning
from trainbridge.core.runner import ExitCode, approve_proposals, overall_exit, retry_quarantined, sync

EMPLOYEES = """employee_id,name,department,legal_entity
E001,张伟,Operations,ACME-SH
E002,王芳,Operations,ACME-SH
"""
EVENTS = "\n".join(json.dumps(e) for e in [
    {"event_id": "a1", "employee_id": "E001", "event": "attended", "session_id": "S1",
     "occurred_at": "2026-03-01T09:00:00+08:00"},
    {"event_id": "a2", "employee_id": "E002", "event": "attended", "session_id": "S1",
     "occurred_at": "2026-03-01T09:00:00+08:00"},
    {"event_id": "bad", "employee_id": "E002", "event": "teleported",
     "occurred_at": "2026-03-01T09:00:00+08:00"},
]) + "\n"


def config(tmp_path: Path, **extra: object) -> dict[str, object]:
    write(tmp_path / "employees.csv", EMPLOYEES)
    write(tmp_path / "events.jsonl", EVENTS)
    return {"connectors": {
        "hr": {"type": "csv_people", "employees": "employees.csv"},
        "lms": {"type": "file_learning", "events": "events.jsonl"},
        "payroll": {"type": "jsonl_payroll", "path": "out/payroll.jsonl"},
        "notices": {"type": "file_notifier", "path": "out/notices.jsonl"},
    }, **extra}


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
def bonus_ws(make_workspace, tmp_path):
    ws = make_workspace(config(tmp_path))
    ws.host.jobs[AttendanceBonus.name] = AttendanceBonus()
    return ws


def test_a_malformed_record_is_quarantined_and_the_rest_of_the_run_goes_on(bonus_ws):
    results = sync(bonus_ws, ["attendance_bonus"])
    [job] = results
    assert results.ingest.status == "partial" and overall_exit(results) == ExitCode.PARTIAL
    assert results.ingest.counts["records_new"] == 4 and results.ingest.counts["quarantined"] == 1
    assert job.status == "ok" and job.counts["proposals"] == 2
    with bonus_ws.ledger.transaction() as conn:
        [bad] = bonus_ws.ledger.list_quarantine(conn)
    assert bad["instance"] == "lms" and "event" in bad["reason"] and bad["data"]["event"] == "teleported"


def test_quarantined_record_retried_with_corrected_data_enters_the_ledger(bonus_ws):
    sync(bonus_ws, ["attendance_bonus"])
    with bonus_ws.ledger.transaction() as conn:
        [bad] = bonus_ws.ledger.list_quarantine(conn)
    fixed = {**bad["data"], "event": "attended"}
    record = retry_quarantined(bonus_ws, bad["id"], data=fixed)
    assert record.id == "lms:bad"
    with bonus_ws.ledger.transaction() as conn:
        assert bonus_ws.ledger.list_quarantine(conn) == []
        assert bonus_ws.ledger.get_record(conn, "learning_event", "lms:bad") is not None


def test_proposals_wait_for_approval_then_post_exactly_once(bonus_ws, tmp_path):
    sync(bonus_ws, ["attendance_bonus"])
    payroll = tmp_path / "out" / "payroll.jsonl"
    assert lines(payroll) == []
    assert len(lines(tmp_path / "out" / "notices.jsonl")) == 2
    outcome = approve_proposals(bonus_ws, ["bonus:lms:a1"], actor="hr@acme")
    assert outcome == {"bonus:lms:a1": "approved and delivered"}
    assert [p["id"] for p in lines(payroll)] == ["bonus:lms:a1"]
    assert approve_proposals(bonus_ws, ["bonus:lms:a1"], actor="hr@acme")["bonus:lms:a1"].startswith(
        "not pending")
    sync(bonus_ws, ["attendance_bonus"])
    assert len(lines(payroll)) == 1
    assert len(lines(tmp_path / "out" / "notices.jsonl")) == 2
    with bonus_ws.ledger.transaction() as conn:
        [row] = bonus_ws.ledger.list_proposals(conn, status="delivered")
        assert row["decided_by"] == "hr@acme"
        assert any(a["action"] == "proposal.approved" for a in bonus_ws.ledger.list_audit(conn))


def test_running_a_job_twice_changes_nothing_the_second_time(bonus_ws, tmp_path):
    first = sync(bonus_ws, ["attendance_bonus"])
    second = sync(bonus_ws, ["attendance_bonus"])
    assert first[0].counts["proposals"] == 2 and "proposals" not in second[0].counts
    assert second.ingest.counts.get("records_new", 0) == 0 and second[0].counts.get("outbox", 0) == 0


def test_auto_approved_kinds_are_delivered_without_hr(make_workspace, tmp_path):
    ws = make_workspace(config(tmp_path, approvals={"auto": ["bonus"]}))
    ws.host.jobs[AttendanceBonus.name] = AttendanceBonus()
    sync(ws, ["attendance_bonus"])
    assert len(lines(tmp_path / "out" / "payroll.jsonl")) == 2


def test_dry_run_reads_and_decides_but_writes_nothing(bonus_ws, tmp_path):
    results = sync(bonus_ws, ["attendance_bonus"], dry_run=True)
    [result] = results
    assert any("would read lms.fetch_learning_events" in line for line in results.ingest.plan_lines)
    assert any("would propose bonus" in line for line in result.plan_lines)
    assert any("would deliver send_notice" in line for line in result.plan_lines)
    with bonus_ws.ledger.transaction() as conn:
        assert bonus_ws.ledger.count_records(conn) == 0
        assert bonus_ws.ledger.list_runs(conn) == []
        assert bonus_ws.ledger.list_proposals(conn) == []
    assert not (tmp_path / "out").exists()


def test_one_failing_instance_is_recorded_and_the_others_go_on(make_workspace, tmp_path):
    cfg = config(tmp_path)
    cfg["connectors"]["hr2"] = {"type": "csv_people", "employees": "missing.csv"}  # type: ignore[index]
    ws = make_workspace(cfg)
    [result] = sync(ws, ["ingest"])
    assert result.status == "partial" and result.counts["instances_failed"] == 1
    assert any("hr2.fetch_employees failed" in e and "missing.csv" in e for e in result.errors)
    with ws.ledger.transaction() as conn:
        assert ws.ledger.count_records(conn, "employee") == 2
        [run] = ws.ledger.list_runs(conn)
    assert run["job"] == "ingest" and run["status"] == "partial" and run["errors"]


def test_a_second_sync_while_one_runs_is_refused_whatever_jobs_it_names(bonus_ws):
    held = bonus_ws.ledger.start_run("ingest")
    bonus_ws.ledger.acquire_lock("sync", held, stale_after=timedelta(minutes=15))
    results = sync(bonus_ws, ["attendance_bonus"])
    [result] = results
    assert result.status == "already_running" and overall_exit(results) == ExitCode.ALREADY_RUNNING
    with pytest.raises(AlreadyRunning):
        bonus_ws.ledger.acquire_lock("sync", held + 99, stale_after=timedelta(minutes=15))
    with bonus_ws.ledger.transaction() as conn:
        assert bonus_ws.ledger.count_records(conn) == 0
        assert bonus_ws.ledger.list_proposals(conn) == []


def test_a_released_lock_lets_the_next_sync_run(bonus_ws):
    held = bonus_ws.ledger.start_run("ingest")
    bonus_ws.ledger.acquire_lock("sync", held, stale_after=timedelta(minutes=15))
    [result] = sync(bonus_ws, ["attendance_bonus"])  # same pid holds it: refused
    assert result.status == "already_running"
    bonus_ws.ledger.release_lock("sync", held)
    assert sync(bonus_ws, ["attendance_bonus"])[0].status == "ok"


def _run_script(config_path: Path, fault: str | None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    env.pop("TRAINBRIDGE_FAULT", None)
    if fault:
        env["TRAINBRIDGE_FAULT"] = fault
    script = Path(__file__).with_name("sample_jobs.py")
    return subprocess.run([sys.executable, str(script), str(config_path)], env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize(("fault", "readers"), [
    ("after_page:1", "0"), ("after_page:1", "2"),  # streams read here, or by reader processes
    ("after_plan", "0"), ("before_deliver:1", "0"), ("after_deliver_call:1", "0")])
def test_a_run_killed_at_any_step_and_run_again_posts_nothing_twice_and_skips_nothing(
        make_workspace, tmp_path, fault, readers, monkeypatch):
    monkeypatch.setenv("TRAINBRIDGE_READ_PROCESSES", readers)
    ws = make_workspace(config(tmp_path, approvals={"auto": ["bonus"]}))
    killed = _run_script(ws.settings.path, fault)
    assert killed.returncode == -9, killed.stderr
    again = _run_script(ws.settings.path, None)
    # partial when the re-run still reads the quarantined line; ok when the killed run had read it
    assert again.returncode in (ExitCode.OK, ExitCode.PARTIAL), again.stdout + again.stderr
    payroll = lines(tmp_path / "out" / "payroll.jsonl")
    notices = lines(tmp_path / "out" / "notices.jsonl")
    assert sorted(p["id"] for p in payroll) == ["bonus:lms:a1", "bonus:lms:a2"]
    assert sorted(n["id"] for n in notices) == ["thanks:lms:a1", "thanks:lms:a2"]
    with ws.ledger.transaction() as conn:
        states = {r.id: r.state for r in ws.ledger.outbox(conn)}
        runs = ws.ledger.list_runs(conn)
    assert set(states.values()) <= {"delivered", "confirmed"}
    # the killed run is marked abandoned by the next sync; nothing is left "running"
    assert any(r["status"] == "abandoned" for r in runs)
    assert all(r["status"] != "running" for r in runs)


def test_a_second_process_running_the_same_job_exits_75_without_touching_anything(
        make_workspace, tmp_path):
    ws = make_workspace(config(tmp_path))
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time\n"
         "from datetime import timedelta\n"
         "from trainbridge.core.config import load_settings\n"
         "from trainbridge.core.runner import Workspace\n"
         "ws = Workspace(load_settings(sys.argv[1]))\n"
         "run = ws.ledger.start_run('ingest')\n"
         "ws.ledger.acquire_lock('sync', run, stale_after=timedelta(minutes=15))\n"
         "print('locked', flush=True)\n"
         "time.sleep(60)\n", str(ws.settings.path)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        second = subprocess.run([sys.executable, "-m", "trainbridge", "--config", str(ws.settings.path),
                                 "sync", "ingest"], capture_output=True, text=True, timeout=120)
        assert second.returncode == ExitCode.ALREADY_RUNNING, second.stdout + second.stderr
        assert "already running" in second.stdout + second.stderr
        with ws.ledger.transaction() as conn:
            assert ws.ledger.count_records(conn) == 0
    finally:
        holder.kill()
        holder.wait()
    again = subprocess.run([sys.executable, "-m", "trainbridge", "--config", str(ws.settings.path),
                            "sync", "ingest"], capture_output=True, text=True, timeout=120)
    # the dead holder's lock is taken over
    assert again.returncode == ExitCode.PARTIAL, again.stdout + again.stderr


def test_a_sync_refused_by_another_sync_names_its_process_not_its_lock_token(bonus_ws):
    sync_token = -12345  # a sync holds the lock by a negative token, not a run id
    bonus_ws.ledger.acquire_lock("sync", sync_token, stale_after=timedelta(minutes=15))
    [result] = sync(bonus_ws, ["attendance_bonus"])
    assert result.status == "already_running"
    assert f"(pid {os.getpid()} on " in result.errors[0] and "-12345" not in result.errors[0]
