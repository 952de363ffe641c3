"""The vocabulary HR reads in Chinese and English, shared by the console and the CLI: proposal
kinds, statuses, jobs, counts, audit actions, roles, connector types and why a record was
quarantined.

Each table maps a value the ledger stores to (中文, English); :func:`word` falls back to
the value itself, which the untranslated-words test then finds on a Chinese page. Nothing
here imports the console (the CLI reads these words without Starlette).
"""

from __future__ import annotations

from typing import Any

Pair = tuple[str, str]

KINDS: dict[str, Pair] = {
    "bonus": ("积分奖金", "Points bonus"),
    "bonus_coefficient": ("奖金系数", "Bonus coefficient"),
    "excellent": ("评优资格", "Eligible for an excellent rating"),
    "excellent_eligible": ("评优资格", "Eligible for an excellent rating"),
    "perks": ("福利资格", "Perks"),
    "promotion": ("晋升提名", "Promotion nomination"),
    "promotion_priority": ("优先晋升", "Promotion priority"),
    "regional_manager": ("区域经理资格", "Regional manager eligibility"),
    "review_points": ("绩效考核积分", "Points for the performance review"),
    "refund": ("培训费扣款", "Training cost deduction"),
    "refund_credit": ("培训费退回", "Training cost paid back"),
    "repayment_request": ("培训费返还通知", "Repayment request"),
    "certificate_reminder": ("证书到期提醒", "Certificate reminder"),
    "notice": ("通知", "Notice"),
}

STATUSES: dict[str, Pair] = {
    "pending": ("待审批", "Waiting"),
    "approved": ("已批准", "Approved"),
    "delivered": ("已送达", "Delivered"),
    "rejected": ("已驳回", "Rejected"),
    "failed": ("失败", "Failed"),
    "dead": ("已放弃", "Given up"),
    "queued": ("排队中", "Queued"),
    "ok": ("成功", "OK"),
    "partial": ("部分成功", "Partly done"),
    "running": ("运行中", "Running"),
    "abandoned": ("已中断", "Abandoned"),
    "open": ("待处理", "Open"),
    "resolved": ("已解决", "Resolved"),
    "discarded": ("已丢弃", "Discarded"),
    "all": ("全部", "All"),
    # agreements
    "draft": ("草稿", "Draft"),
    "drafted": ("已起草", "Drafted"),
    "sent": ("已发送", "Sent"),
    "signed": ("已签署", "Signed"),
    "declined": ("已拒签", "Declined"),
    "voided": ("已作废", "Voided"),
    "expired": ("已过期", "Expired"),
}

JOBS: dict[str, Pair] = {
    "ingest": ("数据读取", "Reading the sources"),
    "approval": ("审批后送达", "Delivery after approval"),
    "agreements": ("培训协议", "Training agreements"),
    "costs": ("培训费用分摊", "Training costs"),
    "separations": ("离职返还", "Leavers' refunds"),
    "certificates": ("证书提醒", "Certificate reminders"),
    "points": ("管理者积分", "Managers' points"),
    "points_reminders": ("积分提醒", "Points reminders"),
    "incentives": ("激励建议", "Incentives"),
    "talent": ("人才发展", "Talent"),
}

COUNTS: dict[str, Pair] = {
    "decisions": ("决定", "decisions"),
    "proposals": ("提案", "proposals"),
    "outbox": ("待发送写入", "writes queued"),
    "delivered": ("已送达", "delivered"),
    "failed": ("失败", "failed"),
    "approval_delivery": ("审批后送达", "delivery after approval"),
    "files": ("文件", "files"),
    "derived_records": ("派生记录", "derived records"),
    "pages": ("页", "pages"),
    "read": ("读取记录", "records read"),
    "records_new": ("新记录", "new records"),
    "records_changed": ("变更记录", "changed records"),
    "records_unchanged": ("未变记录", "unchanged records"),
    "quarantined": ("隔离记录", "quarantined"),
    "notices": ("通知", "notices"),
    "skipped": ("跳过", "skipped"),
}

