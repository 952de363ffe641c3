"""Every reject reason names the file, the line and the field (issue 22: 14 reasons named neither)."""

from __future__ import annotations

import json
import re

from tests.connectors.files.conftest import ingest, quarantined

COSTS = """item_id,category,amount,currency,allocation,incurred_on,employee_id,session_id
C1,course_fee,1000.00,CNY,employee,2026-01-05,E001,
C2,coffee,1000.00,CNY,employee,2026-01-05,E001,
C3,course_fee,1000.00,CNY,everyone,2026-01-05,E001,
C4,course_fee,,CNY,employee,2026-01-05,E001,
C5,course_fee,1000.00,CNY,employee,,E001,
C6,course_fee,1000.00,CNY,employee,05/01/2026,E001,
C7,course_fee,1e309,CNY,employee,2026-01-05,E001,
C8,course_fee,-1,CNY,employee,2026-01-05,E001,
C9,course_fee,1.001,CNY,employee,2026-01-05,E001,
C10,course_fee,1000.00,RMB,employee,2026-01-05,E001,
C11,course_fee,1000.00,,employee,2026-01-05,E001,
C12,course_fee,1000.00,CNY,employee,2026-01-05,E001,S1,extra
C13,course_fee,"1,000.00",CNY,employee,2026-01-05,E001,
C13,course_fee,"1000.00",CNY,employee,2026-01-05,E002,
"""
EVENTS = [
    {"event_id": "e1", "employee_id": "E001", "event": "teleported",
     "occurred_at": "2026-03-01T09:00:00+08:00"},
    {"event_id": "e2", "employee_id": "E001", "event": "attended", "occurred_at": "2026-03-01T09:00:00"},
    {"event_id": "e3", "employee_id": "E001", "event": "attended", "occurred_at": "2026-03-01T09:00:00+08:00",
     "badge": "gold"},
    {"event_id": "e4", "event": "attended", "occurred_at": "2026-03-01T09:00:00+08:00"},
    {"event_id": "e5", "employee_id": "E001", "event": "attended", "occurred_at": "2026-03-01T09:00:00+08:00",
     "record": "enrollment"},
    {"event_id": "e6", "employee_id": "E001", "event": "attended", "occurred_at": "2026-03-01T09:00:00+08:00",
     "score": "high"},
]
def line_of(reason: str) -> int:
    found = re.search(r"lines? (\d+)", reason)
    assert found, reason
    return int(found.group(1))


WHERE = re.compile(r"^(costs\.csv|events\.jsonl) lines? \d+(, \d+)*(,|:) .*field \w+")


def test_every_reject_reason_names_the_file_the_line_and_the_field(files_ws, no_traceback):
    events = "".join(json.dumps(e) + "\n" for e in EVENTS) + "[1, 2]\n{not json\n"
    ws = files_ws({"finance": {"type": "csv_costs", "path": "costs.csv"},
                   "lms": {"type": "file_learning", "events": "events.jsonl"}},
                  costs__csv=COSTS, events__jsonl=events)
    ingest(ws)
    reasons = sorted(q["reason"] for q in quarantined(ws))
    assert len(reasons) == 12 + 8, "\n".join(reasons)
    whole_lines = [r for r in reasons if not WHERE.match(r)]
    # a line that is not a JSON object, or has more cells than the header, has no field to name
    assert whole_lines == ["costs.csv line 13: 9 values for 8 columns (a comma inside a value that is not "
                           "in double quotes?)",
                           "events.jsonl line 7: a JSON list, not an object",
                           "events.jsonl line 8: not JSON (Expecting property name enclosed in double quotes "
                           "at column 2)"], "\n".join(reasons)
    by_line = {line_of(r): r for r in reasons if r.startswith("costs.csv")}
    assert by_line[3].startswith("costs.csv line 3, field category: Input should be ")
    assert by_line[5] == ("costs.csv line 5, field amount: required: the column is missing or the cell "
                          "is empty")
    assert "field incurred_on: '05/01/2026' is not an ISO 8601 date" in by_line[7]
    assert by_line[11] == ("costs.csv line 11, field currency: 'RMB' is not an active ISO 4217 currency code "
                           "(e.g. CNY, USD, EUR, HKD)")
    events_by_line = {line_of(r): r for r in reasons if r.startswith("events")}
    assert events_by_line[3] == ("events.jsonl line 3, field badge: not a field of learning_event (see: "
                                 "trainbridge schema learning_event)")
    assert events_by_line[5] == ("events.jsonl line 5, field record: 'enrollment' is not one of "
                                 "learning_event, certificate")
