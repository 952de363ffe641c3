"""Celery integration (optional extra ``celery``): one task per (tenant, job), beat from schedules.

    celery -A trainbridge.celery_app worker --pool=prefork --concurrency=4 -Q trainbridge
    celery -A trainbridge.celery_app beat

(``trainbridge worker`` and ``trainbridge beat`` run exactly these.) The deployment comes
from ``TRAINBRIDGE_DEPLOYMENT`` (a ``trainbridge.toml``, a tenants folder or one
``plugins.toml``); the broker from ``TRAINBRIDGE_BROKER_URL``, else ``[celery] broker_url``,
else Redis on localhost.

The task calls :func:`trainbridge.core.runner.sync`, like ``trainbridge sync``. Messages are
acknowledged after the run (``task_acks_late``) and given back to the broker when the
worker process dies (``task_reject_on_worker_lost``), so a killed run is run again; the
ledger's outbox makes that second run deliver nothing twice, and its (tenant, job) lock
keeps one run at a time: a duplicate that finds the lock held records ``already_running``
and ends. A beat message carries its schedule slot; a second message for a slot that
already ran (beat fired twice, or a message redelivered after the run finished) records
``skipped``.
"""

from __future__ import annotations

import logging
import os
import secrets
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from celery import Celery, signals
from celery.beat import BeatLazyFunc, PersistentScheduler
from celery.schedules import BaseSchedule, schedstate

from trainbridge import metrics
from trainbridge.core.delivery import SYNC_LOCK
from trainbridge.core.errors import AlreadyRunning, TrainbridgeError
from trainbridge.core.runner import Workspace, sync
from trainbridge.core.secrets import redact
from trainbridge.core.tenants import Deployment, ScheduleEntry, load_deployment, tenant_schedule

log = logging.getLogger("trainbridge.celery")
TASK_NAME = "trainbridge.run_job"
BROKER_ENV = "TRAINBRIDGE_BROKER_URL"
DEFAULT_BROKER = "redis://127.0.0.1:6379/0"
SLOT_KEY = "schedule.last_slot"
#: a message redelivered after this many killed runs in a row is given up (a run that kills
#: its worker every time, e.g. out of memory, must not loop forever)
MAX_KILLED_RUNS = 3
#: a resumed message (redelivered, or retried) that finds the lock held tries again this often:
#: the holder may be the killed attempt on another host, whose lock is taken over only once
#: its heartbeat is older than [ledger] lock_timeout_seconds (900 s by default)
RESUME_DELAY = 60
RESUME_RETRIES = 20
#: a message that finds its tenant busy (a sync of another job holds the tenant's lock) waits
#: and comes back: 5 s, doubling to 5 minutes, this many times; only then is it refused
BUSY_DELAY = 5
BUSY_RETRIES = 40

if os.environ.get(metrics.PORT_ENV):
    # Before anything imports prometheus_client: the pool processes write, this one serves.
    metrics.prepare()


@cache
def deployment() -> Deployment:
    """This process's deployment, read once (see :func:`_deployment_with` for new tenants)."""
    return load_deployment(os.environ.get("TRAINBRIDGE_DEPLOYMENT") or None)


def _deployment_with(tenant: str) -> Deployment:
    """The deployment, read again when it does not know ``tenant`` yet (a tenant added since)."""
    dep = deployment()
    if tenant not in dep.tenants:
        deployment.cache_clear()
        dep = deployment()
    return dep


