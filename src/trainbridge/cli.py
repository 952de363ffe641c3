"""The command line: parse, call the library, print. Everything here is callable from Python.

Start-up stays light: ``--help``, ``--version`` and the core commands import no plugin until
one is needed; the built-in plugins' commands are listed from :data:`PLUGIN_COMMANDS` (a test
keeps it equal to what they register) and loaded when one is run.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from trainbridge import __version__
from trainbridge.cli_review import outbox, proposals, quarantine
from trainbridge.cli_state import State, echo_json, open_workspace, pass_state
from trainbridge.core.errors import TrainbridgeError
from trainbridge.core.reports import FORMATS, render
from trainbridge.core.reports import write as write_report
from trainbridge.core.results import ExitCode, overall_exit
from trainbridge.core.secrets import install_log_redaction, redact

if TYPE_CHECKING:
    from trainbridge.core.manager import PluginHost

#: The built-in plugins' commands and their short help, shown by ``--help`` without importing them.
PLUGIN_COMMANDS = {
    "agreements": "Training agreements: list, sign (local demo e-signature), templates.",
    "approvals": "Proposals approved in Feishu / DingTalk: list, subscribe, send, withdraw.",
    "beat": "Run Celery beat: sends each tenant's scheduled jobs at their times (run exactly one).",
    "enqueue": "Send tasks to the workers now: the named jobs, or (none named) a schedule tick.",
    "evidence": "Evidence of signed agreements (trusted timestamps).",
    "new-connector": "Write a connector package skeleton (pyproject, connector, tests using the kit).",
    "points": "Manager points: leaderboard and recompute.",
    "refund": "Training cost refunds owed by leavers (LCL art. 22).",
    "schedule": "What runs when: each tenant's [schedule], with the next run times.",
    "serve": "The HR console and the e-signature webhook receiver (POST /webhooks/INSTANCE).",
    "users": "Console accounts: add, list, disable, enable, remove, passwd.",
    "worker": "Run a Celery worker for the deployment's tenants (extra Celery options after --).",
}
DEBUG_ENV = "TRAINBRIDGE_DEBUG"
_debug = {"on": False}


_STANDARD_ATTRS = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line; a record's extra fields (``event``, ``records``...) are kept."""

    def format(self, record: logging.LogRecord) -> str:
        data = {"time": self.formatTime(record), "level": record.levelname, "logger": record.name,
                "message": redact(record.getMessage())}
        data |= {k: v for k, v in record.__dict__.items() if k not in _STANDARD_ATTRS}
        return redact(json.dumps(data, ensure_ascii=False, default=str))


