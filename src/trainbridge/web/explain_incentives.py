"""The incentives' explanation items (``incentive:*``) as sentences HR reads, in Chinese or English.

Each item says what a proposal was decided from: the points and the threshold they reach, the
quarter or year, the action-plan rate, a KPI before and after a training. The seed sentence the
rule comes from is the item's article (rendered beside the sentence by :mod:`.explain`).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from trainbridge.web.local import Local

#: KPIs as HR names them (a metric without an entry is shown as its source calls it).
METRICS: dict[str, tuple[str, str]] = {
    "error_rate": ("差错率", "error rate"), "sales": ("销售额", "sales"),
    "sales_amount": ("销售额", "sales"), "customer_satisfaction": ("客户满意度", "customer satisfaction"),
    "output": ("产量", "output"), "defect_rate": ("不良率", "defect rate"),
}


def _points(value: Any, loc: Local) -> str:
    return loc.text(f"{value} 分", f"{value} points")


def _share(value: Any) -> str:
    """0.2 -> 20 (a fraction as whole percent); a value that is not a number as it is."""
    try:
        return format((Decimal(str(value)) * 100).normalize(), "f")
    except (InvalidOperation, ValueError):
        return str(value)


def _number(value: Any) -> str:
    try:
        return format(Decimal(str(value)).normalize(), "f")
    except (InvalidOperation, ValueError):
        return str(value)


def incentive_sentence(kind: str, item: dict[str, Any], loc: Local) -> str | None:
    """One ``incentive:KIND`` item as a sentence; None when its inputs are not a proposal's
    (the quarter's top-share decision), so the caller renders it generically."""
    inp: dict[str, Any] = dict(item.get("inputs") or {})
    if "points" not in inp and kind not in ("certificate_bonus", "promotion_priority"):
        return None
    points = _points(inp.get("points"), loc)
    period = loc.period(inp.get("quarter") or inp.get("year") or "")
    amount = item.get("amount")
    rate = loc.rate(amount, str(item.get("unit") or "percent")) if amount is not None else ""
    threshold = _points(inp.get("threshold"), loc)
    if kind == "bonus_coefficient":
        share, cut = _share(inp.get("top_share")), _points(inp.get("cut"), loc)
        return loc.text(
            f"{period}积分 {points}，位列 {inp.get('managers')} 名管理者的前 {share}%（入围线 {cut}）："
            f"季度奖金系数 {rate}。",
            f"{points} in {period}: in the top {share}% of {inp.get('managers')} managers (cut at {cut}): "
            f"quarterly bonus coefficient {rate}.")
    if kind == "bonus":
        per, cap = inp.get("per_points"), _number(inp.get("cap"))
        return loc.text(
            f"{period}积分 {points}：每满 {per} 分季度奖金增加 1%，最高 {cap}%，本季度奖金 {rate}。",
            f"{points} in {period}: +1% per full {per} points, at most +{cap}%: quarterly bonus {rate}.")
    if kind == "certificate_bonus":
        certificate = inp.get("certificate") or ""
        day = loc.day(inp.get("issued_on"))
        return loc.text(f"{day} 取得证书 {certificate}：奖金 {rate}。",
                        f"Certificate {certificate} obtained on {day}: bonus {rate}.")
    if kind == "regional_manager":
        return loc.text(f"{period}积分 {points} ≥ {threshold}，可获得区域经理竞聘资格。",
                        f"{points} in {period} ≥ {threshold}: may apply for regional manager.")
    if kind == "perks":
        return loc.text(f"{period}积分 {points} ≥ {threshold}，"
                        "可享受福利（免费职业测评、优先参与行业论坛等）。",
                        f"{points} in {period} ≥ {threshold}: entitled to the perks (a free career "
                        "assessment, priority at industry forums).")
    if kind == "excellent":
        year = inp.get("year") or ""
        return loc.text(f"{year} 年度积分 {points} ≥ {threshold}，"
                        "可参评优秀（必要条件，是否评为优秀由绩效考核决定）。",
                        f"{points} in {year} ≥ {threshold}: may be rated excellent (necessary, not "
                        "sufficient: the review decides).")
    if kind == "promotion":
        through = loc.day(inp.get("through"))
        plan, need = inp.get("plan_rate_pct"), inp.get("plan_threshold_pct")
        return loc.text(
            f"截至 {through} 的近 12 个月积分 {points} ≥ {threshold}，行动计划完成率 {plan}% ≥ {need}%："
            "两项均满足，可提名晋升区域经理。",
            f"{points} in the 12 months to {through} ≥ {threshold}, and action-plan completion {plan}% ≥ "
            f"{need}%: both requirements met, may be nominated for regional manager.")
    if kind == "promotion_priority":
        metric = str(inp.get("metric") or "")
        name = loc.text(*METRICS[metric]) if metric in METRICS else metric
        program = inp.get("program") or inp.get("program_id") or ""
        before, after = _number(inp.get("before")), _number(inp.get("after"))
        need = _number(inp.get("threshold_pct"))
        return loc.text(
            f"参加培训 {program}（{loc.day(inp.get('trained_on'))}）后，{name}由 {before} 变为 {after}，"
            f"改善 {rate.lstrip('+')} ≥ {need}%：晋升优先。",
            f"After the training {program} ({loc.day(inp.get('trained_on'))}), {name} went from {before} "
            f"to {after}, {rate.lstrip('+')} better (≥ {need}%): promotion priority.")
    if kind == "review_points":
        weight = inp.get("weight_pct")
        return loc.text(f"{period}积分 {points} 计入绩效考核，占绩效得分的 {weight}%。",
                        f"{points} in {period} count towards the performance review, weighing {weight}% "
                        "of the score.")
    return None
