"""The connector authors' kit: a pytest plugin (entry point ``pytest11``) and a contract check.

In a connector package's tests::

    from trainbridge.testing import check_connector

    def test_contract(tb_instance):
        conn = tb_instance("my_type", {"token": "x"})
        check_connector(conn, exercise=True)   # with the vendor faked by `responses`

    def test_sync(tb_workspace):
        ws = tb_workspace({"connectors": {"hr": {"type": "my_type", "token": "x"}}})
        [result] = sync(ws, ["ingest"])
        assert result.status == "ok"
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pluggy
import pytest

from trainbridge.core import hookspecs
from trainbridge.core.config import load_settings
from trainbridge.core.connector import Connector, ConnectorConfig, ConnectorContext
from trainbridge.core.demo import to_toml
from trainbridge.core.manager import PluginHost
from trainbridge.core.records import HealthResult, Page, Record
from trainbridge.core.runner import Workspace


class ContractError(AssertionError):
    """A connector breaks the hook contract; the message lists every problem found."""


def connector_hooks(connector: Connector | type[Connector]) -> list[str]:
    """The role hooks a connector implements; for an instance, as registered (an instance may
    switch a hook off, e.g. a source with no endpoint configured for that kind)."""
    return [h for h in hookspecs.ROLE_HOOKS
            if getattr(getattr(connector, h, None), "trainbridge_impl", None) is not None]


def check_connector(connector: Connector, *, exercise: bool = False) -> list[str]:
    """Check ``connector`` against the hook contracts; raise :class:`ContractError` on problems.

    Static checks: a ``Connector`` subclass; a ``ConnectorConfig`` model that forbids unknown
    keys; at least one role hook; every ``@hookimpl`` method named after a hook spec with
    the spec's argument names (validated by pluggy). With ``exercise=True`` (fake the vendor
    first) it also calls ``healthcheck`` and every source hook twice, checking that they
    yield ``Page`` objects of records with stable, non-empty ids. Returns the hooks found.
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
    pm = pluggy.PluginManager("trainbridge")
    pm.add_hookspecs(hookspecs)
    try:
        pm.register(connector, name=f"contract:{getattr(connector, 'name', '?')}")
    except pluggy.PluginValidationError as exc:
        problems.append(f"hook signature does not match its spec: {exc}")
    if exercise and not problems:
        problems += _exercise(connector, hooks)
    if problems:
        raise ContractError(f"{cls.__name__}: " + "; ".join(problems))
    return hooks


def _exercise(connector: Connector, hooks: Iterable[str]) -> list[str]:
    problems: list[str] = []
    if "healthcheck" in hooks:
        health = connector.healthcheck()
        if not isinstance(health, HealthResult):
            problems.append(f"healthcheck returned {type(health).__name__}, not HealthResult")
    for hook in hooks:
        if hook not in hookspecs.SOURCE_HOOKS:
            continue
        ids: list[list[str]] = []
        for _ in range(2):
            seen: list[str] = []
            result = getattr(connector, hook)(since=None)
            if not inspect.isgenerator(result) and not isinstance(result, Iterable):
                problems.append(f"{hook} must return an iterable of Page")
                break
            for page in result:
                if not isinstance(page, Page):
                    problems.append(f"{hook} yielded {type(page).__name__}, not Page")
                    break
                for record in page.records:
                    if not isinstance(record, Record) or not record.id:
                        problems.append(f"{hook} yielded a record without a stable id")
                    seen.append(record.id)
            ids.append(seen)
        if len(ids) == 2 and ids[0] != ids[1]:
            problems.append(f"{hook}: reading twice gave different ids (ids must derive from the source)")
    return problems


# --- pytest fixtures ------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _tb_forget_host_waits() -> Iterator[None]:
    """A Retry-After one test's fake vendor gave must not hold up the next test."""
    from trainbridge.core import http

    http._HOST_NOT_BEFORE.clear()
    yield
    http._HOST_NOT_BEFORE.clear()


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


__all__ = ["ContractError", "check_connector", "connector_hooks", "tb_host", "tb_instance", "tb_workspace"]