class OursFirst(logging.Filter):
    """Other libraries speak only from warning up (fontTools subsetting, HTTP pools), unless --debug."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or record.name.startswith("trainbridge") or _debug["on"]


def setup_logging(fmt: str, level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
        # The per-page and per-job events are the point of JSON logs: on at any level.
        logging.getLogger("trainbridge.progress").setLevel(logging.INFO)
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(OursFirst())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    install_log_redaction(root)


def _disabled_plugins(config: str | None, tenant: str | None) -> tuple[str, ...]:
    """``[plugins] disable`` of the file the command will read, when it can be read at all."""
    try:
        from trainbridge.core.config import without_connector_secrets
        from trainbridge.core.tenants import resolve_settings

        with without_connector_secrets():
            return resolve_settings(config, tenant).disabled_plugins
    except (TrainbridgeError, OSError):
        return ()


class TrainbridgeGroup(click.Group):
    """The root group: core commands now, the plugins' commands (and reports) when first needed."""

    host: PluginHost | None = None
    #: Commands the loaded plugins added: dropped when the plugins are read again.
    plugin_commands: frozenset[str] = frozenset()

    def plugin_host(self, ctx: click.Context) -> PluginHost:
        if self.host is None:
            from trainbridge.core.manager import PluginHost

            root = ctx.find_root()
            params = root.params or {}
            disabled = _disabled_plugins(params.get("config"), params.get("tenant"))
            host = PluginHost.create(disabled=disabled)
            for name, error in host.load_errors.items():
                if not _plugins_command(ctx):
                    click.echo(redact(f"plugin {name} skipped: {error.splitlines()[0]}"), err=True)
            for rep in sorted(host.reports.values(), key=lambda r: r.name):
                if rep.name not in report.commands:
                    report.add_command(_report_command(rep))
            before = set(self.commands)
            host.pm.hook.register_commands(cli=self)
            self.plugin_commands = frozenset(set(self.commands) - before)
            self.host = host
        return self.host

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            self.plugin_host(ctx)
        return self.commands.get(cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        if self.host is None and _installed_plugins():
            self.plugin_host(ctx)
        return sorted(set(self.commands) | set(PLUGIN_COMMANDS))

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        limit = formatter.width - 6 - max(len(n) for n in self.list_commands(ctx))
        rows = []
        for name in self.list_commands(ctx):
            command = self.commands.get(name)
            if command is not None and command.hidden:
                continue
            rows.append((name, command.get_short_help_str(limit) if command is not None
                         else PLUGIN_COMMANDS[name]))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _plugins_command(ctx: click.Context) -> bool:
    return ctx.find_root().invoked_subcommand == "plugins"


def _installed_plugins() -> bool:
    from importlib.metadata import entry_points

    return bool(entry_points(group="trainbridge"))


class ReportGroup(click.Group):
    """``report NAME``: the plugins' reports, loaded when a report is asked for or listed."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            cli.plugin_host(ctx)
        return self.commands.get(cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        cli.plugin_host(ctx)
        return sorted(self.commands)


@click.group(cls=TrainbridgeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="trainbridge")
@click.option("--config", "-c", envvar="TRAINBRIDGE_CONFIG", type=click.Path(dir_okay=False),
              help="plugins.toml to use (default: ./plugins.toml).")
@click.option("--tenant", envvar="TRAINBRIDGE_TENANT",
              help="Tenant of a deployment (trainbridge.toml or tenants/ folder) to act on.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="warning",
              show_default=True)
@click.option("--debug", is_flag=True, envvar=DEBUG_ENV,
              help="Show tracebacks and other libraries' logs (for bug reports).")
@click.pass_context
def cli(ctx: click.Context, config: str | None, tenant: str | None, log_format: str, log_level: str,
        debug: bool) -> None:
    """trainbridge: training agreements, costs, points and refunds across the systems you run."""
    _debug["on"] = debug
    setup_logging(log_format, "debug" if debug else log_level)
    ctx.obj = State(config, tenant, debug)


@cli.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False), default=".", show_default=True)
@click.option("--force", is_flag=True, help="Overwrite an existing plugins.toml.")
@click.option("--no-sample-data", is_flag=True, help="Write no data/ sample files.")
def init(directory: str, force: bool, no_sample_data: bool) -> None:
    """Write a commented plugins.toml and sample data (where absent), and create the ledger."""
    from trainbridge.core.config import load_settings
    from trainbridge.core.templates import INIT_TOML, SAMPLE_FILES

    target = Path(directory) / "plugins.toml"
    if target.exists() and not force:
        click.echo(f"{target} exists; keeping it (use --force to overwrite)")
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(INIT_TOML, encoding="utf-8")
        click.echo(f"wrote {target}")
    if not no_sample_data:
        written = []
        for name, content in SAMPLE_FILES.items():
            path = Path(directory) / name
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(content, encoding="utf-8")
                written.append(name)
        if written:
            click.echo(f"wrote sample data: {', '.join(written)} (formats: docs/files.md)")
    ws = open_workspace(load_settings(target))
    click.echo(f"ledger ready at {redact(ws.ledger.url)}")
    click.echo("next: trainbridge check, then trainbridge sync --dry-run")


@cli.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def plugins(ctx: click.Context, as_json: bool) -> None:
    """List plugins, the connector types they provide and the hooks each implements."""
    params = ctx.find_root().params
    disabled = _disabled_plugins(params.get("config"), params.get("tenant"))
    try:
        host = cli.plugin_host(ctx)
    except TrainbridgeError as exc:
        if not as_json:
            raise
        echo_json({"plugins": [], "jobs": [], "reports": [], "disabled": list(disabled),
                   "load_errors": {}, "error": str(exc)})
        sys.exit(exc.exit_code)
    rows = list(host.plugin_rows())
    if as_json:
        echo_json({"plugins": rows, "jobs": sorted(host.jobs), "reports": sorted(host.reports),
                   "disabled": list(disabled), "load_errors": host.load_errors})
        return
    for name in disabled:
        click.echo(f"{name}: disabled ([plugins] disable)")
    for name, error in host.load_errors.items():
        click.echo(f"{name}: FAILED TO LOAD: {error}", err=True)
    for row in rows:
        kind = "built-in" if row["builtin"] else "installed"
        click.echo(f"{row['name']} ({kind}): hooks {', '.join(row['hooks']) or '-'}")
        for type_name, hooks in row["connector_hooks"].items():
            click.echo(f"  connector type {type_name}: {', '.join(hooks) or '-'}")
    click.echo(f"jobs: {', '.join(sorted(host.jobs)) or '-'}")


@cli.command()
@pass_state
def check(state: State) -> None:
    """Validate plugins.toml as sync, schedule and serve read it; run every connector's healthcheck."""
    ws = state.workspace()
    for name, error in ws.host.load_errors.items():
        click.echo(redact(f"plugin {name} skipped: {error}"), err=True)
    failed = 0
    for name, instance in ws.host.instances.items():
        try:
            health = instance.healthcheck()
            ok, detail = health.ok, health.detail
        except Exception as exc:
            ok, detail = False, str(exc)
        failed += not ok
        click.echo(redact(f"{'ok  ' if ok else 'FAIL'} {name} ({type(instance).__name__}): {detail}"))
    from trainbridge.plugins.approvals_check import check_channels  # [approvals]: codes, definitions

    for ok, line in check_channels(ws):
        failed += not ok
        click.echo(redact(f"{'ok  ' if ok else 'FAIL'} {line}"))
    click.echo(f"config {ws.settings.file}: valid; ledger {ws.ledger.engine.url.render_as_string()}")
    if failed:
        sys.exit(ExitCode.FAILED)


@cli.command()
@click.argument("name", required=False)
def schema(name: str | None) -> None:
    """Print the JSON Schema of one record (or all)."""
    from trainbridge.core.records import SCHEMA_TYPES

    if name:
        if name not in SCHEMA_TYPES:
            raise click.UsageError(f"unknown record {name!r}; choose from {', '.join(sorted(SCHEMA_TYPES))}")
        echo_json(SCHEMA_TYPES[name].model_json_schema())
    else:
        echo_json({k: v.model_json_schema() for k, v in sorted(SCHEMA_TYPES.items())})


@cli.command(name="sync")
@click.argument("jobs", nargs=-1)
@click.option("--dry-run", is_flag=True, help="Show what would be read, decided and written; write nothing.")
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), help="Decide as of this date.")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def sync_command(state: State, jobs: tuple[str, ...], dry_run: bool, today: Any, as_json: bool) -> None:
    """Run sync jobs (all registered jobs when none is named)."""
    from trainbridge.core.alerts import alert_if_needed
    from trainbridge.core.runner import sync

    ws = state.workspace()
    with watching_progress(live=not as_json):
        results = sync(ws, jobs, dry_run=dry_run, today=today.date() if today else None)
    if not dry_run:
        alert_if_needed(ws, results)
    every = results.all()
    if as_json:
        echo_json([r.as_dict() | {"plan": r.plan_lines} for r in every])
    else:
        for r in every:
            click.echo(redact(f"{r.job}: {r.status} (run {r.run_id or 'dry'}) "
                              + ", ".join(f"{k}={v}" for k, v in sorted(r.counts.items()))))
            for line in r.plan_lines + r.summary:
                click.echo(redact(f"  {line}"))
            for err in r.errors:
                click.echo(redact(f"  ! {err}"), err=True)
    sys.exit(overall_exit(results))


