"""Reports in the reader's language: titles, column headers, notes and the words in cells.

The report builders speak English with snake_case columns (the command line's JSON and CSV
keep them); the console shows and downloads the same result in Chinese or English. A text
no rule knows stays as it is (names, ids and program titles are data, not words).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

from markupsafe import Markup, escape

from trainbridge.core.reports import Chart, Note, ReportResult

#: snake_case column -> (中文, English)
COLUMNS: dict[str, tuple[str, str]] = {
    "category": ("类别", "Category"), "points": ("积分", "Points"), "share_pct": ("占比 %", "Share %"),
    "target_pct": ("目标 %", "Target %"), "off_pp": ("偏差（百分点）", "Off (pp)"), "flag": ("提示", "Flag"),
    "rank": ("名次", "Rank"), "employee": ("员工", "Employee"), "name": ("姓名", "Name"),
    "department": ("部门", "Department"), "assigned": ("已分配", "Assigned"),
    "completed_pct": ("完成率 %", "Completed %"), "program": ("培训项目", "Program"),
    "title": ("名称", "Title"),
    "in_progress_pct": ("进行中 %", "In progress %"), "not_started_pct": ("未开始 %", "Not started %"),
    "completed": ("已完成", "Completed"), "progress": ("进度", "Progress"), "metric": ("指标", "Metric"),
    "direction": ("方向", "Direction"), "trainees": ("学员数", "Trainees"), "before": ("培训前", "Before"),
    "after": ("培训后", "After"), "improvement_pct": ("改善 %", "Improvement %"),
    "proposal": ("提案", "Proposal"), "kind": ("类型", "Kind"), "amount": ("金额", "Amount"),
    "status": ("状态", "Status"), "people": ("人数", "People"), "total": ("合计", "Total"),
    "refundable": ("可返还", "Refundable"), "currency": ("币种", "Currency"), "item": ("项目", "Item"),
    "allocation": ("分摊方式", "Allocation"), "voucher": ("凭证", "Voucher"), "how": ("计算方式", "How"),
    "value": ("内容", "Value"), "role": ("岗位", "Role"), "trainings": ("培训数", "Trainings"),
    "certificates": ("证书", "Certificates"), "expiring": ("即将到期", "Expiring"),
    "trend": ("趋势", "Trend"),
    "promotions": ("晋升次数", "Promotions"), "skill_gaps": ("技能差距", "Skill gaps"),
    "requirement": ("要求", "Requirement"), "first_day": ("首日", "First day"),
    "certificate": ("证书", "Certificate"), "issued_on": ("颁发日期", "Issued on"),
    "expires_on": ("到期日期", "Expires on"), "days_left": ("剩余天数", "Days left"),
    "quarter": ("季度", "Quarter"), "before_on": ("培训前日期", "Before (date)"),
    "after_on": ("培训后日期", "After (date)"), "effective_date": ("生效日期", "Effective date"),
    "change": ("变动", "Change"), "job_title": ("职位", "Job title"), "why": ("原因", "Why"),
    "site": ("地点", "Site"), "required": ("需求人数", "Required"), "headcount": ("在岗人数", "Headcount"),
    "holders": ("持证人数", "Holders"), "attrition_pct": ("流失率 %", "Attrition %"),
    "expected_leavers": ("预计离职", "Expected leavers"), "to_train": ("需培训", "To train"),
    "sessions": ("班次", "Sessions"), "cost_per_head": ("人均费用", "Cost per head"),
    "budget": ("预算", "Budget"), "reminder": ("提醒", "Reminder"), "allocated": ("分摊金额", "Allocated"),
    "topic": ("主题", "Topic"), "from_reviews": ("来自评估", "From reviews"),
    "from_goals": ("来自职业目标", "From goals"), "evidence": ("依据", "Evidence"),
    "course_fee": ("课程费", "Course fee"), "travel": ("差旅", "Travel"),
    "accommodation": ("住宿", "Accommodation"),
    "instructor": ("讲师费", "Instructor"), "materials": ("教材", "Materials"), "exam": ("考试费", "Exam"),
    "wages": ("工资", "Wages"), "other": ("其他", "Other"), "note": ("说明", "Note"),
    "report": ("报表", "Report"),
}

#: a whole cell (or chart label) -> (中文, English)
VALUES: dict[str, tuple[str, str]] = {
    "participation": ("参与", "Participation"), "output": ("产出", "Output"), "sharing": ("分享", "Sharing"),
    "the rule is off": ("规则偏离目标", "the rule is off"), "below target": ("低于目标", "below target"),
    "(none)": ("（无）", "(none)"), "(all)": ("（全部）", "(all)"),
    "pending": ("待审批", "pending"), "approved": ("已批准", "approved"),
    "delivered": ("已送达", "delivered"),
    "rejected": ("已驳回", "rejected"), "failed": ("失败", "failed"),
    "enrolled": ("已报名", "enrolled"), "in_progress": ("进行中", "in progress"),
    "completed": ("已完成", "completed"), "cancelled": ("已取消", "cancelled"),
    "higher_is_better": ("越高越好", "higher is better"), "lower_is_better": ("越低越好", "lower is better"),
    "up": ("上升", "up"), "down": ("下降", "down"), "flat": ("持平", "flat"),
    "valid": ("有效", "valid"), "expiring": ("即将到期", "expiring"), "expired": ("已过期", "expired"),
    "promotion": ("晋升", "promotion"), "transfer": ("调岗", "transfer"), "yes": ("是", "yes"),
    "per_head": ("按人头", "per head"), "shared": ("分摊", "shared"),
    "bonus": ("奖金", "bonus"), "bonus_coefficient": ("奖金系数", "bonus coefficient"),
    "promotion_list": ("晋升名单", "promotion list"), "refund": ("培训费返还", "refund"),
    "refund_credit": ("返还退回", "refund credit"),
    "competency": ("能力要求", "competency"),
    "excellent": ("优秀学员", "excellent"), "perks": ("福利", "perks"),
    # the incentives' other proposal kinds (chart labels and the kind column)
    "promotion_priority": ("优先晋升", "promotion priority"),
    "regional_manager": ("区域经理资格", "regional manager eligibility"),
    "review_points": ("绩效考核积分", "points for the review"),
    "excellent_eligible": ("评优资格", "may be rated excellent"),
    "repayment_request": ("培训费返还通知", "repayment request"),
    **{k: v for k, v in COLUMNS.items() if k in ("course_fee", "travel", "accommodation", "instructor",
                                                    "materials", "exam", "wages", "other", "employee",
                                                    "program", "department")},
}

#: (pattern, 中文, English): the first full match rewrites a title, note or label; ``{name}``
#: fills in a group (translated again when it is a known word).
PATTERNS: list[tuple[re.Pattern[str], str, str]] = [(re.compile(p), zh, en) for p, zh, en in [
    (r"Points distribution (?P<p>\S+)", "积分分布 {p}", "Points distribution {p}"),
    (r"Leaderboard (?P<p>\S+)", "积分排行 {p}", "Leaderboard {p}"),
    (r"Points (?P<p>\S+)", "积分 {p}", "Points {p}"),
    (r"Points per category vs target weight",
     "各类积分占比与目标权重", "Points per category vs target weight"),
    (r"no points earned in (?P<p>\S+)", "{p} 没有获得积分", "No points earned in {p}"),
    (r"(?P<c>\w+): (?P<s>[\d.]+)% of points vs target (?P<t>[\d.]+)% "
     r"\((?P<o>[-+\d.]+), margin (?P<m>[\d.]+)\): "
     r"the rule is off", "{c}：占积分 {s}%，目标 {t}%（偏差 {o} 个百分点，容差 {m}）：规则偏离目标",
     "{c}: {s}% of points vs target {t}% ({o} pp, margin {m}): the rule is off"),
    (r"Training progress per department", "各部门培训进度", "Training progress per department"),
    (r"Completion per department", "各部门完成率", "Completion per department"),
    (r"Progress per program", "各培训项目进度", "Progress per program"),
    (r"Progress per employee", "各员工进度", "Progress per employee"),
    (r"(?P<d>.+): (?P<r>[\d.]+)% completed, below (?P<m>[\d.]+)%", "{d}：完成率 {r}%，低于 {m}%",
     "{d}: {r}% completed, below {m}%"),
    (r"(?P<a>\d+) of (?P<b>\d+)", "{a} / {b}", "{a} of {b}"),
    (r"Training effect per program", "各培训项目的培训效果", "Training effect per program"),
    (r"Improvement after training", "培训后的改善", "Improvement after training"),
    (r"no metric has values both before and after a training", "没有指标同时有培训前和培训后的数值",
     "No metric has values both before and after a training"),
    (r"Incentive proposals", "激励提案", "Incentive proposals"),
    (r"Proposals per kind", "各类型提案数", "Proposals per kind"),
    (r"(?P<n>\d+) (?P<s>pending|approved|rejected)", "{s} {n} 条", "{n} {s}"),
    (r"no incentive proposals yet \(run `trainbridge sync incentives`\)",
     "尚无激励提案（激励任务运行后生成）",
     "No incentive proposals yet (they come from the incentives job)"),
    (r"Training cost by (?P<b>\w+)", "培训费用（按{b}）", "Training cost by {b}"),
    (r"Item by item", "逐项明细", "Item by item"),
    (r"Refundable: vouchered training cost .*", "可返还：有凭证的培训费用（《劳动合同法实施条例》第十六条）；"
     "工资不计入；无凭证的项目仅在 `[jobs.costs] include_unvouchered = true` 时计入。",
     "Refundable: vouchered training cost (Implementing Regulations art. 16); wages never; items without a "
     "voucher only with `[jobs.costs] include_unvouchered = true`."),
    (r"Not allocated: (?P<i>\S+) (?P<a>\S+) (?P<c>\S+): (?P<r>.*)", "未分摊：{i} {a} {c}：{r}",
     "Not allocated: {i} {a} {c}: {r}"),
    (r"no: (?P<w>.*)", "否：{w}", "no: {w}"),
    (r"charged to (?P<e>\S+) \(allocation employee: the whole item\)", "全额计入 {e}",
     "charged to {e} (the whole item)"),
    (r"shared equally among the (?P<n>\d+) attendees of session (?P<s>\S+): (?P<a>\S+) each",
     "由场次 {s} 的 {n} 名学员平均分摊：每人 {a}",
     "shared equally among the {n} attendees of session {s}: {a} each"),
    (r"Capability profiles: all departments", "能力档案：全部部门", "Capability profiles: all departments"),
    (r"Capability profiles: (?P<d>.+)", "能力档案：{d}", "Capability profiles: {d}"),
    (r"Capability profile (?P<e>.+)", "能力档案 {e}", "Capability profile {e}"),
    (r"People with each skill gap", "各技能差距的人数", "People with each skill gap"),
    (r"Skill gaps", "技能差距", "Skill gaps"),
    (r"Trainings", "培训", "Trainings"),
    (r"Certificates", "证书", "Certificates"),
    (r"Points by quarter", "各季度积分", "Points by quarter"),
    (r"Performance before and after training", "培训前后的绩效", "Performance before and after training"),
    (r"Promotions and role changes", "晋升与岗位变动", "Promotions and role changes"),
    (r"Certificate demand forecast \((?P<n>\d+) months from (?P<d>[\d-]+)\)",
     "证书需求预测（自 {d} 起 {n} 个月）",
     "Certificate demand forecast ({n} months from {d})"),
    (r"Holders vs required", "持证人数与需求人数", "Holders vs required"),
    (r"Certificates expiring within the horizon",
     "预测期内到期的证书", "Certificates expiring within the horizon"),
    (r"Cost basis \(allocations of the programs granting the certificate\)",
     "费用依据（授予该证书的培训项目的分摊）",
     "Cost basis (allocations of the programs granting the certificate)"),
    (r"sent (?P<d>[\d-]+)", "已于 {d} 发送", "sent {d}"),
    (r"Training needs: low review scores and career goals", "培训需求：低评分与职业目标",
     "Training needs: low review scores and career goals"),
    (r"People behind each topic", "各主题涉及人数", "People behind each topic"),
    (r"low: a competency's latest review score is below (?P<x>\S+)", "低分：某项能力最近一次评估得分低于 {x}",
     "Low: a competency's latest review score is below {x}"),
    (r"no review score below (?P<x>\S+) and no stated career goal: no training need found",
     "没有低于 {x} 的评估得分，也没有填写职业目标：未发现培训需求",
     "No review score below {x} and no stated career goal: no training need found"),
    (r"no current employees in department '(?P<d>.+)'",
     "{d} 部门没有在职员工", "No current employees in {d}"),
    (r"no demand configured: .*", "尚未配置证书需求（`[jobs.talent] demand`）",
     "No demand configured (`[jobs.talent] demand`)"),
    (r"career goal\(s\) not mapped to a topic: (?P<g>.+) \(map them in \[jobs.talent\] goals\)",
     "以下职业目标未对应培训主题：{g}（在 `[jobs.talent] goals` 中设置）",
     "Career goals not mapped to a topic: {g} (map them in `[jobs.talent] goals`)"),
    (r"(?P<w>.+) has no training history: .*", "{w} 没有培训记录：无培训、证书、积分、绩效指标或岗位变动",
     "{w} has no training history: no trainings, certificates, points, metrics or role changes"),
]]


#: no titles: codes stay as they are.
NO_TITLES: Mapping[str, str] = {}


def titles_of(jobs: Mapping[str, Any]) -> dict[str, str]:
    """What a Chinese page shows for a certificate, role, competency or goal code: ``[jobs.talent]
    titles``, and ``competency_topics`` for competencies; a code with neither stays as data."""
    talent = jobs.get("talent", {}) if isinstance(jobs, Mapping) else {}
    found: dict[str, str] = {}
    for table in ("competency_topics", "titles"):
        value = talent.get(table, {}) if isinstance(talent, Mapping) else {}
        if isinstance(value, Mapping):
            found.update({str(k): str(v) for k, v in value.items() if isinstance(v, str) and v})
    return found


def _title(value: str, titles: Mapping[str, str]) -> str:
    """``value`` (a code, or ``competency:CODE``) as its configured title, else as it is."""
    code = value.removeprefix("competency:")
    return titles.get(code, value)


def _value(value: Any, titles: Mapping[str, str] = NO_TITLES) -> str:
    """A rule's value in Chinese text: a note in Chinese, lists with 、, dates and numbers as written."""
    if isinstance(value, Note):
        return word(value, "zh", titles)
    if isinstance(value, (list, tuple)):
        return "、".join(_value(v, titles) for v in value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, date):
        return value.isoformat()
    return _title(str(value), titles)


