"""Gusto callbacks: the subscription handshake and X-Gusto-Signature on every event.

The event body is the Payroll event example of docs.gusto.com/embedded-payroll/docs/payroll-events
and the token the verification_token example of .../docs/webhooks. Gusto documents the scheme
(hex HMAC-SHA256 of the raw body keyed by the verification token) but publishes no digest, so
SIGNATURE is our own vector, computed outside Python with
``openssl dgst -sha256 -hmac 6590f590-3dba-495e-9bea-c361e1e2efc0``.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from trainbridge.connectors.gusto.webhooks import sign
from trainbridge.core.errors import WebhookRejected
from trainbridge.testing import Clock

EVENT = (b'{"uuid":"e5540567-a6ee-4ce8-bf3e-a12c563db54c","event_type":"payroll.updated",'
         b'"resource_type":"Company","resource_uuid":"5df911a0-e8e9-412d-8aaf-a46ad193dd96",'
         b'"entity_type":"Payroll","entity_uuid":"c02f2c32-34f7-4128-9145-7d49f0c3f355",'
         b'"timestamp":1671058841}')
SIGNATURE = "4c9632456f9f9e1258f748b05c74409b6ffb096e91515b9b7084fa2a276535d6"
DOCS_COMPANY = "5df911a0-e8e9-412d-8aaf-a46ad193dd96"
TOKEN = "6590f590-3dba-495e-9bea-c361e1e2efc0"


@pytest.fixture(autouse=True)
def docs_day(clock: Clock) -> Clock:
    """The day of the documented event (its timestamp 1671058841 is 2022-12-14 23:00:41 UTC)."""
    clock.current = datetime(2022, 12, 14, 23, 0, tzinfo=UTC)
    return clock


@pytest.fixture
def hooks(make_gusto):
    return make_gusto(company_id=DOCS_COMPANY)


def test_a_signed_payroll_event_is_verified_and_translated(hooks):
    result = hooks.verify_webhook(headers={"X-Gusto-Signature": SIGNATURE}, body=EVENT)

    [event] = result.events
    assert event.event_id == "e5540567-a6ee-4ce8-bf3e-a12c563db54c"
    assert event.event_type == "payroll.updated"
    assert event.occurred_at == datetime(2022, 12, 14, 23, 0, 41, tzinfo=UTC)
    assert event.delivery_ref == "payroll:c02f2c32-34f7-4128-9145-7d49f0c3f355"
    assert event.delivery_status is None  # an edit settles nothing
    assert event.detail == "Gusto event payroll.updated"
    assert result.reply.status_code == 200


def test_header_names_are_case_insensitive(hooks):
    result = hooks.verify_webhook(headers={"x-gusto-signature": SIGNATURE.upper()}, body=EVENT)

    assert len(result.events) == 1


def signed(event_type: str) -> tuple[dict[str, str], bytes]:
    """The documented payroll event with another ``event_type``, signed with the docs' token."""
    body = EVENT.replace(b"payroll.updated", event_type.encode())
    return {"X-Gusto-Signature": sign(TOKEN, body)}, body


def test_a_paid_payroll_confirms_the_delivery_that_created_it(hooks):
    [event] = hooks.verify_webhook(*signed("payroll.paid")).events

    assert event.delivery_ref == "payroll:c02f2c32-34f7-4128-9145-7d49f0c3f355"
    assert event.delivery_status == "confirmed"
    assert event.detail.startswith("paid: Gusto generated the payroll's credits")


@pytest.mark.parametrize("event_type", ["payroll.cancelled", "payroll.reversed", "payroll.partially_reversed",
                                        "payroll.deleted"])
def test_a_cancelled_reversed_or_deleted_payroll_fails_the_delivery(hooks, event_type):
    [event] = hooks.verify_webhook(*signed(event_type)).events

    assert (event.delivery_ref, event.delivery_status) == ("payroll:c02f2c32-34f7-4128-9145-7d49f0c3f355",
                                                           "failed")
    assert event_type in event.detail


