"""A REST stream: the pages of one list endpoint, however the vendor pages, resumable.

``RestStream(http, "/people", paging=Cursor(next="meta.next"), records="data")`` yields one
``StreamPage`` per answer: its raw items, and ``cursor``, an opaque JSON string to resume from
(after the last page: where the next incremental read starts). It never holds more than one
page. Retries, ``Retry-After`` and error mapping are the ``HttpClient``'s; the stream waits
itself only for ``min_interval`` (a vendor's documented request rate), with the context's
``clock`` and ``sleep``.

Search APIs that page a POST (Feishu, DingTalk's topapi) give ``method="POST"`` and ``body=``;
``paging_in="body"`` puts the paging parameters into that body. ``http`` is an ``HttpClient``
or any transport with its ``request(method, url, params=, json=)`` and ``instance``, e.g. one
that opens a vendor's ``{code, msg, data}`` envelope and renews its token.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Literal, Protocol
from urllib.parse import urljoin

import requests

from trainbridge.core.errors import ConnectorError

if TYPE_CHECKING:
    from trainbridge.core.connector import ConnectorContext


class Transport(Protocol):
    """What a stream sends its requests through: an ``HttpClient``, or a vendor's wrapper of one."""

    @property
    def instance(self) -> str: ...

    def request(self, method: str, url: str, *, params: Any = None, json: Any = None) -> requests.Response:
        ...

#: What ``get`` answers for a path that is not there (an absent value, not ``None``).
MISSING: Any = object()
_EMPTY = (None, "")


def get(data: Any, path: str) -> Any:
    """The value at a dotted path (``a.b.0.c``); ``MISSING`` when any step is absent."""
    if path in ("", "."):
        return data
    for step in path.split("."):
        if isinstance(data, dict) and step in data:
            data = data[step]
        elif isinstance(data, list) and step.lstrip("-").isdigit() and -len(data) <= int(step) < len(data):
            data = data[int(step)]
        else:
            return MISSING
    return data


def order_key(value: Any, zone: tzinfo = UTC) -> tuple[int, Any]:
    """Compare incremental values: numbers as numbers, timestamps as instants, else as text."""
    text = str(value)
    try:
        number = Decimal(text)
    except InvalidOperation:
        number = None
    if number is not None and number.is_finite():
        return (0, number)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return (2, text)
    return (1, moment if moment.tzinfo else moment.replace(tzinfo=zone))


# --- paging styles ----------------------------------------------------------------------


@dataclass(frozen=True)
class PageNumber:
    """``?page=1,2,...`` until an empty page, a page shorter than ``size``, or ``total_pages``."""

    param: str = "page"
    start: int = 1
    size_param: str | None = None
    size: int | None = None
    total_pages: str | None = None  # dotted path of the page count in the answer
    total_pages_header: str | None = None  # or the header that holds it (X-Total-Pages)


@dataclass(frozen=True)
class Offset:
    """``?offset=0&limit=100``, then 100, 200, ... until a page shorter than ``limit``, or ``total``."""

    param: str = "offset"
    limit_param: str = "limit"
    limit: int = 100
    total: str | None = None  # dotted path of the total item count in the answer (DocuSign totalSetSize)


@dataclass(frozen=True)
class Cursor:
    """The answer holds the next cursor at ``next`` (dotted path); it is sent back as ``param``."""

    next: str
    param: str = "cursor"
    size_param: str | None = None
    size: int | None = None
    has_more: str | None = None  # dotted path of a "more pages" flag; false ends the walk
    first: Any = None  # the cursor of the first page, for vendors that require one (offset 0)


@dataclass(frozen=True)
class LinkHeader:
    """Follow RFC 8288 ``Link: <...>; rel="next"``; the link carries its own query."""


@dataclass(frozen=True)
class NextUrl:
    """Follow the URL at ``next`` (dotted path) in the answer; it carries its own query."""

    next: str


Paging = PageNumber | Offset | Cursor | LinkHeader | NextUrl


@dataclass(frozen=True)
class Incremental:
    """Read only what changed: ``param`` carries the largest ``field`` seen by the last read."""

    param: str
    field: str
    initial: Any = None  # for the first read; None: everything
    zone: tzinfo = UTC  # for timestamps without an offset


