"""What points buy (seed 003 S3, S6; seed 000 K3): pure decisions, thresholds as configuration.

* Quarterly top share (20%) of managers by points: bonus coefficient +0.1. The cut is
  ``floor(n x share)`` managers, at least one; everyone tied with the last one in the
  cut is in too (a tie never splits equal scores). Managers with no points are never in
  the top. A group smaller than ``min_group`` gets no top-share award at all, since 20%
  of three people says nothing about merit.
* Quarterly points >= 100: eligible for regional manager; >= 80: perks.
* Annual points >= 80: may be rated excellent (年度积分≥80分方可评优: necessary, not sufficient;
  the flag is ``excellent_eligible`` and the review decides the rating).
* Promotion: >= 120 points in the last 12 months AND action-plan completion >= 80%.
* Bonus +1% per full 10 points, at most +5%; a certificate obtained: bonus +5%.
* Performance up >= 10% after a training (any KPI, aware of its direction): promotion
  priority.
* The points score goes to the performance review with a weight of 10-15% (S6).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from trainbridge.core.records import (
    Enrollment,
    EnrollmentStatus,
    LearningEvent,
    LearningEventKind,
    MetricDirection,
    MetricValue,
)

HUNDRED = Decimal(100)
ONE_PLACE = Decimal("0.1")
#: S6: the points score weighs 10-15% of a manager's performance score.
REVIEW_WEIGHT_RANGE = (Decimal("0.10"), Decimal("0.15"))


class IncentiveThresholds(BaseModel):
    """The ``[jobs.incentives]`` table; the defaults are the seeds' numbers."""

    model_config = ConfigDict(extra="forbid")
    top_share: Decimal = Field(default=Decimal("0.2"), gt=0, le=1)
    top_coefficient: Decimal = Decimal("0.1")
    min_group: int = Field(default=5, ge=1, description="Smallest group that gets a top-share award")
    regional_manager_points: int = 100
    perks_points: int = 80
    excellent_annual_points: int = 80
    promotion_points: int = 120
    promotion_plan_rate: Decimal = Field(default=Decimal("0.8"), ge=0, le=1)
    bonus_percent_per_points: int = Field(default=10, ge=1)
    bonus_percent_cap: Decimal = Decimal(5)
    certificate_bonus_percent: Decimal = Decimal(5)
    quarter: str = Field(default="previous", pattern=r"^(previous|current)$",
                         description="Which quarter a run evaluates")
    performance_gain_percent: Decimal = Field(
        default=Decimal(10), gt=0, description="KPI improvement (%) after a training for promotion priority")
    performance_metrics: tuple[str, ...] = Field(
        default=(), description="KPIs that count for promotion priority (empty: every metric)")
    review_weight: Decimal = Field(default=Decimal("0.10"),
                                   description="Weight of the points score in the review, 0.10 to 0.15")

    @field_validator("review_weight")
    @classmethod
    def _review_weight_in_range(cls, value: Decimal) -> Decimal:
        low, high = REVIEW_WEIGHT_RANGE
        if not low <= value <= high:
            msg = (f"review_weight {value} is outside {low:.0%}-{high:.0%} of the performance score "
                   f"(seed 003 S6); write it as a fraction, e.g. 0.12 for 12%")
            raise ValueError(msg)
        return value


def top_share(scores: Mapping[str, int], t: IncentiveThresholds) -> tuple[set[str], str]:
    """Who is in the top share, and how the cut was made."""
    ranked = sorted(((p, e) for e, p in scores.items() if p > 0), key=lambda x: (-x[0], x[1]))
    n = len(scores)
    share = f"top-{t.top_share * 100:.0f}%"
    if n == 0:
        return set(), f"no managers in this group: no {share} award"
    if n < t.min_group:
        return set(), f"group of {n} is below {t.min_group}: no {share} award"
    if not ranked:
        return set(), f"none of the {n} managers has points: no {share} award"
    k = max(1, int(n * t.top_share))
    cut = ranked[min(k, len(ranked)) - 1][0]
    winners = {e for p, e in ranked if p >= cut}
    return winners, (f"top {t.top_share * 100:.0f}% of {n} = {k} manager(s), cut at {cut} points"
                     + (f"; {len(winners) - k} more tied at the cut" if len(winners) > k else ""))


