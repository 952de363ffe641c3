"""The plugin manager: built-in plugins, installed plugins, and plugins.toml instances.

Built-in plugins are the modules named in :data:`BUILTIN_PLUGINS`; they load exactly like
installed ones, which are found through the ``trainbridge`` entry-point group.
``TRAINBRIDGE_LOAD_PLUGINS`` (comma-separated entry-point names; empty for none) restricts
which installed plugins load; ``[plugins] disable`` blocks any plugin by name.
``TRAINBRIDGE_TRACE_HOOKS=1`` logs every hook call, role hooks included: the core calls a
connector only through :meth:`PluginHost.call`, which goes through pluggy.

A plugin whose hook implementation names an argument its spec does not have is reported
(``trainbridge plugins``, ``trainbridge check``) and left out; the other plugins load.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import inspect
import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pluggy

from trainbridge.core import hookspecs
from trainbridge.core.config import Settings, check_against_plugins, validate_table
from trainbridge.core.connector import Connector, ConnectorContext
from trainbridge.core.errors import ConfigError, PluginError

log = logging.getLogger("trainbridge.plugins")
#: The built-in plugins, loaded in this order exactly like installed ones (llm's DEFAULT_PLUGINS).
BUILTIN_PLUGINS = (
    "trainbridge.plugins.agreements",
    "trainbridge.plugins.approvals_cli",
    "trainbridge.plugins.incentives",
    "trainbridge.plugins.ingest",
    "trainbridge.plugins.points",
    "trainbridge.plugins.points_reminders",
    "trainbridge.plugins.points_reports",
    "trainbridge.plugins.refunds",
    "trainbridge.plugins.scaffold",
    "trainbridge.plugins.scheduling",
    "trainbridge.plugins.talent",
    "trainbridge.plugins.web",
    "trainbridge.connectors.bamboohr",
    "trainbridge.connectors.chatbots",
    "trainbridge.connectors.dingtalk_hrm",
    "trainbridge.connectors.docusign",
    "trainbridge.connectors.dropbox_sign",
    "trainbridge.connectors.esign_cn",
    "trainbridge.connectors.fadada",
    "trainbridge.connectors.feishu",
    "trainbridge.connectors.files",
    "trainbridge.connectors.gusto",
    "trainbridge.connectors.local_esign",
    "trainbridge.connectors.rest",
    "trainbridge.connectors.rfc3161",
    "trainbridge.connectors.smtp",
    "trainbridge.connectors.xapi",
)
ENTRY_POINT_GROUP = "trainbridge"
LOAD_ENV = "TRAINBRIDGE_LOAD_PLUGINS"
TRACE_ENV = "TRAINBRIDGE_TRACE_HOOKS"

#: Plugin name -> why it did not load (or which of its connector types is unusable).
LOAD_ERRORS: dict[str, str] = {}


@functools.cache
def builtin_modules() -> tuple[ModuleType, ...]:
    """The modules of :data:`BUILTIN_PLUGINS`; one that fails to import is skipped and
    reported (``trainbridge plugins`` shows it) so the other connectors keep working."""
    modules = []
    for name in BUILTIN_PLUGINS:
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


class HookManager(pluggy.PluginManager):
    """pluggy's manager, counting registrations so cached single-instance callers stay right."""

    def __init__(self, project_name: str) -> None:
        super().__init__(project_name)
        self.generation = 0

    def register(self, plugin: Any, name: str | None = None) -> str | None:
        registered = super().register(plugin, name)
        self.generation += 1
        return registered

    def unregister(self, plugin: Any = None, name: str | None = None) -> Any:
        removed = super().unregister(plugin, name)
        self.generation += 1
        return removed


@dataclass
class ConnectorType:
    name: str
    cls: type[Connector]
    plugin: str
    #: Why instances of this type cannot be used (an implementation its spec rejects), if so.
    problem: str | None = None


