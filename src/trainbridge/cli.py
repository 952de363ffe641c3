"""The command line: parse, call the library, print. Everything here is callable from Python."""

from __future__ import annotations

import json
import logging
import sys
from datetime import date
from pathlib import Path
from typing import Any

import click

from trainbridge import __version__
from trainbridge.core.config import load_settings
from trainbridge.core.errors import TrainbridgeError
from trainbridge.core.manager import PluginHost
from trainbridge.core.records import SCHEMA_TYPES
from trainbridge.core.reports import FORMATS, render
from trainbridge.core.runner import (
    ExitCode,
    Workspace,
    approve_proposals,
    overall_exit,
    reject_proposals,
    retry_quarantined,
    sync,
)
from trainbridge.core.secrets import install_log_redaction, redact


class State:
    def __init__(self, config: str | None, tenant: str | None = None) -> None:
        self.config = config
        self.tenant = tenant
        self._ws: Workspace | None = None

    def workspace(self) -> Workspace:
        if self._ws is None:
            from trainbridge.core.tenants import resolve_settings

            self._ws = Workspace(resolve_settings(self.config, self.tenant))
            self._ws.ensure_migrated()
        return self._ws


pass_state = click.make_pass_decorator(State)


def echo_json(value: Any) -> None:
    click.echo(redact(json.dumps(value, ensure_ascii=False, indent=2, default=str)))


def setup_logging(fmt: str, level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        class JsonFormatter(logging.Formatter):
            def format(self, record: logging.LogRecord) -> str:
                return json.dumps({"time": self.formatTime(record), "level": record.levelname,
                                   "logger": record.name, "message": redact(record.getMessage())},
                                  ensure_ascii=False)
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    install_log_redaction(root)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="trainbridge")
@click.option("--config", "-c", envvar="TRAINBRIDGE_CONFIG", type=click.Path(dir_okay=False),
              help="plugins.toml to use (default: ./plugins.toml).")
@click.option("--tenant", envvar="TRAINBRIDGE_TENANT",
              help="Tenant of a deployment (trainbridge.toml or tenants/ folder) to act on.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="warning",
              show_default=True)
@click.pass_context
def cli(ctx: click.Context, config: str | None, tenant: str | None, log_format: str, log_level: str) -> None:
    """trainbridge: training agreements, costs, points and refunds across the systems you run."""
    setup_logging(log_format, log_level)
    ctx.obj = State(config, tenant)


@cli.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False), default=".", show_default=True)
@click.option("--force", is_flag=True, help="Overwrite an existing plugins.toml.")
def init(directory: str, force: bool) -> None:
    """Write a commented plugins.toml (if absent) and create the ledger."""
    from trainbridge.core.templates import INIT_TOML

    target = Path(directory) / "plugins.toml"
    if target.exists() and not force:
        click.echo(f"{target} exists; keeping it (use --force to overwrite)")
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(INIT_TOML, encoding="utf-8")
        click.echo(f"wrote {target}")
    ws = Workspace(load_settings(target))
    applied = ws.migrate()
    click.echo(f"ledger ready at {ws.ledger.url} ({len(applied)} migration(s) applied)")


@cli.command()
@click.option("--json", "as_json", is_flag=True)
def plugins(as_json: bool) -> None:
    """List plugins, the connector types they provide and the hooks each implements."""
    host = PluginHost.create()
    rows = list(host.plugin_rows())
    if as_json:
        echo_json({"plugins": rows, "jobs": sorted(host.jobs), "reports": sorted(host.reports),
                   "load_errors": host.load_errors})
        return
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
    """Validate plugins.toml and run every connector instance's healthcheck."""
    ws = state.workspace()
    failed = 0
    for name, instance in ws.host.instances.items():
        try:
            health = instance.healthcheck()
            ok, detail = health.ok, health.detail
        except Exception as exc:
            ok, detail = False, str(exc)
        failed += not ok
        click.echo(redact(f"{'ok  ' if ok else 'FAIL'} {name} ({type(instance).__name__}): {detail}"))
    click.echo(f"config {ws.settings.file}: valid; ledger {ws.ledger.engine.url.render_as_string()}")
    if failed:
        sys.exit(ExitCode.FAILED)


@cli.command()
@click.argument("name", required=False)
def schema(name: str | None) -> None:
    """Print the JSON Schema of one record (or all)."""
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
    ws = state.workspace()
    results = sync(ws, jobs, dry_run=dry_run, today=today.date() if today else None)
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


