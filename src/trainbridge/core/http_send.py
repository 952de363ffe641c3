"""One request prepared and sent as ``requests.Session.request`` does it, for a fraction of its CPU.

A BambooHR training scan sends one small GET per employee (100,000 at full size), and
``Session.request`` spent more CPU on each than urllib3 spends sending it: building a
``Request``, merging the session's headers, params, auth, cookies and hooks through generic
``merge_setting`` calls (``isinstance`` checks against typing protocols), re-validating the same
headers, parsing the URL again for every request, base64-encoding the same Basic credentials,
reading the cookie jar when it is empty, and looking for cookies in answers that set none.

:class:`LeanSender` does the same steps in the same order and calls the same ``requests``
functions for everything that varies (so ``HTTPAdapter.send``, which ``responses`` fakes in
the tests, is still what sends), and keeps what does not vary between requests:

* the prepared URL of a path's directory, when only its last segment (an id) changes;
* the session headers merged with the request's and validated, per set of both (the session's
  headers are part of the key: a connector that changes them gets them on the next request);
* the Basic ``Authorization`` value per (user, password), and netrc credentials per host (as
  :class:`~trainbridge.core.http_session.EnvironmentOnceSession` reads proxies once per host).

The cookie jar is read only when it holds cookies, and an answer's cookies are stored only when
it sets some (``Set-Cookie``/``Set-Cookie2``, the only headers the jar reads). Redirects, hooks,
proxies, TLS settings and streaming are requests' own code, as in ``Session.send``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.auth import _basic_auth_str
from requests.cookies import RequestsCookieJar, extract_cookies_to_jar, merge_cookies
from requests.hooks import dispatch_hook
from requests.sessions import merge_hooks, merge_setting, preferred_clock
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers, get_netrc_auth

from trainbridge.core.http_session import EnvironmentOnceSession

# A last path segment that requests' URL preparation leaves as it is: unreserved characters,
# not a dot segment ("." or "..", which urllib3 resolves).
_PLAIN_SEGMENT = re.compile(r"(?!\.\.?\Z)[A-Za-z0-9._~-]+\Z")
_CACHE_LIMIT = 1024


def _copy_headers(headers: CaseInsensitiveDict[Any]) -> CaseInsensitiveDict[Any]:
    """A copy as ``CaseInsensitiveDict.copy`` makes it, without re-adding each header."""
    copied: CaseInsensitiveDict[Any] = CaseInsensitiveDict.__new__(CaseInsensitiveDict)
    copied._store = headers._store.copy()  # type: ignore[attr-defined]
    return copied


def _sets_cookies(raw: Any) -> bool:
    """Whether ``extract_cookies_to_jar`` could find a cookie in this urllib3 answer: it reads
    ``Set-Cookie`` and ``Set-Cookie2`` of the original response only (True when unsure)."""
    original = getattr(raw, "_original_response", None)
    if not original:
        return False
    try:
        headers = original.msg
        return bool(headers.get_all("Set-Cookie", []) or headers.get_all("Set-Cookie2", []))
    except Exception:  # let requests' own code meet whatever this is
        return True


class LeanSender:
    """``session.request(...)`` for one :class:`EnvironmentOnceSession`, same answers, less CPU.

    Only for that exact class: a subclass may override any step, so it keeps requests' path.
    """

    def __init__(self, session: requests.Session) -> None:
        self.session = session
        self._url_dirs: dict[str, str] = {}
        self._headers: dict[tuple[Any, ...], CaseInsensitiveDict[Any]] = {}
        self._basic: dict[tuple[str, str], str] = {}
        self._netrc: dict[str, Any] = {}
        self._environments: dict[tuple[Any, ...], dict[str, Any]] = {}

    @staticmethod
    def fits(session: requests.Session) -> bool:
        return type(session) is EnvironmentOnceSession

    def request(self, method: str, url: str, *, params: Any = None, data: Any = None,
                json: Any = None, files: Any = None, headers: Mapping[str, Any] | None = None,
                timeout: Any = None, verify: Any = None, stream: bool = False) -> requests.Response:
        """As ``self.session.request(method, url, ...)`` with these arguments (and the defaults
        of the others: no cookies, auth or hooks of the request's own, redirects followed)."""
        session = self.session
        prepared = requests.PreparedRequest()
        # Session.prepare_request -> PreparedRequest.prepare, step by step
        prepared.method = method.upper()
        if params or session.params:
            prepared.prepare_url(url, merge_setting(params or {}, session.params))
        else:  # merge_setting gives an empty mapping, which adds no query
            plain = self._plain_url(url)
            if plain is None:
                prepared.prepare_url(url, None)
            else:
                prepared.url = plain
        prepared.headers = self._merged_headers(headers if headers is not None else {})
        jar = session.cookies
        if isinstance(jar, RequestsCookieJar) and not len(jar):
            prepared._cookies = RequestsCookieJar()  # type: ignore[attr-defined]  # nothing to send
        else:
            prepared.prepare_cookies(merge_cookies(RequestsCookieJar(), jar))
        prepared.prepare_body(data or {}, files if files is not None else [], json)
        auth = None
        if session.trust_env and not session.auth:
            auth = self._netrc_auth(url)
        auth = merge_setting(auth, session.auth)
        if auth is None:
            if "@" in (prepared.url or ""):  # user:password@ in the URL: requests reads it
                prepared.prepare_auth(None, url)
        elif type(auth) is tuple and len(auth) == 2 \
                and isinstance(auth[0], str) and isinstance(auth[1], str):
            prepared.headers["Authorization"] = self._basic_value(auth)  # HTTPBasicAuth
            prepared.prepare_content_length(prepared.body)
        else:
            prepared.prepare_auth(auth, url)
        prepared.prepare_hooks(merge_hooks({"response": []}, session.hooks))
        return self._send(prepared, {"timeout": timeout,
                                     **self._environment(prepared.url or "", stream, verify)})

    def _send(self, request: requests.PreparedRequest, kwargs: dict[str, Any]) -> requests.Response:
        """``Session.send`` with ``allow_redirects=True`` and every setting given by ``kwargs``."""
        session = self.session
        adapter = session.get_adapter(url=request.url or "")
        start = preferred_clock()
        r = adapter.send(request, **kwargs)
        r.elapsed = timedelta(seconds=preferred_clock() - start)
        r = dispatch_hook("response", request.hooks, r, **kwargs)
        if r.history:
            for resp in r.history:
                extract_cookies_to_jar(session.cookies, resp.request, resp.raw)
        if _sets_cookies(r.raw):
            extract_cookies_to_jar(session.cookies, request, r.raw)
        if r.is_redirect:  # what Session.resolve_redirects looks at first
            history = list(session.resolve_redirects(r, request, **kwargs))
            if history:
                history.insert(0, r)
                r = history.pop()
                r.history = history
        if not kwargs.get("stream"):
            r.content  # noqa: B018 - read the body now, as requests does
        return r

    def _environment(self, url: str, stream: bool, verify: Any) -> dict[str, Any]:
        """``session.merge_environment_settings(url, {}, stream, verify, None)``, as
        Session.request asks it: EnvironmentOnceSession answers the same for every URL of an
        origin (with ``trust_env``), so its answer is kept here by the origin as written."""
        session = self.session
        origin = _origin(url) if session.trust_env else None
        key = (origin, stream, verify)
        cached = self._environments.get(key) if origin is not None else None
        if cached is None:
            cached = dict(session.merge_environment_settings(url, {}, stream, verify, None))
            if origin is None:
                return cached
            if len(self._environments) >= _CACHE_LIMIT:
                self._environments.clear()
            self._environments[key] = cached
        return {**cached, "proxies": dict(cached["proxies"])}

    def _plain_url(self, url: str) -> str | None:
        """``url`` prepared, from its directory prepared once, when its last segment is plain
        (None when requests must prepare the whole URL: a query, a fragment, other characters)."""
        if not url.startswith(("https://", "http://")) or "?" in url or "#" in url:
            return None
        directory, _, last = url.rpartition("/")
        if len(directory) <= url.index("://") + 2 or not _PLAIN_SEGMENT.match(last):
            return None
        prepared_dir = self._url_dirs.get(directory)
        if prepared_dir is None:
            probe = requests.PreparedRequest()
            try:
                probe.prepare_url(f"{directory}/", None)
            except requests.RequestException:
                return None  # the whole URL then fails with requests' own message
            prepared_dir = probe.url or ""
            if not prepared_dir.endswith("/"):
                return None
            if len(self._url_dirs) >= _CACHE_LIMIT:
                self._url_dirs.clear()
            self._url_dirs[directory] = prepared_dir
        return prepared_dir + last

    def _merged_headers(self, headers: Mapping[str, Any]) -> CaseInsensitiveDict[Any]:
        """The session's headers updated by ``headers``, validated: ``prepare_headers`` of
        ``merge_setting``, once per set of both."""
        session_headers = self.session.headers
        try:
            key = (tuple(session_headers._store.values())  # type: ignore[attr-defined]
                   if type(session_headers) is CaseInsensitiveDict else tuple(session_headers.items()),
                   tuple(headers.items()))
            cached = self._headers.get(key)
        except (TypeError, AttributeError):  # an unhashable value, or not a mapping
            key, cached = None, None
        if cached is None:
            probe = requests.PreparedRequest()
            probe.prepare_headers(merge_setting(headers, session_headers,
                                                dict_class=CaseInsensitiveDict))
            cached = probe.headers
            if key is not None:
                if len(self._headers) >= _CACHE_LIMIT:
                    self._headers.clear()
                self._headers[key] = cached
        return _copy_headers(cached)

    def _basic_value(self, auth: tuple[str, str]) -> str:
        value = self._basic.get(auth)
        if value is None:
            value = self._basic[auth] = _basic_auth_str(*auth)
        return value

    def _netrc_auth(self, url: str) -> Any:
        """``get_netrc_auth(url)``, read once per scheme and host."""
        parts = urlsplit(url)
        key = f"{parts.scheme}://{parts.netloc}"
        if key not in self._netrc:
            self._netrc[key] = get_netrc_auth(url)
        return self._netrc[key]


def _origin(url: str) -> str | None:
    """``scheme://netloc`` of an http(s) URL, as written (None for any other URL)."""
    start = url.find("://")
    if start < 0 or url[:start] not in ("http", "https"):
        return None
    end = len(url)
    for stop in "/?#":
        at = url.find(stop, start + 3)
        if 0 <= at < end:
            end = at
    return url[:end]


class LeanAdapter(HTTPAdapter):
    """``HTTPAdapter`` whose steps around ``send`` do less when there is no proxy.

    ``HTTPAdapter.send`` itself is unchanged (``responses`` fakes it in the tests); the steps it
    calls, documented for subclasses, keep their answers: the pool context (scheme, host, port,
    TLS settings) is worked out once per origin and TLS setting (whether a ``verify`` path is a
    CA file or a directory is looked at once, as the CA bundle of the environment is read once
    per host) and the pool still comes from the pool manager; the request line is the URL's
    path and query, as requests sends it without a proxy; an answer's cookies are read only when
    it sets some. With a proxy, requests decides as always.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._contexts: dict[tuple[Any, ...], tuple[dict[str, Any], dict[str, Any]]] = {}

    def get_connection_with_tls_context(self, request: requests.PreparedRequest, verify: Any,
                                        proxies: Mapping[str, str] | None = None,
                                        cert: Any = None) -> Any:
        origin = _origin(request.url or "")
        if proxies or origin is None or not isinstance(verify, bool | str) \
                or not (cert is None or isinstance(cert, str | tuple)):
            return super().get_connection_with_tls_context(request, verify, proxies, cert)
        key = (origin, verify, cert)
        context: Any = self._contexts.get(key)
        if context is None:
            try:
                context = self.build_connection_pool_key_attributes(request, verify, cert)
            except ValueError as e:
                raise requests.exceptions.InvalidURL(e, request=request) from None
            if len(self._contexts) >= _CACHE_LIMIT:
                self._contexts.clear()
            self._contexts[key] = context
        host_params, pool_kwargs = context
        return self.poolmanager.connection_from_host(**host_params, pool_kwargs=dict(pool_kwargs))

    def request_url(self, request: requests.PreparedRequest, proxies: Mapping[str, str] | None) -> str:
        if proxies:
            return super().request_url(request, proxies)
        return request.path_url  # no proxy: requests sends the path

    def build_response(self, req: requests.PreparedRequest, resp: Any) -> requests.Response:
        """``HTTPAdapter.build_response``, reading cookies only from an answer that sets some."""
        response = requests.Response()
        response.status_code = getattr(resp, "status", None)  # type: ignore[assignment]
        response.headers = CaseInsensitiveDict(getattr(resp, "headers", {}))
        response.encoding = get_encoding_from_headers(response.headers)
        response.raw = resp
        response.reason = response.raw.reason
        response.url = req.url.decode("utf-8") if isinstance(req.url, bytes) else req.url  # type: ignore[assignment]
        if _sets_cookies(resp):
            extract_cookies_to_jar(response.cookies, req, resp)
        response.request = req
        response.connection = self
        return response
