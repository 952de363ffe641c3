"""A JSONL sink whose last line was torn by a crash mid-write is repaired before the next append;
a line nobody could have written refuses the file with one clear error. Never a traceback."""

from __future__ import annotations

import json
import logging

from tests.core.sample_jobs import AttendanceBonus
from tests.core.test_runner import EMPLOYEES, EVENTS
from trainbridge.connectors.files import JsonlPayroll
from trainbridge.core.connector import ConnectorContext
from trainbridge.core.runner import sync

EARLIER = {"id": "bonus:earlier", "adjustment": "bonus", "amount": "100.00", "currency": "CNY"}
TORN = b'{"adjustment": "bonus", "amount": "100.00", "curr'
CONNECTORS = {
    "hr": {"type": "csv_people", "employees": "employees.csv"},
    "lms": {"type": "file_learning", "events": "events.jsonl"},
    "payroll": {"type": "jsonl_payroll", "path": "out/payroll.jsonl"},
    "notices": {"type": "file_notifier", "path": "out/notices.jsonl"},
}


def bonus_ws(make_workspace, tmp_path, **files: bytes):
    files = {"employees.csv": EMPLOYEES.encode(), "events.jsonl": EVENTS.encode(), **files}
    for name, content in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(content)
    ws = make_workspace({"connectors": CONNECTORS, "approvals": {"auto": ["bonus"]}})
    ws.host.jobs[AttendanceBonus.name] = AttendanceBonus()
    return ws


def ids(path) -> list[str]:
    return [json.loads(line)["id"] for line in path.read_text(encoding="utf-8").splitlines()]


def test_a_torn_last_line_in_the_payroll_file_is_cut_off_and_each_bonus_posted_once(
        make_workspace, tmp_path, no_traceback):
    earlier = (json.dumps(EARLIER) + "\n").encode()
    ws = bonus_ws(make_workspace, tmp_path, **{"out/payroll.jsonl": earlier + TORN,
                                               "out/notices.jsonl": b'{"id": "thanks:lms:a1", "no'})
    [result] = sync(ws, ["attendance_bonus"])
    assert result.status == "ok" and result.counts["delivered"] == 4, result.errors
    payroll = tmp_path / "out" / "payroll.jsonl"
    assert ids(payroll) == ["bonus:earlier", "bonus:lms:a1", "bonus:lms:a2"]
    assert ids(tmp_path / "out" / "notices.jsonl") == ["thanks:lms:a1", "thanks:lms:a2"]
    warnings = [r.getMessage() for r in no_traceback.records if r.levelno == logging.WARNING]
    cut = f"payroll.jsonl: cut off a torn last line ({len(TORN)} byte(s)"
    assert any(cut in w for w in warnings), warnings
    assert any("notices.jsonl: cut off a torn last line" in w for w in warnings), warnings
    sync(ws, ["attendance_bonus"])
    assert ids(payroll) == ["bonus:earlier", "bonus:lms:a1", "bonus:lms:a2"]


def test_a_line_that_is_not_json_inside_the_payroll_file_refuses_it_with_one_clear_error(
        make_workspace, tmp_path, no_traceback):
    content = b"not a payroll line\n" + (json.dumps(EARLIER) + "\n").encode()
    ws = bonus_ws(make_workspace, tmp_path, **{"out/payroll.jsonl": content})
    [result] = sync(ws, ["attendance_bonus"])
    assert result.status != "ok"
    failed = [e for e in result.errors if "post_adjustment" in e]
    refused = "payroll.jsonl line 1 is not a JSON object; nothing more is written to this file"
    assert len(failed) == 2 and all(refused in e for e in failed), result.errors
    assert (tmp_path / "out" / "payroll.jsonl").read_bytes() == content  # untouched
    assert ids(tmp_path / "out" / "notices.jsonl") == ["thanks:lms:a1", "thanks:lms:a2"]


def test_the_status_of_a_payroll_line_reads_past_a_torn_last_line_without_touching_it(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_bytes((json.dumps(EARLIER) + "\n").encode() + TORN)
    payroll = JsonlPayroll.from_mapping("payroll", {"path": "p.jsonl"}, ConnectorContext(base_dir=tmp_path))
    assert payroll.adjustment_status("bonus:earlier").status == "confirmed"
    assert payroll.adjustment_status("bonus:never").status == "unknown"
    assert path.read_bytes().endswith(TORN)  # only an append repairs the file
