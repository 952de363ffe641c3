"""法大大 FASC OpenAPI 5.1: the request and callback signature (pure, as the official SDKs compute it).

fasc-openapi-node-sdk ``src/common/sign.ts``, FddCryptUtil ``sign`` of the Java/PHP SDKs,
fadada-tech python SDK ``HashUtils.sign``::

    signText = sha256_hex("k1=v1&k2=v2..."  # X-FASC-* headers and bizContent, sorted by
                                            # name, empty values left out, values not encoded)
    signKey  = HMAC-SHA256(key=appSecret, msg=X-FASC-Timestamp)      # raw 32 bytes
    X-FASC-Sign = hex(HMAC-SHA256(key=signKey, msg=signText))        # lower case
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from urllib.parse import parse_qs, urlsplit

import requests
import requests.auth

PRODUCTION_URL = "https://api.fadada.com/api/v5"
UAT_URL = "https://uat-api.fadada.com/api/v5"
SUBVERSION = "5.1"
SIGN_TYPE = "HMAC-SHA256"
# The headers a callback is signed over (official PHP SDK callback sample).
CALLBACK_SIGNED = (
    "X-FASC-App-Id",
    "X-FASC-Timestamp",
    "X-FASC-Sign-Type",
    "X-FASC-Nonce",
    "X-FASC-Event",
)


def sign_string(params: Mapping[str, str | None]) -> str:
    """``k=v&...`` sorted by name (ASCII), empty values left out, values as they are."""
    return "&".join(f"{k}={params[k]}" for k in sorted(params) if params[k] not in (None, ""))


def fasc_sign(params: Mapping[str, str | None], timestamp: str, app_secret: str) -> str:
    """The two-step ``X-FASC-Sign`` of the official SDKs."""
    sign_text = hashlib.sha256(sign_string(params).encode("utf-8")).hexdigest()
    sign_key = hmac.new(
        app_secret.encode("utf-8"), timestamp.encode("utf-8"), hashlib.sha256
    ).digest()
    return hmac.new(sign_key, sign_text.encode("utf-8"), hashlib.sha256).hexdigest()


class FascAuth(requests.auth.AuthBase):
    """Signs each attempt anew: FASC refuses a nonce seen in the last 10 minutes."""

    def __init__(
        self,
        app_id: str,
        app_secret: str,
        base_url: str,
        clock: Callable[[], int],
        nonce: Callable[[], str],
    ) -> None:
        self.app_id, self.app_secret = app_id, app_secret
        self.netloc = urlsplit(base_url).netloc
        self.clock, self.nonce = clock, nonce

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        if urlsplit(r.url or "").netloc != self.netloc:
            return r
        timestamp = str(self.clock())
        headers = {
            "X-FASC-App-Id": self.app_id,
            "X-FASC-Sign-Type": SIGN_TYPE,
            "X-FASC-Timestamp": timestamp,
            "X-FASC-Nonce": self.nonce(),
            "X-FASC-Api-SubVersion": SUBVERSION,
        }
        params: dict[str, str | None] = dict(headers)
        token = r.headers.get("X-FASC-AccessToken")
        if token:
            params["X-FASC-AccessToken"] = token
            body = r.body.decode("utf-8") if isinstance(r.body, bytes) else (r.body or "")
            params["bizContent"] = parse_qs(body).get("bizContent", [""])[0]
        else:
            headers["X-FASC-Grant-Type"] = params["X-FASC-Grant-Type"] = "client_credential"
        headers["X-FASC-Sign"] = fasc_sign(params, timestamp, self.app_secret)
        r.headers.update(headers)
        return r

