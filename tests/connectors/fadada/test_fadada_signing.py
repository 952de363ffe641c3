"""法大大 FASC 5.1 request signature: the two-step HMAC of the official SDKs.

法大大 publishes no example values (appSecret, timestamp -> X-FASC-Sign) in the material
we could reach. So:

* ``test_the_sdk_algorithm...`` runs a line-by-line transcription of the official
  fadada-tech python SDK (``fdd_sdk/utils/hashs.py``: ``sort_params`` and ``sign``) against
  our implementation;
* the pinned values are our own vectors, computed with ``openssl dgst`` (see each test);
* one vector (``45a459b6...``) comes from a third-party FASC write-up that computed it with
  the SDK algorithm; it is not a vendor-published example.
"""

from __future__ import annotations

import hashlib
import hmac

import responses

from trainbridge.connectors.fadada import fasc_sign, sign_string

from .conftest import APP_ID, APP_SECRET, NOW_MS, UAT, fixture_json


def _sdk_sign(params: dict[str, str], timestamp: str, secret: str) -> str:
    """fadada-tech/fadada-python-sdk-api3 HashUtils.sort_params + HashUtils.sign, transcribed."""
    result_str = ""
    for key, value in sorted(params.items()):
        result_str += "%s=%s&" % (key, value)  # noqa: UP031 - the SDK's own formatting
    sort_params_str = result_str[:-1]
    params_hex = hashlib.sha256(sort_params_str.encode()).hexdigest()
    first_hmac = hmac.new(secret.encode("utf-8"), timestamp.encode("utf-8"), "sha256").digest()
    return hmac.new(first_hmac, params_hex.encode("utf-8"), "sha256").hexdigest()


def test_the_sdk_algorithm_and_ours_agree() -> None:
    params = {
        "X-FASC-App-Id": APP_ID, "X-FASC-Sign-Type": "HMAC-SHA256",
        "X-FASC-Timestamp": "1700000640000", "X-FASC-Nonce": "5f1c0d1e2b3a49c8a7b6d5e4f3a2b1c0",
        "X-FASC-Api-SubVersion": "5.1", "X-FASC-AccessToken": "9d7a0c4f5e3b4a2c8f1e6d5b4a3c2e1f",
        "bizContent": '{"signTaskId":"1656657193146145802","docs":[{"docName":"协议 A.pdf"}]}',
    }
    assert fasc_sign(params, "1700000640000", APP_SECRET) == _sdk_sign(
        params, "1700000640000", APP_SECRET)


def test_empty_values_are_left_out_and_names_sort_in_ascii_order() -> None:
    assert sign_string({"bizContent": "{}", "X-FASC-Nonce": "n", "X-FASC-AccessToken": "",
                        "X-FASC-App-Id": "1"}) == "X-FASC-App-Id=1&X-FASC-Nonce=n&bizContent={}"


def test_third_party_sdk_vector() -> None:
    params = {"X-FASC-AccessToken": "tok", "X-FASC-Api-SubVersion": "5.1",
              "X-FASC-App-Id": "00000000", "X-FASC-Nonce": "a" * 32,
              "X-FASC-Sign-Type": "HMAC-SHA256", "X-FASC-Timestamp": "1757570000000",
              "bizContent": '{"signTaskId":"1"}'}
    assert fasc_sign(params, "1757570000000", "dummysecret") == \
        "45a459b6af348e6ff2b3e5727823c54f4e5f4e23eea22e916d8da6befefe25bf"


@responses.activate
def test_exact_headers_of_the_token_and_a_business_call(fadada) -> None:
    conn = fadada()
    responses.post(f"{UAT}/service/get-access-token", json=fixture_json("access_token.json"),
                   headers={"X-FASC-Request-Id": "e0b7c3f8d2a14f6b"})
    responses.post(f"{UAT}/sign-task/start", json=fixture_json("sign_task_start.json"))

    conn.call("/sign-task/start", {"signTaskId": "1656657193146145802"})

    token, start = (c.request for c in responses.calls)
    # Pinned with: key = openssl dgst -sha256 -mac HMAC -macopt key:$SECRET <<< timestamp;
    # sign = sha256hex(sorted string) | openssl dgst -sha256 -mac HMAC -macopt hexkey:$key
    assert {k: v for k, v in token.headers.items() if k.startswith("X-FASC")} == {
        "X-FASC-App-Id": APP_ID,
        "X-FASC-Sign-Type": "HMAC-SHA256",
        "X-FASC-Timestamp": str(NOW_MS),
        "X-FASC-Nonce": "00000000000000000000000000000001",
        "X-FASC-Api-SubVersion": "5.1",
        "X-FASC-Grant-Type": "client_credential",
        "X-FASC-Sign": "0149501b1af22ceda1f99f57b28ed7574958f85f2fef03205358b32f4cc10e4f",
    }
    assert not token.body
    assert {k: v for k, v in start.headers.items() if k.startswith("X-FASC")} == {
        "X-FASC-App-Id": APP_ID,
        "X-FASC-Sign-Type": "HMAC-SHA256",
        "X-FASC-Timestamp": str(NOW_MS),
        "X-FASC-Nonce": "00000000000000000000000000000002",
        "X-FASC-Api-SubVersion": "5.1",
        "X-FASC-AccessToken": "9d7a0c4f5e3b4a2c8f1e6d5b4a3c2e1f",
        "X-FASC-Sign": "655c162d21261474b5a5087b5bc1f45d8d894c2dc31c4bbf3c4422bf51cba4d7",
    }
    assert start.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert start.body == "bizContent=%7B%22signTaskId%22%3A%221656657193146145802%22%7D"