AUDIT_ACTIONS: dict[str, Pair] = {
    "proposal.approved": ("批准提案", "Approved a proposal"),
    "proposal.rejected": ("驳回提案", "Rejected a proposal"),
    "proposal.first_approval": ("第一审批", "First approval"),
    "quarantine.retry": ("重试隔离记录", "Retried a quarantined record"),
    "quarantine.discard": ("丢弃隔离记录", "Discarded a quarantined record"),
    "login": ("登录", "Logged in"),
    "login.failed": ("登录失败", "Failed login"),
    "logout": ("退出", "Logged out"),
    "user.added": ("新增账户", "Added an account"),
    "user.replaced": ("重置密码", "Reset a password"),
    "user.password_set": ("设置密码", "Set a password"),
    "webhook.tokens_shown": ("查看回调令牌", "Showed webhook tokens"),
    "web.login": ("登录", "Logged in"),
    "web.login_failed": ("登录失败", "Failed login"),
    "web.user_set": ("设置账户", "Set up an account"),
    "web.user_disabled": ("停用账户", "Disabled an account"),
    "web.user_enabled": ("启用账户", "Enabled an account"),
    "web.user_removed": ("删除账户", "Removed an account"),
    "web.password_reset": ("重置密码", "Reset a password"),
    "web.password_set": ("设置密码", "Set a password"),
    "web.password_change_refused": ("拒绝修改密码", "Password change refused"),
    "web.one_time_password_used": ("使用一次性密码", "Used the one-time password"),
    "approval.sent": ("发起外部审批", "Sent for approval"),
    "approval.approver": ("外部审批人", "Approver at the vendor"),
    "approval.approved_at_vendor": ("外部审批通过", "Approved at the vendor"),
    "approval.rejected_at_vendor": ("外部审批驳回", "Rejected at the vendor"),
    "approval.withdrawn": ("撤回外部审批", "Approval withdrawn"),
}

DETAIL_KEYS: dict[str, Pair] = {
    "reason": ("理由", "Reason"),
    "above": ("双人审批金额", "Two approvers above"),
    "count": ("数量", "Count"),
    "role": ("角色", "Role"),
    "status": ("状态", "Status"),
    "employee_id": ("员工", "Employee"),
    "instance": ("连接", "Connection"),
    "via": ("途径", "Via"),
    "source": ("来源", "Source"),
    "ref": ("审批单号", "Reference"),
    "approvers": ("审批人", "Approvers"),
    "key": ("键", "Key"),
    "outcome": ("结果", "Outcome"),
    "event": ("事件", "Event"),
    "accounts": ("账户", "Accounts"),
    "vendor_status": ("外部状态", "Vendor status"),
}

#: an approval instance's status at the vendor: Feishu's instance status, DingTalk's result / type.
VENDOR_STATUSES: dict[str, Pair] = {
    "PENDING": ("审批中", "pending"), "APPROVED": ("已通过", "approved"), "REJECTED": ("已拒绝", "rejected"),
    "CANCELED": ("已撤回", "withdrawn"), "DELETED": ("已删除", "deleted"), "REVERTED": ("已撤销", "revoked"),
    "TRANSFERRED": ("已转交", "transferred"), "agree": ("已同意", "agreed"), "refuse": ("已拒绝", "refused"),
    "terminate": ("已撤销", "terminated"), "finish": ("已结束", "finished"), "start": ("已发起", "started"),
    "RUNNING": ("审批中", "running"), "COMPLETED": ("已结束", "completed"),
    "TERMINATED": ("已撤销", "terminated"),
}

ROLES: dict[str, Pair] = {
    "admin": ("管理员", "administrator"),
    "hr": ("人事", "HR"),
    "viewer": ("只读", "viewer"),
    "manager": ("经理", "manager"),
}

