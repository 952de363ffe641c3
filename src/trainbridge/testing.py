"""The connector authors' kit: a pytest plugin (entry point ``pytest11``) and a contract check.

In a connector package's tests::

    from trainbridge.testing import check_connector

    def test_contract(tb_instance, tb_vendor):
        vendor = tb_vendor("https://api.acme.example/v1")
        vendor.resource("/payments")                       # POST creates, honours Idempotency-Key
        conn = tb_instance("my_type", {"token": "x"})
        check_connector(conn, exercise=True, effects=vendor.effects)

    def test_sync(tb_workspace):
        ws = tb_workspace({"connectors": {"hr": {"type": "my_type", "token": "x"}}})
        [result] = sync(ws, ["ingest"])
        assert result.status == "ok"
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from unittest import mock

import pluggy
import pytest
import requests
import requests.adapters
import responses

from trainbridge.core import hookspecs
from trainbridge.core.config import load_settings
from trainbridge.core.connector import Connector, ConnectorConfig, ConnectorContext
from trainbridge.core.demo import to_toml
from trainbridge.core.manager import PluginHost
from trainbridge.core.records import (
    AdjustmentKind,
    HealthResult,
    Notice,
    Page,
    PayrollAdjustment,
    Record,
    TrainingResult,
)
from trainbridge.core.runner import Workspace
from trainbridge.sdk.fake_vendor import WRITE_METHODS, FakeVendor


class ContractError(AssertionError):
    """A connector breaks the hook contract; the message names each hook and its problem."""


class ContractWarning(UserWarning):
    """Something the contract check could not prove (a sink hook given no arguments to call)."""


#: Sample arguments of sink hooks for ``check_connector(writes=...)``: employee ``E001`` (map it
#: in the connector's config) and records whose ids the kit varies to make a fresh write.
SAMPLE_WRITES: dict[str, Callable[[], dict[str, Any]]] = {
    "post_adjustment": lambda: {"adjustment": PayrollAdjustment(
        id="kit:refund:E001", employee_id="E001", adjustment=AdjustmentKind.DEDUCTION,
        amount=Decimal("850.00"), currency="CNY", effective_date=date(2025, 5, 31),
        reason="training cost refund (1700 x 50%)")},
    "push_training_result": lambda: {"result": TrainingResult(
        id="kit:result:E001:NEG-101", employee_id="E001", program_id="NEG-101", completed=True,
        points=35)},
    "send_notice": lambda: {"notice": Notice(
        id="kit:notice:E001", notice="reminder", recipients=("e001@example.com",),
        subject="Training reminder", body="Your training starts on Monday.")},
}


def connector_hooks(connector: Connector | type[Connector]) -> list[str]:
    """The role hooks a connector implements; for an instance, as registered (an instance may
    switch a hook off, e.g. a source with no endpoint configured for that kind)."""
    return [h for h in hookspecs.ROLE_HOOKS
            if getattr(getattr(connector, h, None), "trainbridge_impl", None) is not None]


def check_connector(connector: Connector, *, exercise: bool = False,
                    writes: Mapping[str, Mapping[str, Any]] | None = None,
                    effects: Callable[[], int] | None = None) -> list[str]:
    """Check ``connector`` against the hook contracts; raise :class:`ContractError` on problems.

    Static checks: a ``Connector`` subclass; a ``ConnectorConfig`` model that forbids unknown
    keys; at least one role hook; every ``@hookimpl`` method named after a hook spec with the
    spec's argument names; every source hook takes ``since``.

    With ``exercise=True`` (fake the vendor first: ``tb_vendor`` or ``responses``) it also calls
    ``healthcheck``; every source hook twice (``Page`` objects of records whose ids are stable,
    prefixed with the instance name and unique within a page); and every sink hook as the outbox
    would: the same write twice with one idempotency key, then a fresh write whose answer is lost
    after the vendor did it (a dropped connection) and which is delivered again. Each delivery
    of one key must answer the same ``ref``, send at most one idempotency-key value, and (with
    ``effects``, a count of the objects the vendor holds) leave exactly one object. ``writes``
    maps each sink hook to its arguments (:data:`SAMPLE_WRITES` has some); a sink hook left
    out is not called, with a :class:`ContractWarning`. Returns the hooks found.
    """
    problems: list[str] = []
    cls = type(connector)
    if not isinstance(connector, Connector):
        problems.append(f"{cls.__name__} does not subclass trainbridge.core.connector.Connector")
    model = getattr(cls, "config_model", None)
    if not (isinstance(model, type) and issubclass(model, ConnectorConfig)):
        problems.append("config_model must subclass trainbridge.core.connector.ConnectorConfig")
    elif model.model_config.get("extra") != "forbid":
        problems.append("config_model must forbid unknown keys (extra='forbid')")
    for attr in dir(cls):
        value = getattr(cls, attr, None)
        if getattr(value, "trainbridge_impl", None) is not None and attr not in hookspecs.ROLE_HOOKS:
            known = ", ".join(hookspecs.ROLE_HOOKS)
            problems.append(f"@hookimpl method {attr!r} is not a role hook (known: {known})")
    hooks = connector_hooks(connector)
    if not hooks:
        problems.append("implements no role hook: decorate methods with @trainbridge.hookimpl")
    for hook in hooks:
        if hook in hookspecs.SOURCE_HOOKS and "since" not in _parameters(getattr(connector, hook)):
            problems.append(f"{hook}: does not take since (declare {hook}(self, since: str | None) "
                            "and resume after that cursor)")
    pm = pluggy.PluginManager("trainbridge")
    pm.add_hookspecs(hookspecs)
    try:
        pm.register(connector, name=f"contract:{getattr(connector, 'name', '?')}")
    except pluggy.PluginValidationError as exc:
        problems.append(f"hook signature does not match its spec: {exc}")
    if exercise and not problems:
        problems += _exercise(connector, pm, hooks, writes or {}, effects)
    if problems:
        raise ContractError(f"{cls.__name__}: " + "; ".join(problems))
    return hooks


def _parameters(method: Any) -> list[str]:
    return list(inspect.signature(method).parameters)


def _exercise(connector: Connector, pm: pluggy.PluginManager, hooks: Iterable[str],
              writes: Mapping[str, Mapping[str, Any]], effects: Callable[[], int] | None) -> list[str]:
    problems: list[str] = []
    if "healthcheck" in hooks:
        health = pm.hook.healthcheck()
        if not (health and isinstance(health[0], HealthResult)):
            problems.append(f"healthcheck returned {health!r}, not a HealthResult")
    for hook in hooks:
        if hook in hookspecs.SOURCE_HOOKS:
            problems += _exercise_source(connector, pm, hook)
        elif hook in hookspecs.SINK_HOOKS:
            if hook not in writes:
                warnings.warn(f"{type(connector).__name__}.{hook} was not exercised: pass its arguments "
                              f"as check_connector(..., writes={{{hook!r}: {{...}}}})",
                              ContractWarning, stacklevel=3)
                continue
            problems += _exercise_sink(pm, hook, dict(writes[hook]), effects)
    return problems


def _exercise_source(connector: Connector, pm: pluggy.PluginManager, hook: str) -> list[str]:
    problems: list[str] = []
    prefix = f"{connector.name}:"
    reads: list[list[str]] = []
    for _ in range(2):
        seen: list[str] = []
        [result] = getattr(pm.hook, hook)(since=None) or [None]
        if result is None or isinstance(result, str | bytes | Page) or not isinstance(result, Iterable):
            return [f"{hook}: must return an iterable of Page, returned {type(result).__name__}"]
        for number, page in enumerate(result, start=1):
            if not isinstance(page, Page):
                return [f"{hook}: yielded {type(page).__name__}, not Page"]
            in_page: set[str] = set()
            for record in page.records:
                if not isinstance(record, Record) or not record.id:
                    problems.append(f"{hook}: yielded a record without a stable id")
                    continue
                if not record.id.startswith(prefix):
                    problems.append(f"{hook}: record id {record.id!r} is not prefixed with the instance "
                                    f"name (make_id({connector.name!r}, vendor_key))")
                if record.id in in_page:
                    problems.append(f"{hook}: page {number} holds id {record.id!r} twice "
                                    "(one vendor object, one record)")
                in_page.add(record.id)
                seen.append(record.id)
        reads.append(seen)
    if reads[0] != reads[1]:
        problems.append(f"{hook}: reading twice gave different ids (ids must derive from the source)")
    return list(dict.fromkeys(problems))


def _exercise_sink(pm: pluggy.PluginManager, hook: str, args: dict[str, Any],
                   effects: Callable[[], int] | None) -> list[str]:
    problems: list[str] = []
    caller = getattr(pm.hook, hook)

    def deliver(kwargs: dict[str, Any], key: str) -> Any:
        [answer] = caller(**kwargs, idempotency_key=key) or [None]
        return answer

    def one_write(kwargs: dict[str, Any], key: str, *, lose_first_answer: bool) -> str | None:
        before = effects() if effects else 0
        with _WireTap(lose_first_write=lose_first_answer) as tap:
            answers = []
            for _ in range(2):
                try:
                    answers.append(deliver(kwargs, key))
                except Exception as exc:
                    if not (lose_first_answer and tap.lost and not answers):
                        return f"{type(exc).__name__}: {exc}"
        what = "after a lost answer" if lose_first_answer else "twice"
        refs = {_ref(a) for a in answers}
        if len(refs) != 1:
            return f"delivering {key!r} {what} answered different refs {sorted(map(str, refs))}"
        if len(tap.keys) > 1:
            return f"delivering {key!r} {what} sent {len(tap.keys)} idempotency keys {sorted(tap.keys)}"
        if effects is not None and effects() - before != 1:
            return f"delivering {key!r} {what} left {effects() - before} objects at the vendor, not 1"
        return None

    first = one_write(args, f"kit:{hook}:1", lose_first_answer=False)
    if first:
        problems.append(f"{hook}: {first}")
    fresh = {name: _fresh(value) for name, value in args.items()}
    lost = one_write(fresh, f"kit:{hook}:2", lose_first_answer=True)
    if lost:
        problems.append(f"{hook}: {lost}")
    return problems


def _ref(answer: Any) -> Any:
    for attr in ("ref", "envelope_id", "id"):
        value = getattr(answer, attr, None)
        if value:
            return value
    return repr(answer)


def _fresh(value: Any) -> Any:
    """A record like ``value`` with another id: a second, new write of the same kind."""
    if isinstance(value, Record):
        return value.model_copy(update={"id": f"{value.id}:again"})
    return value


class _WireTap:
    """Sees every request a connector sends; optionally lets the first write reach the vendor
    and then drops its answer (``requests.ConnectionError``), as a lost acknowledgement."""

    def __init__(self, *, lose_first_write: bool) -> None:
        self.lose = lose_first_write
        self.lost = False
        self.keys: set[str] = set()
        self._patch: Any = None

    def __enter__(self) -> _WireTap:
        # the adapter's send: every request reaches it (trainbridge's HttpClient sends through its
        # session's adapter without Session.send), and `responses` fakes vendors at the same place
        original = requests.adapters.HTTPAdapter.send
        tap = self

        def send(adapter: requests.adapters.HTTPAdapter, request: requests.PreparedRequest,
                 *args: Any, **kw: Any) -> Any:
            if request.method in WRITE_METHODS:
                tap.keys.update(v for k, v in request.headers.items() if "idempotency" in k.lower())
            resp = original(adapter, request, *args, **kw)
            if tap.lose and not tap.lost and request.method in WRITE_METHODS and resp.ok:
                tap.lost = True
                msg = f"answer to {request.method} {request.url} lost (check_connector)"
                raise requests.ConnectionError(msg)
            return resp

        self._patch = mock.patch.object(requests.adapters.HTTPAdapter, "send", send)
        self._patch.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._patch.stop()


# --- pytest fixtures ------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _tb_forget_host_waits() -> Iterator[None]:
    """A Retry-After one test's fake vendor gave must not hold up the next test."""
    from trainbridge.core import http_waits

    http_waits._HOST_NOT_BEFORE.clear()
    yield
    http_waits._HOST_NOT_BEFORE.clear()


