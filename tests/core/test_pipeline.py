"""The sync's shape: ingest once, one lock with a heartbeat, hooks inside the run, files after commit."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import pytest
import sqlalchemy as sa

from tests.conftest import write
from tests.core.sample_jobs import AttendanceBonus
from tests.core.test_runner import config
from trainbridge import hookimpl
from trainbridge.core.connector import Connector
from trainbridge.core.errors import AlreadyRunning
from trainbridge.core.jobs import FileWrite, Job, JobContext, Plan
from trainbridge.core.ledger import locks_table
from trainbridge.core.records import (
    DeliveryReceipt,
    Envelope,
    EnvelopeStatus,
    PayrollAdjustment,
    WebhookEvent,
    WebhookResult,
)
from trainbridge.core.runner import heartbeat, sync
from trainbridge.core.webhooks import receive_webhook


class HeadCount(Job):
    """A second job reading what the bonus job reads: the sync must not read the sources twice."""

    name = "head_count"
    inputs: ClassVar[tuple[str, ...]] = ("employee", "learning_event")

    def decide(self, ctx: JobContext) -> Plan:
        return Plan(summary=[f"{sum(1 for _ in ctx.records('employee'))} employee(s)"])


@pytest.fixture
def two_jobs(make_workspace, tmp_path):
    ws = make_workspace(config(tmp_path))
    ws.host.jobs[AttendanceBonus.name] = AttendanceBonus()
    ws.host.jobs[HeadCount.name] = HeadCount()
    return ws


def count_calls(ws: Any) -> Counter[tuple[str, str]]:
    calls: Counter[tuple[str, str]] = Counter()
    real = ws.host.call

    def counting(instance: Any, hook: str, **kwargs: Any) -> Any:
        calls[(getattr(instance, "name", instance), hook)] += 1
        return real(instance, hook, **kwargs)

    ws.host.call = counting
    return calls


def test_a_sync_of_two_jobs_reads_each_source_once_per_instance(two_jobs):
    calls = count_calls(two_jobs)
    results = sync(two_jobs, ["attendance_bonus", "head_count"])
    reads = {k: v for k, v in calls.items() if k[1].startswith("fetch_")}
    assert reads == {("hr", "fetch_employees"): 1, ("lms", "fetch_learning_events"): 1}
    assert [r.job for r in results] == ["attendance_bonus", "head_count"]
    assert results[1].summary == ["2 employee(s)"]


def test_one_bad_row_is_one_quarantine_entry_however_often_it_is_read(two_jobs, tmp_path):
    sync(two_jobs, ["attendance_bonus", "head_count"])
    with two_jobs.ledger.transaction() as conn:
        two_jobs.ledger.reset_cursors(conn)  # read every source in full again
    sync(two_jobs, ["head_count"])
    with two_jobs.ledger.transaction() as conn:
        [entry] = two_jobs.ledger.list_quarantine(conn)
    assert entry["instance"] == "lms" and entry["hook"] == "fetch_learning_events" and entry["seen"] == 2


def test_a_quarantined_record_that_arrives_valid_closes_its_entry(two_jobs, tmp_path):
    sync(two_jobs, ["head_count"])
    fixed = (tmp_path / "events.jsonl").read_text().replace('"teleported"', '"attended"')
    write(tmp_path / "events.jsonl", fixed)
    results = sync(two_jobs, ["head_count"])
    assert results.ingest.counts["quarantine_resolved"] == 1
    with two_jobs.ledger.transaction() as conn:
        assert two_jobs.ledger.list_quarantine(conn) == []
        assert two_jobs.ledger.get_record(conn, "learning_event", "lms:bad") is not None


class Boom(Exception):
    pass


class RaisingBeforeRun:
    @hookimpl
    def before_run(self, job: str, tenant: str, run_id: int) -> None:
        raise Boom("audit system unreachable")


def test_a_before_run_hook_that_raises_fails_the_run_and_frees_the_lock(two_jobs):
    two_jobs.host.pm.register(RaisingBeforeRun(), name="raising")
    [result] = sync(two_jobs, ["head_count"])
    assert result.status == "failed" and "audit system unreachable" in result.errors[0]
    with two_jobs.ledger.transaction() as conn:
        assert conn.execute(sa.select(locks_table).where(
            locks_table.c.tenant == two_jobs.settings.tenant)).all() == []
        assert all(r["status"] != "running" for r in two_jobs.ledger.list_runs(conn))
    two_jobs.host.pm.unregister(name="raising")
    assert sync(two_jobs, ["head_count"])[0].status == "ok"


def test_a_live_holder_on_this_host_keeps_its_lock_however_late_its_heartbeat(two_jobs):
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        _hold(two_jobs, pid=holder.pid, host=socket.gethostname(), beat_ago=timedelta(hours=2))
        with pytest.raises(AlreadyRunning):
            two_jobs.ledger.acquire_lock("sync", 10**6, stale_after=timedelta(minutes=1))
    finally:
        holder.kill()
        holder.wait()


def test_a_holder_whose_pid_now_belongs_to_a_newer_process_counts_as_gone(two_jobs):
    newer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        _hold(two_jobs, pid=newer.pid, host=socket.gethostname(), beat_ago=timedelta(0))
        with two_jobs.ledger.transaction() as conn:  # the lock was taken an hour before it started
            conn.execute(sa.update(locks_table).where(locks_table.c.tenant == two_jobs.settings.tenant)
                         .values(acquired_at=datetime.now(UTC) - timedelta(hours=1)))
        two_jobs.ledger.acquire_lock("sync", 10**6, stale_after=timedelta(minutes=15))
    finally:
        newer.kill()
        newer.wait()


def test_a_zombie_holder_counts_as_gone(two_jobs):
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 20
    while Path(f"/proc/{zombie.pid}/status").read_text().find("State:\tZ") < 0:
        assert time.monotonic() < deadline, "the child never exited"
        time.sleep(0.05)
    try:
        _hold(two_jobs, pid=zombie.pid, host=socket.gethostname(), beat_ago=timedelta(0))
        two_jobs.ledger.acquire_lock("sync", 10**6, stale_after=timedelta(minutes=15))
    finally:
        zombie.wait()


@pytest.mark.parametrize(("beat_ago", "taken"),
                         [(timedelta(minutes=20), True), (timedelta(minutes=1), False)])
def test_a_holder_on_another_host_is_dead_only_after_the_timeout_without_heartbeat(
        two_jobs, beat_ago, taken):
    _hold(two_jobs, pid=1, host="worker-elsewhere", beat_ago=beat_ago)
    if taken:
        two_jobs.ledger.acquire_lock("sync", 10**6, stale_after=timedelta(minutes=15))
    else:
        with pytest.raises(AlreadyRunning):
            two_jobs.ledger.acquire_lock("sync", 10**6, stale_after=timedelta(minutes=15))


def _hold(ws: Any, *, pid: int, host: str, beat_ago: timedelta) -> None:
    run = ws.ledger.start_run("ingest")
    ws.ledger.acquire_lock("sync", run, stale_after=timedelta(minutes=15))
    with ws.ledger.transaction() as conn:
        conn.execute(sa.update(locks_table).where(locks_table.c.tenant == ws.settings.tenant).values(
            pid=pid, host=host, heartbeat_at=datetime.now(UTC) - beat_ago))


def test_the_heartbeat_beats_from_a_thread_while_the_run_works(two_jobs):
    run = two_jobs.ledger.start_run("ingest")
    two_jobs.ledger.acquire_lock("sync", run, stale_after=timedelta(minutes=15))
    with two_jobs.ledger.transaction() as conn:
        before = conn.execute(sa.select(locks_table.c.heartbeat_at).where(
            locks_table.c.tenant == two_jobs.settings.tenant)).scalar_one()
    with heartbeat(two_jobs.ledger, "sync", run, timeout_seconds=4):
        time.sleep(2.5)  # a slow vendor call in this thread
    with two_jobs.ledger.transaction() as conn:
        after = conn.execute(sa.select(locks_table.c.heartbeat_at).where(
            locks_table.c.tenant == two_jobs.settings.tenant)).scalar_one()
    assert after > before


class KeepsAFile(Job):
    name = "keeps_a_file"

    def decide(self, ctx: JobContext) -> Plan:
        return Plan(files=[FileWrite(ctx.base_dir / "documents" / "a.pdf", b"%PDF-1.7 agreement")])


def test_a_plans_files_are_written_after_commit_owner_only_and_never_in_a_dry_run(two_jobs, tmp_path):
    two_jobs.host.jobs[KeepsAFile.name] = KeepsAFile()
    sync(two_jobs, ["keeps_a_file"], dry_run=True)
    assert not (tmp_path / "documents").exists()
    [result] = sync(two_jobs, ["keeps_a_file"])
    path = tmp_path / "documents" / "a.pdf"
    assert result.counts["files"] == 1 and path.read_bytes() == b"%PDF-1.7 agreement"
    assert path.stat().st_mode & 0o777 == 0o600 and path.parent.stat().st_mode & 0o777 == 0o700


class Vendor(Connector):
    """A vendor whose callbacks report an envelope signed and a payroll paid."""

    events: ClassVar[list[WebhookEvent]] = []

    @hookimpl
    def verify_webhook(self, headers: dict[str, str], body: bytes) -> WebhookResult:
        return WebhookResult(events=tuple(self.events))

    @hookimpl
    def post_adjustment(self, adjustment: PayrollAdjustment) -> DeliveryReceipt:
        return DeliveryReceipt(ref=f"payroll-{adjustment.id}")


def _add_vendor(ws: Any) -> None:
    from trainbridge.core.connector import ConnectorConfig

    vendor = Vendor("vendor", ConnectorConfig())
    ws.host.pm.register(vendor, name="connector:vendor")
    ws.host.instances["vendor"] = vendor


def test_a_signed_envelope_callback_becomes_an_envelope_record_once(two_jobs):
    from trainbridge.core.records import Agreement

    _add_vendor(two_jobs)
    agreement = Agreement(id="agreements:a1", source="agreements", employee_id="E001", program_id="P",
                          template_id="service-24m", template_version="1", service_start="2026-01-01",
                          service_months=24, service_end="2028-01-01", status="sent", envelope_id="env-1",
                          esign_instance="vendor")
    with two_jobs.ledger.transaction() as conn:
        two_jobs.ledger.upsert_records(conn, [agreement])
    Vendor.events = [WebhookEvent(event_id="ev-1", event_type="envelope-completed", envelope_id="env-1",
                                  status=EnvelopeStatus.COMPLETED,
                                  occurred_at=datetime(2026, 3, 1, tzinfo=UTC))]
    receive_webhook(two_jobs, "vendor", {}, b"{}")
    receive_webhook(two_jobs, "vendor", {}, b"{}")  # a replay changes nothing
    with two_jobs.ledger.transaction() as conn:
        [envelope] = list(two_jobs.ledger.iter_records(conn, "envelope"))
        stored = two_jobs.ledger.get_record(conn, "agreement", "agreements:a1")
    assert isinstance(envelope, Envelope) and envelope.status is EnvelopeStatus.COMPLETED
    assert envelope.agreement_id == "agreements:a1" and envelope.id == "vendor:env-1"
    assert stored == agreement  # the job, not the intake, moves the agreement


def test_a_payroll_paid_callback_confirms_the_delivered_write(two_jobs, tmp_path):
    from trainbridge.core.jobs import Write
    from trainbridge.core.records import AdjustmentKind
    from trainbridge.core.runner import deliver, route

    _add_vendor(two_jobs)
    adjustment = PayrollAdjustment(id="refund:S-1", employee_id="E001", adjustment=AdjustmentKind.DEDUCTION,
                                   amount=Decimal("850.00"), currency="CNY", effective_date="2026-03-01",
                                   reason="training cost refund")
    with two_jobs.ledger.transaction() as conn:
        rows = route(two_jobs, conn, Write("post_adjustment", {"adjustment": adjustment}, instance="vendor"),
                     job="separations", proposal_id=None)
        two_jobs.ledger.enqueue(conn, rows)
    [row] = deliver(two_jobs, "separations")
    assert row.ref == "payroll-refund:S-1"
    Vendor.events = [WebhookEvent(event_id="ev-paid", event_type="payroll.paid", delivery_ref=row.ref,
                                  delivery_status="confirmed", detail="paid 2026-03-05")]
    receive_webhook(two_jobs, "vendor", {}, b"{}")
    with two_jobs.ledger.transaction() as conn:
        [confirmed] = two_jobs.ledger.outbox(conn)
    assert confirmed.state == "confirmed" and confirmed.status_detail == "paid 2026-03-05"


def test_sync_from_the_command_line_traces_each_source_hook_once(tmp_path):
    """The demo's whole sync with every job: ``TRAINBRIDGE_TRACE_HOOKS=1`` shows one call per source."""
    env = {**os.environ, "TRAINBRIDGE_TRACE_HOOKS": "1", "PYTHONPATH": str(Path(__file__).parents[2])}
    demo = tmp_path / "demo"
    made = subprocess.run([sys.executable, "-m", "trainbridge", "demo", "--dir", str(demo)],
                          capture_output=True, text=True, timeout=300,
                          env={**env, "TRAINBRIDGE_TRACE_HOOKS": ""})
    assert made.returncode == 0, made.stdout + made.stderr
    again = subprocess.run([sys.executable, "-m", "trainbridge", "--config", str(demo / "plugins.toml"),
                            "--log-level", "info", "sync"], capture_output=True, text=True, timeout=300,
                           env=env, cwd=demo)
    assert again.returncode in (0, 3), again.stdout + again.stderr
    traced = (again.stdout + again.stderr).splitlines()
    calls = Counter(line.split("hook: ", 1)[1].split("(")[0] for line in traced if "hook: fetch_" in line)
    assert set(calls.values()) == {1}, calls  # e.g. fetch_employees@hr once
    assert {"fetch_employees@hr", "fetch_cost_items@finance", "fetch_learning_events@lms"} <= set(calls)


