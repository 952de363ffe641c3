"""The job only reads the ledger: vendor calls happen outside it, and a kill in between loses nothing.

Envelope status comes in through the ingestion (a poll of ``signature_status``) and the
signed PDF through the outbox (``download_signed``), kept by ``on_delivered``. No vendor
call happens inside ``decide`` or ``after_delivery``, nor while a ledger transaction is open.
"""

from __future__ import annotations

import hashlib
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tests.agreements.conftest import enrollment, run, session
from trainbridge import hookimpl
from trainbridge.connectors.local_esign import LocalEsign
from trainbridge.core.config import load_settings
from trainbridge.core.ledger import Ledger
from trainbridge.core.records import (
    Agreement,
    AgreementStatus,
    EvidenceReceipt,
    Separation,
    SeparationReason,
    SignedDocument,
)
from trainbridge.core.runner import Workspace, sync
from trainbridge.plugins.agreements import AgreementsJob, verify_agreement_evidence

AID = "agreement:lms:S1-E001"
FOLDER = "agreement_lms_S1-E001"


class Killed(BaseException):
    """The process dies here (not an error the runner could catch and record)."""


def agreement(ws: Workspace, agreement_id: str = AID) -> Agreement:
    with ws.ledger.transaction() as conn:
        record = ws.ledger.get_record(conn, "agreement", agreement_id)
    assert isinstance(record, Agreement)
    return record


def count(ws: Workspace, kind: str) -> int:
    with ws.ledger.transaction() as conn:
        return len(ws.ledger.list_decisions(conn, kind))


def receipts(ws: Workspace) -> list[EvidenceReceipt]:
    with ws.ledger.transaction() as conn:
        return list(ws.ledger.iter_records(conn, "evidence_receipt"))  # type: ignore[arg-type]


def sign_at_the_vendor(ws: Workspace) -> None:
    esign = ws.host.instances["esign"]
    assert isinstance(esign, LocalEsign)
    esign.sign(agreement(ws).envelope_id or "")  # no callback: the ingestion polls it


@pytest.fixture
def sent(agreements_ws) -> Workspace:
    ws = agreements_ws([session("S1", "2026-02-20"), enrollment("E001", "S1")])
    run(ws)
    assert agreement(ws).status is AgreementStatus.SENT
    return ws


def sqlite_file(ws: Workspace) -> Path | None:
    url = ws.settings.resolved_ledger_url()
    return Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None