@dataclass
class StreamPage:
    """One answer: raw ``items``, and where to resume after it."""

    items: list[Any]
    body: Any
    number: int  # 1 for the first page of this walk
    last: bool
    since: Any  # the incremental value this walk asked from (None: everything)
    newest: Any  # the largest incremental value seen so far (``since`` if none yet)
    next: Any = None  # the next page's position (number, offset, cursor or URL); None when last
    headers: Mapping[str, str] = field(default_factory=dict)  # the answer's headers

    @property
    def cursor(self) -> str:
        """Opaque JSON for ``pages(resume=...)``: the next page, or after the last, the next read."""
        if self.last:
            return _dump({"since": self.newest})
        return _dump({"since": self.since, "newest": self.newest, "next": self.next})


def keyed_rows(records: Mapping[str, Any], field: str) -> list[Any]:
    """``{"123": {...}, "124": {...}}`` as rows, each with its key in ``field`` (the key wins
    over a value of the same name); a value that is no object is left as it is (a reject)."""
    return [{**value, field: key} if isinstance(value, dict) else value for key, value in records.items()]


@dataclass
class RestStream:
    """The pages of one list endpoint. ``name`` and ``where`` word the errors' messages and hints."""

    http: Transport
    path: str
    paging: Paging | None = None
    records: str = ""  # dotted path of the item list in the answer; "": the answer itself
    params: Mapping[str, Any] = field(default_factory=dict)
    incremental: Incremental | None = None
    max_pages: int = 10000
    min_interval: float = 0.0  # seconds between two requests, for vendors that say so
    name: str = ""
    where: str = ""
    ctx: ConnectorContext | None = None
    method: str = "GET"
    body: Mapping[str, Any] | None = None  # the JSON body of every request (search APIs)
    paging_in: Literal["query", "body"] = "query"
    absent_is_empty: bool = False  # an answer without the list has no records (DocuSign drops "envelopes")
    #: The records come as an object keyed by id (``{"123": {...}, "124": {...}}``): each value
    #: becomes a row whose ``keyed_by`` field is its key.
    keyed_by: str | None = None

    def pages(self, resume: str | None = None) -> Iterator[StreamPage]:
        """Every page from the start, or from ``resume`` (a ``StreamPage.cursor``)."""
        since, newest, position = self._resume(resume)
        params: dict[str, Any] | None = dict(self.params)
        if self.incremental and since is not None and params is not None:
            params[self.incremental.param] = _plain(since)
        url = self.path
        if isinstance(self.paging, LinkHeader | NextUrl) and position is not None:
            url, params = str(position), None
        seen: set[str] = set()
        if isinstance(self.paging, Cursor):  # a cursor that names the page just read is a loop
            first = self.paging.first if position is None else position
            if first is not None:
                seen.add(str(first))
        last_request: float | None = None
        for number in range(1, self.max_pages + 1):
            last_request = self._pace(last_request)
            paging = self._page_params(position)
            body = dict(self.body) if self.body is not None else None
            if self.paging_in == "body":
                body = {**(body or {}), **paging}
                query = params
            else:
                query = None if params is None else {**params, **paging}
            resp = self.http.request(self.method, url, params=query or None, json=body)
            answer = self._decode(resp)
            items = get(answer, self.records)
            if items is MISSING and self.absent_is_empty:
                items = []
            if self.keyed_by is not None and isinstance(items, dict):
                items = keyed_rows(items, self.keyed_by)
            if not isinstance(items, list):
                where = f"at {self.records!r}" if self.records else "as the whole answer"
                msg = f"{self._label()}GET {self.path} has no list of records {where}"
                raise ConnectorError(msg, instance=self.http.instance, status=resp.status_code,
                                     hint=f"check records of {self._where()}")
            newest = self._newest(newest, items)
            position = self._next(position, number, items, answer, resp)
            if position is not None and isinstance(self.paging, Cursor | LinkHeader | NextUrl):
                what = "cursor" if isinstance(self.paging, Cursor) else "next link"
                if str(position) in seen:
                    raise self._loop(f"{what} {position!r} came back")
                seen.add(str(position))
                if not isinstance(self.paging, Cursor):
                    url, params = str(position), None  # the link carries the query
            last = position is None
            yield StreamPage(items=items, body=answer, number=number, last=last, since=since,
                             newest=newest, next=_plain(position), headers=resp.headers)
            if last:
                return
        raise self._loop(f"more than max_pages ({self.max_pages}) pages")

    # --- the parts ------------------------------------------------------------------

    def _resume(self, resume: str | None) -> tuple[Any, Any, Any]:
        initial = self.incremental.initial if self.incremental else None
        if not resume:
            return initial, initial, None
        try:
            saved = json.loads(resume)
        except ValueError:
            saved = resume  # a bare value: where an incremental read starts
        if not isinstance(saved, dict):
            return saved, saved, None
        since = saved.get("since", initial)
        return since, saved.get("newest", since), saved.get("next")

    def _pace(self, previous: float | None) -> float:
        clock = self.ctx.clock if self.ctx else time.time
        if self.min_interval and previous is not None:
            wait = previous + self.min_interval - clock()
            if wait > 0:
                (self.ctx.sleep if self.ctx else time.sleep)(wait)
        return clock()

    def _page_params(self, position: Any) -> dict[str, Any]:
        paging = self.paging
        if isinstance(paging, PageNumber):
            size = {paging.size_param: paging.size} if paging.size_param and paging.size else {}
            return {paging.param: paging.start if position is None else position, **size}
        if isinstance(paging, Offset):
            return {paging.param: position or 0, paging.limit_param: paging.limit}
        if isinstance(paging, Cursor):
            size = {paging.size_param: paging.size} if paging.size_param and paging.size else {}
            position = paging.first if position is None else position
            return {**({paging.param: position} if position is not None else {}), **size}
        return {}

    def _next(self, position: Any, count: int, items: list[Any], body: Any,
              resp: requests.Response) -> Any:
        """The next page's position, or None when this page is the last."""
        paging = self.paging
        if isinstance(paging, PageNumber):
            total = _whole(get(body, paging.total_pages)) if paging.total_pages else None
            if paging.total_pages_header and total is None:
                total = _whole(resp.headers.get(paging.total_pages_header, ""))
            current = paging.start if position is None else int(position)
            if total is not None:  # the vendor's page count beats a guess from the page's size
                return None if not items or current - paging.start + 1 >= total else current + 1
            if not items or (paging.size and len(items) < paging.size):
                return None
            return current + 1
        if isinstance(paging, Offset):
            after = int(position or 0) + len(items)
            total = _whole(get(body, paging.total)) if paging.total else None
            if total is not None:  # the vendor's count beats a guess from the page's size
                return None if not items or after >= total else after
            return None if len(items) < paging.limit else after
        if isinstance(paging, Cursor):
            if paging.has_more and get(body, paging.has_more) in (False, MISSING, None, "false"):
                return None
            token = get(body, paging.next)
            return None if token is MISSING or token in _EMPTY or not items else token
        if isinstance(paging, NextUrl):
            link = get(body, paging.next)
            return None if link is MISSING or link in _EMPTY else urljoin(resp.url, str(link))
        if isinstance(paging, LinkHeader):
            link = resp.links.get("next", {}).get("url")
            return urljoin(resp.url, str(link)) if link else None
        return None

    def _newest(self, newest: Any, items: list[Any]) -> Any:
        inc = self.incremental
        if inc is None:
            return newest
        for item in items:
            value = get(item, inc.field)
            if value is MISSING or value in _EMPTY:
                continue
            if newest is None or order_key(value, inc.zone) > order_key(newest, inc.zone):
                newest = value
        return newest

    def _decode(self, resp: requests.Response) -> Any:
        try:
            # Decimals, not floats: money and scores keep their cents.
            return resp.json(parse_float=Decimal)
        except ValueError:
            kind_of = resp.headers.get("Content-Type") or "no Content-Type"
            msg = f"{self._label()}the answer is {kind_of}, not JSON"
            raise ConnectorError(msg, instance=self.http.instance, status=resp.status_code,
                                 hint=f"check base_url and the path in {self._where()}") from None

    def _loop(self, what: str) -> ConnectorError:
        return ConnectorError(f"{self._label()}paging does not end: {what}", instance=self.http.instance,
                              hint=f"check pagination of {self._where()}")

    def _label(self) -> str:
        return f"{self.name}: " if self.name else ""

    def _where(self) -> str:
        return self.where or f"[connectors.{self.http.instance}]"


def _whole(value: Any) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def _plain(value: Any) -> Any:
    """JSON-safe: Decimals from the answer become text."""
    return json.loads(_dump(value))


def _dump(value: Any) -> str:
    return json.dumps(value, default=str, sort_keys=True)
