"""Explanations rendered from structured decisions: each ``explanation_items`` entry
({rule, article, inputs, amount, currency}) as a sentence in Chinese or English.

Articles are cited as HR reads them: "LCL arts. 22, 37" is 《劳动合同法》第二十二条、第三十七条
in Chinese. A rule without a template reads generically (its name, amount and inputs).
"""

from __future__ import annotations

import re
from typing import Any

from trainbridge.rules.refunds import period_words
from trainbridge.web.explain_incentives import incentive_sentence
from trainbridge.web.local import Local, zh_number
from trainbridge.web.words import SEPARATION_REASONS

LAWS: dict[str, tuple[str, str]] = {
    # the source's abbreviation: (Chinese title, English name)
    "LCL": ("《劳动合同法》", "LCL"),
    "Implementing Regulations": ("《劳动合同法实施条例》", "Implementing Regulations"),
    "Bus. & Prof. Code": ("加州《商业与职业法典》", "Bus. & Prof. Code"),
    "Tex. Lab. Code": ("得州《劳动法典》", "Tex. Lab. Code"),
    "Lab. Code": ("加州《劳动法典》", "Lab. Code"),
    "29 U.S.C.": ("《美国法典》第29编", "29 U.S.C."),
    "29 CFR": ("《美国联邦法规》第29编", "29 CFR"),
}
PLAIN_ARTICLES: dict[str, tuple[str, str]] = {
    "policy us": ("美国通行规则", "policy us"),
    "the agreement (policy us: pro rata as agreed)": ("协议约定（按比例）",
                                                      "the agreement (pro rata as agreed)"),
}
_CITE = re.compile(r"^(?P<law>LCL|Implementing Regulations|Bus\. & Prof\. Code|Tex\. Lab\. Code|Lab\. Code|"
                   r"29 U\.S\.C\.|29 CFR)\s*(?:arts?\.\s*)?(?P<nums>[\dA-Za-z().,\s-]+?)"
                   r"(?:\s+para\.\s*(?P<para>\d+))?(?:\s+item\s*(?P<item>\d+))?(?:\s*\((?P<note>[^)]*)\))?$")


def _zh_article(number: str, law: str) -> str:
    if number.isdigit() and law in ("LCL", "Implementing Regulations"):
        return f"第{zh_number(int(number))}条"
    return f"第{number}条"


SEED = re.compile(r"seed (?P<n>\d+)(?: section (?P<s>\d+))?")


def _seed(text: str, loc: Local) -> str:
    """``seed 003: 参加线下课程得10分/次`` -> 种子文档 003：参加线下课程得10分/次 (the sentence is quoted
    as the document says it); ``seed 000 section 4: …`` -> 种子文档 000 第4节：…"""
    source, _, sentence = text.partition(": ")
    m = SEED.match(source)
    if m is None or not sentence:
        return loc.text("公司培训制度", "the company's training policy")
    name = loc.text(f"种子文档 {m['n']}", f"seed {m['n']}")
    if m["s"]:
        name += loc.text(f" 第{m['s']}节", f" section {m['s']}")
    return name + loc.text("：", ": ") + sentence.replace(" -> ", " → ")


def article(text: str, loc: Local) -> str:
    """One citation string of the rules (``LCL arts. 22, 37; Implementing Regulations art. 16``)."""
    if not text:
        return ""
    if text.startswith("seed "):  # the company's own rule, quoted from its source document
        return _seed(text, loc)
    bilingual = re.fullmatch(r"(《[^》]+》[^(（]*)\s*\((.+)\)", text.strip())
    if bilingual:  # 《工资支付暂行规定》第十六条 (Provisional Regulations on the Payment of Wages art. 16)
        return bilingual[1].strip() if loc.zh else bilingual[2].strip()
    parts = []
    for part in (p.strip() for p in text.split(";")):
        if part in PLAIN_ARTICLES:
            parts.append(loc.text(*PLAIN_ARTICLES[part]))
            continue
        if not loc.zh:
            parts.append(part)
            continue
        m = _CITE.match(part)
        if m is None:
            item = re.fullmatch(r"(.*号)\s+item\s+(\d+)", part)
            parts.append(f"{item[1]}第{zh_number(int(item[2]))}项" if item else part)
            continue
        law = m["law"]
        numbers = [n.strip() for n in m["nums"].split(",") if n.strip()]
        if m["note"] and len(m["note"]) <= 3 and numbers:  # Lab. Code 926(a)
            numbers[-1] += f"({m['note']})"
        cite = LAWS[law][0] + "、".join(_zh_article(n, law) for n in numbers)
        if m["para"]:
            cite += f"第{zh_number(int(m['para']))}款"
        if m["item"]:
            cite += f"第{zh_number(int(m['item']))}项"
        parts.append(cite)
    return "；".join(parts) if loc.zh else "; ".join(parts)


