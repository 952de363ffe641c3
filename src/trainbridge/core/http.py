"""The one HTTP layer every connector uses: timeouts, retries, error mapping, redaction.

Retries as in stripe-python (one ``_should_retry``, jittered backoff never shorter than
``Retry-After``); as in PyGithub, a wait above ``max_wait`` raises instead of sleeping.
"""

from __future__ import annotations

import contextlib
import json as jsonlib
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Container, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import requests
import requests.auth
from pydantic import BaseModel, ConfigDict, Field
from requests.structures import CaseInsensitiveDict
from tenacity import RetryCallState, Retrying, stop_after_attempt

from trainbridge import __version__
from trainbridge.core import errors
from trainbridge.core.errors import ConnectorError
from trainbridge.core.http_send import LeanAdapter, LeanSender
from trainbridge.core.http_session import EnvironmentOnceSession
from trainbridge.core.http_waits import host_wait, parse_retry_after, remember_host_wait
from trainbridge.core.secrets import MASK, is_secret_key, redact, register_secret, scrub

log = logging.getLogger("trainbridge.http")

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
REQUEST_ID_HEADERS = ("X-Request-Id", "X-Request-ID", "Request-Id", "X-Tt-Logid",
                      "X-DocuSign-TraceToken")
_SUCCESS = range(200, 300)
# 408 is the server timing out on us: as safe to retry as our own timeout.
_RETRY_STATUSES = frozenset({408, 429})
_TRANSIENT = (requests.ConnectionError, requests.Timeout,
              requests.exceptions.ChunkedEncodingError)
_QUERY_PARAM = re.compile(r"([?&;]([^=&;#\s]+)=)([^&;#\s'\")]*)")
_USERINFO = re.compile(r"//[^/@\s]+@")
_SNIPPET_CHARS = 300


class HttpSettings(BaseModel):
    """The ``http`` table of a connector instance in plugins.toml."""

    model_config = ConfigDict(extra="forbid")

    timeout: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=5, ge=1)
    backoff_base: float = Field(default=0.5, ge=0)
    backoff_max: float = Field(default=30.0, ge=0)
    max_wait: float = Field(default=120.0, ge=0)
    verify: bool | str = True
    user_agent: str = f"trainbridge/{__version__}"


def _mask(text: str) -> str:
    """``text`` with secret-named query values and URL passwords masked, known secrets redacted."""
    text = _QUERY_PARAM.sub(lambda m: m[1] + MASK if is_secret_key(m[2]) else m[0], text)
    return redact(_USERINFO.sub(f"//{MASK}@", text))


def _display_url(url: str, params: Any) -> str:
    prepared = requests.PreparedRequest()
    try:
        prepared.prepare_url(url, params)
    except requests.RequestException:
        return _mask(url)
    return _mask(prepared.url or url)


class _ShownUrl:
    """The URL as logs and errors show it (:func:`_display_url`), worked out only when one does:
    preparing and masking it on every request cost a tenth of a small request's time."""

    __slots__ = ("_text", "params", "url")

    def __init__(self, url: str, params: Any) -> None:
        self.url, self.params = url, params
        self._text: str | None = None

    def __str__(self) -> str:
        if self._text is None:
            self._text = _display_url(self.url, self.params)
        return self._text


def _snippet(resp: requests.Response, limit: int = _SNIPPET_CHARS) -> str:
    """The start of an error body, secrets masked, on one line."""
    try:
        body: Any = resp.json()
    except ValueError:
        text = resp.text
    else:
        text = jsonlib.dumps(scrub(body), ensure_ascii=False)
    text = _mask(" ".join(text.split()))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _register_header_secrets(headers: Mapping[str, Any]) -> None:
    for name, value in headers.items():
        if is_secret_key(name) and isinstance(value, str):
            register_secret(value)
            register_secret(value.partition(" ")[2])  # the token of "Bearer <token>"


def _file_positions(*bodies: Any) -> list[tuple[Any, int]]:
    """File objects inside a request body and their offsets, so every attempt sends it whole."""
    found: list[tuple[Any, int]] = []
    stack = list(bodies)
    while stack:
        item = stack.pop()
        if hasattr(item, "seek") and hasattr(item, "tell"):
            with contextlib.suppress(OSError, ValueError):  # an unseekable stream
                found.append((item, item.tell()))
        elif isinstance(item, Mapping):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return found


