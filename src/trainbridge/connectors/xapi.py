"""xAPI 1.0.3 learning record stores (``xapi``): statements in as learning events.

From the specification (github.com/adlnet/xAPI-Spec, branch 1.0.3):

* Communication 2.1.3: ``GET {endpoint}/statements`` with ``since`` (stored time,
  exclusive), ``limit``, ``ascending``, ``format`` (``ids`` keeps only identifying
  properties), ``activity`` and ``related_activities`` (match context activities too).
  Every response carries ``X-Experience-API-Consistent-Through``: statements stored
  before it are all available, later ones may still be arriving.
* Data 2.5: the answer is ``{"statements": [...], "more": IRL}``; ``more`` is relative
  (a full path without scheme, host and port), empty when there is nothing more.
* Data 2.3.2 and Communication 2.1.4: voided statements are not returned; the voiding
  statement (verb ``http://adlnet.gov/expapi/verbs/voided``, object a ``StatementRef``)
  is, and ``GET statements?voidedStatementId=`` still fetches the voided one.
* Communication 3.3: every request carries ``X-Experience-API-Version``; 2.8: ``GET
  {endpoint}/about`` lists the versions the LRS speaks (and may answer without auth).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests
from pydantic import Field, SecretStr, TypeAdapter, ValidationError, field_validator

from trainbridge import hookimpl
from trainbridge.core.connector import Connector, ConnectorConfig, ConnectorContext
from trainbridge.core.errors import NotFound
from trainbridge.core.http import HttpClient, HttpSettings
from trainbridge.core.records import (
    HealthResult,
    LearningEvent,
    LearningEventKind,
    Page,
    Reject,
    make_id,
)
from trainbridge.sdk.streams import NextUrl, RestStream

VOIDED = "http://adlnet.gov/expapi/verbs/voided"
CONSISTENT_THROUGH = "X-Experience-API-Consistent-Through"
ADL = "http://adlnet.gov/expapi/verbs/"
#: The ADL vocabulary verbs that are learning events by themselves; the rest
#: (experienced, launched, progressed, answered, ...) is activity noise and ignored.
DEFAULT_VERBS: dict[str, LearningEventKind | Literal["ignore"]] = {
    f"{ADL}attended": LearningEventKind.ATTENDED,
    f"{ADL}completed": LearningEventKind.COMPLETED,
    f"{ADL}passed": LearningEventKind.PASSED,
    f"{ADL}failed": LearningEventKind.FAILED,
}


class XAPIConfig(ConnectorConfig):
    endpoint: str = Field(pattern=r"^https?://", description="The LRS endpoint, e.g. .../xapi/")
    username: str = Field(min_length=1, description="Basic auth user (the LRS key)")
    password: SecretStr = Field(description="Basic auth password (the LRS secret)")
    version: str = "1.0.3"
    page_size: int = Field(default=500, ge=1, description="limit per request")
    format: Literal["ids", "exact", "canonical"] = "ids"
    activity: str | None = Field(default=None, description="Only statements about this activity")
    related_activities: bool = False
    verbs: dict[str, LearningEventKind | Literal["ignore"]] = Field(
        default_factory=dict, description="Verb IRI -> event kind, over the ADL defaults")
    unmapped_verbs: Literal["ignore", "reject"] = "ignore"
    actor_key: Literal["auto", "mbox", "mbox_local", "account_name", "lookup"] = "auto"
    mbox_domains: tuple[str, ...] = Field(
        default=(), description="Only these e-mail domains are employees (empty: any)")
    employee_ids: dict[str, str] = Field(
        default_factory=dict, description="mailto:, e-mail or account name -> employee id")
    programs: dict[str, str] = Field(default_factory=dict,
                                     description="activity IRI -> program id")
    sessions: dict[str, str] = Field(default_factory=dict,
                                     description="activity IRI -> session id")
    voided_lookup: bool = True
    overlap_seconds: float = Field(default=1.0, ge=0)
    timezone: str = Field(default="UTC", description="For timestamps sent without an offset")
    http: HttpSettings = Field(default_factory=HttpSettings)

    @field_validator("endpoint")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        return value if value.endswith("/") else f"{value}/"

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            msg = f"unknown time zone {value!r}"
            raise ValueError(msg) from exc
        return value


def parse_timestamp(value: Any, zone: ZoneInfo | None = None) -> datetime | None:
    """An xAPI ISO 8601 timestamp; without an offset it is read in ``zone`` (None: invalid)."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        if zone is None:
            return None
        parsed = parsed.replace(tzinfo=zone)
    return parsed