def _fraction(value: str) -> str:
    return value.replace("/", "⁄") if "/" in value else value


def _costs(lines: list[str], loc: Local, currency: str) -> str:
    """"course_fee 1000.00 (finance:FEE-E003)" -> 课程费 ¥1,000.00."""
    names = {"course_fee": ("课程费", "Course fee"), "instructor": ("讲师费", "Instructor"),
             "travel": ("差旅费", "Travel"), "materials": ("教材费", "Materials"),
             "venue": ("场地费", "Venue"),
             "accommodation": ("住宿费", "Accommodation"), "other": ("其他费用", "Other")}
    out = []
    for line in lines:
        m = re.match(r"(\w+)\s+(-?[\d.]+)", line)
        if m is None:
            out.append(line)
            continue
        name = names.get(m[1], (m[1], m[1].replace("_", " ").capitalize()))
        out.append(f"{loc.text(*name)} {loc.money(m[2], currency)}")
    return "、".join(out) if loc.zh else ", ".join(out)


def sentence(item: dict[str, Any], loc: Local) -> str:
    """One explanation item as a sentence (without its article)."""
    rule = str(item.get("rule", ""))
    inp: dict[str, Any] = dict(item.get("inputs") or {})
    cur = str(item.get("currency") or "CNY")
    amount = loc.money(item.get("amount"), cur) if item.get("amount") is not None else ""
    program = inp.get("program_id") or ""
    if rule == "departure":
        reason = SEPARATION_REASONS.get(str(inp.get("reason")), (str(inp.get("reason")),) * 2)
        text = loc.text(f"离职：最后工作日 {loc.day(inp.get('last_day'))}，原因：{reason[0]}",
                        f"Left: last day {loc.day(inp.get('last_day'))}, reason: {reason[1]}")
        if inp.get("probation_end"):
            text += loc.text(f"；试用期至 {loc.day(inp['probation_end'])}",
                             f"; probation ended {loc.day(inp['probation_end'])}")
        if inp.get("waived"):
            text += loc.text("；协议免除返还", "; the refund is waived")
        if inp.get("refused_extension"):
            text += loc.text("；员工拒绝续延劳动合同至服务期满",
                             "; the employee refused to extend the contract")
        return text + loc.text("。", ".")
    if rule == "agreement":
        signed = (loc.day(inp.get("signed_on")) if inp.get("signed_on")
                  else loc.text("签署日期未记录", "not recorded"))
        start, end = loc.day(inp.get("service_start")), loc.day(inp.get("service_end"))
        by = "月" if inp.get("proration") == "month" else "日"
        return loc.text(
            f"培训项目 {program} 的培训协议（签署于 {signed}）：服务期 {start} 至 {end}"
            f"（不含末日），按{by}折算。",
            f"Agreement for program {program} (signed {signed}): service period {start} "
            f"to {end} (end exclusive), prorated by {inp.get('proration')}.")
    if rule == "refundable_base":
        included = _costs(list(inp.get("included") or []), loc, cur)
        text = loc.text(f"可返还的培训费用共 {amount}", f"Refundable training cost {amount}")
        if included:
            text += loc.text(f"，包括{included}", f": {included}")
        excluded = list(inp.get("excluded") or [])
        if excluded:
            text += loc.text(f"；不计入：{'、'.join(excluded)}", f"; not included: {', '.join(excluded)}")
        return text + loc.text("。", ".")
    if rule == "service_served":
        unit = str(inp.get("unit", "months"))

        def span(key: str) -> str:  # 378/31 months -> 12个月又6天 / 12 months and 6 days
            return period_words(str(inp.get(key, 0)), unit, zh=loc.zh)
        return loc.text(
            f"截至 {loc.day(inp.get('through'))}，服务期 {span('period')}，"
            f"已服务 {span('served')}，未服务 {span('unserved')}。",
            f"Served {span('served')} of {span('period')} through {loc.day(inp.get('through'))}; "
            f"{span('unserved')} unserved.")
    if rule == "agreement:signed_after_last_day":
        return loc.text(
            f"培训项目 {program} 的培训协议签署于 {loc.day(inp.get('signed_on'))}，晚于最后工作日 "
            f"{loc.day(inp.get('last_day'))}：对已离职的员工没有约束力，不计算返还。",
            f"The agreement for program {program} was signed on {loc.day(inp.get('signed_on'))}, after the "
            f"last day {loc.day(inp.get('last_day'))}: it binds nobody who had already left; not quoted.")
    if rule == "agreement:not_signed":
        return loc.text(f"培训项目 {program} 的培训协议尚未签署：没有约束力，不计算返还。",
                        f"The agreement for program {program} is not signed: not binding, not quoted.")
    if rule == "pro_rata":
        base = loc.money(inp.get("base"), cur)
        fraction = _fraction(str(inp.get("fraction")))
        return loc.text(f"按未服务比例折算：{base} × {fraction} = {amount}（四舍五入一次）。",
                        f"Pro rata: {base} × {fraction} = {amount}, rounded half-up once.")
    if rule in ("clause_capped", "clause_amount"):
        clause, pro = loc.money(inp.get("clause_amount"), cur), loc.money(inp.get("pro_rata"), cur)
        if rule == "clause_capped":
            return loc.text(f"协议约定的违约金 {clause} 超过按比例折算的 {pro}，以 {amount} 为限。",
                            f"The agreed sum {clause} exceeds the pro-rata {pro}: capped at {amount}.")
        return loc.text(f"协议约定的违约金 {clause} 低于按比例折算的 {pro}，按约定金额 {amount}。",
                        f"The agreed sum {clause} is below the pro-rata {pro}: {amount} is owed.")
    if rule == "owed":
        return loc.text(f"培训项目 {program} 应返还 {amount}。", f"Owed under program {program}: {amount}.")
    if rule == "total":
        return loc.text(f"合计应返还 {amount}。", f"Total owed: {amount}.")
    if rule == "no_agreement":
        return loc.text("没有已签署并约定服务期的培训协议，无需返还。",
                        "No signed agreement with a service period: nothing is owed.")
    if rule.startswith("not_owed:"):
        return _not_owed(rule.split(":", 1)[1], program, loc)
    if rule.startswith("collection:"):
        return _collection(rule.split(":", 1)[1], inp, amount, cur, loc)
    if rule.startswith("incentive:"):
        return incentive_sentence(rule.split(":", 1)[1], item, loc) or generic(item, loc)
    return generic(item, loc)


