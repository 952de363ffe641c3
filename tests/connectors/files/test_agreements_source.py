"""Agreements signed before trainbridge (paper, an older e-signature system) come in from a file."""

from __future__ import annotations

import json
from datetime import date

from trainbridge.core.records import Agreement, AgreementStatus
from trainbridge.core.runner import sync

PAPER = {"agreement_id": "paper-7", "employee_id": "E003", "program_id": "FIRE-CTRL",
         "session_id": "FIRE-CTRL-1", "template_id": "paper", "template_version": "1",
         "service_start": "2025-12-05", "service_months": 24, "service_end": "2027-12-04",
         "status": "signed", "signed_at": "2025-11-27T10:00:00+08:00", "deduction_consent": True}


def test_a_paper_agreement_is_read_with_its_signing_date_and_consent(files_ws):
    ws = files_ws({"lms": {"type": "file_learning", "agreements": "agreements.jsonl"}},
                  agreements__jsonl=json.dumps(PAPER) + "\n")
    results = sync(ws, ["ingest"])
    assert results.ingest.counts["records_new"] == 1
    with ws.ledger.transaction() as conn:
        agreement = ws.ledger.get_record(conn, "agreement", "lms:paper-7")
    assert isinstance(agreement, Agreement) and agreement.status is AgreementStatus.SIGNED
    assert agreement.signed_at is not None and agreement.signed_at.date() == date(2025, 11, 27)
    # service_end is the inclusive last day, as the paper says; the record keeps the day after
    assert agreement.deduction_consent and agreement.service_end == date(2027, 12, 5)


def test_a_paper_agreement_without_its_service_period_is_quarantined_with_the_line(files_ws):
    broken = {k: v for k, v in PAPER.items() if k not in ("service_end", "service_months")}
    ws = files_ws({"lms": {"type": "file_learning", "agreements": "agreements.jsonl"}},
                  agreements__jsonl=json.dumps(broken) + "\n")
    sync(ws, ["ingest"])
    with ws.ledger.transaction() as conn:
        [entry] = ws.ledger.list_quarantine(conn)
    assert entry["hook"] == "fetch_agreements"
    assert "line 1" in entry["reason"] and "service_end" in entry["reason"]
