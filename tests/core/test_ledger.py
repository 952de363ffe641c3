"""The ledger on SQLite and PostgreSQL: migrations, upserts, cursors, tenants, the outbox."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from trainbridge.core.ledger import Ledger
from trainbridge.core.records import CostItem, Employee


def employee(eid: str, name: str = "张伟") -> Employee:
    return Employee(id=f"hr:{eid}", source="hr", employee_id=eid, name=name)


def test_migrations_are_applied_once(make_workspace):
    ws = make_workspace({})
    assert ws.ledger.migrate() == []


def test_records_are_upserted_by_id_and_unchanged_ones_are_not_rewritten(make_workspace):
    ws = make_workspace({})
    with ws.ledger.transaction() as conn:
        assert ws.ledger.upsert_records(conn, [employee("E1"), employee("E2")]) == (2, 0, 0)
    with ws.ledger.transaction() as conn:
        assert ws.ledger.upsert_records(conn, [employee("E1"), employee("E2", "王芳")]) == (0, 1, 1)
        assert ws.ledger.get_record(conn, "employee", "hr:E2").name == "王芳"  # type: ignore[union-attr]


def test_changed_records_stream_after_a_sequence_number(make_workspace):
    ws = make_workspace({})
    with ws.ledger.transaction() as conn:
        ws.ledger.upsert_records(conn, [employee("E1"), employee("E2")])
        mark = ws.ledger.max_seq(conn)
        ws.ledger.upsert_records(conn, [employee("E2", "王芳"), employee("E3")])
        changed = [r.id for r in ws.ledger.iter_records(conn, "employee", since_seq=mark)]
    assert sorted(changed) == ["hr:E2", "hr:E3"]


def test_money_survives_the_round_trip_as_decimal(make_workspace):
    ws = make_workspace({})
    item = CostItem(id="fin:1", category="course_fee", amount=Decimal("1000.10"),
                    incurred_on=date(2026, 1, 5), employee_id="E1")
    with ws.ledger.transaction() as conn:
        ws.ledger.upsert_records(conn, [item])
        back = ws.ledger.get_record(conn, "cost_item", "fin:1")
    assert back == item and isinstance(back.amount, Decimal)  # type: ignore[union-attr]


def test_cursors_are_kept_per_instance_and_stream_whatever_the_job(make_workspace):
    ws = make_workspace({})
    with ws.ledger.transaction() as conn:
        ws.ledger.set_cursor(conn, "hr", "fetch_employees", "c1")
        ws.ledger.set_cursor(conn, "hr", "fetch_employees", "c2")
        assert ws.ledger.get_cursor(conn, "hr", "fetch_employees") == "c2"
        assert ws.ledger.get_cursor(conn, "hr", "fetch_separations") is None
        assert ws.ledger.get_cursor(conn, "hr2", "fetch_employees") is None


def test_no_tenant_reads_another_tenants_rows(make_workspace):
    ws = make_workspace({})
    other = Ledger(ws.ledger.url, f"someone-else-{ws.settings.tenant}", engine=ws.ledger.engine)
    with ws.ledger.transaction() as conn:
        ws.ledger.upsert_records(conn, [employee("E1")])
        ws.ledger.enqueue(conn, [{"id": "x", "job": "j", "operation": "send_notice", "instance": "n",
                                  "idempotency_key": "x", "args": {}}])
    with other.transaction() as conn:
        assert other.count_records(conn) == 0 and other.get_record(conn, "employee", "hr:E1") is None
        assert other.outbox(conn) == []
    run = other.start_run("ingest")
    other.acquire_lock("ingest", run, stale_after=timedelta(minutes=1))  # the tenants' locks are separate
    ws.ledger.acquire_lock("ingest", ws.ledger.start_run("ingest"), stale_after=timedelta(minutes=1))


def test_an_outbox_row_is_claimed_by_one_run_only(make_workspace):
    ws = make_workspace({})
    with ws.ledger.transaction() as conn:
        ws.ledger.enqueue(conn, [{"id": "adj-1", "job": "j", "operation": "post_adjustment",
                                  "instance": "payroll", "idempotency_key": "adj-1", "args": {}}])
    first = ws.ledger.start_run("j")
    ws.ledger.acquire_lock("j", first, stale_after=timedelta(minutes=5))
    assert ws.ledger.claim("adj-1", first, max_attempts=5)
    assert not ws.ledger.claim("adj-1", first + 1000, max_attempts=5)  # the claimer is alive
    ws.ledger.mark_delivered("adj-1", ref="R1", result={"ok": True})
    assert not ws.ledger.claim("adj-1", first, max_attempts=5)  # delivered rows are never sent again


def test_a_replayed_webhook_event_is_recognised(make_workspace):
    ws = make_workspace({})
    with ws.ledger.transaction() as conn:
        assert ws.ledger.record_webhook_event(conn, "docusign", "evt-1", "envelope-completed", {})
        assert not ws.ledger.record_webhook_event(conn, "docusign", "evt-1", "envelope-completed", {})


def test_a_sinks_receipt_is_kept_whole_but_a_known_secret_in_it_is_not(make_workspace):
    from trainbridge.core.secrets import register_secret

    register_secret("sk-live-4c1d-secret")
    ws = make_workspace({})
    with ws.ledger.transaction() as conn:
        ws.ledger.enqueue(conn, [{"id": "ev-1", "job": "agreements", "operation": "deposit_evidence",
                                  "instance": "tsa", "idempotency_key": "ev-1", "args": {}}])
    ws.ledger.mark_delivered("ev-1", ref="r1",
                             result={"token": "MIIB...base64", "note": "sk-live-4c1d-secret"})
    with ws.ledger.transaction() as conn:
        [row] = ws.ledger.outbox(conn)
    assert row.result == {"token": "MIIB...base64", "note": "***"}


def test_a_large_page_tells_new_changed_and_unchanged_records(make_workspace):
    # 5,001 records: more than one bulk statement on PostgreSQL (5,000 rows each)
    ws = make_workspace({})
    people = [employee(f"E{n:05d}") for n in range(5001)]
    with ws.ledger.transaction() as conn:
        assert ws.ledger.upsert_records(conn, people) == (5001, 0, 0)
    renamed = [employee(p.employee_id, "王芳") if n % 500 == 0 else p for n, p in enumerate(people)]
    with ws.ledger.transaction() as conn:
        assert ws.ledger.upsert_records(conn, [*renamed, employee("E99999")]) == (1, 11, 4990)
        assert ws.ledger.get_record(conn, "employee", "hr:E00500").name == "王芳"  # type: ignore[union-attr]
        assert ws.ledger.count_records(conn, "employee") == 5002


def test_a_page_of_decisions_keeps_its_money_text_and_nulls(make_workspace):
    from trainbridge.core.ledger import now_utc

    ws = make_workspace({})
    rows = [{"id": f"refund:S-{n}", "kind": "refund", "subject": f"E{n}" if n % 2 else None,
             "job": "separations", "run_id": None, "amount": Decimal("850.00") if n % 3 else None,
             "currency": "CNY",
             "payload": {"articles": ["劳动合同法 第二十二条"], "note": 'the "quoted" \\ clause',
                         "waived": None},
             "explanation": [f"1700.00 x 12/24 = 850.00 ({n})"], "created_at": now_utc()} for n in range(40)]
    with ws.ledger.transaction() as conn:
        assert ws.ledger.put_decisions(conn, rows) == 40
        assert ws.ledger.put_decisions(conn, rows) == 0  # written once, whatever the replays
        back = {d["id"]: d for d in ws.ledger.list_decisions(conn, "refund")}
    assert len(back) == 40
    one, two = back["refund:S-1"], back["refund:S-3"]
    assert (one["amount"], one["subject"], two["amount"]) == (Decimal("850.00"), "E1", None)
    assert one["payload"] == rows[1]["payload"]
    assert back["refund:S-2"]["subject"] is None
    assert one["explanation"] == ["1700.00 x 12/24 = 850.00 (1)"]


def test_a_stored_record_an_older_version_accepted_is_left_out_not_fatal(make_workspace):
    ws = make_workspace({})
    good = CostItem(id="fin:1", category="course_fee", amount=Decimal("1000.10"), currency="CNY",
                    allocation="employee", employee_id="E001", incurred_on=date(2026, 3, 1))
    huge = good.model_copy(update={"id": "fin:2", "amount": Decimal("1E+309")})  # as stored before
    with ws.ledger.transaction() as conn:
        ws.ledger.upsert_records(conn, [good, huge])
        assert [r.id for r in ws.ledger.iter_records(conn, "cost_item")] == ["fin:1"]
        assert ws.ledger.get_record(conn, "cost_item", "fin:2") is None
        assert ws.ledger.count_records(conn, "cost_item") == 2  # kept, not lost
