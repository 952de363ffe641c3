"""What points buy (seed 003 S3, S6; seed 000 K3): pure decisions, thresholds as configuration.

* Quarterly top share (20%) of managers by points: bonus coefficient +0.1. The cut is
  ``floor(n x share)`` managers, at least one; everyone tied with the last one in the
  cut is in too (a tie never splits equal scores). Managers with no points are never in
  the top. A group smaller than ``min_group`` gets no top-share award at all, since 20%
  of three people says nothing about merit.
* Quarterly points >= 100: eligible for regional manager; >= 80: perks.
* Annual points >= 80: may be rated excellent.
* Promotion: >= 120 points in the last 12 months AND action-plan completion >= 80%.
* Bonus +1% per full 10 points, at most +5%; a certificate obtained: bonus +5%.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field


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


def top_share(scores: Mapping[str, int], t: IncentiveThresholds) -> tuple[set[str], str]:
    """Who is in the top share, and how the cut was made."""
    ranked = sorted(((p, e) for e, p in scores.items() if p > 0), key=lambda x: (-x[0], x[1]))
    n = len(scores)
    if n < t.min_group or not ranked:
        return set(), f"group of {n} is below {t.min_group}: no top-{t.top_share:%} award"
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
        out.append(("excellent", f"{annual_points} annual points >= {t.excellent_annual_points}"))
    return out
