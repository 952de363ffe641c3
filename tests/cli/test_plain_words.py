"""The CLI says what HR reads in plain words (review item 19): quarantine reasons like the console's,
and a manager account only for an employee the ledger knows."""

from __future__ import annotations

from pathlib import Path

from trainbridge.core.config import load_settings
from trainbridge.core.record_base import Reject
from trainbridge.core.workspace import Workspace


def quarantine_two(folder: Path) -> None:
    ws = Workspace(load_settings(folder / "plugins.toml"))
    try:
        with ws.ledger.transaction() as conn:
            ws.ledger.quarantine(conn, [
                Reject(model="employee", reason="hire_date: Input should be a valid date or datetime, "
                                               "input is too short", data={"employee_id": "E099"}),
                Reject(model="cost_item", reason="amount: Field required", data={"id": "X"})],
                run_id=None, job="ingest", instance="hr", hook="fetch_employees")
    finally:
        ws.close()


def test_quarantine_reasons_are_plain_sentences_in_english_and_chinese(initialised, tb):
    quarantine_two(initialised)
    code, out, _ = tb("quarantine", "list")
    assert code == 0
    assert "The field “hire date” is not a valid date" in out
    assert "The required field “amount” is missing" in out
    assert "Input should be" not in out and "Field required" not in out
    code, out, _ = tb("quarantine", "list", "--language", "zh")
    assert code == 0 and "字段「入职日期」不是有效日期" in out and "缺少必填字段「金额」" in out
    assert "[待处理]" in out and "员工" in out
    code, out, _ = tb("quarantine", "list", "--json")  # the stored reason stays as the validator said it
    assert "Input should be a valid date or datetime" in out