#: connector types, as the systems HR knows them.
CONNECTOR_TYPES: dict[str, Pair] = {
    "jsonl_payroll": ("薪资系统（文件导出）", "Payroll (file export)"),
    "file_notifier": ("通知（文件）", "Notices (file)"),
    "file_learning": ("学习平台（文件）", "Learning platform (file)"),
    "csv_people": ("人事系统（CSV）", "HR system (CSV)"),
    "csv_costs": ("财务系统（CSV）", "Finance system (CSV)"),
    "csv_metrics": ("绩效指标（CSV）", "Performance metrics (CSV)"),
    "csv_reviews": ("绩效考核（CSV）", "Performance reviews (CSV)"),
    "local_esign": ("电子签（本地演示）", "E-signature (local demo)"),
    "rfc3161": ("可信时间戳", "Trusted timestamp"),
    "feishu": ("飞书", "Feishu"),
    "dingtalk": ("钉钉", "DingTalk"),
    "wecom": ("企业微信", "WeCom"),
    "gusto": ("Gusto 薪资", "Gusto payroll"),
    "moka": ("Moka 人事", "Moka HR"),
    "beisen": ("北森", "Beisen"),
    "esign_cn": ("e签宝", "eSign (e签宝)"),
    "fadada": ("法大大", "Fadada"),
    "feishu_approval": ("飞书审批", "Feishu Approval"),
    "dingtalk_approval": ("钉钉审批", "DingTalk approval"),
}

#: what a write does, by operation.
OPERATIONS: dict[str, Pair] = {
    "post_adjustment": ("写入薪资调整", "posts a pay adjustment to"),
    "push_training_result": ("写入培训结果", "records a training result in"),
    "send_notice": ("发送通知", "sends a notice through"),
}

ADJUSTMENTS: dict[str, Pair] = {
    "deduction": ("扣款", "deduction"),
    "credit": ("退款", "credit"),
    "bonus": ("奖金", "bonus"),
    "bonus_percent": ("奖金比例", "bonus percentage"),
    "bonus_coefficient": ("奖金系数", "bonus coefficient"),
}

FLAGS: dict[str, Pair] = {
    "excellent_eligible": ("可参评优秀", "may be rated excellent"),
    "perks": ("享受福利", "perks"),
    "promotion": ("晋升提名", "promotion"),
    "promotion_priority": ("优先晋升", "promotion priority"),
    "regional_manager": ("区域经理资格", "regional manager"),
}

SEPARATION_REASONS: dict[str, Pair] = {
    "resignation": ("主动辞职", "resignation"),
    "dismissal_for_cause": ("过失性辞退", "dismissal for cause"),
    "employer_fault": ("因用人单位过错解除", "the employer's fault"),
    "no_fault_dismissal": ("无过失性辞退", "dismissal without fault"),
    "contract_end": ("合同期满", "end of contract"),
    "retirement": ("退休", "retirement"),
    "death": ("死亡", "death"),
    "mutual_agreement": ("协商解除", "mutual agreement"),
}

