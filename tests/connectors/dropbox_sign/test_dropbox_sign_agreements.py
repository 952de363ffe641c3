"""Agreements signed in Dropbox Sign before trainbridge, and a send that finds its own earlier request.

Listing: ``GET /v3/signature_request/list`` with ``page`` and ``page_size``, up to
``list_info.num_pages``; the vendor's own example answer (SignatureRequestListResponse.json) with
its requests complete and their ``metadata`` set as HR would (docs/connectors/dropbox_sign.md).
"""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from trainbridge.connectors.dropbox_sign import lookup_token
from trainbridge.core.errors import ServerError
from trainbridge.core.records import AgreementStatus, Signer

from .conftest import PDF, agreement, form_fields, payload

LIST = "https://api.hellosign.com/v3/signature_request/list"
SEND = "https://api.hellosign.com/v3/signature_request/send"
EMPLOYEE = Signer(name="张伟", email="zhang.wei@example.com", role="employee")
KEY = "send:agreement:lms:agr-7#1"
SIGNED_AT = 1_746_237_600  # 2025-05-03T02:00:00Z


def query(call: responses.Call) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


def listing(page: int, pages: int, *metadata: dict, complete: bool = True) -> dict:
    answer = payload("SignatureRequestListResponse")
    template = answer["signature_requests"][0]
    answer["signature_requests"] = []
    for i, meta in enumerate(metadata):
        request = copy.deepcopy(template)
        request.update(signature_request_id=f"req{page}{i}", metadata=meta, is_complete=complete)
        for signature in request["signatures"]:
            signature.update(status_code="signed", signed_at=SIGNED_AT + i)
        answer["signature_requests"].append(request)
    answer["list_info"].update(page=page, num_pages=pages, num_results=len(metadata), page_size=100)
    return answer


PAPER = {"employee_id": "E003", "program_id": "FIRE-CTRL", "session_id": "FIRE-CTRL-1",
         "service_start": "2025-05-11", "service_last_day": "2027-05-10", "deduction_consent": "true",
         "clause_amount": "1700.00"}


def test_complete_requests_become_signed_agreements_page_by_page(make_dropbox_sign, fake):
    dropbox_sign = make_dropbox_sign(import_agreements=True)
    fake.get(LIST, json=listing(1, 2, PAPER, {"trainbridge_agreement_id": "agreement:lms:X"}))
    fake.get(LIST, json=listing(2, 2, {"program_id": "LEAN-2", "service_start": "2025-07-01",
                                       "service_months": "abc"}))

    first, second = dropbox_sign.fetch_agreements(None)

    assert [query(c) for c in fake.calls] == [{"page": ["1"], "page_size": ["100"]},
                                              {"page": ["2"], "page_size": ["100"]}]
    [paper] = first.records  # trainbridge's own request is skipped
    assert paper.id == "dbs:req10" and paper.status is AgreementStatus.SIGNED
    assert (paper.service_end, paper.service_months, paper.clause_amount) == (
        date(2027, 5, 11), 24, Decimal("1700.00"))
    assert paper.deduction_consent and paper.signed_at is not None
    assert paper.signed_at.date() == date(2025, 5, 3) and paper.template_id == "dropbox_sign"
    assert first.cursor is None and second.cursor is not None
    [reject] = second.rejects
    assert reject.reason.startswith("dropbox_sign envelope req20 cannot become a training agreement: "
                                    "metadata employee_id is missing; metadata service_months 'abc' is not a "
                                    "whole number of months from 1 to 240")


def test_requests_not_yet_complete_are_not_agreements(make_dropbox_sign, fake):
    dropbox_sign = make_dropbox_sign(import_agreements=True, account_id="all")
    fake.get(LIST, json=listing(1, 1, PAPER, complete=False))

    [page] = dropbox_sign.fetch_agreements(None)

    assert page.records == [] and page.rejects == []
    assert query(fake.calls[0])["account_id"] == ["all"]


def test_reading_agreements_is_off_unless_configured(dropbox_sign, fake):
    assert dropbox_sign.produces("fetch_agreements") == ()
    assert list(dropbox_sign.fetch_agreements(None)) == []


def test_a_lost_acknowledgement_is_found_by_the_deliverys_idempotency_key(dropbox_sign, fake):
    nothing = listing(1, 0)
    fake.get(LIST, json=nothing)
    fake.get(LIST, json=nothing)
    fake.post(SEND, status=504, body="Gateway Timeout")  # sent, but the answer was lost
    with pytest.raises(ServerError, match="may or may not have happened"):
        dropbox_sign.send_for_signature(agreement(), PDF, [EMPLOYEE], idempotency_key=KEY)

    assert [query(c)["query"] for c in fake.calls[:2]] == [[lookup_token(KEY)], [lookup_token("lms:agr-7")]]
    sent = form_fields(fake.calls[2].request.body, fake.calls[2].request.headers["Content-Type"])
    assert sent["metadata[trainbridge_idempotency_key]"] == lookup_token(KEY)
    assert sent["metadata[trainbridge_agreement_id]"] == "lms:agr-7"

    found = listing(1, 1, {"trainbridge_agreement_id": "lms:agr-7", "trainbridge_idempotency_key":
                           lookup_token(KEY)}, complete=False)
    fake.get(LIST, json=found)
    again = dropbox_sign.send_for_signature(agreement(), PDF, [EMPLOYEE], idempotency_key=KEY)

    assert again.envelope_id == "req10" and again.agreement_id == "lms:agr-7"
    assert [c.request.method for c in fake.calls] == ["GET", "GET", "POST", "GET"]
