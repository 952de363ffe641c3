"""Dropbox Sign callbacks: event_hash against the vendor's published vectors, forgeries, replay.

``EventCallbackHelper_*Callbacks.json`` are the SDK test vectors of hellosign-openapi
(``test_fixtures/``): every ``event_hash`` there is valid for ``SDK_API_KEY`` and invalid
for the reversed key, which is exactly what the SDKs' EventCallbackHelper tests assert.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest

from trainbridge.connectors.dropbox_sign import callback_json, event_hash
from trainbridge.core.errors import WebhookRejected
from trainbridge.core.records import EnvelopeStatus

from .conftest import (
    API_KEY,
    BASE,
    NOW,
    REQUEST_ID,
    SDK_API_KEY,
    multipart_callback,
    ours,
    payload,
)

VENDOR_TIME = 1348177752  # event_time of every published vector
STATUS = f"{BASE}/signature_request/{REQUEST_ID}"
PUBLISHED = [
    pytest.param(fixture, name, id=f"{fixture.split('_')[1]}-{name}")
    for fixture in ("EventCallbackHelper_AccountCallbacks", "EventCallbackHelper_AppCallbacks")
    for name in payload(fixture)
]


def callback(event_type: str, *, key: str = API_KEY, at: int = int(NOW) - 30,
             request_id: str = REQUEST_ID) -> dict:
    """The vendor's example callback, re-signed for our key, time and request."""
    event = payload("EventCallbackAccountSignatureRequestSent")
    event["event"].update(event_type=event_type, event_time=str(at),
                          event_hash=event_hash(key, str(at), event_type))
    event["signature_request"]["signature_request_id"] = request_id
    return event


@pytest.mark.parametrize(("fixture", "name"), PUBLISHED)
def test_event_hash_reproduces_the_published_vectors(fixture, name):
    event = payload(fixture)[name]["event"]

    assert event_hash(SDK_API_KEY, event["event_time"], event["event_type"]) == event["event_hash"]
    assert event_hash(SDK_API_KEY[::-1], event["event_time"], event["event_type"]) != \
        event["event_hash"]


@pytest.mark.parametrize(("fixture", "name"), PUBLISHED)
def test_published_callbacks_pass_verification_with_the_sdk_key(make_dropbox_sign, clock, fixture, name):
    dropbox_sign = make_dropbox_sign(api_key=SDK_API_KEY)
    clock.current = datetime.fromtimestamp(VENDOR_TIME + 60, tz=UTC)
    headers, body = multipart_callback(payload(fixture)[name])

    result = dropbox_sign.verify_webhook(headers, body)

    # Account and template events carry no signature request: acknowledged, no envelope event.
    assert result.events == () and result.reply.body == "Hello API Event Received"


@pytest.mark.parametrize(("fixture", "name"), PUBLISHED[:2])
def test_published_callbacks_fail_with_the_reversed_key(make_dropbox_sign, clock, fixture, name):
    dropbox_sign = make_dropbox_sign(api_key=SDK_API_KEY[::-1])
    clock.current = datetime.fromtimestamp(VENDOR_TIME + 60, tz=UTC)
    headers, body = multipart_callback(payload(fixture)[name])

    with pytest.raises(WebhookRejected, match="event_hash does not match"):
        dropbox_sign.verify_webhook(headers, body)


def test_a_forged_event_hash_is_rejected(dropbox_sign):
    event = callback("signature_request_all_signed", key="a-guessed-api-key")
    headers, body = multipart_callback(event)

    with pytest.raises(WebhookRejected, match="does not match"):
        dropbox_sign.verify_webhook(headers, body)


def test_a_hash_reused_for_another_event_type_is_rejected(dropbox_sign):
    event = callback("signature_request_viewed")
    event["event"]["event_type"] = "signature_request_all_signed"
    headers, body = multipart_callback(event)

    with pytest.raises(WebhookRejected, match="does not match"):
        dropbox_sign.verify_webhook(headers, body)


