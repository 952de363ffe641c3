"""Dates are ISO 8601 text: an Excel serial is never a 1970 timestamp; a separation follows its hire."""

from __future__ import annotations

import json

from tests.connectors.files.conftest import PEOPLE_HEADER, ingest, quarantined, records

EVENT = {"employee_id": "E001", "event": "attended", "session_id": "S1"}


def test_an_excel_serial_45292_is_never_a_1970_timestamp(files_ws, no_traceback):
    events = [{"event_id": "ok", **EVENT, "occurred_at": "2024-01-01T09:00:00+08:00"},
              {"event_id": "serial-text", **EVENT, "occurred_at": "45292"},
              {"event_id": "serial-number", **EVENT, "occurred_at": 45292}]
    ws = files_ws({"lms": {"type": "file_learning", "events": "events.jsonl"}},
                  events__jsonl="".join(json.dumps(e) + "\n" for e in events))
    ingest(ws)
    assert list(records(ws, "learning_event")) == ["lms:ok"]
    reasons = {q["key"]: q["reason"] for q in quarantined(ws)}
    assert reasons["lms:serial-text"].startswith(
        "events.jsonl line 2, field occurred_at: '45292' is not an ISO 8601 date-time with its UTC offset")
    assert "Excel serial date or a Unix timestamp" in reasons["lms:serial-text"]
    assert reasons["lms:serial-number"].startswith("events.jsonl line 3, field occurred_at: '45292' is not")


def test_an_excel_serial_as_a_last_day_is_quarantined(files_ws):
    ws = files_ws({"hr": {"type": "csv_people", "separations": "separations.csv"}},
                  separations__csv="separation_id,employee_id,last_day,reason\nS1,E001,45292,resignation\n"
                                   "S2,E002,2026-13-01,resignation\n")
    ingest(ws)
    reasons = {q["key"]: q["reason"] for q in quarantined(ws)}
    assert reasons["hr:S1"].startswith(
        "separations.csv line 2, field last_day: '45292' is not an ISO 8601 date")
    assert reasons["hr:S2"].startswith("separations.csv line 3, field last_day: ")  # month 13
    assert records(ws, "separation") == {}


def test_a_separation_before_the_hire_date_is_quarantined(files_ws, no_traceback):
    hr = {"type": "csv_people", "employees": "employees.csv", "separations": "separations.csv"}
    ws = files_ws({"hr": hr},
                  employees__csv=PEOPLE_HEADER + "E001,张伟,Ops,ACME-SH,2025-03-01\n"
                                                 "E002,王芳,Ops,ACME-SH,2025-03-01\n",
                  separations__csv="separation_id,employee_id,last_day,reason\n"
                                   "S-E001,E001,2024-12-31,resignation\nS-E002,E002,2025-03-01,resignation\n")
    ingest(ws)
    assert list(records(ws, "separation")) == ["hr:S-E002"]  # leaving on the day of hire is possible
    [before] = quarantined(ws)
    assert before["reason"] == (
        "separations.csv line 2, field last_day: 2024-12-31 is before the hire date 2025-03-01 of "
        "employee E001 (employees.csv line 2): check both dates (for an earlier employment of a rehired "
        "employee, remove this line)")