def format_timestamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def score_of(result: Any) -> Decimal | None:
    """A percentage: ``scaled`` x 100, else raw scaled between min and max, else raw."""
    score = result.get("score") if isinstance(result, dict) else None
    if not isinstance(score, dict):
        return None

    def number(key: str) -> Decimal | None:
        value = score.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
            return None
        try:
            return Decimal(str(value))
        except InvalidOperation:
            return None

    scaled, raw, low, high = number("scaled"), number("raw"), number("min"), number("max")
    if scaled is not None:
        return scaled * 100
    if raw is not None and low is not None and high is not None and high > low:
        return (raw - low) / (high - low) * 100
    return raw


_EVENTS: TypeAdapter[list[LearningEvent]] = TypeAdapter(list[LearningEvent])


def add_events(page: Page, events: list[tuple[dict[str, Any], Any]]) -> None:
    """Validate a page's events at once (one call into pydantic-core for the page); when any
    fails, each alone, so only the malformed ones become rejects, with their reasons."""
    if not events:
        return
    try:
        page.records.extend(_EVENTS.validate_python([data for data, _ in events]))
    except ValidationError:
        for data, raw in events:
            page.add(LearningEvent, data, raw=raw)


def context_activity_ids(statement: dict[str, Any]) -> list[str]:
    """Parent and grouping activity ids: where a course or series usually sits."""
    context = statement.get("context")
    activities = context.get("contextActivities") if isinstance(context, dict) else None
    found: list[str] = []
    for kind in ("parent", "grouping"):
        value = activities.get(kind) if isinstance(activities, dict) else None
        items = value if isinstance(value, list) else [value] if isinstance(value, dict) else []
        found += [str(a["id"]) for a in items if isinstance(a, dict) and a.get("id")]
    return found