def bonus_percent(points: int, t: IncentiveThresholds) -> Decimal:
    """+1% per full 10 points, capped (+5%)."""
    if points <= 0:
        return Decimal(0)
    return min(Decimal(points // t.bonus_percent_per_points), t.bonus_percent_cap)


def promotion(points_12m: int, plan_rate: Decimal | None, t: IncentiveThresholds) -> tuple[bool, list[str]]:
    """Both conditions, each with its reason."""
    has_points = points_12m >= t.promotion_points
    has_plans = plan_rate is not None and plan_rate >= t.promotion_plan_rate
    reasons = [f"{points_12m} points in the last 12 months ({'>=' if has_points else '<'} "
               f"{t.promotion_points})",
               "no training to have action plans for" if plan_rate is None else
               f"action-plan completion {plan_rate:.0%} ({'>=' if has_plans else '<'} "
               f"{t.promotion_plan_rate:.0%})"]
    return has_points and has_plans, reasons


def flags(quarter_points: int, annual_points: int, t: IncentiveThresholds) -> list[tuple[str, str]]:
    """Score flags for the performance system: (flag, reason)."""
    out = []
    if quarter_points >= t.regional_manager_points:
        out.append(("regional_manager", f"{quarter_points} points >= {t.regional_manager_points}"))
    if quarter_points >= t.perks_points:
        out.append(("perks", f"{quarter_points} points >= {t.perks_points}"))
    if annual_points >= t.excellent_annual_points:
        out.append(("excellent_eligible", f"{annual_points} annual points >= {t.excellent_annual_points}: "
                                          "may be rated excellent (necessary, not sufficient: the review "
                                          "decides)"))
    return out


# --- performance after training (K2, K3) --------------------------------------------


def improvement(before: Decimal, after: Decimal, direction: MetricDirection) -> Decimal | None:
    """Relative improvement in percent, aware of direction (error rate 5% -> 1% is +80%)."""
    if not before:
        return None
    change = (after - before) / abs(before)
    if direction is MetricDirection.LOWER_IS_BETTER:
        change = -change
    return (change * HUNDRED).quantize(ONE_PLACE)


@dataclass(frozen=True)
class Gain:
    """One KPI of one trainee: the last value on or before the training day vs the first after."""

    employee_id: str
    program_id: str
    metric: str
    before: Decimal
    after: Decimal
    percent: Decimal


def performance_gains(metrics: Sequence[MetricValue], trained: Mapping[tuple[str, str], date], *,
                      until: date, only: Collection[str] = ()) -> list[Gain]:
    """Per (employee, program) trained and KPI: the change after the training, values up to ``until``."""
    series: dict[str, dict[str, list[MetricValue]]] = {}
    for m in metrics:
        if not only or m.metric in only:
            series.setdefault(m.employee_id, {}).setdefault(m.metric, []).append(m)
    out: list[Gain] = []
    for (employee_id, program_id), day in sorted(trained.items()):
        for name, values in sorted(series.get(employee_id, {}).items()):
            ordered = sorted(values, key=lambda m: m.as_of)
            before = [m for m in ordered if m.as_of <= day]
            after = [m for m in ordered if day < m.as_of <= until]
            if not before or not after:
                continue
            gain = improvement(before[-1].value, after[0].value, after[0].direction)
            if gain is not None:
                out.append(Gain(employee_id, program_id, name, before[-1].value, after[0].value, gain))
    return out


def promotion_priority(gains: Iterable[Gain], t: IncentiveThresholds) -> list[str]:
    """Reasons for promotion priority: each KPI up by at least the threshold (none: no priority)."""
    return [f"{g.metric} {g.before.normalize():f} -> {g.after.normalize():f} after {g.program_id}: "
            f"{g.percent:+}% (>= {t.performance_gain_percent}%)"
            for g in gains if g.percent >= t.performance_gain_percent]


# --- training results for the performance system (K1) --------------------------------


def completed_programs(events: Iterable[LearningEvent], enrollments: Iterable[Enrollment] = ()) -> set[
        tuple[str, str]]:
    """(employee, program) completed now: a completed enrollment, or the last event completed/passed.

    ``events`` should already be the effective ones (voided events left out); an
    un-completion after a completion undoes it.
    """
    state: dict[tuple[str, str], bool] = {}
    for event in sorted(events, key=lambda e: e.occurred_at):
        if not event.program_id:
            continue
        if event.event in (LearningEventKind.COMPLETED, LearningEventKind.PASSED):
            state[(event.employee_id, event.program_id)] = True
        elif event.event is LearningEventKind.UNCOMPLETED:
            state[(event.employee_id, event.program_id)] = False
    done = {key for key, value in state.items() if value}
    done |= {(e.employee_id, e.program_id) for e in enrollments if e.status is EnrollmentStatus.COMPLETED}
    return done