@contextmanager
def watching_progress(*, live: bool) -> Iterator[None]:
    """JSON (or text) log events per page and job; a live display too when stderr is a terminal."""
    from trainbridge.core import progress

    with progress.observing(progress.LogEvents()):
        if live and sys.stderr.isatty():
            from rich.console import Console

            with progress.LiveDisplay(Console(stderr=True)) as display, progress.observing(display):
                yield
        else:
            yield


@cli.command()
@click.option("--job")
@click.option("--limit", default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_state
def runs(state: State, job: str | None, limit: int, as_json: bool) -> None:
    """Recent runs with their counts and errors."""
    ws = state.workspace(read_only=True)
    with ws.ledger.transaction() as conn:
        rows = ws.ledger.list_runs(conn, job=job, limit=limit)
    for row in rows:
        if row["finished_at"] and row["started_at"]:
            row["duration_s"] = round((row["finished_at"] - row["started_at"]).total_seconds(), 3)
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        counts = ", ".join(f"{k}={v}" for k, v in sorted((row["counts"] or {}).items()))
        click.echo(f"#{row['id']} {row['job']} {row['status']} {row['started_at']:%Y-%m-%d %H:%M:%S} "
                   f"{row.get('duration_s', '-')}s {counts}")
        for err in row["errors"] or []:
            click.echo(f"    ! {err}")



@cli.group(cls=ReportGroup)
def report() -> None:
    """Reports in table, json, csv or html."""


def _report_command(rep: Any) -> click.Command:
    def run(state: State, fmt: str, output: str | None, **options: Any) -> None:
        result = rep.build(state.workspace(read_only=True), **options)
        if output:
            with open(output, "w", encoding="utf-8") as out:  # row by row: never the whole text
                write_report(result, fmt, out)
            click.echo(f"wrote {output}")
        else:
            click.echo(redact(render(result, fmt)))

    params: list[click.Parameter] = [
        click.Option(["--format", "fmt"], type=click.Choice(FORMATS), default="table", show_default=True),
        click.Option(["--output", "-o"], type=click.Path(dir_okay=False), help="Write to a file."),
        *rep.options,
    ]
    return click.Command(rep.name, params=params, help=rep.title,
                         callback=click.pass_obj(run))


@report.command(name="all")
@click.option("--output", "-o", type=click.Path(dir_okay=False), default="report.html", show_default=True)
@pass_state
def report_all(state: State, output: str) -> None:
    """Every report in one self-contained html file."""
    from trainbridge.core.reports import bundle

    ws = state.workspace(read_only=True)
    Path(output).write_text(redact(bundle(ws, list(ws.host.reports.values()))), encoding="utf-8")
    click.echo(f"wrote {output}")


@cli.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False),
              help="Workspace folder (default: a new temporary folder).")
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), help="Pretend today is this date.")
def demo(directory: str | None, today: Any) -> None:
    """Create a workspace with sample data from the source documents and run every job."""
    from trainbridge.core.demo import run_demo

    # without --today: the demo tenant's day (Asia/Shanghai), not the machine's UTC date
    code = run_demo(Path(directory) if directory else None, today=today.date() if today else None,
                    echo=click.echo)
    sys.exit(code)


