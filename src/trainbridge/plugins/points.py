"""The ``points`` job (learning events -> points entries), recompute and the points commands (S1, S4, S7).

The leaderboard is in :mod:`trainbridge.plugins.points_leaderboard`, the incentives job in
:mod:`trainbridge.plugins.incentives`, the reminders in :mod:`trainbridge.plugins.points_reminders`.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable, Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from contextlib import contextmanager
from datetime import date
from importlib.resources import files
from pathlib import Path
from typing import Any, ClassVar

import click
from pydantic import BaseModel, ConfigDict, Field

from trainbridge import hookimpl
from trainbridge.core.errors import ConfigError
from trainbridge.core.jobs import Decision, Job, JobContext, Plan
from trainbridge.core.ledger import queries
from trainbridge.core.records import (
    Employee,
    LearningEvent,
    LearningEventKind,
    PointsEntry,
    TrainingProgram,
    TrainingSession,
)
from trainbridge.plugins.points_book import Book
from trainbridge.rules.explain import points_entry_items, points_not_scored_items, points_taken_back_items
from trainbridge.rules.leaderboard import (
    LeaderboardVisibility,
    Standing,
)
from trainbridge.rules.points import (
    NO_ATTENDANCE_LEFT,
    EventContext,
    PointsRules,
    entry_key,
    parse_rules,
    period_key,
    rescore,
    score_event,
    takes_back,
    to_take_back,
    trainings_after_voids,
    trainings_lost_by,
    void_targets,
)

SUPERSEDED = "points_superseded"
#: About how many events (old and new) of its employees one batch reads before its results are written.
BATCH_EVENTS = 10_000
#: Events that take points back: they score nothing by design.
TAKE_BACK_KINDS = (LearningEventKind.VOIDED, LearningEventKind.UNCOMPLETED)
__all__ = ["SUPERSEDED", "Book", "LeaderboardVisibility", "PointsConfig", "PointsJob", "Standing",
           "load_rules", "recompute", "superseded_ids"]


class PointsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rules: str | None = Field(default=None, description="Points rules TOML; default: seed 003 rules")
    managers_only: bool = Field(default=True, description="Score only employees flagged is_manager")
    leaderboard: LeaderboardVisibility = Field(default_factory=LeaderboardVisibility,
                                               description="Who sees which rows of the leaderboard")


def load_rules(path: str | None = None, base_dir: Path | None = None) -> PointsRules:
    """The rules file at ``path`` (relative to ``base_dir``, the folder of plugins.toml), or seed 003's."""
    if path is None:
        text = (files("trainbridge.plugins") / "points_rules" / "default.toml").read_text("utf-8")
        return parse_rules(text, file="trainbridge/plugins/points_rules/default.toml")
    file = Path(path)
    if base_dir is not None and not file.is_absolute():
        file = base_dir / file
    if not file.is_file():
        raise ConfigError(f"points rules file {path} not found", table="jobs.points", key="rules",
                          hint="fix the path or remove the key to use the seed 003 defaults")
    return parse_rules(file.read_text(encoding="utf-8"), file=str(file))


def _typed(records: Iterable[Any], cls: type[Any]) -> list[Any]:
    return [r for r in records if isinstance(r, cls)]


def superseded_ids(ctx_or_ledger: Any, conn: Any = None) -> set[str]:
    if conn is None:
        rows = ctx_or_ledger.ledger.list_decisions(ctx_or_ledger.conn, SUPERSEDED)
    else:
        rows = ctx_or_ledger.list_decisions(conn, SUPERSEDED)
    return {row["payload"]["superseded"] for row in rows}


