"""What every command shares: the tenant's workspace (opened lazily), JSON output."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from trainbridge.core.errors import ConfigError, TrainbridgeError
from trainbridge.core.secrets import redact

if TYPE_CHECKING:
    from trainbridge.core.manager import PluginHost
    from trainbridge.core.workspace import Workspace


class State:
    def __init__(self, config: str | None, tenant: str | None = None, debug: bool = False) -> None:
        self.config = config
        self.tenant = tenant
        self.debug = debug
        self._ws: Workspace | None = None

    def workspace(self, *, read_only: bool = False) -> Workspace:
        """The tenant's workspace, its ledger migrated. ``read_only`` (listings, reports) builds no
        connector, so it needs none of their secrets."""
        if self._ws is None:
            from trainbridge.core.config import without_connector_secrets
            from trainbridge.core.manager import load_host
            from trainbridge.core.tenants import resolve_settings

            if read_only:
                with without_connector_secrets():
                    settings = resolve_settings(self.config, self.tenant)
                # Plugins load only if the command asks for them (a report, a job's table).
                self._ws = open_workspace(settings, None, read_only=True,
                                          host_factory=lambda: load_host(settings, instances=False))
            else:
                settings = resolve_settings(self.config, self.tenant)
                self._ws = open_workspace(settings, load_host(settings))
        return self._ws


def open_workspace(settings: Any, host: PluginHost | None = None, *, read_only: bool = False,
                   host_factory: Any = None) -> Workspace:
    """A workspace with its ledger reachable and migrated; a ledger that cannot be opened is one
    ConfigError naming the file, ``[ledger] url`` and what to check."""
    from trainbridge.core.workspace import Workspace

    ws: Workspace | None = None
    try:
        ws = Workspace(settings, host=host, host_factory=host_factory)
        if read_only:
            ws.ensure_readable()
        else:
            ws.ensure_migrated()
    except TrainbridgeError:
        raise
    except Exception as exc:
        if not _is_database_error(exc):
            raise
        raise ledger_error(exc, settings) from None
    return ws


def _is_database_error(exc: BaseException) -> bool:
    return type(exc).__module__.startswith(("sqlalchemy", "psycopg", "sqlite3"))


def ledger_error(exc: BaseException, settings: Any) -> ConfigError:
    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    first = next((line for line in detail if line.strip()), type(exc).__name__)
    url = redact(settings.resolved_ledger_url())
    return ConfigError(f"the ledger {url} cannot be opened: {redact(first)}", file=settings.file,
                       table="ledger", key="url",
                       hint="check that the database server runs and is reachable at that host and port, "
                            "that the database exists (createdb NAME) and the user may connect; "
                            "or use sqlite:///trainbridge.db")


pass_state = click.make_pass_decorator(State)


def echo_json(value: Any) -> None:
    click.echo(redact(json.dumps(value, ensure_ascii=False, indent=2, default=str)))

