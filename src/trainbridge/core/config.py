"""plugins.toml -> validated settings.

Every error names the file, the table, the key and the fix. ``${VAR}`` (or
``${VAR:-default}``) in any string is replaced from the environment; every value that comes
from the environment is registered as a secret so it never reaches logs or reports.
"""

from __future__ import annotations

import contextvars
import os
import re
import tomllib
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from trainbridge.core.approvals.routing import KEYS as APPROVAL_KEYS
from trainbridge.core.approvals.routing import ApprovalRouting, parse_routing
from trainbridge.core.errors import ConfigError
from trainbridge.core.ingest_fork import READ_PROCESSES_HINT, parse_read_processes
from trainbridge.core.secrets import register_secret

DEFAULT_CONFIG_NAME = "plugins.toml"
CONFIG_ENV = "TRAINBRIDGE_CONFIG"
TOP_LEVEL = {"tenant", "ledger", "plugins", "connectors", "jobs", "schedule", "approvals", "sync", "alerts",
             "web"}
#: ``[web] mode``: "production" (default: an account an admin created must choose its own password
#: at its first login) or "demo" (``serve --demo``: it need not).
WEB_MODES = ("production", "demo")
ALERT_STATUSES = ("failed", "partial")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
#: Set while reading settings for a command that never calls a vendor (``runs``, listings,
#: reports): a connector's unset ``${VAR}`` is then left as written instead of being an error.
_UNRESOLVED_OK: contextvars.ContextVar[bool] = contextvars.ContextVar("unresolved_ok", default=False)


@contextmanager
def without_connector_secrets() -> Iterator[None]:
    """Read settings without needing the connectors' environment variables (read-only commands)."""
    token = _UNRESOLVED_OK.set(True)
    try:
        yield
    finally:
        _UNRESOLVED_OK.reset(token)


@dataclass
class Settings:
    """One tenant's configuration, as read from one ``plugins.toml``."""

    path: Path | None
    base_dir: Path
    tenant: str = "default"
    #: ``[tenant] timezone``: the IANA zone "today", periods and the console's times are in (UTC when absent).
    timezone: str = "UTC"
    ledger_url: str = "sqlite:///trainbridge.db"
    lock_timeout_seconds: int = 900
    connectors: dict[str, dict[str, Any]] = field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    disabled_plugins: tuple[str, ...] = ()
    schedule: dict[str, str] = field(default_factory=dict)
    auto_approve: tuple[str, ...] = ()
    sync_jobs: tuple[str, ...] = ()
    #: ``[sync] read_processes``: "auto" (a reader process per core where it forks) or a number; 0 reads here.
    read_processes: int | str = "auto"
    #: ``[alerts]``: ``notifier`` (an instance implementing send_notice), ``on``, ``to``.
    alerts: dict[str, Any] = field(default_factory=dict)
    #: ``[approvals] channel / kinds / approvers``: where proposals are approved (Feishu, DingTalk).
    approval_routing: ApprovalRouting = field(default_factory=ApprovalRouting)
    #: ``[web] mode`` (:data:`WEB_MODES`).
    web_mode: str = "production"
    #: Connector tables whose ``${VAR}`` was left unresolved (see :func:`without_connector_secrets`).
    unresolved: dict[str, list[str]] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def file(self) -> str:
        return str(self.path) if self.path else "(built-in settings)"

    def resolved_ledger_url(self) -> str:
        return resolve_sqlite_url(self.ledger_url, self.base_dir)

    def job_config(self, job: str, model: type[BaseModel] | None) -> Any:
        table = self.jobs.get(job, {})
        if model is None:
            if table:
                raise ConfigError("this job takes no settings", file=self.file, table=f"jobs.{job}",
                                  hint=f"remove the [jobs.{job}] table")
            return None
        return validate_table(model, table, file=self.file, table=f"jobs.{job}")


