"""Tenants and deployments: one ``plugins.toml`` per tenant, many tenants per deployment.

A deployment is either a folder of tenants (``tenants/<id>/plugins.toml``) or a
``trainbridge.toml`` that lists them (``[tenants] acme = "path/to/plugins.toml"``) and
may name a folder to scan (``tenants_dir``), a default ledger for tenants without their
own ``[ledger] url``, and the Celery settings. A lone ``plugins.toml`` is a deployment
of one tenant. The tenant id is the folder name or the list key; a ``[tenant] id`` in the
file must agree with it. Every ledger query is scoped to the tenant id, so selecting a
tenant here is what keeps one company's rows away from another's.

Schedules: ``[schedule] costs = "0 2 * * *"`` (five cron fields; ``timezone`` names the
IANA zone they are read in, UTC by default).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from trainbridge.core.config import (
    CONFIG_ENV,
    DEFAULT_CONFIG_NAME,
    Settings,
    load_settings,
    resolve_sqlite_url,
    substitute_env,
)
from trainbridge.core.errors import ConfigError, TrainbridgeError
from trainbridge.core.secrets import register_secret

DEPLOYMENT_FILE = "trainbridge.toml"
DEPLOYMENT_ENV = "TRAINBRIDGE_DEPLOYMENT"
TENANT_ENV = "TRAINBRIDGE_TENANT"
TENANTS_DIR = "tenants"
SCHEDULE_TZ_KEY = "timezone"
_TENANT_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_DEPLOYMENT_KEYS = {"tenants", "tenants_dir", "ledger", "celery"}
_CELERY_KEYS = {"broker_url", "result_backend", "queue", "metrics_port", "visibility_timeout"}


@dataclass
class Deployment:
    """The tenants one deployment serves, and the settings its workers share."""

    source: Path
    tenants: dict[str, Path] = field(default_factory=dict)
    ledger_url: str | None = None
    broker_url: str | None = None
    result_backend: str | None = None
    queue: str = "trainbridge"
    metrics_port: int | None = None
    visibility_timeout: int = 3600

    @property
    def file(self) -> str:
        return str(self.source)

    def settings(self, tenant: str) -> Settings:
        """The tenant's validated settings, with its id and the deployment's default ledger."""
        path = self.tenants.get(tenant)
        if path is None:
            known = ", ".join(sorted(self.tenants)) or "(none)"
            raise ConfigError(f"no tenant {tenant!r} in this deployment", file=self.file,
                              hint=f"tenants: {known}")
        settings = load_settings(path)
        declared = (settings.raw.get("tenant") or {}).get("id")
        if declared is not None and str(declared) != tenant:
            raise ConfigError(f"[tenant] id is {declared!r} but the deployment serves this file as "
                              f"{tenant!r}", file=settings.file, table="tenant", key="id",
                              hint=f'write id = "{tenant}" or remove the key')
        settings.tenant = tenant
        if self.ledger_url and "url" not in (settings.raw.get("ledger") or {}):
            settings.ledger_url = self.ledger_url
        return settings

    def workspace(self, tenant: str) -> Any:
        from trainbridge.core.runner import Workspace

        return Workspace(self.settings(tenant))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", file=str(path),
                          hint="fix the syntax at the line and column given") from None


def _check_id(tenant: str, *, file: str, table: str = "tenants", key: str = "") -> str:
    if not _TENANT_ID.fullmatch(tenant):
        raise ConfigError("tenant id must be 1-64 letters, digits, '_', '.' or '-'", file=file,
                          table=table, key=key or tenant, hint="rename it, e.g. acme-sh")
    return tenant


def scan_folder(folder: Path, *, file: str) -> dict[str, Path]:
    """``<folder>/<id>/plugins.toml`` for every sub-folder that has one."""
    if not folder.is_dir():
        raise ConfigError(f"tenants folder {folder} does not exist", file=file, key="tenants_dir",
                          hint="create it with one sub-folder per tenant holding its plugins.toml")
    found: dict[str, Path] = {}
    for child in sorted(folder.iterdir()):
        if child.name.startswith((".", "_")) or not (child / DEFAULT_CONFIG_NAME).is_file():
            continue
        found[_check_id(child.name, file=str(child))] = child / DEFAULT_CONFIG_NAME
    return found


def is_deployment(path: Path) -> bool:
    return path.is_dir() or path.name == DEPLOYMENT_FILE


def load_deployment(path: str | Path | None = None) -> Deployment:
    """A deployment from a folder, a ``trainbridge.toml`` or a single ``plugins.toml``.

    Without a path: ``TRAINBRIDGE_DEPLOYMENT``, then ``TRAINBRIDGE_CONFIG``, then
    ``./trainbridge.toml``, ``./tenants/`` and ``./plugins.toml``.
    """
    target = Path(path) if path else _default_target()
    if target.is_dir():
        nested = target / DEPLOYMENT_FILE
        if nested.is_file():
            return _from_file(nested)
        folder = target / TENANTS_DIR if (target / TENANTS_DIR).is_dir() else target
        return Deployment(source=target, tenants=scan_folder(folder, file=str(target)))
    if not target.exists():
        raise ConfigError("file not found", file=str(target),
                          hint=f"pass --config with a {DEPLOYMENT_FILE}, a tenants folder or a "
                               f"{DEFAULT_CONFIG_NAME}, or set {DEPLOYMENT_ENV}")
    if target.name == DEPLOYMENT_FILE or "tenants" in _read_toml(target) or \
            "tenants_dir" in _read_toml(target):
        return _from_file(target)
    settings = load_settings(target)
    return Deployment(source=target, tenants={settings.tenant: target})


def _default_target() -> Path:
    for env in (DEPLOYMENT_ENV, CONFIG_ENV):
        if os.environ.get(env):
            return Path(os.environ[env])
    cwd = Path.cwd()
    for candidate in (cwd / DEPLOYMENT_FILE, cwd / TENANTS_DIR):
        if candidate.exists():
            return candidate
    return cwd / DEFAULT_CONFIG_NAME


def _from_file(path: Path) -> Deployment:
    file = str(path)
    data = _read_toml(path)
    for key in data:
        if key not in _DEPLOYMENT_KEYS:
            raise ConfigError("unknown key", file=file, table=key,
                              hint=f"a {DEPLOYMENT_FILE} has: {', '.join(sorted(_DEPLOYMENT_KEYS))}")
    base = path.parent.resolve()
    dep = Deployment(source=path)
    if "tenants_dir" in data:
        dep.tenants.update(scan_folder(base / str(data["tenants_dir"]), file=file))
    listed = data.get("tenants", {})
    if not isinstance(listed, dict):
        raise ConfigError("must be a table of tenant id = path", file=file, table="tenants",
                          hint='e.g. [tenants] acme = "tenants/acme/plugins.toml"')
    for tenant, value in listed.items():
        _check_id(tenant, file=file, key=tenant)
        if not isinstance(value, str):
            raise ConfigError("must be the path of the tenant's plugins.toml", file=file, table="tenants",
                              key=tenant, hint=f'{tenant} = "tenants/{tenant}/plugins.toml"')
        tenant_path = Path(substitute_env(value, file=file, table="tenants", key=tenant))
        dep.tenants[tenant] = tenant_path if tenant_path.is_absolute() else base / tenant_path
    ledger = substitute_env(_table(data, "ledger", file), file=file, table="ledger", key="")
    _only(ledger, {"url"}, file=file, table="ledger")
    if "url" in ledger:
        dep.ledger_url = resolve_sqlite_url(str(ledger["url"]), base)
        match = re.match(r"^[a-z+]+://[^:/@]+:([^@]+)@", dep.ledger_url)
        if match:
            register_secret(match.group(1))
    celery = substitute_env(_table(data, "celery", file), file=file, table="celery", key="")
    _only(celery, _CELERY_KEYS, file=file, table="celery")
    dep.broker_url = celery.get("broker_url")
    dep.result_backend = celery.get("result_backend")
    dep.queue = str(celery.get("queue", dep.queue))
    for key in ("metrics_port", "visibility_timeout"):
        if key in celery:
            try:
                setattr(dep, key, int(celery[key]))
            except (TypeError, ValueError):
                raise ConfigError("must be a whole number", file=file, table="celery", key=key,
                                  hint=f"e.g. {key} = 9808") from None
    return dep


def _table(data: Mapping[str, Any], name: str, file: str) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError("must be a table", file=file, table=name, hint=f"write it as [{name}]")
    return value


def _only(values: Mapping[str, Any], allowed: set[str], *, file: str, table: str) -> None:
    for key in values:
        if key not in allowed:
            raise ConfigError("unknown key", file=file, table=table, key=key,
                              hint=f"allowed keys: {', '.join(sorted(allowed))}")


def resolve_settings(config: str | Path | None, tenant: str | None) -> Settings:
    """What ``--config`` and ``--tenant`` select: the settings of exactly one tenant.

    Without a tenant this is plain :func:`load_settings`. With one, ``config`` may be a
    deployment (folder or ``trainbridge.toml``) to look the tenant up in, or a
    ``plugins.toml`` whose tenant id must be that tenant.
    """
    if tenant is None:
        if config and is_deployment(Path(config)):
            dep = load_deployment(config)
            raise ConfigError(f"{config} serves {len(dep.tenants)} tenant(s); choose one",
                              hint=f"pass --tenant ID (or set {TENANT_ENV}); tenants: "
                                   f"{', '.join(sorted(dep.tenants)) or '(none)'}")
        return load_settings(config)
    _check_id(tenant, file="--tenant", table="", key="")
    dep = load_deployment(config)
    if dep.source.name != DEPLOYMENT_FILE and not dep.source.is_dir() and tenant not in dep.tenants:
        [actual] = dep.tenants
        raise ConfigError(f"this plugins.toml is tenant {actual!r}, not {tenant!r}", file=dep.file,
                          table="tenant", key="id",
                          hint="pass the deployment (trainbridge.toml or the tenants folder) with --config, "
                               "or give the file its [tenant] id")
    return dep.settings(tenant)


# --- schedules ---------------------------------------------------------------------


@dataclass(frozen=True)
class ScheduleEntry:
    """One job of one tenant and when it runs."""

    tenant: str
    job: str
    cron: str
    timezone: str = "UTC"

    @property
    def zone(self) -> tzinfo:
        return UTC if self.timezone == "UTC" else ZoneInfo(self.timezone)

    def next_runs(self, after: datetime, count: int = 1) -> list[datetime]:
        it = _croniter()(self.cron, after.astimezone(self.zone))
        return [it.get_next(datetime) for _ in range(count)]

    def previous_run(self, at: datetime) -> datetime:
        """The latest scheduled time at or before ``at`` (the slot a tick at ``at`` belongs to)."""
        # get_prev is strictly before its start: a second later makes ``at`` itself count.
        it = _croniter()(self.cron, (at + timedelta(seconds=1)).astimezone(self.zone))
        result: datetime = it.get_prev(datetime)
        return result

    def as_dict(self, now: datetime, count: int = 1) -> dict[str, Any]:
        return {"tenant": self.tenant, "job": self.job, "cron": self.cron, "timezone": self.timezone,
                "next": [t.isoformat() for t in self.next_runs(now, count)]}


def _croniter() -> Any:
    try:
        from croniter import croniter
    except ModuleNotFoundError:
        raise TrainbridgeError("schedules need the croniter package",
                               hint="pip install 'trainbridge[celery]'") from None
    return croniter


def tenant_schedule(settings: Settings, jobs: Collection[str] | None = None) -> list[ScheduleEntry]:
    """The ``[schedule]`` table as entries; a bad cron, zone or job name is a ConfigError."""
    table = dict(settings.schedule)
    zone = table.pop(SCHEDULE_TZ_KEY, "UTC")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown time zone {zone!r}", file=settings.file, table="schedule",
                          key=SCHEDULE_TZ_KEY, hint='an IANA name, e.g. timezone = "Asia/Shanghai"') from None
    croniter = _croniter()
    entries = []
    for job, cron in sorted(table.items()):
        if jobs is not None and job not in jobs:
            raise ConfigError(f"unknown job {job!r}", file=settings.file, table="schedule", key=job,
                              hint=f"jobs: {', '.join(sorted(jobs)) or '(none)'}")
        fields = cron.split()
        if not (len(fields) == 5 or (len(fields) == 1 and cron.startswith("@"))) or \
                not croniter.is_valid(cron):
            raise ConfigError(f"not a cron expression: {cron!r}", file=settings.file, table="schedule",
                              key=job, hint='five fields: minute hour day-of-month month day-of-week, '
                                            'e.g. "0 2 * * *" (02:00 every day)')
        entries.append(ScheduleEntry(tenant=settings.tenant, job=job, cron=cron, timezone=zone))
    return entries