def _where(v: Mapping[str, str]) -> str:
    return f"{v['site']} 的 {v['role']}" if v.get("site") else v["role"]  # data: spaced from the words


#: a :class:`Note`'s rule -> its Chinese sentence from the values (already text, see ``_value``);
#: in English the note is its own sentence. Role, site, certificate and program names are data.
RULES: dict[str, Callable[[Mapping[str, str]], str]] = {
    "talent.demand_line": lambda v: f"{v['certificate']} / {v['role']}：{v['line']}",
    "talent.demand_cost_note": lambda v: f"{v['certificate']}：{v['why']}",
    "talent.demand_holders": lambda v: (
        f"需要 {v['required']} 名 {_where(v)} 持有 {v['certificate']}；"
        f"目前 {v['holders']} 人持有（该岗位在职 {v['present']} 人）"),
    "talent.demand_expiring": lambda v: (
        f"{v['expiring']} 张证书将于 {v['end']} 前到期（预测期 {v['months']} 个月）"),
    "talent.demand_attrition": lambda v: (
        f"流失率：近 12 个月离职 {v['leavers']} 人 ÷ {v['base']} 人 = {v['rate']}%；"
        f"{v['staying']} 名持证人 × 流失率 × {v['months']}/12 = {v['expected']}"
        f" → 预计 {v['expected_leavers']} 人离职"),
    "talent.demand_to_train": lambda v: (
        f"需培训 = 需求 {v['required']} − 持证 {v['holders']} + 到期 {v['expiring']} "
        f"+ 预计离职 {v['expected_leavers']} = {v['to_train']}（至少为 0）"),
    "talent.demand_sessions": lambda v: (
        f"班次 = {v['to_train']} ÷ 每班 {v['class_size']} 人，向上取整 = {v['sessions']}"),
    "talent.demand_budget": lambda v: (
        f"预算 = {v['to_train']} 人 × 人均 {v['per_head']} {v['currency']}"
        f"（{v['programs']} 的 {v['items']} 项费用，分摊给 {v['people']} 人）"),
    "talent.demand_budget_unknown": lambda v: f"预算未知：{v['why']}",
    "talent.demand_lacking": lambda v: f"该岗位只有 {v['lacking']} 人尚未持证：需招聘或调入人员参加培训",
    "talent.no_cost_history": lambda v: f"{v['programs']} 没有费用记录",
    "talent.no_granting_program": lambda v: "没有授予该证书的培训项目，因此没有费用记录",
    "talent.cost_currencies": lambda v: f"费用有多个币种（{v['currencies']}）：按 {v['currency']} 计算",
}

