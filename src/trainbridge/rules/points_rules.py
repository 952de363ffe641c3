"""Manager points' rules file (seed 003, S1 and S7): the rules points may be given for and the
versions of their numbers, read from TOML text with one ``[[versions]]`` table per version (a
version applies to events from its ``effective`` date on). Every error names the file and the line.
Pure: no I/O, no clock; :mod:`trainbridge.rules.points` scores events under these versions.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from trainbridge.core.errors import ConfigError
from trainbridge.core.records import LearningEventKind, PointsCategory


@dataclass(frozen=True)
class RuleKind:
    event: LearningEventKind
    category: PointsCategory
    label: str


#: Every rule a rules file may give points to; anything else is a typo, rejected by line.
RULE_KINDS: dict[str, RuleKind] = {
    "offline_attended": RuleKind(LearningEventKind.ATTENDED, PointsCategory.PARTICIPATION,
                                 "offline session attended"),
    "online_completed": RuleKind(LearningEventKind.COMPLETED, PointsCategory.PARTICIPATION,
                                 "online course completed"),
    "late": RuleKind(LearningEventKind.ATTENDED, PointsCategory.PARTICIPATION,
                     "checked in after the session start plus grace"),
    "action_plan_submitted": RuleKind(LearningEventKind.ACTION_PLAN_SUBMITTED, PointsCategory.OUTPUT,
                                      "action plan submitted within the window after the training"),
    "action_plan_adopted": RuleKind(LearningEventKind.ACTION_PLAN_ADOPTED, PointsCategory.OUTPUT,
                                    "action plan adopted by the company"),
    "taught_frontline": RuleKind(LearningEventKind.TAUGHT, PointsCategory.SHARING,
                                 "taught a session for front-line staff"),
    "reflection_article": RuleKind(LearningEventKind.ARTICLE, PointsCategory.SHARING,
                                   "published a training reflection"),
}
PERIODS = ("month", "quarter", "year")
VERSION_KEYS = {"version", "effective", "late_grace_minutes", "action_plan_window_days",
                "teaching_audiences", "points", "caps"}


@dataclass(frozen=True)
class Cap:
    max: int
    per: str


@dataclass(frozen=True)
class RuleVersion:
    version: str
    effective: date
    points: Mapping[str, int]
    late_grace_minutes: int = 0
    action_plan_window_days: int = 30
    teaching_audiences: tuple[str, ...] = ("frontline",)
    caps: Mapping[str, Cap] = field(default_factory=dict)


@dataclass(frozen=True)
class PointsRules:
    versions: tuple[RuleVersion, ...]
    file: str = ""

    def version_on(self, day: date) -> RuleVersion | None:
        """The version in force on ``day``: the latest whose effective date is not after it."""
        chosen = None
        for version in self.versions:
            if version.effective <= day:
                chosen = version
        return chosen

    def version(self, name: str) -> RuleVersion:
        for version in self.versions:
            if version.version == name:
                return version
        msg = f"no rules version {name!r}"
        raise KeyError(msg)


def _line_of(text: str, pattern: str, start: int = 0) -> int:
    """1-based line of the first line at or after ``start`` matching ``pattern`` (0 if none)."""
    lines = text.splitlines()
    for number in range(start, len(lines)):
        if re.search(pattern, lines[number]):
            return number + 1
    return 0


def _error(file: str, line: int, message: str, hint: str = "") -> ConfigError:
    where = f"{file or 'points rules'}, line {line}" if line else (file or "points rules")
    return ConfigError(message, file=where, hint=hint)


def _int(value: Any, *, file: str, line: int, what: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise _error(file, line, f"{what} must be a whole number from {lo} to {hi}, got {value!r}")
    return value


def parse_rules(text: str, *, file: str = "") -> PointsRules:
    """Parse a rules file; a wrong key, an unknown rule or a bad number names its line."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _error(file, getattr(exc, "lineno", 0), f"not valid TOML: {exc}") from None
    raw_versions = data.get("versions")
    if not isinstance(raw_versions, list) or not raw_versions:
        raise _error(file, 0, "no [[versions]] table", hint="add [[versions]] with version, effective, "
                     "[versions.points]")
    versions: list[RuleVersion] = []
    start = 0
    for raw in raw_versions:
        start = max(_line_of(text, r"^\s*\[\[versions\]\]", start), 1)
        versions.append(_parse_version(raw, text, file, start))
    ordered = sorted(versions, key=lambda v: v.effective)
    names = [v.version for v in ordered]
    if len(set(names)) != len(names):
        raise _error(file, 0, f"version names repeat: {names}")
    return PointsRules(tuple(ordered), file=file)