def test_an_overlapping_sync_exits_75_and_the_leavers_refund_is_not_lost(tmp_path):
    """Issue 22's blocker: a second sync while the first signs agreements must not quote the leaver."""
    from datetime import date

    from trainbridge.core.config import load_settings
    from trainbridge.core.demo import prepare_workspace
    from trainbridge.core.results import ExitCode, overall_exit
    from trainbridge.core.workspace import Workspace

    ws = Workspace(load_settings(prepare_workspace(tmp_path / "demo", date.today())))
    ws.ensure_migrated()
    try:
        first = ws.ledger.start_run("ingest")  # the first sync, busy with the agreements job
        ws.ledger.acquire_lock("sync", first, stale_after=timedelta(minutes=15))
        second = sync(ws, ["separations"])
        assert overall_exit(second) == ExitCode.ALREADY_RUNNING
        with ws.ledger.transaction() as conn:
            assert ws.ledger.list_decisions(conn, "refund_quote") == []
            assert ws.ledger.count_records(conn) == 0
        ws.ledger.release_lock("sync", first)
        sync(ws)
        with ws.ledger.transaction() as conn:
            refunds = [p for p in ws.ledger.list_proposals(conn) if p["kind"] == "refund"]
        assert [(p["subject"], str(p["amount"])) for p in refunds] == [("E003", "850.00")]
    finally:
        ws.close()


