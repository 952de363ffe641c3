"""e签宝 request and callback signatures.

Published examples used: the string-to-sign layout and the empty-body Content-MD5 of
open.esign.cn/tools/signature (鉴权签名计算). The page publishes no app secret, so the
signature values themselves are checked against our own vectors, computed here with
hashlib/hmac independently of the code under test. The callback example on
open.esign.cn/doc/opendoc/notify3/sblzg8 masks its secret ("cfbcbb1111...") and does not
reproduce, so the callback test is our own vector too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from trainbridge.connectors.esign_cn.signing import (
    callback_query_values,
    callback_signature,
    callback_signature_matches,
    content_md5,
    path_and_sorted_query,
    signed_headers,
    string_to_sign,
)

from .conftest import APP_ID, APP_SECRET, CALLBACK_URL


def test_string_to_sign_matches_the_published_example() -> None:
    # open.esign.cn/tools/signature, step 3: GET with the MD5 of an empty body.
    published = ("GET\n*/*\n1B2M2Y8AsgTpgAmY7PhCfg==\napplication/json;charset=UTF-8\n\n"
                 "/v1/signflows/1234567/executeUrl?accountId=438be8042d9843118cbca94f17dc")
    assert string_to_sign(
        "get", "/v1/signflows/1234567/executeUrl?accountId=438be8042d9843118cbca94f17dc",
        content_md5="1B2M2Y8AsgTpgAmY7PhCfg==",
        content_type="application/json;charset=UTF-8") == published


def test_the_published_empty_body_md5() -> None:
    assert base64.b64encode(hashlib.md5(b"").digest()).decode() == "1B2M2Y8AsgTpgAmY7PhCfg=="
    assert content_md5(b"") == ""  # a GET sends no Content-MD5 (official Java demo)


def test_query_parameters_are_signed_in_ascii_order() -> None:
    assert path_and_sorted_query("/v3/seals/org-own-seal-list", "pageSize=20&orgId=o1&pageNum=1") \
        == "/v3/seals/org-own-seal-list?orgId=o1&pageNum=1&pageSize=20"
    assert path_and_sorted_query("/v3/sign-flow/abc/detail") == "/v3/sign-flow/abc/detail"


def test_signed_headers_for_a_create_by_file_post() -> None:
    body = '{"docs":[{"fileId":"f1","fileName":"协议.pdf"}]}'.encode()
    headers = signed_headers(APP_ID, APP_SECRET, "POST",
                             "https://smlopenapi.esign.cn/v3/sign-flow/create-by-file", body,
                             1_700_000_000_000)

    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    text = (f"POST\n*/*\n{md5}\napplication/json; charset=UTF-8\n\n"
            "/v3/sign-flow/create-by-file")
    signature = base64.b64encode(
        hmac.new(APP_SECRET.encode(), text.encode(), hashlib.sha256).digest()).decode()
    assert headers == {
        "X-Tsign-Open-App-Id": APP_ID,
        "X-Tsign-Open-Auth-Mode": "Signature",
        "X-Tsign-Open-Ca-Timestamp": "1700000000000",
        "X-Tsign-Open-Ca-Signature": signature,
        "Accept": "*/*",
        "Content-Type": "application/json; charset=UTF-8",
        "Content-MD5": md5,
    }
    # Our own vector, pinned with openssl dgst so a change of recipe cannot pass unnoticed.
    assert md5 == "N6mlIOhFwl3ZSg3f9g2Iwg=="
    assert signature == "iUpQa1ePUWuaAzRmBEZH4DpymE6uPlLziyBu3j13VbI="


def test_callback_signature_covers_timestamp_query_values_and_body() -> None:
    body = b'{"action":"SIGN_FLOW_COMPLETE","signFlowId":"c57fb3ab"}'
    assert callback_query_values(CALLBACK_URL) == "acme"
    assert callback_query_values("https://x.example/notify?orderNo=001&belong=pinjie") \
        == "pinjie001"  # the docs' own ordering example: belong < orderNo
    expected = hmac.new(APP_SECRET.encode(), b"1700000635671acme" + body,
                        hashlib.sha256).hexdigest()
    assert callback_signature(APP_SECRET, "1700000635671", "acme", body) == expected
    assert callback_signature_matches(APP_SECRET, "1700000635671", "acme", body, expected.upper())
    assert not callback_signature_matches(APP_SECRET, "1700000635672", "acme", body, expected)