class PointsJob(Job):
    name = "points"
    description = "Score managers' learning events into points entries (seed 003 rules, versioned)."
    inputs: ClassVar[tuple[str, ...]] = ("employee", "program", "session", "enrollment", "learning_event")
    config_model: ClassVar[type[BaseModel] | None] = PointsConfig
    order = 60

    def decide(self, ctx: JobContext) -> Plan:
        """Score the learning events written since the last run, a batch of employees at a time.

        Nothing new: nothing is read. Otherwise only the employees with a new event are read
        (their events, entries and take-backs), batch by batch, and each batch's entries and
        decisions are written before the next (``ctx.flush``): memory is one batch's, whatever
        the number of events. A VOIDED event is scored with the employee whose event it voids
        (the voider is often an administrator); the ids voided so far are kept in the job's
        state (``voided``), so an event voided before it arrives still earns nothing.
        """
        config: PointsConfig = ctx.config or PointsConfig()
        plan = Plan()
        since = ctx.state(f"seq:{LearningEvent.kind}", -1)
        ctx.mark_seen(plan, "learning_event")
        if not queries.changed_since(ctx.ledger, ctx.conn, (LearningEvent.kind,), since):
            plan.summary.append("points: no new learning events")
            return plan
        rules = load_rules(config.rules, ctx.base_dir)
        queries.planned(ctx.ledger, ctx.conn)  # reads by subject: PostgreSQL must know the table
        sessions = {s.session_id: s for s in _typed(ctx.records("session"), TrainingSession)}
        programs = {p.program_id: p for p in _typed(ctx.records("program"), TrainingProgram)}
        catalog = (sessions, programs)
        known = set(ctx.state("voided", []))
        voided, home = self._voids(ctx, since, known)
        subjects = set(queries.subject_counts(ctx.ledger, ctx.conn, LearningEvent.kind, since=since))
        subjects |= set(home.values())
        moved: dict[str, list[str]] = {}
        for void_id, subject in home.items():
            moved.setdefault(subject, []).append(void_id)
        tally = {"events": 0, "entries": 0, "skipped": 0, "taken": 0}
        # a batch holds about BATCH_EVENTS events of its employees, old and new (their entries follow)
        counts = queries.subject_counts(ctx.ledger, ctx.conn, LearningEvent.kind)
        batch: list[str] = []
        size = 0
        with collected_by_batch() as written:
            for subject in sorted(subjects):
                batch.append(subject)
                size += counts.get(subject, 0)
                if size >= BATCH_EVENTS:
                    self._batch(ctx, config, rules, catalog, voided, since, batch, moved, plan, tally)
                    written()
                    batch, size = [], 0
            if batch:
                self._batch(ctx, config, rules, catalog, voided, since, batch, moved, plan, tally)
        if voided != known:
            plan.state["voided"] = sorted(voided)
        plan.summary.append(f"points: {tally['entries']} new entries from {tally['events']} changed events"
                            f" ({tally['skipped']} not scored, see the decisions' reasons)"
                            + (f"; {tally['taken']} taken back (voided or un-completed)"
                               if tally["taken"] else ""))
        return plan

    @staticmethod
    def _voids(ctx: JobContext, since: int, known: set[str]) -> tuple[set[str], dict[str, str]]:
        """Every id voided so far (``known`` and the new VOIDED events'), and the employee each new
        VOIDED event is scored with: the one whose event it voids, when that event is known."""
        voided = set(known)
        targets: dict[str, tuple[str, ...]] = {}
        own: dict[str, str] = {}
        for event, subject in queries.changed_where(
                ctx.ledger, ctx.conn, LearningEvent.kind, since, "event", LearningEventKind.VOIDED.value):
            if isinstance(event, LearningEvent):
                targets[event.id] = void_targets(event)
                own[event.id] = subject or event.employee_id
                voided.update(targets[event.id])
        found = queries.subjects_of_ids(ctx.ledger, ctx.conn, LearningEvent.kind,
                                        {t for ids in targets.values() for t in ids})
        home = {}
        for record_id, ids in targets.items():
            home[record_id] = next((found[t] for t in ids if t in found), own[record_id])
        return voided, home

    def _batch(self, ctx: JobContext, config: PointsConfig, rules: PointsRules,
               catalog: tuple[dict[str, TrainingSession], dict[str, TrainingProgram]], voided: set[str],
               since: int, subjects: list[str], moved: dict[str, list[str]], plan: Plan,
               tally: dict[str, int]) -> None:
        """Score the new events of ``subjects`` (and the VOIDED events that take back theirs)."""
        ledger, conn, kind = ctx.ledger, ctx.conn, LearningEvent.kind
        sessions = catalog[0]
        home = {void_id for subject in subjects for void_id in moved.get(subject, ())}
        # every event of the batch's employees, read once: the new ones are scored, and all of
        # them tell the action planners' trainings (the batch is sized by old and new events)
        everything = [(e, seq) for e, seq in queries.of_subjects(ledger, conn, kind, subjects)
                      if isinstance(e, LearningEvent)]
        found: dict[str, tuple[LearningEvent, int]] = {}
        for event, seq in everything:
            if seq > since and (event.event is not LearningEventKind.VOIDED or event.id in home):
                found[event.id] = (event, seq)
        for record, seq in queries.by_ids(ledger, conn, kind, home - found.keys()):
            if isinstance(record, LearningEvent):
                found[record.id] = (record, seq)
        # the order of a single pass over every new event: by time, then as stored
        changed = [e for e, _ in sorted(found.values(), key=lambda x: (x[0].occurred_at, x[1]))]
        who = {e.employee_id for e in changed} | set(subjects)
        employees = {e.employee_id: e for e, _ in queries.of_subjects(ledger, conn, "employee", who)
                     if isinstance(e, Employee)}
        planners = {e.employee_id for e in changed if e.event is LearningEventKind.ACTION_PLAN_SUBMITTED}
        # an action plan needs a training left: a void of an attendance may take the plan's points back
        planners |= {subject for subject in subjects if moved.get(subject)}
        trained_on: dict[tuple[str, str], date] = {}
        untrained: set[tuple[str, str]] = set()
        lost_by: dict[str, set[tuple[str, str]]] = {}
        if planners:
            inside = planners.intersection(subjects)
            theirs = [e for e, _ in everything if e.employee_id in inside]
            theirs += [e for e, _ in queries.of_subjects(ledger, conn, kind, planners - inside)
                       if isinstance(e, LearningEvent)]
            trained_on, untrained = trainings_after_voids(theirs, voided, sessions)
            lost_by = trainings_lost_by(changed, theirs, untrained, sessions)
        superseded = {row["payload"]["superseded"]
                      for row in queries.decisions_of_subjects(ledger, conn, SUPERSEDED, subjects)}
        book = Book()
        for entry, _ in queries.of_subjects(ledger, conn, "points_entry", subjects):
            if isinstance(entry, PointsEntry):
                book.add(entry, active=entry.id not in superseded)
        tally["events"] += len(changed)
        self.score(changed, config=config, rules=rules, employees=employees, catalog=catalog,
                   trained_on=trained_on, voided=voided, book=book, plan=plan, tally=tally,
                   untrained=untrained, lost_by=lost_by)
        ctx.flush(plan)

    def score(self, changed: list[LearningEvent], *, config: PointsConfig, rules: PointsRules,
              employees: dict[str, Employee],
              catalog: tuple[dict[str, TrainingSession], dict[str, TrainingProgram]],
              trained_on: dict[tuple[str, str], date], voided: set[str], book: Book, plan: Plan,
              tally: dict[str, int], untrained: AbstractSet[tuple[str, str]] = frozenset(),
              lost_by: Mapping[str, AbstractSet[tuple[str, str]]] | None = None) -> None:
        """Score ``changed`` (in order) against ``book``, the entries so far: no ledger read or write.

        ``untrained``: the (employee, program) pairs whose every attendance or completion was
        voided; ``lost_by``: the pairs each VOIDED event left so, whose action plans it takes back.
        """
        sessions, programs = catalog
        lost = lost_by or {}
        # An event's context follows from its session, program and training (the book's parts are
        # the same live objects all along): one per such key, not one per event (a tenth of the scoring).
        contexts: dict[tuple[str, str, date | None, bool], EventContext] = {}
        for event in changed:
            employee = employees.get(event.employee_id)
            if config.managers_only and (employee is None or not employee.is_manager):
                continue
            hits, why = to_take_back(event, book.candidates(event)) if takes_back(event) else ([], "")
            for entry in hits:
                self._take_back(entry, event, f"{why}: {entry.points:+d} for {entry.rule} taken back "
                                f"({entry.id})", event.event.value, book, plan, tally)
            for trainee, program in sorted(lost[event.id]) if event.id in lost else ():
                plan_entry = book.active.get(entry_key(trainee, "action_plan_submitted", program))
                if plan_entry is not None:
                    said = (f"{why}: {NO_ATTENDANCE_LEFT} of {program}: {plan_entry.points:+d} for "
                            f"{plan_entry.rule} taken back ({plan_entry.id})")
                    self._take_back(plan_entry, event, said, "no_attendance", book, plan, tally)
            if event.id in voided:
                continue
            session = sessions.get(event.session_id or "")
            program_id = event.program_id or (session.program_id if session else None) or ""
            training = (event.employee_id, program_id)
            key = (event.session_id or "", program_id, trained_on.get(training), training in untrained)
            context = contexts.get(key)
            if context is None:
                context = contexts[key] = EventContext(
                    session=session, program=programs.get(program_id), training_day=key[2],
                    training_voided=key[3], existing=book.active.keys(), taken_back=book.gone,
                    period_counts=book.counts)
            scored = score_event(event, rules, context)
            tally["skipped"] += len(scored.skipped)
            if not scored.entries and event.event not in TAKE_BACK_KINDS:
                reasons = scored.skipped or (f"{event.id}: no points rule for a {event.event.value} event",)
                kind = event.event.value
                plan.decisions.append(Decision(
                    id=f"points_not_scored:{event.id}", kind="points_not_scored", subject=event.employee_id,
                    payload={"event": event.id, "event_kind": kind, "reasons": list(reasons),
                             "explanation_items": _not_scored_items(event.id, kind, reasons)},
                    explanation=reasons))
            for entry in scored.entries:
                book.add(entry, active=True)
                tally["entries"] += 1
                plan.records.append(entry)
                plan.decisions.append(Decision(
                    id=f"points:{entry.id}", kind="points_entry", subject=entry.employee_id,
                    payload={"entry": entry.id, "event": event.id, "rule": entry.rule,
                             "rule_version": entry.rule_version, "points": entry.points,
                             "explanation_items": _entry_items(entry.rule, entry.points, event.id,
                                                               entry.rule_version)},
                    explanation=(entry.reason,)))

    def _take_back(self, entry: PointsEntry, event: LearningEvent, explanation: str, reason: str,
                   book: Book, plan: Plan, tally: dict[str, int]) -> None:
        """Supersede ``entry`` because of ``event`` (``reason``: voided, uncompleted, no_attendance)."""
        book.take_back(entry)
        tally["taken"] += 1
        items = points_taken_back_items(entry.rule, entry.points, entry=entry.id, event=event.id,
                                        reason=reason)
        if reason == "no_attendance":
            for item in items:
                item["inputs"]["reason"] = NO_ATTENDANCE_LEFT
        plan.decisions.append(Decision(
            id=f"superseded:{entry.id}", kind=SUPERSEDED, subject=entry.employee_id,
            payload={"superseded": entry.id, "by": None, "event": event.id, "points": -entry.points,
                     "reason": reason, "actor": self.name, "explanation_items": items},
            explanation=(explanation,)))


