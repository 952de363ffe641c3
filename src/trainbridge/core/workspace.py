"""A workspace: settings + plugins + ledger for one tenant, what every command and task starts from."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

from trainbridge.core.config import Settings
from trainbridge.core.errors import ConfigError
from trainbridge.core.jobs import Job, JobContext
from trainbridge.core.ledger import Ledger
from trainbridge.core.manager import PluginHost, load_host


class Workspace:
    """``host`` is built on first use (or by ``host_factory``): a listing that reads only the
    ledger imports no plugin."""

    def __init__(self, settings: Settings, host: PluginHost | None = None,
                 ledger: Ledger | None = None, *,
                 host_factory: Callable[[], PluginHost] | None = None) -> None:
        self.settings = settings
        self._host = host
        self._host_factory = host_factory or (lambda: load_host(settings))
        self.ledger = ledger or Ledger(settings.resolved_ledger_url(), settings.tenant)
        self._migrated = False

    @property
    def host(self) -> PluginHost:
        if self._host is None:
            self._host = self._host_factory()
        return self._host

    @host.setter
    def host(self, value: PluginHost) -> None:
        self._host = value

    def ensure_readable(self) -> None:
        """Migrate only when the core schema is behind: a read-only command on a current ledger
        needs no plugin loaded (plugins' own tables are migrated by the commands that use them)."""
        if not self._migrated and not self.ledger.core_is_current():
            self.migrate()

    def migrate(self) -> list[tuple[str, int]]:
        applied = self.ledger.migrate(self.host.migrations)
        self._migrated = True
        return applied

    def ensure_migrated(self) -> None:
        if not self._migrated:
            self.migrate()

    def job(self, name: str) -> Job:
        try:
            job: Job = self.host.jobs[name]
        except KeyError:
            known = ", ".join(sorted(self.host.jobs)) or "(none)"
            raise ConfigError(f"unknown job {name!r}", file=self.settings.file, table="sync",
                              hint=f"jobs: {known}") from None
        return job

    def job_names(self, requested: Sequence[str] = ()) -> list[str]:
        names = list(dict.fromkeys(requested or self.settings.sync_jobs or self.host.jobs))
        for name in names:
            self.job(name)
        return sorted(names, key=lambda n: (self.host.jobs[n].order, n))

    def context(self, job: Job, conn: Any, run_id: int | None, *, today: date, now: datetime,
                dry_run: bool) -> JobContext:
        return JobContext(job=job.name, tenant=self.settings.tenant, run_id=run_id, conn=conn,
                          ledger=self.ledger, host=self.host, today=today, now=now,
                          config=self.settings.job_config(job.name, job.config_model), dry_run=dry_run,
                          base_dir=self.settings.base_dir, timezone=self.settings.timezone)

    def close(self) -> None:
        self.ledger.dispose()
