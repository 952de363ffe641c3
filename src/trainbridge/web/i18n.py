"""The console's words in Chinese and English; the language comes from a cookie, the browser or a setting."""

from __future__ import annotations

LANGUAGES = ("zh", "en")

MESSAGES: dict[str, tuple[str, str]] = {
    # key: (中文, English)
    "title": ("培训管理控制台", "Training console"),
    "overview": ("概览", "Overview"),
    "proposals": ("待审批", "Proposals"),
    "agreements": ("培训协议", "Agreements"),
    "refunds": ("培训费返还", "Refunds"),
    "leaderboard": ("积分排行", "Leaderboard"),
    "reports": ("报表", "Reports"),
    "quarantine": ("隔离记录", "Quarantine"),
    "audit": ("审计日志", "Audit log"),
    "logout": ("退出", "Log out"),
    "login": ("登录", "Log in"),
    "username": ("用户名", "User name"),
    "password": ("密码", "Password"),
    "login_failed": ("用户名或密码错误", "Wrong user name or password"),
    "login_limited": ("登录失败次数过多，请 5 分钟后再试", "Too many failed logins; try again in 5 minutes"),
    "login_busy": ("登录请求过多，请稍后再试", "Too many logins at once; try again in a moment"),
    "set_password": ("设置密码", "Set a password"),
    "one_time_spent": ("一次性密码已失效，请设置新密码", "The one-time password is used up: choose your own"),
    "new_password": ("新密码", "New password"),
    "repeat_password": ("再次输入", "Repeat it"),
    "password_mismatch": ("两次输入的密码不一致", "The two passwords differ"),
    "save": ("保存", "Save"),
    "webhook_tokens": ("回调验证令牌", "Webhook tokens"),
    "webhook_tokens_note": ("供应商（如 Gusto）发来的订阅验证令牌，只显示一次；请在供应商处确认后写入配置。",
                            "Subscription verification tokens a vendor (Gusto) posted; shown once. "
                            "Confirm the right one with the vendor, then put it in the configuration."),
    "reveal": ("显示", "Show once"),
    "signed_in_as": ("当前用户", "Signed in as"),
    "last_runs": ("各任务最近一次运行", "Last run of each job"),
    "job": ("任务", "Job"),
    "status": ("状态", "Status"),
    "started": ("开始时间", "Started"),
    "counts": ("计数", "Counts"),
    "errors": ("错误", "Errors"),
    "failures": ("失败的运行", "Failed runs"),
    "none": ("无", "None"),
    "quarantined_open": ("待处理的隔离记录", "Quarantined records waiting"),
    "pending_approvals": ("等待审批", "Waiting for approval"),
    "undelivered": ("投递失败的写入", "Writes that failed to deliver"),
    "kind": ("类型", "Kind"),
    "period": ("期间", "Period"),
    "department": ("部门", "Department"),
    "all": ("全部", "All"),
    "filter": ("筛选", "Filter"),
    "subject": ("对象", "Subject"),
    "summary": ("摘要", "Summary"),
    "amount": ("金额", "Amount"),
    "explanation": ("说明", "Explanation"),
    "decided": ("决定", "Decided"),
    "reason": ("理由", "Reason"),
    "approve": ("批准", "Approve"),
    "reject": ("驳回", "Reject"),
    "selected": ("对所选", "Selected"),
    "reason_required": ("驳回必须填写理由", "A rejection needs a reason"),
    "unknown_action": ("未知操作", "Unknown action"),
    "nothing_selected": ("未选择任何提案", "No proposal selected"),
    "read_only": ("只读账户不能审批", "This account is read-only"),
    "employee": ("员工", "Employee"),
    "program": ("培训项目", "Program"),
    "service_period": ("服务期", "Service period"),
    "signed_document": ("已签署文件", "Signed document"),
    "download": ("下载", "Download"),
    "evidence": ("存证", "Evidence"),
    "verify": ("校验", "Verify"),
    "valid": ("有效", "Valid"),
    "invalid": ("无效", "Invalid"),
    "no_evidence": ("无存证", "No evidence"),
    "quote": ("计算", "Quote"),
    "last_day": ("最后工作日", "Last day"),
    "owed": ("应返还", "Owed"),
    "nothing_owed": ("无需返还", "Nothing owed"),
    "refund_proposals": ("返还扣款提案", "Refund deduction proposals"),
    "rank": ("名次", "Rank"),
    "name": ("姓名", "Name"),
    "points": ("积分", "Points"),
    "hidden": ("（不公开）", "(hidden)"),
    "visibility_note": ("按积分排行的可见性设置显示", "Shown per the leaderboard visibility setting"),
    "model": ("记录类型", "Record"),
    "source": ("来源", "Source"),
    "payload": ("原始数据", "Payload"),
    "retry": ("重试", "Retry"),
    "discard": ("丢弃", "Discard"),
    "retry_failed": ("仍然无效", "Still invalid"),
    "when": ("时间", "When"),
    "actor": ("操作人", "Actor"),
    "action": ("操作", "Action"),
    "detail": ("详情", "Detail"),
    "forbidden": ("无权访问", "Not allowed"),
    "not_found": ("未找到", "Not found"),
    "back": ("返回", "Back"),
    "outcome": ("结果", "Outcome"),
    "first_approval": ("第一审批人", "First approval"),
    "language": ("English", "中文"),
    "matching": ("符合条件", "Matching"),
    "pending_by_kind": ("各类待审批", "Waiting, by kind"),
    "page": ("页", "Page"),
    "select": ("选择", "Select"),
    "proposal": ("提案", "Proposal"),
    "decide_selected": ("审批", "Decide"),
    "approve_selected": ("批准所选", "Approve selected"),
    "reject_selected": ("驳回所选", "Reject selected"),
    "approve_page": ("批准本页全部", "Approve all on this page"),
    "reject_page": ("驳回本页全部", "Reject all on this page"),
    "english_explanation": ("英文原文说明", "Explanation in English"),
    "what_approving_does": ("批准后将执行", "What approving does"),
    "notice_to_employee": ("向员工发送返还通知", "Sends the employee a repayment request"),
    "training_result": ("写入绩效系统的培训结果", "A training result for the performance system"),
    "effective_date": ("生效日期", "Effective date"),
    "flags": ("标记", "Flags"),
    "written_to": ("写入系统", "Written to"),
    "no_target": ("没有可写入的系统（请检查连接配置）", "No system to write to (check the connectors)"),
    "signed_pdf": ("已签署协议（PDF）", "Signed agreement (PDF)"),
    "timestamp_check": ("时间戳校验", "Timestamp check"),
    "paper_agreement": ("纸质协议", "Paper agreement"),
    "separation_record": ("离职记录", "Separation record"),
    "consent_on_record": ("已书面同意扣款", "Written consent to deduct"),
    "final_pay": ("最终工资", "Final pay"),
    "cost_lines": ("费用明细", "Cost lines"),
    "points_entries": ("积分明细", "Points entries"),
    "category": ("类别", "Category"),
    "date": ("日期", "Date"),
    "template": ("模板", "Template"),
    "version": ("版本", "Version"),
    "timestamp_by": ("时间戳机构", "Timestamp by"),
    "checked_at": ("校验时间", "Checked at"),
    "document_digest": ("文件摘要", "Document digest"),
    "run_number": ("编号", "Run"),
    "quarter_note": ("期间", "Period"),
}


from trainbridge.web.i18n_extra import EXTRA_MESSAGES  # noqa: E402  (reports, quotes, accounts)

MESSAGES.update({k: v for k, v in EXTRA_MESSAGES.items() if k not in MESSAGES})


def pick_language(cookie: str | None, accept_language: str | None, default: str = "zh") -> str:
    """The user's choice (cookie), else the browser's first supported language, else the setting."""
    if cookie in LANGUAGES:
        return cookie
    weighted: list[tuple[float, int, str]] = []
    for i, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        lang = tag.strip().lower().split("-")[0]
        if lang in LANGUAGES and quality > 0:
            weighted.append((-quality, i, lang))
    return sorted(weighted)[0][2] if weighted else default


def translate(lang: str, key: str) -> str:
    pair = MESSAGES.get(key)
    if pair is None:
        return key
    return pair[0] if lang == "zh" else pair[1]