@pytest.fixture
def tb_host() -> PluginHost:
    """A plugin host with every built-in and installed plugin loaded."""
    return PluginHost.create()


@pytest.fixture
def tb_instance(tb_host: PluginHost, tmp_path: Path) -> Callable[..., Connector]:
    """Build a connector instance from its type name and a config mapping."""

    def build(type_name: str, config: Mapping[str, Any], name: str = "under_test") -> Connector:
        ctype = tb_host.connector_types[type_name]
        return ctype.cls.from_mapping(name, config, ConnectorContext(base_dir=tmp_path))

    return build


@pytest.fixture
def tb_workspace(tmp_path: Path) -> Iterator[Callable[..., Workspace]]:
    """Write a plugins.toml (SQLite ledger in tmp_path unless given) and open its workspace."""
    opened: list[Workspace] = []

    def build(config: Mapping[str, Any], *, directory: Path | None = None) -> Workspace:
        folder = directory or tmp_path
        data = {"ledger": {"url": "sqlite:///trainbridge.db"}, **config}
        path = folder / "plugins.toml"
        path.write_text(to_toml(data), encoding="utf-8")
        ws = Workspace(load_settings(path))
        ws.ensure_migrated()
        opened.append(ws)
        return ws

    yield build
    for ws in opened:
        ws.close()