@cli.command()
@click.option("--job")
@click.option("--limit", default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_state
def runs(state: State, job: str | None, limit: int, as_json: bool) -> None:
    """Recent runs with their counts and errors."""
    ws = state.workspace()
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


@cli.group()
def quarantine() -> None:
    """Records that failed validation: list, show, retry, discard."""


@quarantine.command(name="list")
@click.option("--all", "show_all", is_flag=True, help="Include resolved and discarded.")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def quarantine_list(state: State, show_all: bool, as_json: bool) -> None:
    ws = state.workspace()
    with ws.ledger.transaction() as conn:
        rows = ws.ledger.list_quarantine(conn, status=None if show_all else "open")
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        click.echo(f"{row['id']} [{row['status']}] {row['instance']}.{row['hook']} {row['model']} "
                   f"{row['key'] or ''}: {row['reason']}")
    if not rows:
        click.echo("quarantine is empty")


@quarantine.command(name="show")
@click.argument("qid", type=int)
@pass_state
def quarantine_show(state: State, qid: int) -> None:
    ws = state.workspace()
    with ws.ledger.transaction() as conn:
        row = ws.ledger.get_quarantined(conn, qid)
    if row is None:
        raise click.ClickException(f"no quarantined record {qid}")
    echo_json(row)


@quarantine.command(name="retry")
@click.argument("qid", type=int)
@click.option("--data", "data_file", type=click.Path(exists=True, dir_okay=False),
              help="JSON file with the corrected record data.")
@pass_state
def quarantine_retry(state: State, qid: int, data_file: str | None) -> None:
    """Validate a quarantined record again (optionally with corrected data)."""
    data = json.loads(Path(data_file).read_text(encoding="utf-8")) if data_file else None
    try:
        record = retry_quarantined(state.workspace(), qid, data=data)
    except ValueError as exc:
        raise click.ClickException(f"still invalid: {exc}") from None
    click.echo(f"record {record.id} accepted; quarantine {qid} resolved")


@quarantine.command(name="discard")
@click.argument("qid", type=int)
@pass_state
def quarantine_discard(state: State, qid: int) -> None:
    ws = state.workspace()
    with ws.ledger.transaction() as conn:
        ws.ledger.set_quarantine_status(conn, qid, "discarded")
        ws.ledger.audit(conn, actor="cli", action="quarantine.discard", subject=str(qid))
    click.echo(f"quarantine {qid} discarded")


@cli.group()
def proposals() -> None:
    """Money-moving and score-changing proposals waiting for HR: list, show, approve, reject."""


@proposals.command(name="list")
@click.option("--status", type=click.Choice(["pending", "approved", "rejected", "delivered", "failed",
                                             "abandoned"]))
@click.option("--kind")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def proposals_list(state: State, status: str | None, kind: str | None, as_json: bool) -> None:
    ws = state.workspace()
    with ws.ledger.transaction() as conn:
        rows = ws.ledger.list_proposals(conn, status=status, kind=kind)
    if as_json:
        echo_json([{k: v for k, v in r.items() if k != "args"} for r in rows])
        return
    for r in rows:
        money = f" {r['amount']} {r['currency']}" if r["amount"] is not None else ""
        click.echo(f"{r['id']} [{r['status']}] {r['kind']} {r['subject'] or ''}{money}: {r['summary']}")
    if not rows:
        click.echo("no proposals")


@proposals.command(name="show")
@click.argument("proposal_id")
@pass_state
def proposals_show(state: State, proposal_id: str) -> None:
    ws = state.workspace()
    with ws.ledger.transaction() as conn:
        row = ws.ledger.get_proposal(conn, proposal_id)
        deliveries = [r for r in ws.ledger.outbox(conn) if r.proposal_id == proposal_id] if row else []
    if row is None:
        raise click.ClickException(f"no proposal {proposal_id}")
    echo_json({**row, "deliveries": [
        {"outbox": d.id, "instance": d.instance, "state": d.state, "attempts": d.attempts,
         "last_error": d.last_error, "ref": d.ref, "delivered_at": d.delivered_at,
         "confirmed_at": d.confirmed_at, "status_detail": d.status_detail,
         "next_attempt_at": d.next_attempt_at} for d in deliveries]})


@proposals.command(name="approve")
@click.argument("ids", nargs=-1, required=True)
@click.option("--by", "actor", default="cli", show_default=True, help="Who approves (recorded).")
@click.option("--reason", default="")
@click.option("--no-deliver", is_flag=True, help="Leave delivery to the next sync.")
@pass_state
def proposals_approve(state: State, ids: tuple[str, ...], actor: str, reason: str, no_deliver: bool) -> None:
    outcome = approve_proposals(state.workspace(), ids, actor=actor, reason=reason,
                                deliver_now=not no_deliver)
    for pid, what in outcome.items():
        click.echo(f"{pid}: {what}")
    if any(v == "not found" or v.startswith(("not pending", "approved; delivery failed"))
           for v in outcome.values()):
        sys.exit(ExitCode.FAILED)


@proposals.command(name="reject")
@click.argument("ids", nargs=-1, required=True)
@click.option("--by", "actor", default="cli", show_default=True)
@click.option("--reason", required=True)
@pass_state
def proposals_reject(state: State, ids: tuple[str, ...], actor: str, reason: str) -> None:
    for pid, what in reject_proposals(state.workspace(), ids, actor=actor, reason=reason).items():
        click.echo(f"{pid}: {what}")


@cli.group()
def outbox() -> None:
    """Writes to vendors (payroll, signatures, notices): what is undelivered, retry, abandon."""


@outbox.command(name="list")
@click.option("--state", "states", multiple=True,
              type=click.Choice(["pending", "delivering", "failed", "dead", "delivered", "confirmed",
                                 "abandoned"]),
              help="Only rows in this state (repeatable); default: every row not delivered.")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def outbox_list(state: State, states: tuple[str, ...], as_json: bool) -> None:
    """Outbox rows, by default those not delivered yet (failed, dead, pending)."""
    ws = state.workspace()
    ws.ensure_migrated()
    wanted = states or ("pending", "delivering", "failed", "dead")
    with ws.ledger.transaction() as conn:
        rows = ws.ledger.outbox(conn, states=wanted)
    if as_json:
        echo_json([{k: v for k, v in r.__dict__.items() if k != "args"} for r in rows])
        return
    for r in rows:
        why = f": {r.last_error}" if r.last_error else ""
        click.echo(redact(f"{r.id} [{r.state}, {r.attempts} attempt(s)] {r.operation} -> {r.instance}"
                          f"{' (proposal ' + r.proposal_id + ')' if r.proposal_id else ''}{why}"))
    if not rows:
        click.echo("nothing undelivered")


@outbox.command(name="retry")
@click.argument("ids", nargs=-1, required=True)
@click.option("--by", "actor", default="cli", show_default=True, help="Who asks (recorded).")
@pass_state
def outbox_retry(state: State, ids: tuple[str, ...], actor: str) -> None:
    """Put failed or dead rows back in the queue (attempts from zero); the next sync delivers them."""
    ws = state.workspace()
    ws.ensure_migrated()
    done = ws.ledger.requeue(ids, actor=actor)
    for oid in ids:
        click.echo(f"{oid}: {'queued again' if oid in done else 'not failed or dead (or unknown)'}")
    if len(done) < len(ids):
        sys.exit(ExitCode.FAILED)


@outbox.command(name="abandon")
@click.argument("outbox_id")
@click.option("--reason", required=True, help="Why it will never be delivered (recorded).")
@click.option("--by", "actor", default="cli", show_default=True, help="Who decides (recorded).")
@pass_state
def outbox_abandon(state: State, outbox_id: str, reason: str, actor: str) -> None:
    """Give up an undelivered write for good (e.g. paid by hand); audited, its proposal shows it."""
    ws = state.workspace()
    ws.ensure_migrated()
    if not ws.ledger.abandon(outbox_id, actor=actor, reason=reason):
        raise click.ClickException(f"{outbox_id} is not an undelivered outbox row")
    click.echo(f"{outbox_id}: abandoned ({reason})")


@cli.group()
def report() -> None:
    """Reports in table, json, csv or html."""


def _report_command(rep: Any) -> click.Command:
    def run(state: State, fmt: str, output: str | None, **options: Any) -> None:
        text = render(rep.build(state.workspace(), **options), fmt)
        if output:
            Path(output).write_text(text, encoding="utf-8")
            click.echo(f"wrote {output}")
        else:
            click.echo(redact(text))

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

    ws = state.workspace()
    Path(output).write_text(redact(bundle(ws, list(ws.host.reports.values()))), encoding="utf-8")
    click.echo(f"wrote {output}")


@cli.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False),
              help="Workspace folder (default: a new temporary folder).")
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), help="Pretend today is this date.")
def demo(directory: str | None, today: Any) -> None:
    """Create a workspace with sample data from the source documents and run every job."""
    from trainbridge.core.demo import run_demo

    code = run_demo(Path(directory) if directory else None, today=today.date() if today else date.today(),
                    echo=click.echo)
    sys.exit(code)


def build_cli() -> click.Group:
    host = PluginHost.create()
    for rep in sorted(host.reports.values(), key=lambda r: r.name):
        if rep.name not in report.commands:
            report.add_command(_report_command(rep))
    host.pm.hook.register_commands(cli=cli)
    return cli


def main(argv: list[str] | None = None) -> None:
    try:
        group = build_cli()
        group.main(args=argv, prog_name="trainbridge", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(ExitCode.USAGE if isinstance(exc, click.UsageError) else ExitCode.FAILED)
    except click.exceptions.Abort:
        sys.exit(ExitCode.FAILED)
    except TrainbridgeError as exc:
        click.echo(redact(f"error: {exc}"), err=True)
        sys.exit(exc.exit_code)