def test_a_replayed_callback_older_than_the_window_is_rejected(dropbox_sign):
    # The hash covers event_time, so an old valid callback cannot be given a new time.
    headers, body = multipart_callback(callback("signature_request_all_signed",
                                                at=int(NOW) - 5 * 24 * 3600))

    with pytest.raises(WebhookRejected, match="replay window"):
        dropbox_sign.verify_webhook(headers, body)


def test_a_callback_from_the_future_is_rejected(dropbox_sign):
    headers, body = multipart_callback(callback("signature_request_sent", at=int(NOW) + 3600))

    with pytest.raises(WebhookRejected, match="replay window"):
        dropbox_sign.verify_webhook(headers, body)


def test_a_retry_two_days_later_is_still_accepted(dropbox_sign, fake):
    fake.get(STATUS, json=ours("SignatureRequestSendResponse"))
    headers, body = multipart_callback(callback("signature_request_sent",
                                                at=int(NOW) - 2 * 24 * 3600))

    [event] = dropbox_sign.verify_webhook(headers, body).events

    assert event.status is EnvelopeStatus.SENT


def test_the_status_comes_from_the_api_not_from_the_unsigned_body(dropbox_sign, fake):
    # A valid "all signed" hash on a body that claims completion: the API says it is sent.
    fake.get(STATUS, json=ours("SignatureRequestSendResponse"))
    event = callback("signature_request_all_signed")
    event["signature_request"]["is_complete"] = True
    headers, body = multipart_callback(event)

    [reported] = dropbox_sign.verify_webhook(headers, body).events

    assert reported.status is EnvelopeStatus.SENT
    assert fake.calls[0].request.url == STATUS


def test_a_callback_naming_a_request_this_key_cannot_read_is_rejected(dropbox_sign, fake):
    fake.get(f"{BASE}/signature_request/0000aaaa", status=404, json=payload("Error404Response"))
    headers, body = multipart_callback(callback("signature_request_all_signed",
                                                request_id="0000aaaa"))

    with pytest.raises(WebhookRejected, match="cannot read"):
        dropbox_sign.verify_webhook(headers, body)


def test_without_confirmation_the_event_type_gives_the_status(make_dropbox_sign):
    dropbox_sign = make_dropbox_sign(confirm_callbacks=False)
    headers, body = multipart_callback(callback("signature_request_declined"))

    [event] = dropbox_sign.verify_webhook(headers, body).events

    assert event.status is EnvelopeStatus.DECLINED and event.envelope_id == REQUEST_ID
    assert event.event_id == f"dropbox_sign:{REQUEST_ID}:signature_request_declined:" \
        f"{int(NOW) - 30}:ad4d8a769b555fa5ef38691465d426682bf2c992"
    assert event.occurred_at is not None and event.occurred_at.timestamp() == int(NOW) - 30


def test_the_callback_test_event_is_only_acknowledged(dropbox_sign):
    event = {"event": {"event_type": "callback_test", "event_time": str(int(NOW)),
                       "event_hash": event_hash(API_KEY, str(int(NOW)), "callback_test"),
                       "event_metadata": {"related_signature_id": None,
                                          "reported_for_account_id": "63522885f9261e2b04ee",
                                          "reported_for_app_id": None}}}
    headers, body = multipart_callback(event)

    result = dropbox_sign.verify_webhook(headers, body)

    assert result.events == ()
    assert (result.reply.status_code, result.reply.body, result.reply.content_type) == \
        (200, "Hello API Event Received", "text/plain")


def test_an_urlencoded_or_bare_json_callback_is_read_too():
    event = payload("EventCallbackHelper_AccountCallbacks")["signature_request"]
    form = urlencode({"json": json.dumps(event)}).encode()

    assert callback_json({"content-type": "application/x-www-form-urlencoded"}, form) == event
    assert callback_json({"Content-Type": "application/json"}, json.dumps(event).encode()) == event


def test_a_callback_without_json_is_rejected(dropbox_sign):
    with pytest.raises(WebhookRejected, match="no JSON"):
        dropbox_sign.verify_webhook({"Content-Type": "multipart/form-data; boundary=x"},
                                    b"--x\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\n"
                                    b"1\r\n--x--\r\n")