def resolve_sqlite_url(url: str, base_dir: Path) -> str:
    """A relative SQLite path is relative to the folder of plugins.toml, not the cwd."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and url != "sqlite:///:memory:":
        path = Path(url[len(prefix):])
        if not path.is_absolute():
            return prefix + str((base_dir / path).resolve())
    return url


def find_config(explicit: str | Path | None = None) -> Path:
    if explicit:
        return Path(explicit)
    env = os.environ.get(CONFIG_ENV)
    return Path(env) if env else Path.cwd() / DEFAULT_CONFIG_NAME


def substitute_env(value: Any, *, file: str, table: str, key: str,
                  unresolved: list[str] | None = None) -> Any:
    """``${VAR}`` from the environment; with ``unresolved`` given, an unset one is kept as written
    and its name appended there instead of raising."""
    if isinstance(value, str):
        def replace(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            found = os.environ.get(name)
            if found is None:
                if default is not None:
                    return default
                if unresolved is not None:
                    unresolved.append(name)
                    return match.group(0)
                raise ConfigError(
                    f"environment variable {name} is not set", file=file, table=table, key=key,
                    hint=f"export {name}=... before running, or write ${{{name}:-default}}",
                )
            # Every value from the environment counts as a secret, whatever its key is called.
            register_secret(found)
            return found

        return _VAR.sub(replace, value)
    if isinstance(value, list):
        return [substitute_env(v, file=file, table=table, key=key, unresolved=unresolved) for v in value]
    if isinstance(value, dict):
        return {k: substitute_env(v, file=file, table=table, key=f"{key}.{k}" if key else k,
                                  unresolved=unresolved)
                for k, v in value.items()}
    return value


def validate_table(model: type[BaseModel], values: Mapping[str, Any], *, file: str, table: str) -> Any:
    try:
        return model.model_validate(dict(values))
    except ValidationError as exc:
        raise config_error_from(exc, file=file, table=table) from None


def config_error_from(exc: ValidationError, *, file: str, table: str) -> ConfigError:
    err = exc.errors()[0]
    key = ".".join(str(p) for p in err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        msg, fix = "unknown key", f"remove {key!r} or check its spelling against the docs"
    elif kind == "missing":
        msg, fix = "required key is missing", f"add {key} = ... to [{table}]"
    else:
        msg, fix = err["msg"], f"give {key!r} a valid value"
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return ConfigError(msg + more, file=file, table=table, key=key, hint=fix)


def _expect_table(value: Any, *, file: str, table: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError("must be a table", file=file, table=table,
                          hint=f"write it as [{table}] with keys below it")
    return value


def _timezone(value: Any, *, file: str) -> str:
    """An IANA zone name the system's zone database knows (``Asia/Shanghai``)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    hint = 'an IANA zone name, e.g. timezone = "Asia/Shanghai" (or "UTC")'
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"must be a zone name, not {value!r}", file=file, table="tenant", key="timezone",
                          hint=hint)
    try:
        ZoneInfo(value.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown time zone {value!r}", file=file, table="tenant", key="timezone",
                          hint=hint) from None
    return value.strip()


def load_settings(path: str | Path | None = None, *, required: bool = True) -> Settings:
    """Read and validate ``plugins.toml``; ``required=False`` gives defaults when it is absent."""
    config_path = find_config(path)
    if not config_path.exists():
        if required:
            raise ConfigError("file not found", file=str(config_path),
                              hint="run `trainbridge init` to write a commented plugins.toml, "
                                   "or pass --config PATH")
        return Settings(path=None, base_dir=Path.cwd())
    file = str(config_path)
    try:
        data = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", file=file,
                          hint="fix the syntax at the line and column given") from None
    return settings_from_mapping(data, path=config_path)