#: a cell of parts joined with "; " (the needs report's evidence): each part by PART_PATTERNS.
PART_PATTERNS: list[tuple[re.Pattern[str], str, str]] = [(re.compile(p), zh, en) for p, zh, en in [
    (r"(?P<w>\S+) goal (?P<g>\S+)", "{w} 职业目标 {g}", "{w} goal {g}"),
    (r"(?P<w>\S+) (?P<c>competency:\S+) (?P<s>[\d.]+) < (?P<x>[\d.]+) \((?P<d>[\d-]+)\)",
     "{w} {c} 评分 {s} 低于 {x}（{d}）", "{w} {c} {s} < {x} ({d})"),
]]


def _parts(text: str, lang: str, titles: Mapping[str, str] = NO_TITLES) -> str | None:
    """``text`` when every "; "-separated part is known (None otherwise), each in ``lang``."""
    out = []
    for part in text.split("; "):
        match = next((m for p, _, _ in PART_PATTERNS if (m := p.fullmatch(part))), None)
        if match is None:
            return None
        zh, en = next((zh, en) for p, zh, en in PART_PATTERNS if p is match.re)
        groups = {k: _title(v, titles) if lang == "zh" and k in ("g", "c") else v
                  for k, v in match.groupdict().items()}
        out.append((zh if lang == "zh" else en).format(**groups))
    return ("；" if lang == "zh" else "; ").join(out)