NOT_OWED: dict[str, tuple[str, str]] = {
    "refused_extension": ("合同期满时员工拒绝续延至服务期满，视同辞职",
                          "the employee refused to extend the contract"),
    "contract_end_not_extended": ("合同在服务期内到期且未续延，单位无权要求返还",
                                  "the contract ended inside the service period and was not extended"),
    "waived": ("协商解除协议免除了返还", "the mutual agreement waives the refund"),
    "probation": ("试用期内离职，不得要求支付培训费用", "left during probation"),
    "no_service_period": ("入职或安全培训不约定服务期",
                          "induction or safety training carries no service period"),
    "service_complete": ("服务期已满", "the service period was served in full"),
    "no_base": ("该协议下没有可返还的培训费用", "no refundable training cost under this agreement"),
    "nothing_owed": ("无需返还", "nothing is owed"),
    "no_fault_dismissal": ("无过失性辞退，单位无权要求返还", "dismissed without fault: no claim"),
    "employer_fault": ("因用人单位过错解除，单位无权要求返还", "the employer's fault: no claim"),
    "retirement": ("退休，单位无权要求返还", "retirement: no claim"),
    "death": ("劳动者死亡，单位无权要求返还", "death: no claim"),
    "contract_end": ("合同期满，单位无权要求返还", "the contract ended: no claim"),
}