def write_lock_is_held(database: Path) -> bool:
    """True while some connection holds SQLite's write lock (every ledger transaction takes it)."""
    probe = sqlite3.connect(database, timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        probe.close()


def test_vendor_calls_happen_outside_decide_and_outside_any_transaction(sent, monkeypatch):
    job = sent.job("agreements")
    deciding: list[str] = []

    def inside(name: str, method: Any) -> Any:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            deciding.append(name)
            try:
                return method(*args, **kwargs)
            finally:
                deciding.pop()
        return wrapped

    monkeypatch.setattr(job, "decide", inside("decide", job.decide))
    monkeypatch.setattr(job, "after_delivery", inside("after_delivery", job.after_delivery))
    database = sqlite_file(sent)
    calls: list[tuple[str, tuple[str, ...], bool]] = []
    real_call = sent.host.call

    def spy(instance: Any, hook: str, **kwargs: Any) -> Any:
        locked = database is not None and write_lock_is_held(database)
        calls.append((hook, tuple(deciding), locked))
        return real_call(instance, hook, **kwargs)

    monkeypatch.setattr(sent.host, "call", spy)
    sign_at_the_vendor(sent)
    result = run(sent)

    assert result.status == "ok", result.errors
    assert agreement(sent).signed_document_sha256 and len(receipts(sent)) == 1
    hooks = [hook for hook, _, _ in calls]
    assert {"signature_status", "download_signed", "deposit_evidence"} <= set(hooks)
    assert [c for c in calls if c[1]] == []  # none from inside decide or after_delivery
    assert [c for c in calls if c[2]] == []  # none while a ledger transaction was open


@pytest.fixture
def slow_download(monkeypatch) -> Iterator[tuple[threading.Event, threading.Event]]:
    """``download_signed`` at every local_esign waits until released (at most 3 s)."""
    entered, release = threading.Event(), threading.Event()
    real = LocalEsign.download_signed

    @hookimpl
    def download_signed(self: LocalEsign, envelope_id: str) -> SignedDocument:
        entered.set()
        release.wait(3)
        return real(self, envelope_id)

    monkeypatch.setattr(LocalEsign, "download_signed", download_signed)
    yield entered, release
    release.set()


def test_a_hanging_download_does_not_block_other_writers(slow_download, agreements_ws):
    entered, release = slow_download
    ws = agreements_ws([session("S1", "2026-02-20"), enrollment("E001", "S1")])
    run(ws)
    sign_at_the_vendor(ws)
    outcome: dict[str, Any] = {}
    syncing = threading.Thread(target=lambda: outcome.update(result=run(ws)))
    syncing.start()
    try:
        assert entered.wait(30), "the download was never called"
        other = Workspace(load_settings(ws.settings.path))  # another process on the same ledger
        try:
            leaver = Separation(id="hr:S-1", source="hr", employee_id="E002", last_day=date(2026, 4, 30),
                                reason=SeparationReason.RESIGNATION)
            started = time.monotonic()
            with other.ledger.transaction() as conn:
                other.ledger.upsert_records(conn, [leaver])
            waited = time.monotonic() - started
        finally:
            other.close()
        assert not release.is_set() and syncing.is_alive()  # the vendor call is still hanging
        assert waited < 1.5, f"the write waited {waited:.1f} s for the hanging download"
    finally:
        release.set()
        syncing.join(30)
    assert outcome["result"].status == "ok", outcome["result"].errors
    assert agreement(ws).signed_document_sha256


@pytest.mark.parametrize("killed_at", ["before the row is marked delivered", "before it is recorded"])
def test_a_kill_between_download_and_record_ends_the_same_on_the_next_run(sent, monkeypatch, tmp_path,
                                                                          killed_at):
    sign_at_the_vendor(sent)
    if killed_at == "before the row is marked delivered":
        real_mark = Ledger.mark_delivered

        def mark_delivered(self: Ledger, outbox_id: str, **kwargs: Any) -> None:
            if outbox_id.startswith("download:"):
                raise Killed
            real_mark(self, outbox_id, **kwargs)

        monkeypatch.setattr(Ledger, "mark_delivered", mark_delivered)
    else:
        def after_delivery(self: AgreementsJob, ctx: Any, delivered: Any) -> Any:
            if any(row.operation == "download_signed" for row in delivered):
                raise Killed
            return real_after(self, ctx, delivered)

        real_after = AgreementsJob.after_delivery
        monkeypatch.setattr(AgreementsJob, "after_delivery", after_delivery)
    with pytest.raises(Killed):
        run(sent)
    [kept] = (tmp_path / "documents" / FOLDER).glob("signed-*.pdf")  # on_delivered kept it
    assert agreement(sent).signed_document_sha256 is None
    monkeypatch.undo()

    again = run(sent)
    assert again.status == "ok", again.errors
    signed = agreement(sent)
    assert signed.status is AgreementStatus.SIGNED
    assert signed.signed_document_sha256 == hashlib.sha256(kept.read_bytes()).hexdigest()
    assert list((tmp_path / "documents" / FOLDER).glob("signed-*.pdf")) == [kept]
    assert count(sent, "agreement_signed") == 1 and len(receipts(sent)) == 1
    assert verify_agreement_evidence(sent, AID).valid
    assert run(sent).counts.get("outbox", 0) == 0


def test_agreement_documents_are_readable_by_the_owner_only(sent, tmp_path):
    sign_at_the_vendor(sent)
    run(sent)
    folder = tmp_path / "documents" / FOLDER
    [draft] = folder.glob("draft-*.pdf")
    [signed] = folder.glob("signed-*.pdf")
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(draft.stat().st_mode) == 0o600
    assert stat.S_IMODE(signed.stat().st_mode) == 0o600


def test_a_dry_run_writes_no_document_and_calls_no_vendor(agreements_ws, tmp_path):
    ws = agreements_ws([session("S1", "2026-02-20"), enrollment("E001", "S1")])
    [result] = sync(ws, ["agreements"], today=date(2026, 3, 10), dry_run=True)
    assert any("would write" in line and "draft-" in line for line in result.plan_lines), result.plan_lines
    assert any("would deliver send_for_signature" in line for line in result.plan_lines)
    assert not (tmp_path / "documents").exists() and not (tmp_path / "esign").exists()


def drafted_without_esign(tmp_path: Path, make_workspace: Any) -> dict[str, Any]:
    """A draft made while no e-signature connector was configured; the config with one added."""
    from tests.agreements.conftest import PROGRAM, config

    cfg = config(tmp_path, [PROGRAM, session("S1", "2026-02-20"), enrollment("E001", "S1")])
    esign = cfg["connectors"].pop("esign")
    ws = make_workspace(cfg)
    run(ws)
    assert agreement(ws).status is AgreementStatus.DRAFT
    cfg["connectors"]["esign"] = esign
    return {**cfg, "tenant": {"id": ws.settings.tenant}}


def test_a_draft_whose_file_is_gone_is_rendered_again_and_sent(make_workspace, tmp_path):
    cfg = drafted_without_esign(tmp_path, make_workspace)
    [draft] = (tmp_path / "documents" / FOLDER).glob("draft-*.pdf")
    original = draft.read_bytes()
    draft.unlink()
    ws = make_workspace(cfg)
    result = run(ws)
    assert result.status == "ok", result.errors
    assert agreement(ws).status is AgreementStatus.SENT
    assert draft.read_bytes() == original  # the same inputs render the same PDF
    sent_copy = tmp_path / "esign" / (agreement(ws).envelope_id or "") / "document.pdf"
    assert sent_copy.read_bytes() == original


def test_a_draft_whose_file_is_gone_and_whose_inputs_changed_is_not_sent(make_workspace, tmp_path):
    cfg = drafted_without_esign(tmp_path, make_workspace)
    next((tmp_path / "documents" / FOLDER).glob("draft-*.pdf")).unlink()
    employees = (tmp_path / "employees.csv").read_text(encoding="utf-8")
    (tmp_path / "employees.csv").write_text(employees.replace("张伟", "张维"), encoding="utf-8")
    ws = make_workspace(cfg)
    result = run(ws)
    assert agreement(ws).status is AgreementStatus.DRAFT
    assert any(AID in e and "rendered again it differs" in e and "not sent" in e for e in result.errors)
    assert not list((tmp_path / "documents" / FOLDER).glob("draft-*.pdf"))