def create_app(dep: Deployment | None = None, *, broker_url: str | None = None) -> Celery:
    """A Celery app for a deployment (``None``: the one ``TRAINBRIDGE_DEPLOYMENT`` names, lazily)."""
    conf_dep = dep
    if conf_dep is None:
        try:
            conf_dep = deployment()
        except TrainbridgeError as exc:
            # `celery -A trainbridge.celery_app inspect ...` must work anywhere; tasks will report it.
            log.warning("no deployment loaded: %s", exc)
    broker = broker_url or os.environ.get(BROKER_ENV) or (conf_dep.broker_url if conf_dep else None) \
        or DEFAULT_BROKER
    app = Celery("trainbridge", broker=broker, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=conf_dep is None or not conf_dep.result_backend,
        result_backend=conf_dep.result_backend if conf_dep else None,
        worker_prefetch_multiplier=1,  # a long run must not hold other tenants' messages
        task_default_queue=conf_dep.queue if conf_dep else "trainbridge",
        broker_connection_retry_on_startup=True,
        # Redis gives an unacknowledged message to another worker after this long: make it
        # longer than the longest run (a duplicate would only record already_running).
        broker_transport_options={"visibility_timeout": conf_dep.visibility_timeout if conf_dep else 3600},
        enable_utc=True,
        timezone="UTC",
        beat_scheduler="trainbridge.celery_app:TenantScheduler",
        worker_hijack_root_logger=False,
    )
    app.user_options["deployment"] = dep

    @app.task(name=TASK_NAME, bind=True, acks_late=True, reject_on_worker_lost=True, shared=False)
    def run_job(self: Any, tenant: str, job: str, slot: str | None = None) -> dict[str, Any]:
        resumed = bool((self.request.delivery_info or {}).get("redelivered")) or bool(self.request.retries)
        outcome = run_tenant_job(dep or _deployment_with(tenant), tenant, job, slot=slot, redelivered=resumed)
        if outcome["status"] == "busy":
            # One sync per tenant at a time: this job runs when the tenant's current one is done.
            if self.request.retries < BUSY_RETRIES:
                raise self.retry(countdown=min(BUSY_DELAY * 2 ** self.request.retries, 300),
                                 max_retries=BUSY_RETRIES)
            log.warning("tenant %s job %s: the tenant stayed busy with other syncs; given up", tenant, job)
            metrics.run_finished(tenant, job, None, "already_running")
            return {**outcome, "status": "already_running"}
        if outcome["status"] == "already_running" and resumed and self.request.retries < RESUME_RETRIES:
            raise self.retry(countdown=RESUME_DELAY, max_retries=RESUME_RETRIES)
        return outcome

    return app


def run_tenant_job(dep: Deployment, tenant: str, job: str, *, slot: str | None = None,
                   redelivered: bool = False) -> dict[str, Any]:
    """One (tenant, job) run, as the task runs it; returns what happened (never raises)."""
    try:
        ws = Workspace(dep.settings(tenant))
    except Exception as exc:
        log.error("tenant %s: cannot load its settings: %s", tenant, redact(str(exc)))
        metrics.run_finished(tenant, job, None, "failed")
        return {"tenant": tenant, "job": job, "status": "failed", "errors": [redact(str(exc))]}
    try:
        _migrate_once(ws)
        if slot is None:
            outcome = _run(ws, job, redelivered)
        else:
            outcome = _run_slot(ws, job, datetime.fromisoformat(slot), redelivered)
    except Exception as exc:
        log.exception("tenant %s job %s failed", tenant, job)
        outcome = {"status": "failed", "errors": [redact(f"{type(exc).__name__}: {exc}")]}
    finally:
        ws.close()
    return {"tenant": tenant, "job": job, **outcome}


def _run(ws: Workspace, job: str, redelivered: bool) -> dict[str, Any]:
    if redelivered and _killed_streak(ws, job) >= MAX_KILLED_RUNS:
        msg = (f"the last {MAX_KILLED_RUNS} runs were killed mid-run; not trying again from this message "
               f"(run `trainbridge --tenant {ws.settings.tenant} sync {job}` to see why)")
        return _record(ws, job, "failed", msg)
    if ws.ledger.lock_held(SYNC_LOCK, stale_after=timedelta(seconds=ws.settings.lock_timeout_seconds)):
        return {"status": "busy", "errors": ["the tenant's sync lock is held by another run"]}
    results = sync(ws, [job])
    [result] = results
    if result.status != "already_running":
        _alert(ws, results)
    if result.status == "already_running":
        metrics.run_finished(ws.settings.tenant, job, result.run_id, "already_running")
    return {"status": result.status, "run_id": result.run_id, "counts": result.counts,
            "errors": result.errors}


def _alert(ws: Workspace, results: Any) -> None:
    """A failed or partial run's summary through the configured notifier, as `trainbridge sync` does."""
    from trainbridge.core.alerts import alert_if_needed

    try:
        alert_if_needed(ws, results)
    except Exception:
        log.exception("tenant %s: the alert could not be sent", ws.settings.tenant)