def _not_owed(key: str, program: str, loc: Local) -> str:
    why = NOT_OWED.get(key, (key, key.replace("_", " ")))
    return loc.text(f"培训项目 {program}：{why[0]}，无需返还。",
                    f"Program {program}: {why[1]}; nothing is owed.")


def _collection(key: str, inp: dict[str, Any], amount: str, cur: str, loc: Local) -> str:
    consent = bool(inp.get("consent"))
    if key == "no_consent":
        return loc.text(f"没有员工书面同意扣款：{amount} 以返还通知方式请员工自行返还，不从工资中扣除。",
                        f"No written consent to deduct: {amount} is asked of the employee, not deducted.")
    how = loc.text("经员工书面同意" if consent else "（未记录员工书面同意）",
                   "with the employee's written consent" if consent else "without consent on record")
    if key == "payroll_unchecked":
        return loc.text(f"{how}从工资中扣除 {amount}；最终工资未知，薪资部门须确保扣款不超过当月工资的20%，"
                        "且扣后不低于当地最低工资。",
                        f"{amount} deducted from pay {how}; the final pay is not known: payroll must "
                        "keep the deduction within 20% of the month's wage and the rest at or above the "
                        "minimum wage.")
    if key == "payroll":
        limits = loc.text(f"最终工资 {loc.money(inp.get('final_pay'), cur)}",
                          f"final pay {loc.money(inp.get('final_pay'), cur)}")
        if inp.get("minimum_wage"):
            limits += loc.text(f"，当地最低工资 {loc.money(inp['minimum_wage'], cur)}",
                               f", minimum wage {loc.money(inp['minimum_wage'], cur)}")
        return loc.text(f"{how}从工资中扣除 {amount}（{limits}）。",
                        f"{amount} deducted from pay {how} ({limits}).")
    if key == "over_wage_limit":
        return loc.text(f"超出工资可扣部分的 {amount} 以返还通知方式请员工返还。",
                        f"The remaining {amount}, above what the final pay may bear, is asked of the "
                        "employee.")
    return loc.text(f"收取方式：{key} {amount}", f"Collection: {key} {amount}")


FAMILIES: dict[str, tuple[str, str]] = {
    "points": ("积分规则", "Points rule"), "points_taken_back": ("积分收回", "Points taken back"),
    "points_not_scored": ("未计积分", "Not scored"), "cost_allocation": ("费用分摊", "Cost allocation"),
    "talent": ("人才发展", "Talent"),
}


def generic(item: dict[str, Any], loc: Local) -> str:
    """A rule without a template: its name, amount (with its unit) and inputs, as key: value."""
    family, _, detail = str(item.get("rule", "")).partition(":")
    if family == "incentive":
        rule = loc.word("kind", detail)
    elif family in FAMILIES:
        rule = loc.text(*FAMILIES[family])
    else:
        rule = loc.text("规则", "Rule") + " " + str(item.get("rule", "")).replace("_", " ")
    unit = str(item.get("unit") or "")
    value = item.get("amount")
    if value is None:
        amount = ""
    elif unit == "points":
        amount = loc.text(f"{value} 分", f"{value} points")
    elif unit in ("percent", "coefficient"):
        amount = loc.rate(value, unit)
    else:
        amount = loc.money(value, str(item.get("currency") or "CNY"))
    inputs = "，".join if loc.zh else ", ".join
    pairs = inputs(f"{loc.field(str(k))}: {_value(v, loc)}" for k, v in (item.get("inputs") or {}).items()
                   if v not in (None, "", [], {}))
    head = rule + loc.text("：", ":")
    return " ".join(p for p in (head, amount, f"({pairs})" if pairs else "") if p)


def _value(value: Any, loc: Local) -> str:
    if isinstance(value, bool):
        return loc.text("是" if value else "否", "yes" if value else "no")
    if isinstance(value, list):
        return "、".join(str(v) for v in value) if loc.zh else ", ".join(str(v) for v in value)
    return str(value)


def render_items(items: list[dict[str, Any]], loc: Local) -> list[dict[str, str]]:
    """Each item as {"text", "article"} for the templates."""
    return [{"text": sentence(item, loc), "article": article(str(item.get("article") or ""), loc),
             "rule": str(item.get("rule", ""))} for item in items if isinstance(item, dict)]
