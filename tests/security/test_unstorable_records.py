"""Medium: on PostgreSQL a record holding NUL failed its source on every run (DataError), and the
failed quarantine insert put the SQL and its parameters in the run error."""

from __future__ import annotations

import os
import stat

from trainbridge.core.ingest import storable
from trainbridge.core.records import Employee, Reject


def test_a_record_with_nul_is_quarantined_naming_the_field_on_either_ledger(make_workspace):
    ws = make_workspace({})
    clean = Employee(id="E001", employee_id="E001", name="张伟", source="hr")
    hostile = Employee(id="E002", employee_id="E002", name="Li\u0000Na", source="hr")
    reject = Reject(model="employee", reason="bad date", key="E003", data={"hire_date": "x\u0000"},
                    raw={"name\u0000": "\ud800"})

    kept, rejects = storable([clean, hostile], [reject])

    assert [r.id for r in kept] == ["E001"]
    assert "field name" in rejects[0].reason and rejects[0].key == "E002"
    with ws.ledger.transaction() as conn:
        ws.ledger.upsert_records(conn, kept, run_id=None)
        assert ws.ledger.quarantine(conn, rejects, run_id=None, job="ingest", instance="hr",
                                    hook="employees") == 2
    with ws.ledger.transaction() as conn:
        stored = ws.ledger.list_quarantine(conn, status="open")
    assert {r["reason"].split(" holds")[0] for r in stored} >= {"field name"}
    assert any(r["data"].get("name") == "Li\\u0000Na" for r in stored)


def test_a_new_sqlite_ledger_is_readable_by_its_owner_only(make_workspace, ledger_url, tmp_path):
    if not ledger_url.startswith("sqlite"):
        return
    make_workspace({})

    mode = stat.S_IMODE(os.stat(tmp_path / "trainbridge.db").st_mode)

    assert mode == 0o600