def _run_slot(ws: Workspace, job: str, slot: datetime, redelivered: bool) -> dict[str, Any]:
    """Run the job for one schedule slot, once: under a second lock, check, run, mark done."""
    ledger = ws.ledger
    guard = f"{job}#schedule"
    token = -1 - secrets.randbelow(2**31 - 1)  # the guard lock is no run: a negative id
    try:
        ledger.acquire_lock(guard, token, stale_after=timedelta(seconds=ws.settings.lock_timeout_seconds))
    except AlreadyRunning:
        return _record(ws, job, "already_running", f"slot {slot.isoformat()} is being run by another task")
    try:
        with ledger.transaction() as conn:
            done = ledger.get_state(conn, job, SLOT_KEY)
        if done and datetime.fromisoformat(done) >= slot:
            return _record(ws, job, "skipped", f"slot {slot.isoformat()} already ran")
        outcome = _run(ws, job, redelivered)
        if outcome["status"] not in ("already_running", "busy"):
            with ledger.transaction() as conn:
                ledger.set_state(conn, job, SLOT_KEY, slot.isoformat())
        return outcome
    finally:
        ledger.release_lock(guard, token)


def _record(ws: Workspace, job: str, status: str, message: str) -> dict[str, Any]:
    run_id = ws.ledger.start_run(job)
    ws.ledger.finish_run(run_id, status, {}, [message])
    metrics.run_finished(ws.settings.tenant, job, run_id, status)
    return {"status": status, "run_id": run_id, "errors": [message]}


def _killed_streak(ws: Workspace, job: str) -> int:
    """Runs of the job killed in a row, newest first (the newest still says running: its lock
    has not been taken over yet)."""
    with ws.ledger.transaction() as conn:
        runs = ws.ledger.list_runs(conn, job=job, limit=MAX_KILLED_RUNS)
    streak = 0
    for run in runs:
        if run["status"] not in ("abandoned", "running"):
            break
        streak += 1
    return streak


_migrated: set[str] = set()


def _migrate_once(ws: Workspace) -> None:
    """Create or upgrade the ledger once per process; concurrent workers take turns on PostgreSQL."""
    url = ws.ledger.url
    if url in _migrated:
        ws.migrate()  # nothing left to apply: only reads
        return
    engine = ws.ledger.engine
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT pg_advisory_lock(774411)")
            try:
                ws.migrate()
            finally:
                conn.exec_driver_sql("SELECT pg_advisory_unlock(774411)")
                conn.commit()
    else:
        ws.migrate()
    _migrated.add(url)


# --- beat --------------------------------------------------------------------------


class CronSchedule(BaseSchedule):
    """A five-field cron expression in a time zone, computed by croniter exactly as
    ``trainbridge schedule`` shows it (cron's day-of-month OR day-of-week rule included)."""

    def __init__(self, cron: str, timezone: str = "UTC", nowfun: Any = None, app: Any = None) -> None:
        self.entry = ScheduleEntry(tenant="", job="", cron=cron, timezone=timezone)
        super().__init__(nowfun=nowfun, app=app)

    def remaining_estimate(self, last_run_at: datetime) -> timedelta:
        nxt = self.entry.next_runs(self._aware(last_run_at))[0]
        return nxt - self.now()

    def is_due(self, last_run_at: datetime) -> schedstate:
        now = self.now()
        nxt = self.entry.next_runs(self._aware(last_run_at))[0]
        if nxt <= now:
            following = self.entry.next_runs(now)[0]
            return schedstate(True, max((following - now).total_seconds(), 1.0))
        return schedstate(False, max((nxt - now).total_seconds(), 1.0))

    @staticmethod
    def _aware(value: datetime) -> datetime:
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CronSchedule) and other.entry == self.entry

    def __hash__(self) -> int:
        return hash(self.entry)

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.entry.cron, self.entry.timezone))

    def __repr__(self) -> str:
        return f"<cron {self.entry.cron} {self.entry.timezone}>"


