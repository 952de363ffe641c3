"""The commands: ``agreements list|sign|templates`` and ``evidence verify`` (valid, tampered, wrong token)."""

from __future__ import annotations

import base64
import json
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.agreements.conftest import enrollment, run, session
from trainbridge.cli import build_cli
from trainbridge.core.records import EvidenceReceipt

AID = "agreement:lms:S1-E001"


@pytest.fixture
def signed_ws(agreements_ws):
    ws = agreements_ws([session("S1", "2026-02-20"), enrollment("E001", "S1"),
                        session("S2", "2026-04-20"), enrollment("E002", "S2")])
    run(ws)
    return ws


def cli(ws, *args: str):
    result = CliRunner().invoke(build_cli(), ["--config", str(ws.settings.path), *args])
    return result


def test_sign_then_sync_then_list_shows_the_agreement_signed_and_timestamped(signed_ws):
    signed = cli(signed_ws, "agreements", "sign", AID)
    assert signed.exit_code == 0, signed.output
    assert "the envelope is completed" in signed.output
    listed = cli(signed_ws, "agreements", "list", "--status", "signed", "--json")
    assert json.loads(listed.output) == []  # the agreement moves when the job next runs
    run(signed_ws)
    listed = cli(signed_ws, "agreements", "list", "--status", "signed", "--json")
    [row] = json.loads(listed.output)
    assert row["id"] == AID and row["employee_name"] == "张伟" and row["evidence"]["instance"] == "tsa"
    text = cli(signed_ws, "agreements", "list").output
    assert "[sent] E002" in text and "timestamped" in text


def test_evidence_verify_valid(signed_ws):
    cli(signed_ws, "agreements", "sign", AID)
    run(signed_ws)
    result = cli(signed_ws, "evidence", "verify", AID)
    assert result.exit_code == 0 and result.output.startswith("valid:"), result.output


def test_evidence_verify_a_tampered_file(signed_ws, tmp_path):
    cli(signed_ws, "agreements", "sign", AID)
    run(signed_ws)
    [kept] = list((tmp_path / "documents").rglob("signed-*.pdf"))
    copy = tmp_path / "copy.pdf"
    copy.write_bytes(kept.read_bytes().replace(b"/TrainbridgeSignedBy", b"/TrainbridgeSignedXy"))
    result = cli(signed_ws, "evidence", "verify", AID, "--file", str(copy))
    assert result.exit_code == 1 and result.output.startswith("INVALID: tampered file"), result.output
    kept.write_bytes(kept.read_bytes() + b"\n% appended")  # the kept copy altered in place
    as_json = json.loads(cli(signed_ws, "evidence", "verify", AID, "--json").output)
    assert as_json["valid"] is False and as_json["reason"].startswith("tampered file")


def test_evidence_verify_a_wrong_token(signed_ws):
    cli(signed_ws, "agreements", "sign", AID)
    run(signed_ws)
    tsa = signed_ws.host.instances["tsa"]
    other = tsa.deposit_evidence("ab" * 32, {"agreement_id": "someone else"})
    with signed_ws.ledger.transaction() as conn:
        [receipt] = list(signed_ws.ledger.iter_records(conn, "evidence_receipt"))
        assert isinstance(receipt, EvidenceReceipt)
        signed_ws.ledger.upsert_records(conn, [receipt.model_copy(update={"token": other.token})])
    result = cli(signed_ws, "evidence", "verify", AID)
    assert result.exit_code == 1 and result.output.startswith("INVALID: wrong token"), result.output
    assert base64.b64decode(other.token)


def test_templates_are_listed_with_their_clause_check(signed_ws, tmp_path):
    folder = tmp_path / "tpl" / "no-refund"
    folder.mkdir(parents=True)
    (folder / "v1.j2").write_text("{% block training_content %}x{% endblock %}", encoding="utf-8")
    text = Path(signed_ws.settings.path).read_text(encoding="utf-8")
    Path(signed_ws.settings.path).write_text(text.replace("[jobs.agreements]", "[jobs.agreements]\n"
                                                          'templates_dir = "tpl"'), encoding="utf-8")
    output = cli(signed_ws, "agreements", "templates").output
    assert "service-24m v1" in output and ": ok" in output
    assert "no-refund v1" in output and "'service_period'" in output and "'refund_conditions'" in output


def test_signing_an_unknown_agreement_says_so(signed_ws):
    result = cli(signed_ws, "agreements", "sign", "agreement:nope")
    assert result.exit_code != 0
    assert "no agreement 'agreement:nope'" in str(result.exception) + result.output


def test_demo_shows_an_agreement_signed_and_timestamped_and_a_reminder(tmp_path):
    from trainbridge.core.config import load_settings
    from trainbridge.core.demo import prepare_workspace
    from trainbridge.core.runner import Workspace, sync

    today = date(2026, 3, 10)
    ws = Workspace(load_settings(prepare_workspace(tmp_path / "demo", today)))
    try:
        [result] = sync(ws, ["agreements"], today=today)
        assert result.status == "ok", result.errors
        summary = "\n".join(result.summary)
        # 李娜 (E003) has left: nothing is drafted for her (issue 17)
        assert "signed: 9" in summary and "timestamped: 9" in summary
        assert "not drafted: the employee has left or is leaving: 2" in summary
        assert "service-period reminders: 1" in summary
        assert "agreement:lms_agreements:PLC-ADV-1-E005" in summary
        notices = [json.loads(x) for x in
                   (tmp_path / "demo" / "out" / "notices.jsonl").read_text().splitlines()]
        assert [n["notice"] for n in notices] == ["service_period_ending"]
    finally:
        ws.close()
