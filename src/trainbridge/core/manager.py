"""The plugin manager: built-in plugins, installed plugins, and plugins.toml instances.

Built-in plugins are the modules of ``trainbridge.plugins`` and ``trainbridge.connectors``;
they load exactly like installed ones, which are found through the ``trainbridge``
entry-point group. ``TRAINBRIDGE_LOAD_PLUGINS`` (comma-separated entry-point names;
empty for none) restricts which installed plugins load; ``[plugins] disable`` blocks
any plugin by name. ``TRAINBRIDGE_TRACE_HOOKS=1`` logs every hook call.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import logging
import os
import pkgutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pluggy

from trainbridge.core import hookspecs
from trainbridge.core.config import Settings, validate_table
from trainbridge.core.connector import Connector, ConnectorContext
from trainbridge.core.errors import ConfigError, PluginError

log = logging.getLogger("trainbridge.plugins")
BUILTIN_PACKAGES = ("trainbridge.plugins", "trainbridge.connectors")
ENTRY_POINT_GROUP = "trainbridge"
LOAD_ENV = "TRAINBRIDGE_LOAD_PLUGINS"
TRACE_ENV = "TRAINBRIDGE_TRACE_HOOKS"


LOAD_ERRORS: dict[str, str] = {}


@functools.cache
def builtin_modules() -> tuple[ModuleType, ...]:
    """Every module of the built-in plugin packages; one that fails to import is skipped and
    reported (``trainbridge plugins`` shows it) so the other connectors keep working."""
    modules = []
    for package_name in BUILTIN_PACKAGES:
        package = importlib.import_module(package_name)
        for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
            if info.name.startswith("_"):
                continue
            name = f"{package_name}.{info.name}"
            try:
                modules.append(importlib.import_module(name))
            except Exception as exc:
                LOAD_ERRORS[name] = f"{type(exc).__name__}: {exc}"
                log.error("built-in plugin %s failed to import: %s", name, exc)
    return tuple(modules)


def installed_entry_points() -> list[importlib.metadata.EntryPoint]:
    points = list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))
    allowed = os.environ.get(LOAD_ENV)
    if allowed is not None:
        names = {n.strip() for n in allowed.split(",") if n.strip()}
        points = [p for p in points if p.name in names]
    return points


@dataclass
class ConnectorType:
    name: str
    cls: type[Connector]
    plugin: str


@dataclass
class PluginHost:
    """One plugin manager with its registries, and (once built) the connector instances."""

    pm: pluggy.PluginManager
    connector_types: dict[str, ConnectorType] = field(default_factory=dict)
    jobs: dict[str, Any] = field(default_factory=dict)
    reports: dict[str, Any] = field(default_factory=dict)
    migrations: list[tuple[str, int, Callable[..., None]]] = field(default_factory=list)
    instances: dict[str, Connector] = field(default_factory=dict)
    settings: Settings | None = None

    # --- building ------------------------------------------------------------------

    @classmethod
    def create(cls, disabled: tuple[str, ...] = ()) -> PluginHost:
        pm = pluggy.PluginManager("trainbridge")
        pm.add_hookspecs(hookspecs)
        for name in disabled:
            pm.set_blocked(name)
        for module in builtin_modules():
            short = module.__name__.rsplit(".", 1)[-1]
            if pm.is_blocked(short) or pm.is_blocked(module.__name__):
                continue
            pm.register(module, name=module.__name__)
        for point in installed_entry_points():
            if pm.is_blocked(point.name):
                continue
            try:
                plugin = point.load()
            except Exception as exc:
                msg = f"installed plugin {point.name!r} ({point.value}) failed to load: {exc}"
                raise PluginError(msg, hint=f"reinstall it, or set {LOAD_ENV} to load the others only, "
                                           f"or add it to [plugins] disable") from exc
            pm.register(plugin, name=point.name)
        if os.environ.get(TRACE_ENV):
            pm.trace.root.setwriter(lambda text: log.info("hook: %s", text.rstrip()))
            pm.enable_tracing()
        host = cls(pm=pm)
        host._collect()
        return host

    def _collect(self) -> None:
        def register_connector(name: str, connector_cls: type[Connector]) -> None:
            plugin = _current_plugin.get("name", "?")
            if name in self.connector_types:
                other = self.connector_types[name].plugin
                msg = f"connector type {name!r} is registered by both {other!r} and {plugin!r}"
                raise PluginError(msg, hint="uninstall one of them or block one with [plugins] disable")
            self.connector_types[name] = ConnectorType(name, connector_cls, plugin)

        def register_job(job: Any) -> None:
            if job.name in self.jobs:
                msg = f"job {job.name!r} is registered twice"
                raise PluginError(msg, hint="rename one of the jobs")
            self.jobs[job.name] = job

        def register_report(report: Any) -> None:
            self.reports[report.name] = report

        def register_migration(namespace: str, version: int, upgrade: Callable[..., None]) -> None:
            self.migrations.append((namespace, version, upgrade))

        for impl in self.pm.hook.register_connectors.get_hookimpls():
            _current_plugin["name"] = self.pm.get_name(impl.plugin) or "?"
            impl.function(register=register_connector)
        _current_plugin.clear()
        self.pm.hook.register_jobs(register=register_job)
        self.pm.hook.register_reports(register=register_report)
        self.pm.hook.register_migrations(register=register_migration)

    def build_instances(self, settings: Settings) -> None:
        """Create and register one connector object per ``[connectors.NAME]`` table."""
        self.settings = settings
        ctx_base = ConnectorContext(base_dir=settings.base_dir, tenant=settings.tenant)
        for name, table in settings.connectors.items():
            type_name = table["type"]
            tname = f"connectors.{name}"
            ctype = self.connector_types.get(type_name)
            if ctype is None:
                known = ", ".join(sorted(self.connector_types)) or "(none)"
                raise ConfigError(f"unknown connector type {type_name!r}", file=settings.file,
                                  table=tname, key="type",
                                  hint=f"known types: {known}; install the plugin that provides it")
            values = {k: v for k, v in table.items() if k != "type"}
            config = validate_table(ctype.cls.config_model, values, file=settings.file, table=tname)
            ctx = ConnectorContext(base_dir=ctx_base.base_dir, tenant=ctx_base.tenant)
            try:
                instance = ctype.cls(name, config, ctx)
            except ConfigError:
                raise
            except Exception as exc:
                raise ConfigError(f"connector could not start: {exc}", file=settings.file, table=tname,
                                  hint="check the values in this table") from exc
            self.pm.register(instance, name=f"connector:{name}")
            self.instances[name] = instance

    # --- calling ---------------------------------------------------------------------

    def implements(self, instance: Connector, hook: str) -> bool:
        caller = getattr(self.pm.hook, hook)
        return any(impl.plugin is instance for impl in caller.get_hookimpls())

    def hooks_of(self, instance: Connector) -> list[str]:
        return [h for h in hookspecs.ROLE_HOOKS if self.implements(instance, h)]

    def instances_with(self, hook: str) -> list[Connector]:
        return [inst for inst in self.instances.values() if self.implements(inst, hook)]

    def call(self, instance: Connector | str, hook: str, **kwargs: Any) -> Any:
        """Call one role hook on one instance only (never fans out to the others)."""
        inst = self.instances[instance] if isinstance(instance, str) else instance
        caller = getattr(self.pm.hook, hook)
        for impl in caller.get_hookimpls():
            if impl.plugin is inst:
                return impl.function(**kwargs)
        msg = f"connector {inst.name!r} ({type(inst).__name__}) does not implement {hook}"
        raise PluginError(msg, hint=f"route {hook} to an instance whose type implements it")

    def refund_policy(self, jurisdiction: str) -> Any:
        policy = self.pm.hook.refund_policy(jurisdiction=jurisdiction)
        if policy is None:
            msg = f"no refund policy for jurisdiction {jurisdiction!r}"
            raise PluginError(msg, hint="install a plugin that implements refund_policy for it, "
                                        "or set the agreement's jurisdiction to 'prc'")
        return policy

    def plugin_rows(self) -> Iterator[dict[str, Any]]:
        for name, plugin in self.pm.list_name_plugin():
            if name.startswith("connector:"):
                continue
            hooks = sorted(caller.name for caller in self.pm.get_hookcallers(plugin) or [])
            types = sorted(t.name for t in self.connector_types.values() if t.plugin == name)
            yield {"name": name, "builtin": name.startswith("trainbridge."), "hooks": hooks,
                   "connector_types": types,
                   "connector_hooks": {t: _class_hooks(self.connector_types[t].cls) for t in types}}


_current_plugin: dict[str, str] = {}


def _class_hooks(cls: type) -> list[str]:
    return [h for h in hookspecs.ROLE_HOOKS
            if getattr(getattr(cls, h, None), "trainbridge_impl", None) is not None]


def load_host(settings: Settings) -> PluginHost:
    host = PluginHost.create(disabled=settings.disabled_plugins)
    host.build_instances(settings)
    return host
