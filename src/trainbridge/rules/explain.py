"""Explanation items (rule, article or seed sentence, inputs, amount) for the jobs' decisions.

Pure: each function turns what a decision already says into :class:`ExplanationItem` dicts for
``payload["explanation_items"]``. The points rules cite the sentence of seed 003 (step 2 and
step 5, line numbers of ``seeds/003``) they come from; cost allocations cite Implementing
Regulations art. 16.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from trainbridge.core.explanations import ExplanationItem, explanation_items

SEED_003 = "seed 003"
#: The seed sentence behind each points rule (seed 003, line 55: step 2, 积分规则).
POINTS_SOURCES = {
    "offline_attended": "参加线下课程得10分/次",
    "online_completed": "完成线上课程得5分/门",
    "late": "迟到扣2分/次",
    "action_plan_submitted": "培训后30天内完成“行动计划”……得20分/份",
    "action_plan_adopted": "方案被企业采纳得50分/份",
    "taught_frontline": "作为讲师为基层员工授课得30分/次",
    "reflection_article": "撰写培训心得并发表得15分/篇",
}
#: The seed sentences behind each incentive (seed 003 lines 55 and 73; seed 000 section 4 for K3).
INCENTIVE_SOURCES = {
    "bonus_coefficient": "积分前20%的中层管理人员季度奖金系数增加0.1",
    "regional_manager": "积分≥100分可获得区域经理竞聘资格",
    "perks": "积分≥80分可享受“免费职业测评”“优先参与行业论坛”等福利",
    "excellent": "年度积分达到80分以上才能评为“优秀”",
    "promotion": "晋升区域经理需满足“近1年积分≥120分”“行动计划完成率≥80%”两项要求",
    "bonus": "积分每增加10分，季度奖金增加1%，最高增加5%",
    "review_points": "将“培训积分”纳入中层管理人员的绩效评估指标(占比10%-15%)",
    "certificate_bonus": "seed 000 section 4: 取得证书 -> 奖金+5%",
    "promotion_priority": "seed 000 section 4: 绩效提升≥10% -> 晋升优先",
}
#: Certificates held are part of the capability profile and the demand forecast (T1, T2).
CERTIFICATE_SOURCE = ("seed 000 section 5 (T1 capability profile: certificates; "
                      "T2 required vs current holders)")
ART_16 = "Implementing Regulations art. 16 (training cost: documented fees, travel, direct costs)"


def _source(sources: Mapping[str, str], rule: str, seed: str = SEED_003) -> str:
    sentence = sources.get(rule)
    if sentence is None:
        return f"{seed} (no sentence for {rule})"
    return sentence if sentence.startswith("seed ") else f"{seed}: {sentence}"


def points_entry_items(rule: str, points: int, *, event: str, version: str) -> list[dict[str, Any]]:
    """A points entry: the rule, its seed sentence, the event, the points earned."""
    return explanation_items([ExplanationItem(
        f"points:{rule}", _source(POINTS_SOURCES, rule), {"event": event, "rule_version": version},
        Decimal(points), unit="points")])


def points_taken_back_items(rule: str, points: int, *, entry: str, event: str,
                            reason: str) -> list[dict[str, Any]]:
    """Points taken back by a voided or un-completed event."""
    return explanation_items([ExplanationItem(
        f"points_taken_back:{reason}", _source(POINTS_SOURCES, rule),
        {"entry": entry, "event": event}, Decimal(-points), unit="points")])


def points_not_scored_items(event: str, event_kind: str, reasons: Iterable[str]) -> list[dict[str, Any]]:
    """An event that earned nothing, with each reason."""
    return explanation_items(ExplanationItem(
        f"points_not_scored:{event_kind}", _source(POINTS_SOURCES, _rule_of(event_kind)),
        {"event": event, "reason": reason}, Decimal(0), unit="points") for reason in reasons)


def _rule_of(event_kind: str) -> str:
    return {"attended": "offline_attended", "completed": "online_completed",
            "action_plan_submitted": "action_plan_submitted", "action_plan_adopted": "action_plan_adopted",
            "taught": "taught_frontline", "article": "reflection_article"}.get(event_kind, event_kind)


def incentive_items(kind: str, inputs: Mapping[str, Any], amount: Decimal | int | None = None,
                    unit: str = "") -> list[dict[str, Any]]:
    """An incentive proposal or decision: the rule, its seed sentence, what it was decided from."""
    return explanation_items([ExplanationItem(
        f"incentive:{kind}", _source(INCENTIVE_SOURCES, kind),
        {k: _text(v) for k, v in inputs.items()}, None if amount is None else Decimal(amount), unit=unit)])


def allocation_items(payload: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A cost allocation: how the item was charged, and whether it is refundable (art. 16)."""
    refundable = bool(payload.get("refundable"))
    return explanation_items([ExplanationItem(
        f"cost_allocation:{payload.get('allocation')}", ART_16,
        {"item_id": payload.get("item_id"), "category": payload.get("category"),
         "item_amount": payload.get("item_amount"), "voucher_ref": payload.get("voucher_ref"),
         "session_id": payload.get("session_id"), "refundable": "yes" if refundable else "no",
         "refundable_reason": payload.get("refundable_reason")},
        Decimal(str(payload.get("amount") or "0")), str(payload.get("currency") or ""))])


def talent_items(kind: str, article: str, inputs: Mapping[str, Any],
                 amount: Decimal | int | None = None, unit: str = "") -> list[dict[str, Any]]:
    """A talent decision (a gap, a forecast): the rule, the seed section, its inputs."""
    return explanation_items([ExplanationItem(
        f"talent:{kind}", article, {k: _text(v) for k, v in inputs.items()},
        None if amount is None else Decimal(amount), unit=unit)])


def _text(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, list | tuple):
        return [_text(v) for v in value]
    return value