for _group in (quarantine, proposals, outbox):
    cli.add_command(_group)


def build_cli() -> TrainbridgeGroup:
    """The command group; the plugins (read again) are loaded when a command needs them."""
    for name in cli.plugin_commands:  # a plugin since removed or blocked leaves no command behind
        cli.commands.pop(name, None)
    cli.plugin_commands = frozenset()
    cli.host = None
    return cli


class _Terminated(KeyboardInterrupt):
    """SIGTERM (a service manager stopping us), handled as Ctrl-C is: the run says so, the lock is let go."""


def _stop_on_sigterm(signum: int, frame: Any) -> None:
    raise _Terminated


def main(argv: list[str] | None = None) -> None:
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop_on_sigterm)  # the worker and the console set their own
    try:
        group = build_cli()
        group.main(args=argv, prog_name="trainbridge", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(ExitCode.USAGE if isinstance(exc, click.UsageError) else ExitCode.FAILED)
    except click.exceptions.Abort as exc:
        stopped = isinstance(exc.__cause__, _Terminated)
        click.echo(("stopped (SIGTERM)" if stopped else "interrupted") + ": what was written is kept; "
                   "the next run goes on from there (trainbridge runs shows this one)", err=True)
        sys.exit(128 + (signal.SIGTERM if stopped else signal.SIGINT))
    except TrainbridgeError as exc:
        if _debug["on"]:
            raise
        click.echo(redact(f"error: {exc}"), err=True)
        sys.exit(exc.exit_code)
    except Exception as exc:
        # A stack trace is never the user interface: one line, and the way to get the trace.
        if _debug["on"]:
            raise
        click.echo(redact(f"error: {type(exc).__name__}: {exc}"), err=True)
        click.echo("  hint: run again with --debug for the traceback (and attach it to a bug report)",
                   err=True)
        sys.exit(ExitCode.FAILED)