def settings_from_mapping(data: Mapping[str, Any], *, path: Path | None = None) -> Settings:
    file = str(path) if path else "(settings)"
    for key in data:
        if key not in TOP_LEVEL:
            raise ConfigError("unknown table", file=file, table=key,
                              hint=f"top-level tables are: {', '.join(sorted(TOP_LEVEL))}")
    settings = Settings(path=path, base_dir=(path.parent.resolve() if path else Path.cwd()),
                        raw=dict(data))

    tenant = data.get("tenant", {})
    tenant = _expect_table(tenant, file=file, table="tenant")
    _only_keys(tenant, {"id", "name", "timezone"}, file=file, table="tenant")
    settings.tenant = str(tenant.get("id", "default"))
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", settings.tenant):
        raise ConfigError("tenant id must be 1-64 letters, digits, '_', '.' or '-'", file=file,
                          table="tenant", key="id", hint='e.g. id = "acme-sh"')
    settings.timezone = _timezone(tenant.get("timezone", "UTC"), file=file)

    ledger = substitute_env(_expect_table(data.get("ledger", {}), file=file, table="ledger"),
                            file=file, table="ledger", key="")
    _only_keys(ledger, {"url", "lock_timeout_seconds"}, file=file, table="ledger")
    settings.ledger_url = str(ledger.get("url", settings.ledger_url))
    if "password" in settings.ledger_url or "@" in settings.ledger_url:
        _register_url_password(settings.ledger_url)
    timeout = ledger.get("lock_timeout_seconds", 900)
    if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 60:
        raise ConfigError(f"lock_timeout_seconds must be whole seconds, at least 60 (got {timeout!r})",
                          file=file, table="ledger", key="lock_timeout_seconds",
                          hint="e.g. lock_timeout_seconds = 900 (a run on another host silent this long is "
                               "presumed dead)")
    settings.lock_timeout_seconds = timeout

    plugins = _expect_table(data.get("plugins", {}), file=file, table="plugins")
    _only_keys(plugins, {"disable"}, file=file, table="plugins")
    disable = plugins.get("disable", [])
    if not isinstance(disable, list) or not all(isinstance(x, str) for x in disable):
        raise ConfigError("must be a list of plugin names", file=file, table="plugins", key="disable",
                          hint='e.g. disable = ["acme_payroll"]')
    settings.disabled_plugins = tuple(disable)

    connectors = _expect_table(data.get("connectors", {}), file=file, table="connectors")
    for name, table in connectors.items():
        tname = f"connectors.{name}"
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name):
            raise ConfigError("instance names are letters, digits, '_' or '-'", file=file, table=tname,
                              hint="rename the table, e.g. [connectors.payroll_cn]")
        table = _expect_table(table, file=file, table=tname)
        if "type" not in table:
            raise ConfigError("required key is missing", file=file, table=tname, key="type",
                              hint="add type = \"...\"; `trainbridge plugins` lists the connector types")
        missing: list[str] | None = [] if _UNRESOLVED_OK.get() else None
        settings.connectors[name] = substitute_env(table, file=file, table=tname, key="", unresolved=missing)
        if missing:
            settings.unresolved[tname] = missing

    jobs = _expect_table(data.get("jobs", {}), file=file, table="jobs")
    for name, table in jobs.items():
        settings.jobs[name] = substitute_env(_expect_table(table, file=file, table=f"jobs.{name}"),
                                             file=file, table=f"jobs.{name}", key="")

    schedule = _expect_table(data.get("schedule", {}), file=file, table="schedule")
    settings.schedule = {str(k): str(v) for k, v in schedule.items()}

    approvals = _expect_table(data.get("approvals", {}), file=file, table="approvals")
    _only_keys(approvals, {"auto", *APPROVAL_KEYS}, file=file, table="approvals")
    settings.auto_approve = _names(approvals.get("auto", []), file=file, table="approvals", key="auto",
                                   example='auto = ["notice"]')
    settings.approval_routing = parse_routing(approvals, settings.connectors, file=file)

    sync = _expect_table(data.get("sync", {}), file=file, table="sync")
    _only_keys(sync, {"jobs", "read_processes"}, file=file, table="sync")
    settings.sync_jobs = _names(sync.get("jobs", []), file=file, table="sync", key="jobs",
                                example='jobs = ["costs", "separations"]')
    if "read_processes" in sync:
        try:
            parse_read_processes(sync["read_processes"])
        except ValueError as exc:
            raise ConfigError(str(exc), file=file, table="sync", key="read_processes",
                              hint=READ_PROCESSES_HINT) from None
        settings.read_processes = sync["read_processes"]

    alerts = substitute_env(_expect_table(data.get("alerts", {}), file=file, table="alerts"),
                            file=file, table="alerts", key="")
    _only_keys(alerts, {"notifier", "on", "to", "language"}, file=file, table="alerts")
    if alerts:
        if not isinstance(alerts.get("notifier"), str) or not alerts["notifier"]:
            raise ConfigError("required key is missing", file=file, table="alerts", key="notifier",
                              hint='name the connector instance that sends it, e.g. notifier = "chat"')
        on = _names(alerts.get("on", list(ALERT_STATUSES)), file=file, table="alerts", key="on",
                    example='on = ["failed", "partial"]')
        for status in on:
            if status not in ALERT_STATUSES:
                raise ConfigError(f"unknown run status {status!r}", file=file, table="alerts", key="on",
                                  hint=f"choose from {', '.join(ALERT_STATUSES)}")
        to = _names(alerts.get("to", []), file=file, table="alerts", key="to", example='to = ["it@acme.cn"]')
        settings.alerts = {"notifier": alerts["notifier"], "on": on, "to": to,
                           "language": str(alerts.get("language", "en"))}

    web = _expect_table(data.get("web", {}), file=file, table="web")
    _only_keys(web, {"mode"}, file=file, table="web")
    settings.web_mode = str(web.get("mode", "production"))
    if settings.web_mode not in WEB_MODES:
        raise ConfigError(f"unknown mode {settings.web_mode!r}", file=file, table="web", key="mode",
                          hint='mode = "production" (the default) or "demo"')
    return settings