def word(text: str, lang: str, titles: Mapping[str, str] = NO_TITLES) -> str:
    """One cell's, label's or title's text in ``lang`` (unknown text as it is); on Chinese pages a
    code with a configured title (:func:`titles_of`) is shown by its title."""
    if lang != "zh":
        titles = NO_TITLES
    if isinstance(text, Note) and text.rule in RULES:
        if lang != "zh":
            return str(text)
        return RULES[text.rule]({k: _value(v, titles) for k, v in text.values.items()})
    if text in VALUES:  # the console's own words first (regional_manager, the proposal kind)
        return _said(VALUES[text], lang)
    if text in titles:
        return titles[text]
    for pattern, zh, en in PATTERNS:
        match = pattern.fullmatch(text)
        if match:
            parts = {k: word(v, lang) if v in VALUES or v in COLUMNS else _title(v, titles)
                     for k, v in match.groupdict().items()}
            return (zh if lang == "zh" else en).format(**parts)
    if "; " in text or " goal " in text or " < " in text:
        return _parts(text, lang, titles) or text
    return _codes(text, titles)


#: a list of codes as a report joins them: "leadership, coaching" or "fire_control_operator fire_operator".
_CODE_LIST = re.compile(r"[a-z][a-z0-9_]*(?:(?:, | )[a-z][a-z0-9_]*)+")


