"""Enrolling drafts the agreement; it is sent, signed, downloaded and its digest timestamped (A1-A3)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.agreements.conftest import TODAY, WEBHOOK_SECRET, enrollment, read_jsonl, run, session
from trainbridge.connectors.local_esign import LocalEsign, signed_callback
from trainbridge.core.errors import WebhookRejected
from trainbridge.core.records import Agreement, AgreementStatus, Envelope, EnvelopeStatus, EvidenceReceipt
from trainbridge.plugins.agreements import apply_webhook, sign_locally, verify_agreement_evidence

AID = "agreement:lms:S1-E001"


def agreement(ws, agreement_id: str = AID) -> Agreement:
    with ws.ledger.transaction() as conn:
        record = ws.ledger.get_record(conn, "agreement", agreement_id)
    assert isinstance(record, Agreement)
    return record


def receipts(ws) -> list[EvidenceReceipt]:
    with ws.ledger.transaction() as conn:
        return list(ws.ledger.iter_records(conn, "evidence_receipt"))  # type: ignore[arg-type]


def envelopes(ws) -> list[Envelope]:
    with ws.ledger.transaction() as conn:
        return list(ws.ledger.iter_records(conn, "envelope"))  # type: ignore[arg-type]


def decisions(ws, kind: str) -> list[dict]:
    with ws.ledger.transaction() as conn:
        return ws.ledger.list_decisions(conn, kind)


@pytest.fixture
def one_trainee(agreements_ws):
    return agreements_ws([session("S1", "2026-02-20"), enrollment("E001", "S1")])


def test_enrolling_drafts_the_agreement_and_sends_it_for_signature(one_trainee, tmp_path):
    result = run(one_trainee)
    assert result.status == "ok", result.errors
    drafted = agreement(one_trainee)
    assert drafted.status is AgreementStatus.SENT and drafted.envelope_id
    assert drafted.esign_instance == "esign"
    assert (drafted.template_id, drafted.template_version) == ("service-24m", "1")
    # the service period starts the day after the session and runs 24 months
    assert drafted.service_start.isoformat() == "2026-02-21"
    assert drafted.service_end.isoformat() == "2028-02-21"
    assert drafted.jurisdiction == "prc" and drafted.proration.value == "month"
    stored = tmp_path / "documents" / "agreement_lms_S1-E001" / f"draft-{drafted.document_sha256}.pdf"
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == drafted.document_sha256
    sent = tmp_path / "esign" / drafted.envelope_id / "document.pdf"
    assert sent.read_bytes() == stored.read_bytes()
    [drafted_decision] = decisions(one_trainee, "agreement_drafted")
    assert any("day after the training ends" in line for line in drafted_decision["explanation"])


def test_signing_flow_end_to_end_draft_send_status_signed_download_digest_evidence(one_trainee, tmp_path):
    run(one_trainee)
    sent = agreement(one_trainee)
    esign = one_trainee.host.instances["esign"]
    assert isinstance(esign, LocalEsign)
    esign.sign(sent.envelope_id)  # the employee signs at the vendor; no callback: the job polls
    result = run(one_trainee)
    assert result.status == "ok", result.errors
    signed = agreement(one_trainee)
    assert signed.status is AgreementStatus.SIGNED and signed.signed_at is not None
    vendor_copy = (tmp_path / "esign" / sent.envelope_id / "signed.pdf").read_bytes()
    assert signed.signed_document_sha256 == hashlib.sha256(vendor_copy).hexdigest() != signed.document_sha256
    kept = tmp_path / "documents" / "agreement_lms_S1-E001" / f"signed-{signed.signed_document_sha256}.pdf"
    assert kept.read_bytes() == vendor_copy
    [receipt] = receipts(one_trainee)
    assert receipt.agreement_id == AID and receipt.digest == signed.signed_document_sha256
    assert receipt.source == "tsa" and receipt.token
    [signed_decision] = decisions(one_trainee, "agreement_signed")
    [signer] = signed_decision["payload"]["signers"]
    assert signer["name"] == "张伟" and signer["signed_at"] and signer["ip_address"] == "127.0.0.1"
    check = verify_agreement_evidence(one_trainee, AID)
    assert check.valid, check.reason


def test_running_the_job_twice_changes_nothing_the_second_time(one_trainee):
    run(one_trainee)
    sign_locally(one_trainee, AID)
    run(one_trainee)
    again = run(one_trainee)
    assert again.status == "ok", again.errors
    for count in ("outbox", "decisions", "derived_records", "proposals", "delivered"):
        assert again.counts.get(count, 0) == 0, (count, again.counts)
    assert len(receipts(one_trainee)) == 1


def test_auto_sign_signs_and_timestamps_in_one_run(agreements_ws):
    ws = agreements_ws([session("S1", "2026-02-20"), enrollment("E001", "S1")], auto_sign=True)
    result = run(ws)
    assert result.status == "ok", result.errors
    assert agreement(ws).status is AgreementStatus.SIGNED and agreement(ws).signed_document_sha256
    assert len(receipts(ws)) == 1
    assert any(line.startswith("timestamped: 1") for line in result.summary)


def test_a_signed_webhook_is_kept_as_the_envelope_and_the_next_run_signs_and_collects_it(one_trainee):
    run(one_trainee)
    signed = sign_locally(one_trainee, AID)  # the local service's signed callback goes to the intake
    assert signed.status is EnvelopeStatus.COMPLETED
    [kept] = envelopes(one_trainee)
    assert kept.status is EnvelopeStatus.COMPLETED and kept.source == "esign"
    assert agreement(one_trainee).status is AgreementStatus.SENT  # the job moves it, not the callback
    run(one_trainee)
    assert agreement(one_trainee).status is AgreementStatus.SIGNED
    assert agreement(one_trainee).signed_document_sha256
    assert verify_agreement_evidence(one_trainee, AID).valid


def _completed_callback(ws, secret: str = WEBHOOK_SECRET):
    esign = ws.host.instances["esign"]
    envelope = esign.sign(agreement(ws).envelope_id)
    event = {"event_id": "evt-1", "type": "envelope.completed", "envelope_id": envelope.envelope_id,
             "status": "completed", "occurred_at": envelope.completed_at.isoformat()}
    return signed_callback(secret, event)


def _webhook_events(ws) -> int:
    from trainbridge.core.ledger import webhook_events_table as t

    with ws.ledger.transaction() as conn:
        return len(conn.execute(t.select().where(t.c.tenant == ws.settings.tenant)).all())


def test_a_forged_webhook_is_rejected_and_nothing_changes(one_trainee):
    run(one_trainee)
    before = agreement(one_trainee)
    headers, body = _completed_callback(one_trainee, secret="not-the-secret")
    with pytest.raises(WebhookRejected, match="signature does not match"):
        apply_webhook(one_trainee, "esign", headers, body)
    headers, _ = _completed_callback(one_trainee)
    with pytest.raises(WebhookRejected):
        apply_webhook(one_trainee, "esign", headers, body.replace(b"completed", b"declined"))
    assert agreement(one_trainee) == before and before.status is AgreementStatus.SENT
    assert _webhook_events(one_trainee) == 0


def test_a_replayed_webhook_changes_nothing(one_trainee):
    run(one_trainee)
    headers, body = _completed_callback(one_trainee)
    reply = apply_webhook(one_trainee, "esign", headers, body)
    assert reply.status_code == 200
    [after_first] = envelopes(one_trainee)
    assert after_first.status is EnvelopeStatus.COMPLETED
    assert apply_webhook(one_trainee, "esign", headers, body).status_code == 200
    assert envelopes(one_trainee) == [after_first]
    assert _webhook_events(one_trainee) == 1
    run(one_trainee)
    assert agreement(one_trainee).status is AgreementStatus.SIGNED
    assert len(decisions(one_trainee, "agreement_signed")) == 1


def test_a_declined_envelope_closes_the_agreement(one_trainee):
    run(one_trainee)
    one_trainee.host.instances["esign"].decline(agreement(one_trainee).envelope_id)
    run(one_trainee)
    assert agreement(one_trainee).status is AgreementStatus.DECLINED
    [closed] = decisions(one_trainee, "agreement_closed")
    assert closed["payload"]["status"] == "declined"


def test_without_an_e_signature_connector_drafts_wait_and_are_sent_once_one_is_configured(
        make_workspace, tmp_path):
    from tests.agreements.conftest import PROGRAM, config

    cfg = config(tmp_path, [PROGRAM, session("S1", "2026-02-20"), enrollment("E001", "S1")])
    esign = cfg["connectors"].pop("esign")
    ws = make_workspace(cfg)
    run(ws)
    assert agreement(ws).status is AgreementStatus.DRAFT
    cfg["connectors"]["esign"] = esign
    ws2 = make_workspace({**cfg, "tenant": {"id": ws.settings.tenant}})
    run(ws2)
    assert agreement(ws2).status is AgreementStatus.SENT


def test_cancelled_enrollments_and_induction_programs_get_no_agreement(agreements_ws):
    induction = {"record": "program", "program_id": "INDUCT", "title": "新员工入职培训",
                 "category": "induction", "agreement_template": "service-24m", "service_months": 12}
    cancelled = {**enrollment("E002", "S1"), "status": "cancelled"}
    ws = agreements_ws([induction, session("S1", "2026-02-20"), cancelled,
                        {**enrollment("E001", "S1"), "enrollment_id": "IND-E001", "program_id": "INDUCT"}])
    result = run(ws)
    with ws.ledger.transaction() as conn:
        assert ws.ledger.count_records(conn, "agreement") == 0
    assert any("INDUCT" in e and "LCL arts. 22, 25" in e for e in result.errors)
    assert not any("INDUCT" in e for e in run(ws).errors)  # reported once


def test_the_gate_reports_an_unsigned_enrollment_and_notifies_hr_once(agreements_ws, tmp_path):
    ws = agreements_ws([session("S2", "2026-03-13"), enrollment("E002", "S2")])
    first = run(ws)
    [gate] = decisions(ws, "agreement_gate")
    assert gate["subject"] == "E002" and gate["payload"]["status"] == "draft"
    assert any("先签后训" in line for line in gate["explanation"])
    notices = read_jsonl(tmp_path / "out" / "notices.jsonl")
    [notice] = [n for n in notices if n["notice"] == "agreement_unsigned"]
    assert [r["role"] for r in notice["recipients"]] == ["hr"] and notice["recipients"][0]["name"] == "钱梅"
    assert any(line.startswith("gate:") for line in first.summary)
    run(ws)
    assert len([n for n in read_jsonl(tmp_path / "out" / "notices.jsonl")
                if n["notice"] == "agreement_unsigned"]) == 1


def test_the_gate_stays_quiet_outside_its_window_and_for_signed_agreements(agreements_ws, tmp_path):
    ws = agreements_ws([session("S2", "2026-03-13"), enrollment("E002", "S2"),
                        session("S3", "2026-04-30"), enrollment("E001", "S3")], auto_sign=True)
    run(ws, today=date_(2026, 3, 1))  # S2 is 12 days away: outside the 7-day window
    assert decisions(ws, "agreement_gate") == []
    run(ws)  # now S2 is 3 days away, but E002 signed (auto_sign) in the first run
    assert decisions(ws, "agreement_gate") == []


def date_(y: int, m: int, d: int):
    from datetime import date

    return date(y, m, d)


def test_attendance_for_an_unsigned_enrollment_is_flagged_on_the_run(agreements_ws):
    attended = {"event_id": "att-1", "employee_id": "E001", "event": "attended", "session_id": "S1",
                "program_id": "FIRE-CTRL", "occurred_at": "2026-03-09T09:00:00+08:00"}
    ws = agreements_ws([session("S1", "2026-03-09"), enrollment("E001", "S1")], [attended])
    first = run(ws)
    assert first.status == "partial"
    assert any("E001 张伟 attended FIRE-CTRL on 2026-03-09 without a signed agreement" in e
               for e in first.errors)
    [flag] = decisions(ws, "attendance_unsigned")
    assert flag["payload"]["agreement_id"] == "agreement:lms:S1-E001"
    assert run(ws).status == "ok"  # flagged once


def test_attendance_before_enforce_from_is_not_flagged(agreements_ws):
    attended = {"event_id": "att-1", "employee_id": "E001", "event": "attended", "session_id": "S1",
                "occurred_at": "2025-03-09T09:00:00+08:00"}
    ws = agreements_ws([session("S1", "2025-03-09"), enrollment("E001", "S1")], [attended],
                       job={"enforce_from": TODAY.isoformat()})
    assert run(ws).status == "ok"
    assert decisions(ws, "attendance_unsigned") == []


def test_documents_dir_is_configurable(agreements_ws, tmp_path):
    ws = agreements_ws([session("S1", "2026-02-20"), enrollment("E001", "S1")],
                       job={"documents_dir": "vault/pdf"})
    run(ws)
    assert list(Path(tmp_path / "vault" / "pdf").rglob("draft-*.pdf"))