class XAPIConnector(Connector):
    """Learning events from an xAPI 1.0.3 learning record store."""

    config_model: ClassVar[type[ConnectorConfig]] = XAPIConfig
    vendor: ClassVar[str] = "xAPI LRS"
    config: XAPIConfig

    def __init__(self, name: str, config: ConnectorConfig, ctx: ConnectorContext | None = None) -> None:
        super().__init__(name, config, ctx)
        cfg = self.config
        self.zone = ZoneInfo(cfg.timezone)
        self.verbs = {**DEFAULT_VERBS, **cfg.verbs}
        self.http: HttpClient = self.ctx.http(
            cfg.endpoint, instance=name, settings=cfg.http,
            auth=(cfg.username, cfg.password.get_secret_value()),
            headers={"X-Experience-API-Version": cfg.version, "Accept": "application/json"},
            error_hint=self._error_hint)

    @hookimpl
    def fetch_learning_events(self, since: str | None) -> Iterator[Page]:
        """Statements stored after the cursor, oldest first, one page per LRS answer.

        The cursor is the newest ``stored`` seen, but never past the LRS's
        consistent-through time: statements stored before that may still be arriving,
        so the next run asks again from there. Each run also starts ``overlap_seconds``
        early; statements read twice keep their ids.
        """
        cfg = self.config
        params: dict[str, Any] = {"limit": cfg.page_size, "ascending": "true",
                                  "format": cfg.format}
        start = parse_timestamp(since) if since else None
        if start is not None:
            params["since"] = format_timestamp(start - timedelta(seconds=cfg.overlap_seconds))
        if cfg.activity:
            params["activity"] = cfg.activity
            if cfg.related_activities:
                params["related_activities"] = "true"
        newest = start
        # ``more`` is relative to the LRS host, as Data 2.5 says; the stream joins it to the
        # answer's URL, which also copes with LRSs that answer a full URL. It carries the query.
        stream = RestStream(self.http, "statements", paging=NextUrl(next="more"), records="statements",
                            params=params, ctx=self.ctx, name="GET statements",
                            where=f"endpoint of [connectors.{self.name}] (the LRS's xAPI root)")
        for part in stream.pages():
            page = Page()
            events: list[tuple[dict[str, Any], Any]] = []
            for statement in part.items:
                stored = self._read(page, statement, events)
                if stored is not None and (newest is None or stored > newest):
                    newest = stored
            add_events(page, events)
            consistent = parse_timestamp(part.headers.get(CONSISTENT_THROUGH))
            cursor = newest if consistent is None or newest is None else min(newest, consistent)
            if cursor is not None and (start is None or cursor >= start):
                page.cursor = format_timestamp(cursor)
            yield page

    @hookimpl
    def healthcheck(self) -> HealthResult:
        """``/about`` says which versions the LRS speaks (it needs no credentials), so a
        one-statement read proves the key and secret."""
        about = self._json(self.http.get("about"))
        listed = about.get("version")
        versions: list[Any] = listed if isinstance(listed, list) else []
        if not any(str(v).startswith("1.0") for v in versions):
            return HealthResult(ok=False, detail=f"the LRS speaks {versions or 'no version'}, "
                                                 f"not xAPI 1.0.x")
        self.http.get("statements", params={"limit": 1, "format": "ids"})
        return HealthResult(ok=True, detail=f"LRS speaks {', '.join(map(str, versions))}; "
                                            "credentials accepted")

    # --- one statement ---------------------------------------------------------------

    def _read(self, page: Page, statement: Any, events: list[tuple[dict[str, Any], Any]]) -> datetime | None:
        """The statement's event data to ``events`` (validated a page at a time, see
        :func:`add_events`), or its reject to ``page``; return its ``stored`` time."""
        if not isinstance(statement, dict):
            page.rejects.append(Reject(model="learning_event", raw=statement,
                                       reason="statement is not a JSON object"))
            return None
        stored = parse_timestamp(statement.get("stored"))
        statement_id = str(statement.get("id") or "")
        key = make_id(self.name, statement_id) if statement_id else None
        verb = statement.get("verb")
        verb_id = str(verb.get("id") or "") if isinstance(verb, dict) else ""
        found = statement.get("object")
        target: dict[str, Any] = found if isinstance(found, dict) else {}

        def reject(reason: str) -> datetime | None:
            page.rejects.append(Reject(model="learning_event", key=key, raw=statement,
                                       reason=reason))
            return stored

        if not statement_id:
            return reject("statement has no id")
        if verb_id == VOIDED:
            self._voiding(page, statement, key, target, reject, events)
            return stored
        kind = self.verbs.get(verb_id)
        if kind is None or kind == "ignore":
            if kind is None and self.config.unmapped_verbs == "reject":
                return reject(f"verb {verb_id!r} is not mapped: add it to verbs "
                              f"(an event kind, or \"ignore\")")
            return stored
        employee_id, why = self._employee_id(statement.get("actor"))
        if employee_id is None:
            return reject(why)
        object_id = str(target.get("id") or "") or None
        cfg = self.config
        program_id = session_id = None
        if cfg.programs or cfg.sessions:  # most LRSs map none: no activity list to build
            activities = [a for a in (object_id, *context_activity_ids(statement)) if a]
            program_id = next((cfg.programs[a] for a in activities if a in cfg.programs), None)
            session_id = next((cfg.sessions[a] for a in activities if a in cfg.sessions), None)
        occurred = parse_timestamp(statement.get("timestamp"), self.zone) or stored
        events.append(({
            "id": key, "employee_id": employee_id, "event": kind,
            "occurred_at": occurred, "object_id": object_id,
            "program_id": program_id, "session_id": session_id,
            "checked_in_at": occurred if kind is LearningEventKind.ATTENDED else None,
            "score": score_of(statement["result"]) if "result" in statement else None,
        }, statement))
        return stored

    def _voiding(self, page: Page, statement: dict[str, Any], key: str | None,
                 target: dict[str, Any], reject: Callable[[str], datetime | None],
                 events: list[tuple[dict[str, Any], Any]]) -> None:
        voided_id = str(target.get("id") or "")
        if target.get("objectType") != "StatementRef" or not voided_id:
            reject("a voiding statement must have a StatementRef object with an id")
            return
        # The voider is usually an administrator; the event voided is the learner's.
        actor = statement.get("actor")
        if self.config.voided_lookup:
            try:
                voided = self._json(self.http.get(
                    "statements", params={"voidedStatementId": voided_id, "format": "ids"}))
            except NotFound:
                reject(f"statement {voided_id} voided here is not in the LRS")
                return
            actor = voided.get("actor")
        employee_id, why = self._employee_id(actor)
        if employee_id is None:
            reject(why)
            return
        events.append(({
            "id": key, "employee_id": employee_id, "event": LearningEventKind.VOIDED,
            "occurred_at": parse_timestamp(statement.get("timestamp"), self.zone)
            or statement.get("stored"),
            "object_id": voided_id, "voids": make_id(self.name, voided_id),
        }, statement))

    def _employee_id(self, actor: Any) -> tuple[str | None, str]:
        """Our employee id for an xAPI Agent, or None and why not."""
        cfg = self.config
        if not isinstance(actor, dict) or actor.get("objectType") == "Group":
            return None, "the actor is not an Agent (Groups are not employees)"
        mbox = str(actor.get("mbox") or "")
        email = mbox.removeprefix("mailto:")
        found = actor.get("account")
        account: dict[str, Any] = found if isinstance(found, dict) else {}
        account_name = str(account.get("name") or "")
        for candidate in (mbox, email, account_name):
            if candidate and candidate in cfg.employee_ids:
                return cfg.employee_ids[candidate], ""
        if email and cfg.mbox_domains:
            domain = email.rpartition("@")[2].lower()
            if domain not in {d.lower() for d in cfg.mbox_domains}:
                return None, f"{email} is not in mbox_domains {list(cfg.mbox_domains)}"
        local = email.partition("@")[0]
        derived = {"mbox": email, "mbox_local": local, "account_name": account_name,
                   "auto": account_name or local, "lookup": ""}[cfg.actor_key]
        if derived:
            return derived, ""
        what = mbox or account_name or ("mbox_sha1sum" if actor.get("mbox_sha1sum") else
                                        "openid" if actor.get("openid") else "no identifier")
        return None, (f"actor {what!r} cannot become an employee id with actor_key "
                      f"{cfg.actor_key!r}: add it to employee_ids")

    # --- plumbing ----------------------------------------------------------------------

    def _json(self, resp: requests.Response) -> dict[str, Any]:
        return self.http.json_object(resp)

    def _error_hint(self, resp: requests.Response) -> str | None:
        if resp.status_code in (401, 403):
            return (f"the LRS refused user {self.config.username!r}: check username and "
                    "password (the LRS key and secret) and that the key may read statements")
        if resp.status_code == 400:
            return (f"the LRS refused the query; check that it speaks xAPI "
                    f"{self.config.version} (GET {self.config.endpoint}about)")
        return None


@hookimpl
def register_connectors(register: Callable[..., None]) -> None:
    register("xapi", XAPIConnector)