class PaperArchive(Connector):
    """Agreements signed on paper before trainbridge, read like any other source."""

    @hookimpl
    def fetch_agreements(self, since: str | None) -> Any:
        from trainbridge.core.records import Agreement, Page

        yield Page(records=[Agreement(
            id="paper:A-2025-007", employee_id="E003", program_id="FIRE-CTRL", template_id="paper",
            template_version="2025", service_start="2025-01-01", service_months=24, service_end="2026-12-31",
            status="signed", signed_at=datetime(2024, 12, 20, tzinfo=UTC))], cursor="done")


class ReadsAgreements(Job):
    name = "reads_agreements"
    inputs: ClassVar[tuple[str, ...]] = ("agreement",)

    def decide(self, ctx: JobContext) -> Plan:
        return Plan(summary=[r.id for r in ctx.records("agreement")])


def test_agreements_signed_elsewhere_come_in_through_their_source_stream(two_jobs):
    from trainbridge.core.connector import ConnectorConfig

    archive = PaperArchive("paper", ConnectorConfig())
    two_jobs.host.pm.register(archive, name="connector:paper")
    two_jobs.host.instances["paper"] = archive
    two_jobs.host.jobs[ReadsAgreements.name] = ReadsAgreements()
    calls = count_calls(two_jobs)
    [result] = sync(two_jobs, ["reads_agreements"])
    assert result.summary == ["paper:A-2025-007"]
    assert {k for k in calls if k[1].startswith("fetch_")} == {("paper", "fetch_agreements")}


