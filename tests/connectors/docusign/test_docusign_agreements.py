"""Agreements signed in DocuSign before trainbridge, and a send that finds its own earlier create.

Listing: Envelopes:listStatusChanges (``status=completed``, ``include=custom_fields``, paged by
``start_position``/``count``; ``endPosition``/``totalSetSize`` as strings). The terms are the
envelopes' custom fields (docs/connectors/docusign.md).
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from trainbridge.core.errors import ServerError
from trainbridge.core.records import Agreement, AgreementStatus, Signer

from .conftest import API, ENVELOPE_ID, PDF, agreement, payload

ENVELOPES = f"{API}/envelopes"
EMPLOYEE = Signer(name="张伟", email="zhang.wei@example.com", role="employee")
KEY = "send:agreement:lms:agr-7#1"


def query(call: responses.Call) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


def test_completed_envelopes_become_signed_agreements_page_by_page(make_docusign, fake):
    docusign = make_docusign(import_agreements=True, agreements_page_size=2)
    fake.get(ENVELOPES, json=payload("envelopes_completed_page_1"))
    fake.get(ENVELOPES, json=payload("envelopes_completed_page_2"))

    pages = list(docusign.fetch_agreements(None))

    assert [query(c) for c in fake.calls] == [
        {"from_date": ["2020-01-01T00:00:00Z"], "status": ["completed"], "include": ["custom_fields"],
         "start_position": [start], "count": ["2"]} for start in ("0", "2")]
    first, second = pages
    paper, lean = first.records
    assert isinstance(paper, Agreement) and paper.status is AgreementStatus.SIGNED
    assert paper.id == "ds:4f6c8a1e-0b2d-4e3f-9a57-1c2d3e4f5a61" and paper.employee_id == "E003"
    # The inclusive last day 2027-05-10 ends the period before 2027-05-11: 24 months.
    assert (paper.service_start, paper.service_end, paper.service_months) == (
        date(2025, 5, 11), date(2027, 5, 11), 24)
    assert paper.deduction_consent and paper.session_id == "FIRE-CTRL-1"
    assert paper.signed_at is not None and paper.signed_at.date() == date(2025, 5, 3)
    assert paper.template_id == "docusign" and paper.envelope_id == "4f6c8a1e-0b2d-4e3f-9a57-1c2d3e4f5a61"
    assert (lean.service_end, lean.clause_amount, lean.template_version) == (
        date(2028, 7, 1), Decimal("5000.00"), "2")
    assert first.cursor is None and second.cursor == "2025-07-02T01:00:00.0000000Z"
    # One envelope lacks the employee: quarantined with a plain reason; trainbridge's own is skipped.
    assert second.records == []
    [reject] = second.rejects
    assert reject.key == "ds:9a8b7c6d-1e2f-4a3b-8c4d-5e6f7a8b9c83"
    assert reject.reason.startswith("docusign envelope 9a8b7c6d-1e2f-4a3b-8c4d-5e6f7a8b9c83 cannot become a "
                                    "training agreement: metadata employee_id is missing; metadata "
                                    "service_months or service_last_day is missing")
    assert "docs/connectors/docusign.md" in reject.reason


def test_the_next_run_asks_only_for_envelopes_changed_since_the_cursor(make_docusign, fake):
    docusign = make_docusign(import_agreements=True)
    fake.get(ENVELOPES, json={"resultSetSize": "0", "totalSetSize": "0", "startPosition": "0",
                              "endPosition": "-1", "nextUri": "", "previousUri": "", "envelopes": []})

    [page] = docusign.fetch_agreements("2025-07-02T01:00:00.0000000Z")

    assert query(fake.calls[0])["from_date"] == ["2025-07-02T01:00:00.0000000Z"]
    assert page.records == [] and page.cursor == "2025-07-02T01:00:00.0000000Z"


def test_reading_agreements_is_off_unless_configured(docusign, fake):
    assert docusign.produces("fetch_agreements") == ()
    assert list(docusign.fetch_agreements(None)) == []
    assert len(fake.calls) == 0


def test_renamed_custom_fields_are_read_through_agreement_fields(make_docusign, fake):
    docusign = make_docusign(import_agreements=True, agreement_fields={"employee_id": "EmployeeNo"})
    answer = payload("envelopes_completed_page_2")
    answer["totalSetSize"], answer["startPosition"], answer["endPosition"] = "1", "0", "0"
    envelope = answer["envelopes"][0]
    envelope["customFields"]["textCustomFields"] += [
        {"fieldId": "1", "name": "EmployeeNo", "show": "true", "required": "false", "value": "E020"},
        {"fieldId": "2", "name": "service_months", "show": "true", "required": "false", "value": "12"}]
    answer["envelopes"] = [envelope]
    fake.get(ENVELOPES, json=answer)

    [page] = docusign.fetch_agreements(None)

    [record] = page.records
    assert record.employee_id == "E020" and record.service_end == date(2026, 7, 1)


def test_a_lost_acknowledgement_is_found_by_the_deliverys_idempotency_key(docusign, fake):
    fake.get(ENVELOPES, json=payload("envelopes_none"))
    fake.get(ENVELOPES, json=payload("envelopes_none"))
    # DocuSign made the envelope, but the answer never arrived (the gateway timed out).
    fake.post(ENVELOPES, status=504, body="Gateway Timeout")
    with pytest.raises(ServerError, match="may or may not have happened"):
        docusign.send_for_signature(agreement(), PDF, [EMPLOYEE], idempotency_key=KEY)

    created = json.loads(fake.calls[2].request.body)
    assert {f["name"]: f["value"] for f in created["customFields"]["textCustomFields"]} == {
        "trainbridge_agreement_id": "lms:agr-7", "trainbridge_idempotency_key": KEY}
    assert [query(c)["custom_field"] for c in fake.calls[:2]] == [
        [f"trainbridge_idempotency_key={KEY}"], ["trainbridge_agreement_id=lms:agr-7"]]

    found = payload("envelopes_found")
    found["envelopes"][0]["customFields"]["textCustomFields"].append(
        {"fieldId": "10726342", "name": "trainbridge_idempotency_key", "show": "false", "required": "false",
         "value": KEY})
    fake.get(ENVELOPES, json=found)
    again = docusign.send_for_signature(agreement(), PDF, [EMPLOYEE], idempotency_key=KEY)

    assert again.envelope_id == ENVELOPE_ID
    assert [c.request.method for c in fake.calls] == ["GET", "GET", "POST", "GET"]  # found by the key, once


def test_an_answer_without_envelopes_is_an_empty_last_page(make_docusign, fake):
    # DocuSign leaves "envelopes" out of an empty EnvelopesInformation.
    docusign = make_docusign(import_agreements=True)
    fake.get(ENVELOPES, json={"resultSetSize": "0", "totalSetSize": "0", "startPosition": "0",
                              "endPosition": "-1", "nextUri": "", "previousUri": ""})

    [page] = docusign.fetch_agreements(None)

    assert page.records == [] and page.rejects == [] and page.cursor == "2020-01-01T00:00:00Z"


def test_a_full_last_page_ends_at_total_set_size_without_asking_again(make_docusign, fake):
    docusign = make_docusign(import_agreements=True, agreements_page_size=2)
    answer = payload("envelopes_completed_page_1")
    answer["totalSetSize"], answer["nextUri"] = "2", ""
    fake.get(ENVELOPES, json=answer)

    pages = list(docusign.fetch_agreements(None))

    assert len(fake.calls) == 1 and len(pages) == 1 and len(pages[0].records) == 2
    assert pages[0].cursor == "2025-06-10T08:30:00.0000000Z"  # the newest statusChangedDateTime
