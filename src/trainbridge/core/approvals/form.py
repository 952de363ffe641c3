"""The approval form HR reads in Feishu or DingTalk, in Chinese: who, what, how much, why.

A refund's quote carries its explanation as data (``payload["explanation_items"]``): each step
becomes one short Chinese sentence. Other proposals show their explanation lines as written.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from trainbridge.core.approvals.models import ApprovalRequest, FormField
from trainbridge.core.approvals.routing import ApprovalRouting
from trainbridge.core.ledger import Ledger, records_table

KIND_LABELS = {
    "refund": "培训费用扣回（从工资扣除）",
    "refund_credit": "培训费用返还（多扣部分退回）",
    "repayment_request": "培训费用返还请求（员工自行支付）",
    "bonus": "奖金上调",
    "bonus_coefficient": "季度奖金系数",
    "promotion": "晋升资格",
    "promotion_priority": "晋升优先",
    "excellent": "年度优秀评定资格",
    "review_points": "绩效考核培训积分",
}
REASON_LABELS = {
    "resignation": "主动辞职",
    "dismissal_fault": "因过错被解除",
    "dismissal_no_fault": "无过错解除",
    "layoff": "经济性裁员",
    "employer_fault": "因用人单位过错辞职",
    "contract_end": "合同期满",
    "probation": "试用期内离职",
    "mutual": "协商一致",
    "retirement": "退休",
    "death": "死亡",
}
SYMBOLS = {"CNY": "¥", "USD": "US$", "EUR": "€", "HKD": "HK$"}
#: Feishu's form fields are long texts, but a phone screen is not: keep the explanation readable.
MAX_EXPLANATION = 1800
#: The sentence of each explanation rule that needs no more than its inputs: ``{money}`` is the
#: item's amount, ``{cite}`` its article, the other names its inputs.
SENTENCES = {
    "refundable_base": "协议 {agreement_id} 可追偿的培训费用 {money}{cite}。",
    "pro_rata": "按未服务期比例 {fraction} 分摊：{money}{cite}。",
    "clause_capped": "协议约定违约金 {clause_amount} 高于按比例金额，以 {money} 为上限{cite}。",
    "clause_amount": "按协议约定金额 {money}（不超过按比例金额）{cite}。",
    "owed": "协议 {agreement_id} 应返还 {money}。",
    "no_agreement": "无约定服务期的已签培训协议，无需返还。",
    "total": "合计应返还 {money}。",
    "collection:payroll": "经员工书面同意，从工资中扣除 {money}，不低于当地最低工资{cite}。",
    "collection:no_consent": "无员工书面同意，不从工资中扣除，{money} 请员工自行返还{cite}。",
    "collection:over_wage_limit": "超出工资扣除限额的 {money} 请员工自行返还{cite}。",
    "collection:payroll_unchecked": "从工资中扣除 {money}；最终工资未知，扣除限额未核对{cite}。",
}


def proposal_link(template: str, proposal_id: str) -> str:
    """``proposal_url`` with ``{id}`` replaced by the URL-encoded proposal id (the console's detail
    page ``/proposals/{id}``): ``refund:hr:S 1#2`` -> ``refund:hr:S%201%232``."""
    return template.replace("{id}", quote(proposal_id, safe=":"))


