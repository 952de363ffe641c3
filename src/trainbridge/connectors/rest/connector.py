"""A source that reads any JSON-over-HTTP system as plugins.toml describes it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, ClassVar
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

import requests

from trainbridge import hookimpl
from trainbridge.connectors.rest.config import (
    KINDS,
    BasicAuth,
    BearerAuth,
    CursorPaging,
    Endpoint,
    HeaderAuth,
    LinkPaging,
    OffsetPaging,
    PageNumberPaging,
    RestConfig,
)
from trainbridge.connectors.rest.mapping import MISSING, MappingError, build, cursor_order, get
from trainbridge.core.connector import Connector, ConnectorConfig, ConnectorContext
from trainbridge.core.errors import ConnectorError
from trainbridge.core.hookspecs import SOURCE_HOOKS
from trainbridge.core.http import HttpClient
from trainbridge.core.records import HealthResult, Page, Record, Reject, make_id
from trainbridge.core.secrets import register_secret


class RestConnector(Connector):
    """Reads the record kinds named in ``endpoints``; offers only the hooks they feed."""

    config_model: ClassVar[type[ConnectorConfig]] = RestConfig
    vendor: ClassVar[str] = "any REST/JSON system (configured in plugins.toml)"
    config: RestConfig

    def __init__(self, name: str, config: ConnectorConfig, ctx: ConnectorContext | None = None) -> None:
        super().__init__(name, config, ctx)
        cfg = self.config
        headers = {"Accept": "application/json", **cfg.headers}
        auth: tuple[str, str] | None = None
        if isinstance(cfg.auth, BearerAuth):
            headers["Authorization"] = f"Bearer {cfg.auth.token.get_secret_value()}"
        elif isinstance(cfg.auth, BasicAuth):
            auth = (cfg.auth.username, cfg.auth.password.get_secret_value())
        elif isinstance(cfg.auth, HeaderAuth):
            # Any header name may carry the key, so it is registered whatever it is called.
            register_secret(cfg.auth.value.get_secret_value())
            headers[cfg.auth.name] = cfg.auth.value.get_secret_value()
        self.http: HttpClient = self.ctx.http(cfg.base_url, instance=name, settings=cfg.http,
                                              auth=auth, headers=headers)
        self.zone = ZoneInfo(cfg.timezone)
        wanted = {KINDS[kind][1] for kind in cfg.endpoints}
        for hook in SOURCE_HOOKS:
            if hook not in wanted:
                # pluggy registers only the hook methods it finds: offer just the configured ones.
                setattr(self, hook, None)

    # --- sources --------------------------------------------------------------------

    @hookimpl
    def fetch_employees(self, since: str | None) -> Iterator[Page]:
        yield from self._read_hook("fetch_employees", since)

    @hookimpl
    def fetch_separations(self, since: str | None) -> Iterator[Page]:
        yield from self._read_hook("fetch_separations", since)

    @hookimpl
    def fetch_training_catalog(self, since: str | None) -> Iterator[Page]:
        yield from self._read_hook("fetch_training_catalog", since)

    @hookimpl
    def fetch_learning_events(self, since: str | None) -> Iterator[Page]:
        yield from self._read_hook("fetch_learning_events", since)

    @hookimpl
    def fetch_cost_items(self, since: str | None) -> Iterator[Page]:
        yield from self._read_hook("fetch_cost_items", since)

    @hookimpl
    def fetch_metrics(self, since: str | None) -> Iterator[Page]:
        yield from self._read_hook("fetch_metrics", since)

    @hookimpl
    def healthcheck(self) -> HealthResult:
        cfg = self.config
        first = next(iter(cfg.endpoints.values()))
        path = cfg.healthcheck_path or first.path
        resp = self.http.get(path, params=None if cfg.healthcheck_path else first.params)
        return HealthResult(ok=True, detail=f"GET {path} answered {resp.status_code}")

    # --- reading --------------------------------------------------------------------

    def _read_hook(self, hook: str, since: str | None) -> Iterator[Page]:
        kinds = [kind for kind in self.config.endpoints if KINDS[kind][1] == hook]
        cursors = self._cursors(since, kinds)
        for kind in kinds:
            yield from self._read_kind(kind, cursors)

    def _cursors(self, since: str | None, kinds: list[str]) -> dict[str, Any]:
        """One hook may read several kinds: its cursor holds each kind's own, as JSON."""
        if not since:
            return {}
        try:
            saved = json.loads(since)
        except ValueError:
            saved = None
        if isinstance(saved, dict):
            return {k: v for k, v in saved.items() if k in kinds}
        incremental = [k for k in kinds if self.config.endpoints[k].incremental]
        return {incremental[0]: since} if len(incremental) == 1 else {}

    def _read_kind(self, kind: str, cursors: dict[str, Any]) -> Iterator[Page]:
        endpoint = self.config.endpoints[kind]
        model, incremental = KINDS[kind][0], endpoint.incremental
        start = cursors.get(kind, incremental.initial) if incremental else None
        newest = start
        held: Page | None = None
        for items in self._walk(kind, endpoint, start):
            page = Page()
            for item in items:
                self._add(page, model, endpoint, item)
                value = get(item, incremental.field) if incremental else MISSING
                if value not in (MISSING, None, "") and \
                        (newest is None or cursor_order(value, self.zone) > cursor_order(newest, self.zone)):
                    newest = value
            if incremental and incremental.ascending and newest is not None:
                cursors[kind] = _plain(newest)
                page.cursor = json.dumps(cursors, sort_keys=True)
            if held is not None:
                yield held
            held = page
        # The cursor moves only with the last page: a run killed before it reads again from
        # the old one (ids are stable, so re-reading is harmless), never skipping a record.
        last = held or Page()
        if newest is not None:
            cursors[kind] = _plain(newest)
        if cursors:
            last.cursor = json.dumps(cursors, sort_keys=True)
        yield last

    def _add(self, page: Page, model: type[Record], endpoint: Endpoint, item: Any) -> None:
        paths = [endpoint.key] if isinstance(endpoint.key, str) else endpoint.key
        keys = [get(item, p) for p in paths] if isinstance(item, dict) else [MISSING]
        if any(k in (MISSING, None, "") for k in keys):
            page.rejects.append(Reject(model=model.kind, raw=_plain(item),
                                       reason=f"no vendor key at {', '.join(paths)}"))
            return
        rid = make_id(self.name, *(_plain(k) for k in keys))
        try:
            data = build(endpoint.fields, item, self.zone)
        except MappingError as exc:
            page.rejects.append(Reject(model=model.kind, reason=str(exc), data={"id": rid},
                                       raw=_plain(item), key=rid))
            return
        page.add(model, {**data, "id": rid, "source": self.name}, raw=item)

    def _walk(self, kind: str, endpoint: Endpoint, start: Any) -> Iterator[list[Any]]:
        """The record lists of every page, in order, as the endpoint's paging says."""
        paging = endpoint.pagination
        params: dict[str, Any] | None = dict(endpoint.params)
        if endpoint.incremental and start is not None and params is not None:
            params[endpoint.incremental.param] = _plain(start)
        url = endpoint.path
        number = paging.start if isinstance(paging, PageNumberPaging) else 0
        token: Any = None
        seen: set[str] = set()
        for count in range(1, self.config.max_pages + 1):
            query = None if params is None else {**params, **_page_params(paging, number, token)}
            resp = self.http.get(url, params=query)
            body = self._decode(kind, resp)
            items = get(body, endpoint.records)
            if not isinstance(items, list):
                where = f"at {endpoint.records!r}" if endpoint.records else "as the whole answer"
                msg = f"{kind}: GET {endpoint.path} has no list of records {where}"
                raise ConnectorError(msg, instance=self.name, status=resp.status_code,
                                     hint=f"check records of [connectors.{self.name}.endpoints.{kind}]")
            yield items
            if isinstance(paging, PageNumberPaging):
                total = _whole(get(body, paging.total_pages)) if paging.total_pages else None
                if not items or (paging.size and len(items) < paging.size) or \
                        (total is not None and count >= total):
                    return
                number += 1
            elif isinstance(paging, OffsetPaging):
                if len(items) < paging.limit:
                    return
                number += len(items)
            elif isinstance(paging, CursorPaging):
                token = get(body, paging.next)
                if token in (MISSING, None, "") or not items:
                    return
                if str(token) in seen:
                    raise self._loop(kind, f"cursor {token!r} came back")
                seen.add(str(token))
            elif isinstance(paging, LinkPaging):
                link = get(body, paging.next) if paging.next else resp.links.get("next", {}).get("url")
                if link in (MISSING, None, ""):
                    return
                url, params = urljoin(resp.url, str(link)), None  # the link carries the query
                if url in seen:
                    raise self._loop(kind, f"next link {url} came back")
                seen.add(url)
            else:
                return
        raise self._loop(kind, f"more than max_pages ({self.config.max_pages}) pages")

    def _decode(self, kind: str, resp: requests.Response) -> Any:
        try:
            # Decimals, not floats: money and scores keep their cents.
            return resp.json(parse_float=Decimal)
        except ValueError:
            kind_of = resp.headers.get("Content-Type") or "no Content-Type"
            msg = f"{kind}: the answer is {kind_of}, not JSON"
            raise ConnectorError(msg, instance=self.name, status=resp.status_code,
                                 hint=f"check base_url and the path in [connectors.{self.name}]") from None

    def _loop(self, kind: str, what: str) -> ConnectorError:
        return ConnectorError(f"{kind}: paging does not end: {what}", instance=self.name,
                              hint=f"check pagination of [connectors.{self.name}.endpoints.{kind}]")


def _page_params(paging: Any, number: int, token: Any) -> dict[str, Any]:
    if isinstance(paging, PageNumberPaging):
        size = {paging.size_param: paging.size} if paging.size_param and paging.size else {}
        return {paging.param: number, **size}
    if isinstance(paging, OffsetPaging):
        return {paging.param: number, paging.limit_param: paging.limit}
    if isinstance(paging, CursorPaging):
        size = {paging.size_param: paging.size} if paging.size_param and paging.size else {}
        return {**({paging.param: token} if token not in (None, MISSING) else {}), **size}
    return {}


def _whole(value: Any) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def _plain(value: Any) -> Any:
    """JSON-safe: Decimals from the answer become text (a cursor, a key, a quarantined payload)."""
    return json.loads(json.dumps(value, default=str))
