"""``trainbridge schedule``, ``worker``, ``beat`` and ``enqueue``; run metrics from the run hooks.

The commands read the deployment that ``--config`` names (a ``trainbridge.toml``, a
tenants folder or one ``plugins.toml``; see :mod:`trainbridge.core.tenants`) and
``--tenant`` narrows them to one tenant. ``worker`` and ``beat`` replace this process
with ``celery -A trainbridge.celery_app ...`` so they behave exactly like the documented
Celery commands.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import click

from trainbridge import hookimpl, metrics
from trainbridge.core.errors import ConfigError, TrainbridgeError
from trainbridge.core.runner import ExitCode
from trainbridge.core.secrets import redact
from trainbridge.core.tenants import (
    DEPLOYMENT_ENV,
    Deployment,
    ScheduleEntry,
    load_deployment,
    tenant_schedule,
)


def _deployment(ctx: click.Context) -> tuple[Deployment, list[str]]:
    state = ctx.find_root().obj
    dep = load_deployment(getattr(state, "config", None))
    tenant = getattr(state, "tenant", None)
    if tenant and tenant not in dep.tenants:
        raise ConfigError(f"no tenant {tenant!r} in this deployment", file=dep.file,
                          hint=f"tenants: {', '.join(sorted(dep.tenants)) or '(none)'}")
    return dep, [tenant] if tenant else sorted(dep.tenants)


def collect_schedule(dep: Deployment,
                     tenants: list[str]) -> tuple[list[ScheduleEntry], dict[str, TrainbridgeError]]:
    """Every tenant's schedule entries, and the error of each tenant whose settings are wrong."""
    from trainbridge.core.manager import PluginHost

    jobs: dict[tuple[str, ...], set[str]] = {}
    entries: list[ScheduleEntry] = []
    errors: dict[str, TrainbridgeError] = {}
    for tenant in tenants:
        try:
            settings = dep.settings(tenant)
            if settings.disabled_plugins not in jobs:
                jobs[settings.disabled_plugins] = set(PluginHost.create(settings.disabled_plugins).jobs)
            entries += tenant_schedule(settings, jobs[settings.disabled_plugins])
        except TrainbridgeError as exc:
            errors[tenant] = exc
    return entries, errors


@click.command(name="schedule")
@click.option("--json", "as_json", is_flag=True)
@click.option("--next", "count", default=1, show_default=True, type=click.IntRange(1, 100),
              help="How many run times to show per job.")
@click.pass_context
def schedule_command(ctx: click.Context, as_json: bool, count: int) -> None:
    """What runs when: each tenant's [schedule], with the next run times."""
    dep, tenants = _deployment(ctx)
    entries, errors = collect_schedule(dep, tenants)
    now = datetime.now(UTC)
    rows = sorted((e.as_dict(now, count) for e in entries),
                  key=lambda r: (r["next"][0], r["tenant"], r["job"]))
    if len(tenants) == 1 and errors:
        raise errors[tenants[0]]
    messages = {t: str(e) for t, e in errors.items()}
    if as_json:
        click.echo(redact(json.dumps({"schedule": rows, "errors": messages}, indent=2, ensure_ascii=False)))
    else:
        for row in rows:
            when = ", ".join(row["next"])
            click.echo(f"{when}  {row['tenant']}  {row['job']}  ({row['cron']}, {row['timezone']})")
        if not rows:
            click.echo("nothing is scheduled (add a [schedule] table to a tenant's plugins.toml)")
        for tenant, error in messages.items():
            click.echo(redact(f"tenant {tenant}: {error}"), err=True)
    if errors:
        sys.exit(ExitCode.USAGE)


def _exec_celery(ctx: click.Context, args: list[str], env: Mapping[str, str]) -> None:
    try:
        import celery  # noqa: F401
    except ModuleNotFoundError:
        raise TrainbridgeError("Celery is not installed", hint="pip install 'trainbridge[celery]'") from None
    dep, _ = _deployment(ctx)
    os.environ.update(env)
    os.environ[DEPLOYMENT_ENV] = str(Path(dep.source).resolve())
    argv = [sys.executable, "-m", "celery", "-A", "trainbridge.celery_app", *args]
    click.echo("running: " + " ".join(argv[1:]), err=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, argv)


@click.command(name="worker", context_settings={"ignore_unknown_options": True})
@click.option("--concurrency", default=2, show_default=True, help="Runs at a time in this worker.")
@click.option("--pool", default="prefork", show_default=True,
              type=click.Choice(["prefork", "solo", "threads"]))
@click.option("--metrics-port", type=int, envvar=metrics.PORT_ENV,
              help="Serve Prometheus metrics on this port (default: [celery] metrics_port).")
@click.option("--loglevel", "-l", default="info", show_default=True)
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def worker_command(ctx: click.Context, concurrency: int, pool: str, metrics_port: int | None, loglevel: str,
                   celery_args: tuple[str, ...]) -> None:
    """Run a Celery worker for the deployment's tenants (extra Celery options after --)."""
    dep, _ = _deployment(ctx)
    port = metrics_port or dep.metrics_port
    env = {metrics.PORT_ENV: str(port)} if port else {}
    _exec_celery(ctx, ["worker", f"--pool={pool}", f"--concurrency={concurrency}", "-Q", dep.queue,
                       f"--loglevel={loglevel}", *celery_args], env)


@click.command(name="beat", context_settings={"ignore_unknown_options": True})
@click.option("--schedule-file", "-s", default="celerybeat-schedule", show_default=True,
              help="Where beat remembers when each entry last ran.")
@click.option("--loglevel", "-l", default="info", show_default=True)
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def beat_command(ctx: click.Context, schedule_file: str, loglevel: str, celery_args: tuple[str, ...]) -> None:
    """Run Celery beat: sends each tenant's scheduled jobs at their times (run exactly one)."""
    _exec_celery(ctx, ["beat", f"--schedule={schedule_file}", f"--loglevel={loglevel}", *celery_args], {})


@click.command(name="enqueue")
@click.argument("jobs", nargs=-1)
@click.pass_context
def enqueue_command(ctx: click.Context, jobs: tuple[str, ...]) -> None:
    """Send tasks to the workers now: the named jobs, or (none named) a schedule tick."""
    from trainbridge.celery_app import TASK_NAME, create_app, fire_tick

    dep, tenants = _deployment(ctx)
    app = create_app(dep)
    if jobs:
        for tenant in tenants:
            for job in jobs:
                app.send_task(TASK_NAME, args=(tenant, job), queue=dep.queue)
        sent = len(tenants) * len(jobs)
    else:
        sent = fire_tick(app, dep, tenants)
    click.echo(f"sent {sent} task(s) to queue {dep.queue}")


@hookimpl
def register_commands(cli: click.Group) -> None:
    for command in (schedule_command, worker_command, beat_command, enqueue_command):
        cli.add_command(command)


@hookimpl
def before_run(job: str, tenant: str, run_id: int) -> None:
    metrics.run_started(tenant, job, run_id)


@hookimpl
def after_run(job: str, tenant: str, run_id: int, status: str, counts: Mapping[str, int]) -> None:
    metrics.run_finished(tenant, job, run_id, status, counts)