#: pydantic error types, as a plain sentence about the field ({field}).
QUARANTINE_REASONS: dict[str, Pair] = {
    "missing": ("缺少必填字段「{field}」", "The required field “{field}” is missing"),
    "string_type": ("字段「{field}」应为文字", "The field “{field}” should be text"),
    "string_too_short": ("字段「{field}」不能为空", "The field “{field}” must not be empty"),
    "string_too_long": ("字段「{field}」太长", "The field “{field}” is too long"),
    "decimal_parsing": ("字段「{field}」不是有效金额", "The field “{field}” is not a valid amount"),
    "decimal_type": ("字段「{field}」不是有效金额", "The field “{field}” is not a valid amount"),
    "int_parsing": ("字段「{field}」应为整数", "The field “{field}” should be a whole number"),
    "int_type": ("字段「{field}」应为整数", "The field “{field}” should be a whole number"),
    "float_parsing": ("字段「{field}」应为数字", "The field “{field}” should be a number"),
    "bool_parsing": ("字段「{field}」应为是/否", "The field “{field}” should be yes or no"),
    "date_from_datetime_parsing": ("字段「{field}」不是有效日期", "The field “{field}” is not a valid date"),
    "date_parsing": ("字段「{field}」不是有效日期", "The field “{field}” is not a valid date"),
    "date_type": ("字段「{field}」不是有效日期", "The field “{field}” is not a valid date"),
    "datetime_parsing": ("字段「{field}」不是有效时间", "The field “{field}” is not a valid time"),
    "datetime_from_date_parsing": ("字段「{field}」不是有效时间", "The field “{field}” is not a valid time"),
    "enum": ("字段「{field}」的取值不在允许范围内", "The field “{field}” has a value that is not allowed"),
    "literal_error": ("字段「{field}」的取值不在允许范围内",
                      "The field “{field}” has a value that is not allowed"),
    "value_error": ("字段「{field}」的值无效", "The field “{field}” has an invalid value"),
    "extra_forbidden": ("多出了未知字段「{field}」", "The field “{field}” is not known"),
    "greater_than_equal": ("字段「{field}」的值太小", "The field “{field}” is too small"),
    "less_than_equal": ("字段「{field}」的值太大", "The field “{field}” is too large"),
    "unreadable_text": ("字段「{field}」含有无法保存的字符",
                        "The field “{field}” holds characters that cannot be stored"),
}

FIELDS: dict[str, Pair] = {
    "employee_id": ("员工编号", "employee id"),
    "name": ("姓名", "name"),
    "department": ("部门", "department"),
    "amount": ("金额", "amount"),
    "currency": ("币种", "currency"),
    "program_id": ("培训项目", "program"),
    "last_day": ("最后工作日", "last day"),
    "reason": ("原因", "reason"),
    "occurred_at": ("发生时间", "time"),
    "id": ("编号", "id"),
    "hire_date": ("入职日期", "hire date"),
    "legal_entity": ("法人主体", "legal entity"),
    "points": ("积分", "points"),
    "period": ("期间", "period"),
    "category": ("类别", "category"),
    "rule": ("规则", "rule"),
    "earned_on": ("获得日期", "earned on"),
    "agreement_id": ("培训协议", "agreement"),
    "cost_item": ("费用", "cost"),
    "share": ("分摊", "share"),
    "weight": ("权重", "weight"),
    "quarter": ("季度", "quarter"),
    "threshold": ("门槛", "threshold"),
    "rank": ("名次", "rank"),
}

COST_CATEGORIES: dict[str, Pair] = {
    "course_fee": ("课程费", "Course fee"), "travel": ("差旅费", "Travel"),
    "accommodation": ("住宿费", "Accommodation"),
    "instructor": ("讲师费", "Instructor"), "materials": ("教材费", "Materials"), "exam": ("考试费", "Exam"),
    "wages": ("培训期间工资", "Wages during training"), "other": ("其他费用", "Other"),
}

POINTS_CATEGORIES: dict[str, Pair] = {
    "participation": ("参与", "participation"), "output": ("产出", "output"), "sharing": ("分享", "sharing"),
}

#: the points rules (rules/points.py RULE_KINDS), as HR reads them.
POINTS_RULES: dict[str, Pair] = {
    "offline_attended": ("参加线下课程", "Offline session attended"),
    "online_completed": ("完成线上课程", "Online course completed"),
    "late": ("迟到", "Late check-in"),
    "action_plan_submitted": ("提交行动计划", "Action plan submitted"),
    "action_plan_adopted": ("行动计划被采纳", "Action plan adopted"),
    "taught_frontline": ("为基层员工授课", "Taught front-line staff"),
    "reflection_article": ("发表培训心得", "Training reflection published"),
}

