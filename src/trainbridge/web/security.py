"""What protects every answer of the console: security headers, same-site redirects, constant-time checks."""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = ("default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; script-src 'none'; "
       "frame-ancestors 'self'; form-action 'self'; base-uri 'none'")


class SecurityHeaders:
    """Headers every answer carries: no framing by other sites, no sniffing, no inline script."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", CSP)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("X-Frame-Options", "SAMEORIGIN")
                headers.setdefault("Referrer-Policy", "same-origin")
                if not path.startswith(("/static", "/webhooks")):
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def same_site_path(referer: str, host: str) -> str:
    """The path (and query) of a Referer on this site, or "/": the language link never sends
    anyone to another site."""
    try:
        parts = urlsplit(referer)
    except ValueError:
        return "/"
    if parts.scheme not in ("", "http", "https") or (parts.netloc and parts.netloc != host):
        return "/"
    path = parts.path
    if not path.startswith("/") or path.startswith("//") or "\\" in referer or any(c < " " for c in referer):
        return "/"
    return path + (f"?{parts.query}" if parts.query else "")


def same_secret(given: str, expected: str) -> bool:
    """A form token against the session's, in constant time; an empty one never matches."""
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())