def _outcome(state: RetryCallState) -> requests.Response | BaseException:
    assert state.outcome is not None
    return state.outcome.exception() or state.outcome.result()


class _TimeoutAdapter(LeanAdapter):
    """Gives a timeout to requests a connector sends on ``client.session`` directly."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def send(self, request: requests.PreparedRequest, *args: Any,
             **kwargs: Any) -> requests.Response:
        if not args and kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, *args, **kwargs)


class HttpClient:
    """A session bound to one connector instance's base URL and ``http`` settings."""

    def __init__(self, base_url: str, *, instance: str, settings: HttpSettings,
                 auth: requests.auth.AuthBase | tuple[str, str] | None = None,
                 headers: Mapping[str, str] | None = None,
                 request_id_headers: Sequence[str] = REQUEST_ID_HEADERS,
                 error_hint: Callable[[requests.Response], str | None] | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 session: requests.Session | None = None) -> None:
        self.base_url = base_url
        self.instance = instance
        self.settings = settings
        self.request_id_headers = tuple(request_id_headers)
        self.error_hint = error_hint
        self._sleep = sleep
        if session is None:
            session = EnvironmentOnceSession()
            adapter = _TimeoutAdapter(settings.timeout)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
        self.session = session
        self._lean = LeanSender(session) if LeanSender.fits(session) else None
        self._base_host: tuple[str, str] = ("", "")  # (base_url, its host), worked out once
        self._registered: set[tuple[str, Any]] = set()  # request headers whose secrets are known
        self.session.headers["User-Agent"] = settings.user_agent
        self.session.verify = settings.verify
        if headers:
            _register_header_secrets(headers)
            self.session.headers.update(headers)
        if auth is not None:
            if isinstance(auth, tuple):
                register_secret(auth[1])
            self.session.auth = auth

    def absolute_url(self, url: str) -> str:
        """``url`` joined to the base URL, unless it is absolute (a vendor's next link)."""
        if ":" in url and urlsplit(url).scheme in ("http", "https"):  # no ':', no scheme
            return url
        return f"{self.base_url.rstrip('/')}/{url.lstrip('/')}"

    def _host_of(self, url: str, full_url: str) -> str:
        """The host (netloc) of ``full_url``: the base URL's when ``url`` was joined to it."""
        if ":" in url:
            return urlsplit(full_url).netloc
        base, host = self._base_host
        if base != self.base_url:  # the joined path cannot reach the netloc: it ends at our '/'
            base, host = self.base_url, urlsplit(f"{self.base_url.rstrip('/')}/").netloc
            self._base_host = (base, host)
        return host

    def request(self, method: str, url: str, *, params: Any = None, json: Any = None,
                data: Any = None, files: Any = None, headers: Mapping[str, str] | None = None,
                idempotent: bool | None = None, idempotency_key: str | None = None,
                idempotency_header: str = "Idempotency-Key",
                ok: Container[int] | None = None, stream: bool = False,
                retry_refused: bool = False) -> requests.Response:
        """Send with retries; return the response if its status is in ``ok``, else raise.

        ``idempotency_key`` is sent in the ``idempotency_header`` header (``Idempotency-Key``
        unless the vendor names another) on every attempt of this request, and makes a write
        (POST, PATCH) safe to retry on a timeout, 408, 429 and 5xx. Pass the sink hook's
        ``idempotency_key`` argument: the outbox gives the same one after a crash too.
        A write without a key is never repeated on a 5xx or a lost answer (it may have made
        something); ``retry_refused`` retries it on 429 alone (a refused request made nothing).
        """
        method = method.upper()
        full_url = self.absolute_url(url)
        shown = _ShownUrl(full_url, params)
        sent_headers = dict(headers or {})
        if idempotency_key is not None:
            sent_headers[idempotency_header] = idempotency_key
        may_retry = (method in IDEMPOTENT_METHODS if idempotent is None else idempotent) \
            or idempotency_key is not None
        ok_statuses = _SUCCESS if ok is None else ok
        positions = [] if data is None and files is None else _file_positions(data, files)
        attempts = 0

        host = self._host_of(url, full_url)

        def attempt() -> requests.Response:
            nonlocal attempts
            attempts += 1
            if attempts == 1:  # retries wait through _wait, which honours Retry-After already
                self._honour_host_wait(host, method, shown)
            for fileobj, offset in positions:
                fileobj.seek(offset)
            started = time.monotonic()
            lean = self._lean
            try:
                if lean is not None and lean.session is self.session:
                    resp = lean.request(
                        method, full_url, params=params, json=json, data=data, files=files,
                        headers=sent_headers, timeout=self.settings.timeout,
                        verify=self.settings.verify, stream=stream)
                else:  # a session given by the caller (or put in its place) sends as it likes
                    resp = self.session.request(
                        method, full_url, params=params, json=json, data=data, files=files,
                        headers=sent_headers, timeout=self.settings.timeout,
                        verify=self.settings.verify, stream=stream)
            except requests.RequestException as exc:
                log.debug("%s: %s %s -> %s after %d ms (attempt %d)", self.instance, method,
                          shown, type(exc).__name__, (time.monotonic() - started) * 1000, attempts)
                raise
            self._register_sent_secrets(resp.request.headers)
            if resp.status_code in (429, 503):
                remember_host_wait(host, parse_retry_after(resp.headers.get("Retry-After")))
            log.debug("%s: %s %s -> %d in %d ms (attempt %d)", self.instance, method, shown,
                      resp.status_code, (time.monotonic() - started) * 1000, attempts)
            return resp

        try:
            # The first attempt outside tenacity (most requests need no other: tenacity's own
            # cost is a sixth of a small request's); a retry replays its outcome to tenacity,
            # which then waits, logs and retries exactly as if it had made the first attempt.
            first: requests.Response | BaseException
            try:
                first = attempt()
            except Exception as exc:
                first = exc
            if self.settings.max_attempts > 1 and self._should_retry(
                    first, may_retry, ok_statuses, refused_only=retry_refused):
                replayed = [first]

                def replay_then_attempt() -> requests.Response:
                    if replayed:
                        outcome = replayed.pop()
                        if isinstance(outcome, BaseException):
                            raise outcome
                        return outcome
                    return attempt()

                retrying = Retrying(
                    stop=stop_after_attempt(self.settings.max_attempts),
                    retry=lambda s: self._should_retry(_outcome(s), may_retry, ok_statuses,
                                                       refused_only=retry_refused),
                    wait=self._wait,
                    sleep=self._sleep,
                    before_sleep=lambda s: self._before_retry(method, shown, s),
                    retry_error_callback=lambda s: s.outcome.result() if s.outcome else None,
                )
                resp: requests.Response = retrying(replay_then_attempt)
            elif isinstance(first, BaseException):
                raise first
            else:
                resp = first
        except requests.RequestException as exc:
            raise self._network_error(method, shown, exc, attempts) from None
        if resp.status_code in ok_statuses:
            return resp
        raise self._status_error(method, shown, resp, attempts)

    def _register_sent_secrets(self, headers: Mapping[str, Any]) -> None:
        """Secrets in the headers sent (an auth hook's token): registered once per value."""
        seen = self._registered
        # secret header names are matched ignoring case: CaseInsensitiveDict's cheap items do
        items = headers.lower_items() if isinstance(headers, CaseInsensitiveDict) else headers.items()
        try:
            fresh = [item for item in items if item not in seen]
        except TypeError:  # an unhashable value an auth hook put there
            _register_header_secrets(headers)
            return
        if fresh:
            _register_header_secrets(dict(fresh))
            if len(seen) > 4096:
                seen.clear()
            seen.update(fresh)

    def _honour_host_wait(self, host: str, method: str, shown: object) -> None:
        """A Retry-After a host gave holds for every later request to it (this process), not
        only the retries of the request that got it."""
        wait = host_wait(host)
        if wait <= 0:
            return
        if wait > self.settings.max_wait:
            error = errors.RateLimited(
                f"{method} {shown} not sent: the vendor asked to wait {wait:.0f} s more",
                instance=self.instance, hint="the next run delivers it; raise http.max_wait to wait instead")
            error.retry_after = wait
            raise error
        log.info("%s: %s asked to wait %.1f s before the next request", self.instance, host, wait)
        self._sleep(wait)

    def get(self, url: str, **kw: Any) -> requests.Response:
        return self.request("GET", url, **kw)

    def post(self, url: str, *, idempotency_key: str | None = None, **kw: Any) -> requests.Response:
        """A write: retried only with ``idempotency_key`` (sent as the vendor's idempotency header)."""
        return self.request("POST", url, idempotency_key=idempotency_key, **kw)

    def put(self, url: str, *, idempotency_key: str | None = None, **kw: Any) -> requests.Response:
        """A replace (idempotent by HTTP, so retried); ``idempotency_key`` is sent when given."""
        return self.request("PUT", url, idempotency_key=idempotency_key, **kw)

    def patch(self, url: str, *, idempotency_key: str | None = None, **kw: Any) -> requests.Response:
        """A write: retried only with ``idempotency_key`` (sent as the vendor's idempotency header)."""
        return self.request("PATCH", url, idempotency_key=idempotency_key, **kw)

    def delete(self, url: str, **kw: Any) -> requests.Response:
        return self.request("DELETE", url, **kw)

    def get_json(self, url: str, **kw: Any) -> Any:
        """GET and decode JSON; a non-JSON body (a proxy or login page) raises ConnectorError."""
        return self.json_of(self.request("GET", url, **kw))

    def request_json(self, method: str, url: str, **kw: Any) -> Any:
        """:meth:`request` and decode JSON, as :meth:`get_json` does (for writes too)."""
        return self.json_of(self.request(method, url, **kw))

    def json_of(self, resp: requests.Response) -> Any:
        """The JSON body of ``resp``; an HTML or empty answer is a ConnectorError with a hint,
        never a traceback (``resp.json()`` unguarded fails a whole run on one proxy page)."""
        try:
            return resp.json()
        except ValueError:
            kind = resp.headers.get("Content-Type") or "no Content-Type"
            raise self._not_the_api(resp, f"{kind}, not JSON: {_snippet(resp, 120) or '(empty)'}") from None

    def json_object(self, resp: requests.Response) -> dict[str, Any]:
        """:meth:`json_of` for answers that must be a JSON object: a list, a number or ``null``
        is a ConnectorError with the same hint, never an ``AttributeError`` further on."""
        body = self.json_of(resp)
        if not isinstance(body, dict):
            raise self._not_the_api(resp, f"HTTP {resp.status_code} with JSON that is not an object")
        return body

    def _not_the_api(self, resp: requests.Response, what: str) -> ConnectorError:
        method = resp.request.method if resp.request is not None else "GET"
        path = urlsplit(resp.url or self.base_url).path
        return ConnectorError(f"{method} {path} answered {what}", instance=self.instance,
                              status=resp.status_code, request_id=self._request_id(resp),
                              hint=f"check base_url of [connectors.{self.instance}]: a proxy or login "
                                   "page may be answering instead of the API")

    def _should_retry(self, outcome: requests.Response | BaseException, may_retry: bool,
                      ok: Container[int], *, refused_only: bool = False) -> bool:
        """The one retry decision: transient failures of requests that are safe to repeat,
        and (``refused_only``) a 429 of any request, since a refused request made nothing."""
        if not may_retry:
            if not (refused_only and isinstance(outcome, requests.Response)
                    and outcome.status_code == 429 and 429 not in ok):
                return False
        elif isinstance(outcome, BaseException):
            return isinstance(outcome, _TRANSIENT) \
                and not isinstance(outcome, requests.exceptions.SSLError)
        assert isinstance(outcome, requests.Response)
        status = outcome.status_code
        if status in ok or not (status in _RETRY_STATUSES or status >= 500):
            return False
        retry_after = parse_retry_after(outcome.headers.get("Retry-After"))
        return retry_after is None or retry_after <= self.settings.max_wait

    def _wait(self, state: RetryCallState) -> float:
        """Full-jitter exponential backoff, never shorter than the server's Retry-After."""
        s = self.settings
        backoff = random.uniform(0, min(s.backoff_max,
                                        s.backoff_base * 2 ** min(state.attempt_number - 1, 32)))
        outcome = _outcome(state)
        if isinstance(outcome, requests.Response):
            backoff = max(backoff, parse_retry_after(outcome.headers.get("Retry-After")) or 0.0)
        return backoff

    def _before_retry(self, method: str, shown: object, state: RetryCallState) -> None:
        outcome = _outcome(state)
        if isinstance(outcome, requests.Response):
            why = f"HTTP {outcome.status_code}"
            outcome.close()  # frees the connection of a streamed response we will not read
        else:
            why = type(outcome).__name__
        wait = state.next_action.sleep if state.next_action else 0.0
        log.info("%s: %s %s -> %s, retrying in %.1f s (attempt %d of %d)", self.instance,
                 method, shown, why, wait, state.attempt_number, self.settings.max_attempts)

    def _request_id(self, resp: requests.Response) -> str | None:
        return next((resp.headers[h] for h in self.request_id_headers if h in resp.headers), None)

    def _vendor_hint(self, resp: requests.Response) -> str:
        if self.error_hint is None:
            return ""
        try:
            hint = self.error_hint(resp)
        except Exception:
            log.debug("%s: error_hint failed on HTTP %d", self.instance, resp.status_code)
            return ""
        return _mask(hint) if hint else ""

    def _status_error(self, method: str, shown: object, resp: requests.Response,
                      attempts: int) -> ConnectorError:
        status, where = resp.status_code, f"[connectors.{self.instance}]"
        retry_after = parse_retry_after(resp.headers.get("Retry-After"))
        cls: type[ConnectorError] = ConnectorError
        hint = f"HTTP {status} was not expected here"
        if retry_after is not None and retry_after > self.settings.max_wait \
                and (status in _RETRY_STATUSES or status >= 500):
            cls, hint = errors.RateLimited, (
                f"the vendor asked to wait {retry_after:.0f} s, more than http.max_wait "
                f"({self.settings.max_wait:g} s): run later, or raise http.max_wait in {where}")
        elif status in (401, 403):
            cls, hint = errors.AuthError, (
                f"the credentials of {where} were refused: the token may have expired, or "
                "the account lacks a permission or scope this call needs")
        elif status == 404:
            cls, hint = errors.NotFound, f"no such object: check the id and base_url of {where}"
        elif status == 429:
            cls, hint = errors.RateLimited, f"still limited after {attempts} attempt(s): run later"
        elif status >= 500:
            cls, hint = errors.ServerError, (f"the vendor failed on {attempts} attempt(s): "
                                             "try later, quoting the request id to its support")
        elif status >= 400:
            cls, hint = errors.ClientError, "the vendor refused the request: its answer says why"
        message = f"{method} {shown} failed: {_snippet(resp) or resp.reason}"
        error = cls(message, instance=self.instance, status=status, request_id=self._request_id(resp),
                    hint="; ".join(h for h in (self._vendor_hint(resp), hint) if h))
        error.retry_after = retry_after
        return error

    def _network_error(self, method: str, shown: object, exc: requests.RequestException,
                       attempts: int) -> ConnectorError:
        what = "timed out" if isinstance(exc, requests.Timeout) else "failed"
        reason = _mask(str(exc))[:_SNIPPET_CHARS]
        msg = f"{method} {shown} {what} after {attempts} attempt(s): {reason}"
        return ConnectorError(msg, instance=self.instance, hint=(
            f"check base_url, the network, proxy and http.verify of [connectors.{self.instance}]; "
            f"http.timeout is {self.settings.timeout:g} s"))


class TokenCache:
    """An access token fetched on demand and kept until ``margin`` seconds before it expires.

    ``fetch()`` returns ``(token, lifetime_seconds)``; every token fetched is registered as a
    secret. ``invalidate()`` after the vendor refuses a token makes the next ``get`` fetch anew.
    """

    def __init__(self, fetch: Callable[[], tuple[str, float]], *, margin: float,
                 clock: Callable[[], float] = time.time) -> None:
        self._fetch, self._margin, self._clock = fetch, margin, clock
        self._token: str | None = None
        self._expires = 0.0
        self._lock = threading.Lock()

    def get(self, *, force: bool = False) -> str:
        with self._lock:
            if not force and self._token and self._clock() < self._expires - self._margin:
                return self._token
            token, lifetime = self._fetch()
            register_secret(token)
            self._token, self._expires = token, self._clock() + lifetime
            return token

    def invalidate(self) -> None:
        with self._lock:
            self._token = None