def _codes(text: str, titles: Mapping[str, str]) -> str:
    """A cell or label that lists codes, each by its title where it has one (``、`` between them)."""
    if not titles or not _CODE_LIST.fullmatch(text):
        return text
    parts = re.split(r", | ", text)
    if not any(part in titles for part in parts):
        return text
    return ("、" if ", " in text else " · ").join(titles.get(part, part) for part in parts)


def column(name: str, lang: str) -> str:
    pair = COLUMNS.get(str(name))
    return str(name) if pair is None else _said(pair, lang)


def _said(pair: tuple[str, str], lang: str) -> str:
    """(中文, English) in ``lang``."""
    return pair[0] if lang == "zh" else pair[1]


def _cell(value: Any, lang: str, titles: Mapping[str, str] = NO_TITLES) -> Any:
    return word(value, lang, titles) if isinstance(value, str) else value


def _chart(chart: Chart, lang: str, titles: Mapping[str, str] = NO_TITLES) -> Chart:
    return replace(chart, title=word(chart.title, lang, titles),
                   labels=[word(str(x), lang, titles) for x in chart.labels],
                   target_label="目标" if lang == "zh" else chart.target_label)


def localize(result: ReportResult, lang: str, titles: Mapping[str, str] = NO_TITLES) -> ReportResult:
    """The same report with its words in ``lang``; numbers, dates, names and ids untouched (on
    Chinese pages, codes with a configured title by their title)."""
    rows: Sequence[Sequence[Any]] = [[_cell(v, lang, titles) for v in row] for row in result.rows]
    return replace(result, title=word(result.title, lang, titles),
                   columns=[column(c, lang) for c in result.columns],
                   rows=rows, notes=[word(n, lang, titles) for n in result.notes],
                   charts=[_chart(ch, lang, titles) for ch in result.charts],
                   sections=[localize(s, lang, titles) for s in result.sections])


#: the registered reports' titles (their own are English).
REPORT_TITLES: dict[str, tuple[str, str]] = {
    "points": ("积分分布与排行", "Points per category and the leaderboard"),
    "progress": ("培训进度", "Training progress"),
    "effect": ("培训效果", "Training effect"),
    "incentives": ("激励提案与审批", "Incentive proposals and decisions"),
    "costs": ("培训费用", "Training cost"),
    "profile": ("能力档案", "Capability profiles"),
    "demand": ("证书需求预测", "Certificate demand"),
    "needs": ("培训需求", "Training needs"),
}


def report_title(name: str, title: str, lang: str) -> str:
    pair = REPORT_TITLES.get(name)
    return title if pair is None else _said(pair, lang)


#: text quoted in backticks: code (a config key, a command), shown as ``<code>``.
CODE = re.compile(r"`([^`<>]+)`")


def note_html(text: str) -> Markup:
    """A note for a page: escaped; what it quotes in backticks (a config key, a command) as ``<code>``."""
    return Markup(CODE.sub(lambda m: f"<code>{m.group(1)}</code>", str(escape(text))))
