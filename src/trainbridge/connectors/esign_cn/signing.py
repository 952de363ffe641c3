"""e签宝 open platform v3: request signatures and callback signatures (pure functions).

Request signing, from the official docs (open.esign.cn/doc/opendoc/saasapi-std/fsf57g,
open.esign.cn/tools/signature) and the official Java demo's ``EsignEncryption``::

    stringToSign = METHOD + "\\n" + Accept + "\\n" + Content-MD5 + "\\n" + Content-Type + "\\n"
                   + Date + "\\n" + [Headers + "\\n"] + PathAndSortedQuery
    X-Tsign-Open-Ca-Signature = base64(HMAC-SHA256(appSecret, stringToSign))
    Content-MD5 = base64(MD5(body bytes)), "" when there is no body (GET)

Callback signing (open.esign.cn/doc/opendoc/notify3/sblzg8, section 3.2)::

    X-Tsign-Open-SIGNATURE = hex(HMAC-SHA256(appSecret,
        X-Tsign-Open-TIMESTAMP + values of the callback URL's query sorted by key + raw body))
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import parse_qsl, urlsplit

ACCEPT = "*/*"
JSON_CONTENT_TYPE = "application/json; charset=UTF-8"
AUTH_MODE = "Signature"


def content_md5(body: bytes | None) -> str:
    """Base64 of the 128-bit MD5 of ``body``; empty for a request without a body."""
    if not body:
        return ""
    return base64.b64encode(hashlib.md5(body).digest()).decode("ascii")


def path_and_sorted_query(path: str, query: str = "") -> str:
    """The signed resource: the path, then the query parameters sorted by name (ASCII)."""
    pairs = [p for p in query.split("&") if p]
    if not pairs:
        return path or "/"
    ordered = sorted(pairs, key=lambda p: p.partition("=")[0])
    return f"{path or '/'}?{'&'.join(ordered)}"


def string_to_sign(
    method: str,
    resource: str,
    *,
    content_md5: str = "",
    content_type: str = JSON_CONTENT_TYPE,
    accept: str = ACCEPT,
    date: str = "",
    headers: str = "",
) -> str:
    """The text the gateway signs; ``headers`` are the optional signed custom headers."""
    head = f"{method.upper()}\n{accept}\n{content_md5}\n{content_type}\n{date}\n"
    return f"{head}{headers}\n{resource}" if headers else f"{head}{resource}"


def request_signature(app_secret: str, text: str) -> str:
    digest = hmac.new(app_secret.encode("utf-8"), text.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signed_headers(
    app_id: str,
    app_secret: str,
    method: str,
    url: str,
    body: bytes | None,
    timestamp_ms: int,
    content_type: str = JSON_CONTENT_TYPE,
) -> dict[str, str]:
    """Every header a signed v3 request carries, for ``url`` (absolute or a path)."""
    parts = urlsplit(url)
    md5 = content_md5(body)
    text = string_to_sign(
        method,
        path_and_sorted_query(parts.path, parts.query),
        content_md5=md5,
        content_type=content_type,
    )
    headers = {
        "X-Tsign-Open-App-Id": app_id,
        "X-Tsign-Open-Auth-Mode": AUTH_MODE,
        "X-Tsign-Open-Ca-Timestamp": str(timestamp_ms),
        "X-Tsign-Open-Ca-Signature": request_signature(app_secret, text),
        "Accept": ACCEPT,
        "Content-Type": content_type,
    }
    if md5:
        headers["Content-MD5"] = md5
    return headers


def callback_query_values(callback_url: str | None) -> str:
    """The query part of our own callback URL as e签宝 signs it: values by sorted key, joined."""
    if not callback_url:
        return ""
    pairs = parse_qsl(urlsplit(callback_url).query, keep_blank_values=True)
    return "".join(value for _, value in sorted(pairs, key=lambda kv: kv[0]))


def callback_signature(app_secret: str, timestamp: str, query_values: str, body: bytes) -> str:
    message = timestamp.encode("utf-8") + query_values.encode("utf-8") + body
    return hmac.new(app_secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def callback_signature_matches(
    app_secret: str, timestamp: str, query_values: str, body: bytes, received: str
) -> bool:
    """Constant-time check; e签宝's samples compare hex case-insensitively."""
    expected = callback_signature(app_secret, timestamp, query_values, body)
    return hmac.compare_digest(expected, received.strip().lower())