@contextmanager
def collected_by_batch() -> Iterator[Callable[[], int]]:
    """No automatic collection while the batches run; the caller calls what this gives after each
    batch is written, which collects the young generation: by then it holds only what the batch
    left alive, next to nothing. A batch's objects (events, entries, decisions) hold no cycles and
    live until the batch is written, so automatic collections walked them in vain, the older
    generations again and again (a million events: 4 of 80 s of CPU, ~750 collections).
    Cycles made in a batch are still collected, at its end."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield functools.partial(gc.collect, 0)
    finally:
        if enabled:
            gc.enable()


@functools.cache
def _template(rule: str, points: int, event_kind: str = "") -> tuple[dict[str, Any], dict[str, Any]]:
    """What every item of a rule (or of an event kind that scored nothing) shares: the keys before
    its inputs and those after, in the order the rules module gives them."""
    item = (points_not_scored_items("", event_kind, ("",)) if event_kind
            else points_entry_items(rule, points, event="", version=""))[0]
    keys = list(item)
    at = keys.index("inputs")
    return {k: item[k] for k in keys[:at]}, {k: item[k] for k in keys[at + 1:]}


def _not_scored_items(event: str, event_kind: str, reasons: Iterable[str]) -> list[dict[str, Any]]:
    """``points_not_scored_items``, key for key, its constant parts built once per event kind: a
    million events make a million of these."""
    head, tail = _template("", 0, event_kind)
    return [{**head, "inputs": {"event": event, "reason": reason}, **tail} for reason in reasons]


def _entry_items(rule: str, points: int, event: str, version: str) -> list[dict[str, Any]]:
    """``points_entry_items``, key for key, its constant parts built once per rule and points."""
    head, tail = _template(rule, points)
    return [{**head, "inputs": {"event": event, "rule_version": version}, **tail}]


# --- library functions the commands call ----------------------------------------------


def recompute(ws: Any, *, since: date, today: date, actor: str = "cli") -> list[tuple[str, str]]:
    """Re-score entries earned from ``since`` under the version in force ``today``.

    The ledger keeps both: each new entry (id suffixed by the version) and a
    ``points_superseded`` decision naming the old entry it replaces.
    """
    config = ws.settings.job_config(PointsJob.name, PointsConfig) or PointsConfig()
    rules = load_rules(config.rules, ws.settings.base_dir)
    version = rules.version_on(today)
    if version is None:
        return []
    from trainbridge.core.ledger import now_utc

    done: list[tuple[str, str]] = []
    with ws.ledger.transaction() as conn:
        superseded = superseded_ids(ws.ledger, conn)
        entries = _typed(ws.ledger.iter_records(conn, "points_entry"), PointsEntry)
        new_records, rows = [], []
        for entry in entries:
            if entry.id in superseded or entry.earned_on < since:
                continue
            fresh = rescore(entry, version)
            if fresh is None:
                continue
            new_records.append(fresh)
            done.append((entry.id, fresh.id))
            rows.append({"id": f"superseded:{entry.id}", "kind": SUPERSEDED, "subject": entry.employee_id,
                         "job": PointsJob.name, "run_id": None, "amount": None, "currency": None,
                         "payload": {"superseded": entry.id, "by": fresh.id, "since": since.isoformat(),
                                     "version": version.version, "actor": actor},
                         "explanation": [f"recomputed on request from {since}: {entry.points:+d} "
                                         f"under {entry.rule_version} -> {fresh.points:+d} "
                                         f"under {version.version}"],
                         "created_at": now_utc()})
        ws.ledger.upsert_records(conn, new_records)
        ws.ledger.put_decisions(conn, rows)
    return done


# --- hooks ----------------------------------------------------------------------------


@hookimpl
def register_jobs(register: Callable[[Job], None]) -> None:
    register(PointsJob())


@hookimpl
def register_commands(cli: click.Group) -> None:
    @cli.group()
    def points() -> None:
        """Manager points: leaderboard and recompute."""

    @points.command("leaderboard")
    @click.option("--period", default=None, help="2026Q3, 2026 or last-12-months (default: this quarter)")
    @click.option("--department", default=None)
    @click.option("--as", "viewer", default=None, metavar="EMPLOYEE_ID",
                  help="Show it as this employee may see it ([jobs.points.leaderboard] visibility)")
    @click.option("--json", "as_json", is_flag=True)
    @click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None)
    @click.pass_obj
    def leaderboard_cmd(state: Any, period: str | None, department: str | None, viewer: str | None,
                        as_json: bool, today: Any) -> None:
        """Managers ranked by points, as the configured visibility allows."""
        import json

        from trainbridge.core.localtime import tenant_today
        from trainbridge.plugins.points_leaderboard import NotVisible, leaderboard_for

        ws = state.workspace()
        day = today.date() if today else tenant_today(ws.settings)
        period = period or period_key(day, "quarter")
        hr_view = None
        if viewer is None:
            # Without --as it is HR's view, named, as the console shows HR and admins (whoever runs
            # this command holds the ledger); the configured visibility is what managers see.
            config = ws.settings.job_config(PointsJob.name, PointsConfig) or PointsConfig()
            hr_view = config.leaderboard.model_copy(update={"visibility": "named"})
        try:
            view = leaderboard_for(ws, viewer, period=period, today=day, department=department,
                                   visibility=hr_view)
            if hr_view is not None and config.leaderboard.visibility != "named":
                view.note = f"named (HR view; managers see: {config.leaderboard.visibility})"
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--period") from None
        except NotVisible as exc:
            raise click.UsageError(str(exc)) from None
        if as_json:
            click.echo(json.dumps(view.as_dict(), ensure_ascii=False, indent=2))
            return
        click.echo(f"points leaderboard {period}" + (f" ({department})" if department else "")
                   + f": {view.note}")
        for r in view.rows:
            click.echo(f"{'*' if r.me else ' '}{r.rank:>3}  {r.employee_id or '-':<8} {r.name or '-':<8} "
                       f"{r.department or '-':<12} {r.points:>5}")

    @points.command("recompute")
    @click.option("--since", required=True, type=click.DateTime(formats=["%Y-%m-%d"]))
    @click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None)
    @click.pass_obj
    def recompute_cmd(state: Any, since: Any, today: Any) -> None:
        """Re-score entries earned since DATE under today's rules; old entries are kept, superseded."""
        from trainbridge.core.localtime import tenant_today

        ws = state.workspace()
        done = recompute(ws, since=since.date(), today=today.date() if today else tenant_today(ws.settings))
        for old, new in done:
            click.echo(f"{old} -> {new}")
        click.echo(f"{len(done)} entries recomputed")