@pytest.fixture
def tb_vendor() -> Iterator[Callable[[str], FakeVendor]]:
    """``tb_vendor(base_url)``: a fake vendor API at that URL (see :class:`FakeVendor`)."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock_http:
        yield lambda base_url: FakeVendor(mock_http, base_url)


class Clock:
    """A clock that moves only when told: ``now()``, ``today()``, ``time()``, ``monotonic()``
    and ``sleep(seconds)`` (which advances it and is recorded in ``sleeps``)."""

    def __init__(self, start: datetime) -> None:
        self.current = start
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        return self.current

    def today(self) -> date:
        return self.current.date()

    def time(self) -> float:
        return self.current.timestamp()

    def monotonic(self) -> float:
        return self.current.timestamp()

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


@pytest.fixture
def tb_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """A :class:`Clock` at 2025-06-02 09:00 UTC. Every ``ConnectorContext`` made without its
    own ``clock`` and ``sleep`` reads and waits on it (token expiry, replay windows, rate
    limits, the retries of ``ctx.http`` clients), and so does every ``HttpClient`` made
    without its own ``sleep``: nothing waits on the wall clock."""
    from trainbridge.core import http

    clock = Clock(datetime(2025, 6, 2, 9, 0, tzinfo=UTC))
    monkeypatch.setattr(http.HttpClient.__init__, "__kwdefaults__",
                        {**(http.HttpClient.__init__.__kwdefaults__ or {}), "sleep": clock.sleep})
    init = ConnectorContext.__init__
    named = [n for n, p in inspect.signature(init).parameters.items() if p.default is not p.empty]
    defaults = dict(zip(named, init.__defaults__ or (), strict=True))
    defaults.update(clock=clock.time, sleep=clock.sleep)
    monkeypatch.setattr(init, "__defaults__", tuple(defaults[n] for n in named))
    return clock


__all__ = ["SAMPLE_WRITES", "Clock", "ContractError", "ContractWarning", "FakeVendor", "check_connector",
           "connector_hooks", "tb_clock", "tb_host", "tb_instance", "tb_vendor", "tb_workspace"]
