"""A source that reads any JSON-over-HTTP system as plugins.toml describes it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

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
from trainbridge.connectors.rest.mapping import MISSING, MappingError, build, get
from trainbridge.core.connector import Connector, ConnectorConfig, ConnectorContext
from trainbridge.core.hookspecs import SOURCE_HOOKS
from trainbridge.core.http import HttpClient
from trainbridge.core.records import HealthResult, Page, Record, Reject, make_id
from trainbridge.core.secrets import register_secret
from trainbridge.sdk.streams import (
    Cursor,
    Incremental,
    LinkHeader,
    NextUrl,
    Offset,
    PageNumber,
    Paging,
    RestStream,
)


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
        start = cursors.get(kind)
        stream = self._stream(kind, endpoint)
        for part in stream.pages(None if start is None else json.dumps({"since": start})):
            page = Page()
            for item in part.items:
                self._add(page, model, endpoint, item)
            # Unsorted answers move the cursor only with the last page: a run killed before
            # it reads again from the old one (ids are stable), never skipping a record.
            moves = part.last or bool(incremental and incremental.ascending)
            if moves and part.newest is not None:
                cursors[kind] = _plain(part.newest)
                page.cursor = json.dumps(cursors, sort_keys=True)
            elif part.last and cursors:
                page.cursor = json.dumps(cursors, sort_keys=True)
            yield page

    def _stream(self, kind: str, endpoint: Endpoint) -> RestStream:
        inc = endpoint.incremental
        return RestStream(
            self.http, endpoint.path, paging=_paging(endpoint.pagination), records=endpoint.records,
            keyed_by=endpoint.records_keyed_by, params=endpoint.params, max_pages=self.config.max_pages,
            name=kind, ctx=self.ctx,
            incremental=None if inc is None else Incremental(
                param=inc.param, field=inc.field, initial=inc.initial, zone=self.zone),
            where=f"[connectors.{self.name}.endpoints.{kind}]")

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


def _paging(paging: Any) -> Paging | None:
    """The endpoint's ``pagination`` table as the SDK's paging style."""
    if isinstance(paging, PageNumberPaging):
        return PageNumber(param=paging.param, start=paging.start, size_param=paging.size_param,
                          size=paging.size, total_pages=paging.total_pages)
    if isinstance(paging, OffsetPaging):
        return Offset(param=paging.param, limit_param=paging.limit_param, limit=paging.limit)
    if isinstance(paging, CursorPaging):
        return Cursor(next=paging.next, param=paging.param, size_param=paging.size_param,
                      size=paging.size)
    if isinstance(paging, LinkPaging):
        return NextUrl(next=paging.next) if paging.next else LinkHeader()
    return None


def _plain(value: Any) -> Any:
    """JSON-safe: Decimals from the answer become text (a cursor, a key, a quarantined payload)."""
    return json.loads(json.dumps(value, default=str))