RECORDS: dict[str, Pair] = {
    "employee": ("员工", "Employee"), "separation": ("离职记录", "Separation"),
    "program": ("培训项目", "Program"),
    "enrollment": ("报名", "Enrollment"), "learning_event": ("学习记录", "Learning event"),
    "certificate": ("证书", "Certificate"), "metric": ("绩效指标", "Metric"), "cost_item": ("费用", "Cost"),
    "agreement": ("培训协议", "Agreement"), "points_entry": ("积分", "Points entry"),
    "review": ("绩效考核", "Review"), "session": ("培训场次", "Session"),
}

TABLES: dict[str, dict[str, Pair]] = {
    "record": RECORDS, "points_rule": POINTS_RULES, "vendor_status": VENDOR_STATUSES,
    "cost": COST_CATEGORIES, "points_category": POINTS_CATEGORIES,
    "kind": KINDS, "status": STATUSES, "job": JOBS, "count": COUNTS, "audit": AUDIT_ACTIONS,
    "detail": DETAIL_KEYS, "role": ROLES, "connector": CONNECTOR_TYPES, "operation": OPERATIONS,
    "adjustment": ADJUSTMENTS, "flag": FLAGS, "separation": SEPARATION_REASONS, "field": FIELDS,
}


def word(table: str, value: Any, lang: str) -> str:
    """``value`` in ``lang`` from one of :data:`TABLES`; the value itself when it has no entry."""
    pair = TABLES[table].get(str(value))
    if pair is None:
        return str(value)
    return pair[0] if lang == "zh" else pair[1]


#: pydantic's messages, by the error type they belong to (the ledger keeps the message only).
PYDANTIC_MESSAGES = (
    ("Field required", "missing"),
    ("Input should be a valid string", "string_type"),
    ("String should have at least", "string_too_short"),
    ("String should have at most", "string_too_long"),
    ("Input should be a valid decimal", "decimal_parsing"),
    ("Decimal input should be", "decimal_parsing"),
    ("Input should be a valid integer", "int_parsing"),
    ("Input should be a valid number", "float_parsing"),
    ("Input should be a valid boolean", "bool_parsing"),
    ("Input should be a valid date", "date_parsing"),
    ("Datetimes provided to dates", "date_from_datetime_parsing"),
    ("Input should be a valid datetime", "datetime_parsing"),
    ("Input should be greater than", "greater_than_equal"),
    ("Input should be less than", "less_than_equal"),
    ("Extra inputs are not permitted", "extra_forbidden"),
    ("Input should be ", "enum"),
    ("Value error", "value_error"),
    ("Assertion failed", "value_error"),
)


def quarantine_sentences(reason: str, lang: str) -> list[str]:
    """Each problem of a stored validation reason (``loc: msg; ...``) as a plain sentence:
    ``hire_date: Input should be a valid date`` -> 字段「入职日期」不是有效日期."""
    sentences = []
    for part in (reason or "").split("; "):
        where, _, message = part.partition(": ")
        if not message:
            where, message = "", part
        kind: str | None = "value_error"
        if "holds a character the ledger cannot store" in part:
            kind, where = "unreadable_text", part.removeprefix("field ").split(" ", 1)[0]
        else:
            kind = next((k for prefix, k in PYDANTIC_MESSAGES if message.startswith(prefix)), None)
        if kind is None or message.startswith("Value error, "):
            # a rule's own words (a connector's or a record's check): English says them as they are
            simple = kind is not None and bool(where) and " " not in where and where != "(record)"
            detail = message.removeprefix("Value error, ") if kind else part
            if lang != "zh":
                named = f"The field “{word('field', where.split('.')[-1], lang)}”: " if simple else ""
                sentences.append(named + (detail if named else detail[:1].upper() + detail[1:]))
                continue
            if not simple:
                sentences.append("记录未通过校验")
                continue
            kind = "value_error"
        if where and where != "(record)":
            field = word("field", where.split(".")[-1], lang)
        else:
            field = "记录" if lang == "zh" else "record"
        template = QUARANTINE_REASONS[kind]
        sentences.append((template[0] if lang == "zh" else template[1]).format(field=field))
    return sentences
