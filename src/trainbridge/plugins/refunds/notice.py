"""The repayment request as the employee reads it: in their language, without internal ids.

A repayment request (see :mod:`.collection`) is a notice to the leaver: what they are asked to
pay and what for (each agreement's training, signing day, service period served, cost and
share), why it is not deducted from pay, how to pay, and the articles behind it. The body is
written wholly in the employee's language (``zh``, else English); HR's proposal keeps the
auditor's explanation with the ledger's ids.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from trainbridge.core.words import SEPARATION_REASONS
from trainbridge.plugins.refunds.collection import Collection
from trainbridge.rules.refunds import RefundQuote, money, period_words

SYMBOLS = {"CNY": "¥", "USD": "US$", "EUR": "€", "GBP": "£", "HKD": "HK$", "JPY": "JP¥"}


def amount_text(amount: Decimal, currency: str) -> str:
    """¥1,125.00 (or ``CAD 1,125.00`` for a currency without a common sign)."""
    figure = f"{Decimal(money(amount)):,.2f}"
    symbol = SYMBOLS.get(currency)
    return f"{symbol}{figure}" if symbol else f"{currency} {figure}"


def _day(value: Any, zh: bool) -> str:
    day = value if isinstance(value, date) else date.fromisoformat(str(value))
    return f"{day.year}年{day.month}月{day.day}日" if zh else day.isoformat()


def notice_text(*, language: str, name: str, employee_id: str, last_day: date, reason: str,
                quote: RefundQuote, collection: Collection, titles: Mapping[str, str]) -> tuple[str, str]:
    """(subject, body) of the repayment request to the employee, in ``language`` (zh or en)."""
    zh = language.lower().startswith("zh")
    cur = quote.currency
    asked = amount_text(collection.request, cur)
    terms = {str(i.inputs.get("agreement_id")): i.inputs for i in quote.items if i.rule == "agreement"}
    lines: list[str] = []
    for n, line in enumerate((x for x in quote.lines if x.owed), start=1):
        agreement = terms.get(line.agreement_id, {})
        title = titles.get(line.program_id) or line.program_id
        signed = agreement.get("signed_on")
        start, end = agreement.get("service_start"), agreement.get("service_end")
        last = date.fromisoformat(str(end)) - timedelta(days=1) if end else None
        period = period_words(line.period, line.unit, zh=zh)
        served = period_words(line.served, line.unit, zh=zh)
        base, owed = amount_text(line.base, cur), amount_text(line.amount, cur)
        if zh:
            text = f"{n}. 培训项目「{title}」："
            text += f"培训协议签署于{_day(signed, zh)}，" if signed else ""
            text += (f"服务期{_day(start, zh)}至{_day(last, zh)}（{period}），" if start and last else
                     f"服务期{period}，")
            text += f"您已服务{served}；可返还的培训费用 {base}，按未服务的比例折算应返还 {owed}。"
        else:
            text = f"{n}. Training \"{title}\": "
            text += f"agreement signed on {_day(signed, zh)}; " if signed else ""
            text += (f"service period {_day(start, zh)} to {_day(last, zh)} ({period}); "
                     if start and last else f"service period {period}; ")
            text += f"you served {served}; training cost {base}, of which the unserved share is {owed}."
        lines.append(text)
    rules = {i.rule for i in collection.items}
    deducted = amount_text(collection.payroll, cur)
    why = _why(rules, zh)
    reason_words = SEPARATION_REASONS.get(reason, (reason, reason.replace("_", " ")))
    total = amount_text(quote.amount, cur)
    if zh:
        subject = f"培训费用返还通知：请返还 {asked}"
        body = [f"{name}，您好：", "",
                f"您已于{_day(last_day, zh)}离职（{reason_words[0]}），培训协议约定的服务期尚未届满。"
                f"根据您签署的培训协议和《劳动合同法》第二十二条，您应返还培训费用共 {total}：", *lines, ""]
        if collection.payroll > 0:
            body.append(f"其中 {deducted} 已从您的最终工资中扣除。")
        body += [f"本通知请您返还 {asked}。{why}", "",
                 f"如何支付：请将 {asked} 转账至人力资源部告知的公司账户，附言注明“培训费用返还”和您的工号 "
                 f"{employee_id}。如需分期支付，或对金额有疑问，请联系人力资源部。", "",
                 "依据：《劳动合同法》第二十二条（服务期违约金不得超过服务期尚未履行部分所应分摊的培训费用）；"
                 "《劳动合同法实施条例》第十六条（培训费用的范围）；" + _articles(rules, zh)]
    else:
        subject = f"Training cost repayment: please repay {asked}"
        body = [f"Dear {name},", "",
                f"You left on {_day(last_day, zh)} ({reason_words[1]}) before the service period of your "
                "training agreement ended. Under that agreement and article 22 of the Labor Contract Law "
                f"you owe {total} of training cost:", *lines, ""]
        if collection.payroll > 0:
            body.append(f"Of this, {deducted} was deducted from your final pay.")
        body += [f"This notice asks you to repay {asked}. {why}", "",
                 f"How to pay: transfer {asked} to the company account HR gives you, with the reference "
                 f"\"training cost repayment\" and your employee number {employee_id}. To pay in "
                 "instalments, or if you have questions about the amount, contact HR.", "",
                 "Basis: Labor Contract Law art. 22 (the penalty may not exceed the training cost "
                 "allocable to the unserved part of the service period); Implementing Regulations of the "
                 "Labor Contract Law art. 16 (what training cost is); " + _articles(rules, zh)]
    return subject, "\n".join(body)


def _why(rules: set[str], zh: bool) -> str:
    parts = []
    if "collection:no_consent" in rules:
        parts.append("未经您书面同意，培训费用不得从工资中扣除" if zh else
                     "without your written consent a training cost may not be deducted from your pay")
    if "collection:over_wage_limit" in rules:
        parts.append("每月从工资中扣除的部分不得超过当月工资的20%，"
                     "且扣除后不得低于当地最低工资标准" if zh else
                     "a month's deduction may not exceed 20% of the month's wage nor leave less than the "
                     "local minimum wage")
    if not parts:
        return ""
    return ("这部分没有从工资中扣除，因为" + "；".join(parts) + "。") if zh else \
        ("It was not deducted from your pay because " + "; and ".join(parts) + ".")


def _articles(rules: set[str], zh: bool) -> str:
    numbers = ["第十五条"] if "collection:no_consent" in rules else []
    numbers += ["第十六条"] if rules & {"collection:payroll", "collection:over_wage_limit"} else []
    if zh:
        return "《工资支付暂行规定》" + "、".join(numbers or ["第十五条"]) + "。"
    english = [n.replace("第十五条", "15").replace("第十六条", "16") for n in numbers or ["第十五条"]]
    return "Provisional Regulations on the Payment of Wages art. " + ", ".join(english) + "."