class UnusableConnector(Connector):
    """Stands in for a ``[connectors.NAME]`` instance whose type failed validation.

    ``trainbridge check`` shows its healthcheck as failed with the reason; any use of a hook
    its type declares raises that reason instead of silently routing around the instance.
    """

    def __init__(self, name: str, config: Any, error: ConfigError, declared: tuple[str, ...]) -> None:
        super().__init__(name, config)
        self.error = error
        self.declared = declared

    def healthcheck(self) -> Any:
        from trainbridge.core.records import HealthResult

        return HealthResult(ok=False, detail=self.error.message)


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
    #: Plugin name -> one line saying why it (or one of its connector types) is not usable.
    load_errors: dict[str, str] = field(default_factory=dict)
    _callers: dict[tuple[str, int], tuple[Connector, Any]] = field(default_factory=dict, repr=False)
    _generation: int = field(default=-1, repr=False)

    # --- building ------------------------------------------------------------------

    @classmethod
    def create(cls, disabled: tuple[str, ...] = ()) -> PluginHost:
        pm = HookManager("trainbridge")
        pm.add_hookspecs(hookspecs)
        for name in disabled:
            pm.set_blocked(name)
        host = cls(pm=pm)
        modules = builtin_modules()
        host.load_errors.update(LOAD_ERRORS)
        for module in modules:
            short = module.__name__.rsplit(".", 1)[-1]
            if pm.is_blocked(short) or pm.is_blocked(module.__name__):
                continue
            host._register_plugin(module, module.__name__)
        for point in installed_entry_points():
            if pm.is_blocked(point.name):
                continue
            try:
                plugin = point.load()
            except Exception as exc:
                # One line, and the other plugins load: a command that does not need it still works.
                host._load_error(point.name, f"installed plugin ({point.value}) failed to load: "
                                             f"{type(exc).__name__}: {exc}; reinstall it, or add "
                                             f"{point.name!r} to [plugins] disable")
                continue
            host._register_plugin(plugin, point.name)
        if os.environ.get(TRACE_ENV):
            trace_hook_calls(pm)
        host._collect()
        return host

    def _register_plugin(self, plugin: Any, name: str) -> None:
        """Register one plugin; one whose implementations do not match their specs is left out."""
        try:
            self.pm.register(plugin, name=name)
        except pluggy.PluginValidationError as exc:
            problems = signature_problems(self.pm, plugin) or [str(exc).splitlines()[0]]
            self._load_error(name, "; ".join(problems))

    def _load_error(self, name: str, message: str) -> None:
        self.load_errors[name] = message
        LOAD_ERRORS[name] = message  # ``trainbridge plugins`` lists these
        log.error("plugin %s: %s", name, message)

    def _collect(self) -> None:
        def register_connector(name: str, connector_cls: type[Connector]) -> None:
            plugin = _current_plugin.get("name", "?")
            if name in self.connector_types:
                other = self.connector_types[name].plugin
                msg = f"connector type {name!r} is registered by both {other!r} and {plugin!r}"
                raise PluginError(msg, hint="uninstall one of them or block one with [plugins] disable")
            problems = signature_problems(self.pm, connector_cls)
            problem = "; ".join(problems) if problems else None
            if problem:
                self._load_error(plugin, f"connector type {name!r}: {problem}")
            self.connector_types[name] = ConnectorType(name, connector_cls, plugin, problem)

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
        """Create and register one connector object per ``[connectors.NAME]`` table.

        An instance whose type failed validation becomes an :class:`UnusableConnector`: its
        healthcheck fails with the reason and the other instances work.
        """
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
            try:
                self.pm.register(instance, name=f"connector:{name}")
            except pluggy.PluginValidationError as exc:
                problem = "; ".join(signature_problems(self.pm, instance)) or str(exc).splitlines()[0]
                error = ConfigError(f"type {type_name!r} (plugin {ctype.plugin}) cannot be used: {problem}",
                                    file=settings.file, table=tname,
                                    hint=f"update or fix the plugin {ctype.plugin}, or remove this table")
                log.error("%s", error.message)
                instance = UnusableConnector(name, config, error, tuple(_class_hooks(ctype.cls)))
            self.instances[name] = instance

    # --- calling ---------------------------------------------------------------------

    def implements(self, instance: Connector, hook: str) -> bool:
        caller = getattr(self.pm.hook, hook)
        return any(impl.plugin is instance for impl in caller.get_hookimpls())

    def hooks_of(self, instance: Connector) -> list[str]:
        return [h for h in hookspecs.ROLE_HOOKS if self.implements(instance, h)]

    def instances_with(self, hook: str) -> list[Connector]:
        """The instances implementing ``hook``; raises if an unusable instance declares it, so
        work meant for that instance is never routed to another one instead."""
        for inst in self.instances.values():
            if isinstance(inst, UnusableConnector) and hook in inst.declared:
                raise inst.error
        return [inst for inst in self.instances.values() if self.implements(inst, hook)]

    def call(self, instance: Connector | str, hook: str, **kwargs: Any) -> Any:
        """Call one role hook on one instance only (never fans out to the others), through pluggy.

        The hook sees only the arguments its implementation declares; an argument the spec
        does not know (an outbox row written before it was removed) is dropped, and an
        optional argument the spec added since gets its default.
        """
        inst = self.instances[instance] if isinstance(instance, str) else instance
        if isinstance(inst, UnusableConnector):
            raise inst.error
        caller = self._caller(inst, hook)
        spec = caller.spec
        if spec is not None:
            known = {*spec.argnames, *spec.kwargnames}
            dropped = sorted(set(kwargs) - known)
            if dropped:
                log.debug("%s -> %s: dropping argument(s) %s its spec does not have",
                          hook, inst.name, ", ".join(dropped))
                kwargs = {k: v for k, v in kwargs.items() if k in known}
            kwargs = {**_spec_defaults(spec), **kwargs}
        results = caller(**kwargs)
        return results[0] if results else None

    def _caller(self, inst: Connector, hook: str) -> Any:
        generation = getattr(self.pm, "generation", None)
        if generation is None or generation != self._generation:
            self._callers.clear()
            self._generation = -1 if generation is None else generation
        cached = self._callers.get((hook, id(inst)))
        if cached is not None and cached[0] is inst:
            return cached[1]
        full = getattr(self.pm.hook, hook, None)
        if full is None or hook not in hookspecs.ROLE_HOOKS:
            msg = f"{hook!r} is not a role hook"
            raise PluginError(msg, hint="role hooks: " + ", ".join(hookspecs.ROLE_HOOKS))
        if not any(impl.plugin is inst for impl in full.get_hookimpls()):
            msg = f"connector {inst.name!r} ({type(inst).__name__}) does not implement {hook}"
            raise PluginError(msg, hint=f"route {hook} to an instance whose type implements it")
        others = [p for p in self.pm.get_plugins() if p is not inst]
        caller = self.pm.subset_hook_caller(hook, remove_plugins=others)
        self._callers[(hook, id(inst))] = (inst, caller)
        return caller

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
            yield {"name": name, "builtin": name in BUILTIN_PLUGINS, "hooks": hooks,
                   "connector_types": types,
                   "connector_hooks": {t: _class_hooks(self.connector_types[t].cls) for t in types},
                   "problems": [self.connector_types[t].problem for t in types
                                if self.connector_types[t].problem]}