def current_slot(cron: str, timezone: str) -> str:
    """The schedule slot a message sent now belongs to (evaluated by beat when it sends)."""
    entry = ScheduleEntry(tenant="", job="", cron=cron, timezone=timezone)
    return entry.previous_run(datetime.now(UTC)).astimezone(UTC).isoformat()


def beat_schedule(dep: Deployment) -> dict[str, dict[str, Any]]:
    """One beat entry per (tenant, scheduled job); a tenant whose settings are broken is left
    out with an error in the log, the others are scheduled."""
    from trainbridge.core.manager import PluginHost

    hosts: dict[tuple[str, ...], set[str]] = {}
    entries: dict[str, dict[str, Any]] = {}
    for tenant in sorted(dep.tenants):
        try:
            settings = dep.settings(tenant)
            disabled = settings.disabled_plugins
            if disabled not in hosts:
                hosts[disabled] = set(PluginHost.create(disabled=disabled).jobs)
            schedule = tenant_schedule(settings, hosts[disabled])
        except TrainbridgeError as exc:
            log.error("tenant %s is not scheduled: %s", tenant, redact(str(exc)))
            continue
        for item in schedule:
            entries[f"{tenant}:{item.job}"] = {
                "task": TASK_NAME, "schedule": CronSchedule(item.cron, item.timezone),
                "args": (tenant, item.job),
                "kwargs": {"slot": BeatLazyFunc(current_slot, item.cron, item.timezone)},
                "options": {"queue": dep.queue},
            }
    return entries


def fire_tick(celery_app: Celery, dep: Deployment, tenants: list[str] | None = None) -> int:
    """Send now what beat sends at a tick (each scheduled (tenant, job), with its slot)."""
    sent = 0
    for name, entry in beat_schedule(dep).items():
        if tenants and name.split(":", 1)[0] not in tenants:
            continue
        kwargs = {k: (v() if isinstance(v, BeatLazyFunc) else v) for k, v in entry["kwargs"].items()}
        celery_app.send_task(entry["task"], args=entry["args"], kwargs=kwargs, **entry["options"])
        sent += 1
    return sent


class TenantScheduler(PersistentScheduler):
    """Beat's schedule from the tenants' ``[schedule]`` tables, re-read every few minutes."""

    reload_every = 300.0

    def setup_schedule(self) -> None:
        super().setup_schedule()
        self._load_tenants()

    def _load_tenants(self) -> None:
        deployment.cache_clear()
        dep = self.app.user_options.get("deployment") or deployment()
        self.merge_inplace(beat_schedule(dep))
        self._loaded_at = datetime.now(UTC)
        log.info("beat: %d scheduled (tenant, job) pairs", len(self.schedule))

    def tick(self, *args: Any, **kwargs: Any) -> float:
        if (datetime.now(UTC) - self._loaded_at).total_seconds() > self.reload_every:
            try:
                self._load_tenants()
            except TrainbridgeError as exc:
                log.error("beat: keeping the previous schedule: %s", redact(str(exc)))
                self._loaded_at = datetime.now(UTC)
        result: float = super().tick(*args, **kwargs)
        return result


# --- worker process signals ----------------------------------------------------------


@signals.worker_init.connect
def _worker_init(**_: Any) -> None:
    # Import every plugin once in the main process: the pool's children inherit them.
    from trainbridge.core.manager import builtin_modules

    builtin_modules()
    port = os.environ.get(metrics.PORT_ENV)
    if port:
        metrics.serve(int(port), os.environ.get(metrics.ADDR_ENV, "0.0.0.0"))
        log.info("metrics on :%s/metrics", port)


@signals.after_setup_logger.connect
def _redact_logs(logger: logging.Logger, **_: Any) -> None:
    from trainbridge.core.secrets import install_log_redaction

    install_log_redaction(logger)


def _make_default_app() -> Celery:
    port = os.environ.get(metrics.PORT_ENV)
    if not port:
        try:
            dep = deployment()
        except TrainbridgeError:
            dep = None
        if dep is not None and dep.metrics_port:
            os.environ[metrics.PORT_ENV] = str(dep.metrics_port)
            metrics.prepare()
    return create_app()


app = _make_default_app()