def _parse_version(raw: dict[str, Any], text: str, file: str, start: int) -> RuleVersion:
    def line(key: str) -> int:
        return _line_of(text, rf"^\s*{re.escape(key)}\s*=", start - 1) or start

    for key in raw:
        if key not in VERSION_KEYS:
            raise _error(file, line(key), f"unknown key {key!r} in [[versions]]",
                         hint=f"known: {', '.join(sorted(VERSION_KEYS))}")
    name = raw.get("version")
    if not isinstance(name, str) or not name:
        raise _error(file, start, "each [[versions]] needs version = \"...\"")
    effective = raw.get("effective")
    if isinstance(effective, str):
        try:
            effective = date.fromisoformat(effective)
        except ValueError:
            raise _error(file, line("effective"), f"effective must be a date, got {effective!r}") from None
    if not isinstance(effective, date) or isinstance(effective, datetime):
        raise _error(file, line("effective") if "effective" in raw else start,
                     "effective must be a date like 2026-07-01")
    points_table = raw.get("points", {})
    points_line = _line_of(text, r"^\s*\[versions\.points\]", start - 1) or start
    points: dict[str, int] = {}
    for rule, value in points_table.items():
        rule_line = _line_of(text, rf"^\s*{re.escape(rule)}\s*=", points_line - 1) or points_line
        if rule not in RULE_KINDS:
            raise _error(file, rule_line, f"unknown event kind {rule!r}",
                         hint=f"known: {', '.join(RULE_KINDS)}")
        points[rule] = _int(value, file=file, line=rule_line, what=f"points for {rule}", lo=-1000, hi=1000)
    caps: dict[str, Cap] = {}
    caps_line = _line_of(text, r"^\s*\[versions\.caps\]", start - 1) or start
    for rule, cap in raw.get("caps", {}).items():
        cap_line = _line_of(text, rf"^\s*{re.escape(rule)}\s*=", caps_line - 1) or caps_line
        if rule not in RULE_KINDS:
            raise _error(file, cap_line, f"unknown event kind {rule!r} in caps")
        if not isinstance(cap, dict) or cap.get("per") not in PERIODS:
            raise _error(file, cap_line, f"cap for {rule} needs per = one of {', '.join(PERIODS)}")
        caps[rule] = Cap(_int(cap.get("max"), file=file, line=cap_line, what=f"cap for {rule}", lo=0,
                              hi=10_000), cap["per"])
    audiences = raw.get("teaching_audiences", ["frontline"])
    if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
        raise _error(file, line("teaching_audiences"), "teaching_audiences must be a list of names")
    return RuleVersion(
        version=name, effective=effective, points=points, caps=caps,
        late_grace_minutes=_int(raw.get("late_grace_minutes", 0), file=file, line=line("late_grace_minutes"),
                                what="late_grace_minutes", lo=0, hi=24 * 60),
        action_plan_window_days=_int(raw.get("action_plan_window_days", 30), file=file,
                                     line=line("action_plan_window_days"), what="action_plan_window_days",
                                     lo=1, hi=3650),
        teaching_audiences=tuple(audiences))