def test_a_callback_carrying_an_unstorable_character_is_quarantined_not_a_500(two_jobs):
    from trainbridge.core.records import Separation

    _add_vendor(two_jobs)
    left = Separation(id="vendor:S-9", employee_id="E009", last_day="2026-11-30", reason="resignation",
                      note="个人原因\x00")
    Vendor.events = [WebhookEvent(event_id="ev-\x00nul", event_type="offboarding", records=(left,))]
    receive_webhook(two_jobs, "vendor", {}, b"{}")
    with two_jobs.ledger.transaction() as conn:
        [entry] = two_jobs.ledger.list_quarantine(conn)
        assert two_jobs.ledger.get_record(conn, "separation", "vendor:S-9") is None
    assert entry["instance"] == "vendor" and "note" in entry["reason"]


def test_what_payroll_confirms_is_counted_on_the_syncs_ingestion_run(make_workspace, tmp_path):
    ws = make_workspace(config(tmp_path, approvals={"auto": ["bonus"]}))
    ws.host.jobs[AttendanceBonus.name] = AttendanceBonus()
    results = sync(ws, ["attendance_bonus"])  # two bonuses delivered, then confirmed by the JSONL sink
    with ws.ledger.transaction() as conn:
        [run] = [r for r in ws.ledger.list_runs(conn) if r["id"] == results.ingest.run_id]
    assert run["counts"]["delivery_confirmed"] == 2