def _names(value: Any, *, file: str, table: str, key: str, example: str) -> tuple[str, ...]:
    """A list of names; a lone string (a common slip) is an error, not a list of its letters."""
    if isinstance(value, str):
        raise ConfigError(f"must be a list of names, not the string {value!r}", file=file, table=table,
                          key=key, hint=f'write it in brackets: {key} = ["{value}"]')
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError("must be a list of names", file=file, table=table, key=key,
                          hint=f"e.g. {example}")
    return tuple(value)


def check_against_plugins(settings: Settings, jobs: Mapping[str, Any],
                          proposal_kinds: Collection[str]) -> None:
    """What only the loaded plugins can tell: job names, each job's table, proposal kinds, the
    schedule and the alerts' notifier. Every workspace runs it, so ``check`` and ``sync`` agree."""
    known = ", ".join(sorted(jobs)) or "(none)"
    for name in settings.sync_jobs:
        if name not in jobs:
            raise ConfigError(f"unknown job {name!r}", file=settings.file, table="sync", key="jobs",
                              hint=f"jobs: {known}")
    for name, job in sorted(jobs.items()):
        if name in settings.jobs:
            settings.job_config(name, getattr(job, "config_model", None))
    for kind in settings.auto_approve:
        if kind not in proposal_kinds:
            raise ConfigError(f"unknown proposal kind {kind!r}", file=settings.file, table="approvals",
                              key="auto", hint=f"kinds: {', '.join(sorted(proposal_kinds)) or '(none)'}")
    for kind in settings.approval_routing.kinds:
        if kind not in proposal_kinds:
            raise ConfigError(f"unknown proposal kind {kind!r}", file=settings.file, table="approvals.kinds",
                              key=kind, hint=f"kinds: {', '.join(sorted(proposal_kinds)) or '(none)'}")
    if settings.schedule:
        from trainbridge.core.tenants import tenant_schedule

        tenant_schedule(settings, jobs)
    notifier = settings.alerts.get("notifier")
    if notifier and notifier not in settings.connectors:
        instances = ", ".join(sorted(settings.connectors)) or "(none)"
        raise ConfigError(f"no connector instance {notifier!r}", file=settings.file, table="alerts",
                          key="notifier", hint=f"instances: {instances}; name one whose type sends notices "
                                               "(file_notifier, a chat bot, smtp)")


def _only_keys(values: Mapping[str, Any], allowed: set[str], *, file: str, table: str) -> None:
    for key in values:
        if key not in allowed:
            raise ConfigError("unknown key", file=file, table=table, key=key,
                              hint=f"allowed keys: {', '.join(sorted(allowed))}")


def _register_url_password(url: str) -> None:
    match = re.match(r"^[a-z+]+://[^:/@]+:([^@]+)@", url)
    if match:
        register_secret(match.group(1))
