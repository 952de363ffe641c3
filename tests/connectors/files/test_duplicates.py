"""Duplicate ids, JSON keys and CSV columns: never last-wins, always a reason."""

from __future__ import annotations

import json

from tests.connectors.files.conftest import PEOPLE_HEADER, ingest, quarantined, records

PEOPLE = {"hr": {"type": "csv_people", "employees": "employees.csv"}}


def test_one_employee_id_on_two_lines_with_different_content_quarantines_both(files_ws, no_traceback):
    ws = files_ws(PEOPLE, employees__csv=PEOPLE_HEADER + "E001,张伟,Ops,ACME-SH,2025-03-01\n"
                                                         "E002,王芳,Ops,ACME-SH,2025-03-01\n"
                                                         "E001,张伟,Sales,ACME-BJ,2025-03-01\n")
    result = ingest(ws)
    assert list(records(ws, "employee")) == ["hr:E002"]
    [both] = quarantined(ws)
    assert both["key"] == "hr:E001" and set(both["raw"]) == {"line 2", "line 4"}
    assert both["raw"]["line 4"]["department"] == "Sales"
    assert both["reason"] == ("employees.csv lines 2, 4, field employee_id: 'E001' appears on 2 lines "
                              "with different content (department, legal_entity differ); none of them is "
                              "loaded: keep one line per employee_id")
    assert result.counts["quarantined"] == 1


def test_the_same_line_twice_loads_one_employee(files_ws):
    ws = files_ws(PEOPLE, employees__csv=PEOPLE_HEADER + "E001,张伟,Ops,ACME-SH,2025-03-01\n" * 2)
    result = ingest(ws)
    assert list(records(ws, "employee")) == ["hr:E001"] and quarantined(ws) == []
    assert result.counts["read"] == 1


def test_fixing_a_duplicate_closes_its_quarantine_entry_and_loads_the_employee(files_ws, tmp_path):
    ws = files_ws(PEOPLE, employees__csv=PEOPLE_HEADER + "E001,张伟,Ops,ACME-SH,2025-03-01\n"
                                                         "E001,张伟,Sales,ACME-SH,2025-03-01\n")
    ingest(ws)
    assert len(quarantined(ws)) == 1
    fixed = PEOPLE_HEADER + "E001,张伟,Sales,ACME-SH,2025-03-01\n"
    (tmp_path / "employees.csv").write_text(fixed, encoding="utf-8")
    ingest(ws)
    assert quarantined(ws) == [] and records(ws, "employee")["hr:E001"].department == "Sales"


def test_a_jsonl_line_with_a_key_twice_is_quarantined(files_ws, no_traceback):
    ok = {"event_id": "a1", "employee_id": "E001", "event": "attended",
          "occurred_at": "2026-03-01T09:00:00+08:00"}
    twice = '{"event_id": "a2", "employee_id": "E001", "employee_id": "E002", "event": "attended", ' \
            '"occurred_at": "2026-03-01T09:00:00+08:00"}'
    ws = files_ws({"lms": {"type": "file_learning", "events": "events.jsonl"}},
                  events__jsonl=json.dumps(ok) + "\n" + twice + "\n")
    ingest(ws)
    assert list(records(ws, "learning_event")) == ["lms:a1"]
    [dup] = quarantined(ws)
    assert dup["reason"] == ("events.jsonl line 2, field employee_id: the key appears twice in the line's "
                             "JSON object")


def test_two_keys_equal_once_trimmed_and_case_folded_are_a_key_twice(files_ws):
    line = '{"event_id": "a2", "EVENT": "attended", "event": "passed", "employee_id": "E001", ' \
           '"occurred_at": "2026-03-01T09:00:00+08:00"}'
    ws = files_ws({"lms": {"type": "file_learning", "events": "events.jsonl"}}, events__jsonl=line + "\n")
    ingest(ws)
    [dup] = quarantined(ws)
    assert dup["reason"].startswith("events.jsonl line 1, field event: the key appears twice")


def test_a_csv_with_two_columns_of_one_name_is_refused_as_a_file(files_ws, no_traceback):
    ws = files_ws(PEOPLE, employees__csv="employee_id,name,department, Department\nE001,张伟,Ops,Sales\n")
    result = ingest(ws)
    assert result.status != "ok" and records(ws, "employee") == {}
    [error] = result.errors
    assert error.startswith("hr.fetch_employees failed: hr: employees.csv line 1: columns 3 and 4 are both "
                            "'department' (headers are compared trimmed and ignoring case)")
    assert "remove or rename one of the two columns" in error
