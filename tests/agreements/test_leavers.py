"""Issue 17: the agreements job drafts and sends nothing to people who have left (or are leaving)."""

from __future__ import annotations

from tests.agreements.conftest import PROGRAM, TODAY, config, enrollment, read_jsonl, run, session
from tests.conftest import write
from trainbridge.core.records import Agreement


def agreements(ws) -> dict[str, Agreement]:
    with ws.ledger.transaction() as conn:
        return {a.id: a for a in ws.ledger.iter_records(conn, "agreement")}  # type: ignore[misc]


def test_the_agreements_job_drafts_nothing_for_people_who_have_left(make_workspace, tmp_path):
    settings = config(tmp_path, [PROGRAM, session("S1", "2026-02-20"), enrollment("E001", "S1"),
                                 enrollment("E002", "S1")])
    write(tmp_path / "separations.csv", "separation_id,employee_id,last_day,reason\n"
                                        "S-E002,E002,2026-02-28,resignation\n")
    settings["connectors"]["hr"]["separations"] = "separations.csv"
    ws = make_workspace(settings)
    result = run(ws, TODAY)
    assert result.status == "ok", result.errors
    assert set(agreements(ws)) == {"agreement:lms:S1-E001"}
    assert "not drafted: the employee has left or is leaving: 1" in result.summary
    assert "  agreement:lms:S1-E002 (E002 王芳)" in result.summary
    sent = [p.name for p in (tmp_path / "esign").iterdir()] if (tmp_path / "esign").exists() else []
    assert len(sent) == 1
    notices = read_jsonl(tmp_path / "out" / "notices.jsonl")
    assert all(r.get("employee_id") != "E002" for n in notices for r in n["recipients"])


def test_a_drafted_agreement_names_the_session_and_enrollment_it_binds(agreements_ws):
    ws = agreements_ws([session("S1", "2026-02-20"), enrollment("E001", "S1")])
    run(ws, TODAY)
    drafted = agreements(ws)["agreement:lms:S1-E001"]
    assert (drafted.session_id, drafted.enrollment_id) == ("S1", "lms:S1-E001")