@pytest.mark.parametrize("event_type", ["payroll.calculated", "payroll.submitted", "payroll.processed",
                                        "payroll.processing_failed"])
def test_a_payroll_still_on_its_way_settles_nothing(hooks, event_type):
    # A processed payroll can still be cancelled until its deadline; a failed one can be resubmitted.
    [event] = hooks.verify_webhook(*signed(event_type)).events

    assert event.delivery_status is None


def test_an_event_about_another_entity_reports_on_no_delivery(hooks):
    body = EVENT.replace(b'"entity_type":"Payroll"', b'"entity_type":"Employee"')

    [event] = hooks.verify_webhook(headers={"X-Gusto-Signature": sign(TOKEN, body)}, body=body).events

    assert (event.delivery_ref, event.delivery_status) == (None, None)


def test_a_changed_body_is_rejected(hooks):
    tampered = EVENT.replace(b"payroll.updated", b"payroll.cancelled")

    with pytest.raises(WebhookRejected, match="does not match"):
        hooks.verify_webhook(headers={"X-Gusto-Signature": SIGNATURE}, body=tampered)


def test_an_unsigned_event_is_rejected(hooks):
    with pytest.raises(WebhookRejected, match="no X-Gusto-Signature"):
        hooks.verify_webhook(headers={}, body=EVENT)


def test_an_old_event_played_again_is_rejected(hooks, clock: Clock):
    clock.current = datetime(2023, 1, 14, tzinfo=UTC)

    with pytest.raises(WebhookRejected, match="replay window"):
        hooks.verify_webhook(headers={"X-Gusto-Signature": SIGNATURE}, body=EVENT)


def test_events_of_another_company_are_acknowledged_and_ignored(make_gusto):
    other = make_gusto()  # configured for the fake company, not the docs' one

    result = other.verify_webhook(headers={"X-Gusto-Signature": SIGNATURE}, body=EVENT)

    assert result.events == ()


def test_without_a_configured_token_events_are_rejected(make_gusto):
    bare = make_gusto(webhook_verification_token=None, company_id=DOCS_COMPANY)

    with pytest.raises(WebhookRejected, match="no webhook_verification_token"):
        bare.verify_webhook(headers={"X-Gusto-Signature": SIGNATURE}, body=EVENT)


def test_the_subscription_handshake_waits_for_the_operator_and_changes_nothing(make_gusto):
    from trainbridge.core.secrets import redact

    bare = make_gusto(webhook_verification_token=None)
    body = b'{"verification_token": "1f0c9d7e-52aa-4c1b-9e0f-3b7d2a6c8e41"}'

    result = bare.verify_webhook(headers={}, body=body)

    assert result.events == ()
    assert bare.handshake_tokens.take() == ["1f0c9d7e-52aa-4c1b-9e0f-3b7d2a6c8e41"]
    assert bare.handshake_tokens.take() == []  # shown once
    assert redact("1f0c9d7e-52aa-4c1b-9e0f-3b7d2a6c8e41") == "1f0c9d7e-52aa-4c1b-9e0f-3b7d2a6c8e41"


def test_a_handshake_token_longer_than_gustos_is_refused(make_gusto):
    bare = make_gusto(webhook_verification_token=None)

    with pytest.raises(WebhookRejected, match="not one of Gusto's"):
        bare.verify_webhook(headers={}, body=b'{"verification_token": "' + b"x" * 500 + b'"}')
    assert len(bare.handshake_tokens) == 0


def test_a_signed_body_that_is_not_an_event_is_rejected(hooks):
    import hashlib
    import hmac

    body = b"[1, 2, 3]"
    signature = hmac.new(b"6590f590-3dba-495e-9bea-c361e1e2efc0", body, hashlib.sha256).hexdigest()

    with pytest.raises(WebhookRejected, match="not a Gusto event"):
        hooks.verify_webhook(headers={"X-Gusto-Signature": signature}, body=body)