_current_plugin: dict[str, str] = {}


def _class_hooks(cls: type) -> list[str]:
    return [h for h in hookspecs.ROLE_HOOKS
            if getattr(getattr(cls, h, None), "trainbridge_impl", None) is not None]


def trace_hook_calls(pm: pluggy.PluginManager) -> None:
    """Log one line per hook call (``hook: fetch_employees@hr(since=None)`` names the instance of
    a role hook), an exception at info and what it returned at debug."""

    def before(hook_name: str, impls: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
        log.info("hook: %s(%s)", _traced_name(hook_name, impls), _short_args(kwargs))

    def after(outcome: Any, hook_name: str, impls: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
        name = _traced_name(hook_name, impls)
        if outcome.exception is not None:
            log.info("hook: !! %s raised %s: %s", name, type(outcome.exception).__name__,
                     _cut(str(outcome.exception)))
        else:
            log.debug("hook: <- %s: %s", name, _short(outcome.get_result()))

    pm.add_hookcall_monitoring(before, after)


def _traced_name(hook_name: str, impls: Sequence[Any]) -> str:
    names = [impl.plugin_name for impl in impls]
    if len(names) == 1 and names[0].startswith("connector:"):
        return f"{hook_name}@{names[0].removeprefix('connector:')}"
    return hook_name


def _short_args(kwargs: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={_short(v)}" for k, v in kwargs.items())


def _short(value: Any) -> str:
    # Arguments can be whole documents: the trace shows enough to recognise them.
    return _cut(repr(value))


def _cut(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"


def _spec_defaults(spec: Any) -> dict[str, Any]:
    defaults = getattr(spec, "kwargdefaults", None)
    if defaults is not None:
        return dict(defaults)
    values = inspect.unwrap(spec.function).__defaults__ or ()
    return dict(zip(spec.kwargnames, values, strict=False))


def signature_problems(pm: pluggy.PluginManager, plugin: Any) -> list[str]:
    """One line per hook implementation of ``plugin`` (a module, class or instance) that names
    an argument its spec does not have, e.g. ``fetch_employees(sinse)``."""
    problems = []
    for attr in dir(plugin):
        function = getattr(plugin, attr, None)
        if not callable(function) or getattr(function, "trainbridge_impl", None) is None:
            continue
        caller = getattr(pm.hook, attr, None)
        spec = getattr(caller, "spec", None)
        if spec is None:
            continue
        params = list(inspect.signature(function).parameters.values())
        if isinstance(plugin, type) and params and params[0].name in ("self", "cls"):
            params = params[1:]
        names = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        known = [*spec.argnames, *spec.kwargnames]
        bad = [n for n in names if n not in known]
        if bad:
            problems.append(f"{attr}({', '.join(names)}) declares {', '.join(map(repr, bad))}, "
                            f"which the spec {attr}({', '.join(known)}) does not have")
    return problems


#: Proposal kinds of built-in jobs that do not declare ``proposal_kinds`` (what ``[approvals] auto``
#: may name); a job declares its own with ``proposal_kinds: ClassVar[tuple[str, ...]]``.
BUILTIN_PROPOSAL_KINDS = ("refund", "refund_credit", "repayment_request", "bonus", "bonus_coefficient",
                          "excellent", "perks", "regional_manager", "promotion", "promotion_priority",
                          "review_points")


def proposal_kinds(jobs: Mapping[str, Any]) -> set[str]:
    declared = (kind for job in jobs.values() for kind in getattr(job, "proposal_kinds", ()))
    return {*BUILTIN_PROPOSAL_KINDS, *declared}


def load_host(settings: Settings, *, instances: bool = True) -> PluginHost:
    """The plugins ``settings`` enable, checked against it (the same checks for ``check``, ``sync``,
    ``serve`` and the workers); ``instances=False`` builds no connector (read-only commands)."""
    host = PluginHost.create(disabled=settings.disabled_plugins)
    check_against_plugins(settings, host.jobs, proposal_kinds(host.jobs))
    if instances:
        host.build_instances(settings)
    else:
        host.settings = settings
    return host