def approval_key(tenant: str, proposal_id: str) -> str:
    """The instance's idempotency key (Feishu ``uuid``): stable for a proposal, 36 characters."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"trainbridge:{tenant}:{proposal_id}"))


def amount_text(amount: Any, currency: str | None) -> str:
    if amount is None:
        return "无金额（比例或资格）"
    value = f"{Decimal(str(amount)):,.2f}"
    symbol = SYMBOLS.get(currency or "", "")
    return f"{symbol}{value}" if symbol else f"{value} {currency or ''}".strip()


def build_request(
    ledger: Ledger,
    conn: Connection,
    proposal: Mapping[str, Any],
    routing: ApprovalRouting,
    *,
    key: str,
    resend: bool = False,
    since: datetime | None = None,
) -> ApprovalRequest:
    """The approval form of one proposal row (``tb_proposals``)."""
    pid, kind = str(proposal["id"]), str(proposal["kind"])
    employee = _employee(ledger, conn, proposal.get("subject"))
    who = f"{employee.get('name') or proposal.get('subject') or '—'}（工号 {proposal.get('subject') or '—'}）"
    money = amount_text(proposal.get("amount"), proposal.get("currency"))
    label = KIND_LABELS.get(kind, kind)
    quote = _quote_of(ledger, conn, pid, proposal.get("subject"))
    lines = explanation_lines(quote, proposal.get("explanation") or [])
    fields = [
        FormField(key="employee", label="员工", value=who),
        FormField(key="kind", label="类型", value=f"{label}（{kind}）"),
        FormField(key="amount", label="金额", value=money),
        FormField(key="reason", label="事由", value=str(proposal.get("summary") or "")),
        FormField(key="explanation", label="计算说明", value=_clip("\n".join(lines))),
        FormField(key="reference", label="提案编号", value=pid),
    ]
    if routing.proposal_url:
        fields.append(
            FormField(key="link", label="详情链接", value=proposal_link(routing.proposal_url, pid))
        )
    title = f"{label}：{employee.get('name') or proposal.get('subject') or ''} {money}".strip()
    return ApprovalRequest(
        proposal_id=pid,
        kind=kind,
        key=key,
        title=title,
        fields=tuple(fields),
        resend=resend,
        since=_aware(since),
    )


def explanation_lines(quote: Mapping[str, Any] | None, fallback: Sequence[str]) -> list[str]:
    """One Chinese sentence per explanation item of a refund quote; else the explanation as written."""
    items = (quote or {}).get("payload", {}).get("explanation_items") or []
    lines = [line for line in (item_sentence(i) for i in items if isinstance(i, Mapping)) if line]
    return lines or [str(x) for x in fallback]


def item_sentence(item: Mapping[str, Any]) -> str:
    """A short Chinese sentence for one explanation item (``rules.refunds.ExplanationItem``)."""
    rule, inputs = str(item.get("rule", "")), item.get("inputs") or {}
    money = amount_text(item.get("amount"), item.get("currency")) if item.get("amount") is not None else ""
    article = _article(str(item.get("article") or ""))
    cite = f"（{article}）" if article else ""
    agreement = inputs.get("agreement_id", "")
    if rule == "departure":
        reason = REASON_LABELS.get(str(inputs.get("reason")), str(inputs.get("reason") or ""))
        return f"最后工作日 {inputs.get('last_day')}，离职原因：{reason}。"
    if rule == "agreement":
        return (
            f"培训协议 {agreement}：服务期 {inputs.get('service_start')} 至 {inputs.get('service_end')}，"
            f"签订于 {inputs.get('signed_on') or '—'}{cite}。"
        )
    if rule == "service_served":
        return (
            f"协议 {agreement} 服务期共 {inputs.get('period')} {_unit(inputs.get('unit'))}，已服务 "
            f"{inputs.get('served')}，未服务 {inputs.get('unserved')}{cite}。"
        )
    if rule.startswith("not_owed"):
        return f"协议 {agreement} 无需返还：{inputs.get('why') or rule}{cite}。"
    if rule in SENTENCES:
        values = _Inputs({**inputs, "agreement_id": agreement, "money": money, "cite": cite})
        return SENTENCES[rule].format_map(values)
    return ""


class _Inputs(dict[str, Any]):
    """An item's inputs for a sentence: one it lacks reads ``None``, as an f-string would write it."""

    def __missing__(self, key: str) -> None:
        return None


def _article(article: str) -> str:
    known = {
        "LCL art. 22": "《劳动合同法》第二十二条",
        "Implementing Regulations art. 16": "《劳动合同法实施条例》第十六条",
        "LCL art. 25": "《劳动合同法》第二十五条",
    }
    return known.get(article, article)


def _unit(unit: Any) -> str:
    return {"months": "个月", "days": "天", "month": "个月", "day": "天"}.get(str(unit), str(unit or ""))


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _clip(text: str) -> str:
    return text if len(text) <= MAX_EXPLANATION else text[: MAX_EXPLANATION - 1] + "…"


def _employee(ledger: Ledger, conn: Connection, employee_id: Any) -> dict[str, Any]:
    if not employee_id:
        return {}
    t = records_table
    row = conn.execute(
        sa.select(t.c.payload).where(
            t.c.tenant == ledger.tenant, t.c.kind == "employee", t.c.subject == str(employee_id)
        )
    ).first()
    return dict(row.payload) if row else {}


def _quote_of(ledger: Ledger, conn: Connection, proposal_id: str, subject: Any) -> dict[str, Any] | None:
    """The refund quote that proposed ``proposal_id`` (its payload names it)."""
    if not subject:
        return None
    for row in ledger.list_decisions(conn, "refund_quote", subject=str(subject)):
        payload = row.get("payload") or {}
        if proposal_id in (payload.get("proposal"), payload.get("repayment")):
            return row
    return None
