"""The ``certificates`` job: remind holders and HR of certificates about to expire.

``decide`` reads only the ledger (employees, separations, certificates and the reminders
already decided) and asks the host whether any instance can send notices; each notice goes
out as a ``send_notice`` outbox write.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from pydantic import BaseModel

from trainbridge.core.jobs import Decision, Job, JobContext, Plan, Write
from trainbridge.core.ledger import queries
from trainbridge.core.records import Certificate, Employee, Notice, Recipient, Separation
from trainbridge.plugins.talent.config import REMINDER, CertificatesConfig
from trainbridge.rules.agreements import parse_lead
from trainbridge.rules.explain import CERTIFICATE_SOURCE, talent_items
from trainbridge.rules.talent import departed, latest_certificates, reminder_is_due


class CertificatesJob(Job):
    name = "certificates"
    description = "Remind holders and HR of certificates expiring within the lead time (once per reminder)."
    inputs: ClassVar[tuple[str, ...]] = ("employee", "separation", "learning_event", "certificate")
    config_model: ClassVar[type[BaseModel] | None] = CertificatesConfig
    order = 60

    def decide(self, ctx: JobContext) -> Plan:
        cfg: CertificatesConfig = ctx.config or CertificatesConfig()
        plan = Plan()
        notifiers = bool(ctx.host.instances_with("send_notice"))
        # reminders fall due with the days: the same day, records and notifiers decide nothing new
        if ctx.nothing_new(plan, self.inputs, ctx.today, notifiers):
            plan.summary.append("certificate reminders: nothing new since the last run today")
            return plan
        queries.planned(ctx.ledger, ctx.conn)  # PostgreSQL must know the table it pages through
        employees = [e for e in ctx.records("employee") if isinstance(e, Employee)]
        separations = [s for s in ctx.records("separation") if isinstance(s, Separation)]
        certificates = [c for c in ctx.records("certificate") if isinstance(c, Certificate)]
        people = {e.employee_id: e for e in employees}
        gone = departed(employees, separations, ctx.today)
        decided = {row["id"] for row in ctx.decisions(REMINDER)}
        leads = sorted((parse_lead(text) for text in cfg.reminders), key=lambda lead: lead.before(ctx.today))
        sent = []
        hr = hr_recipients(cfg, employees, gone)  # once: it reads every employee
        for (who, _code), cert in sorted(latest_certificates(certificates).items()):
            due = [lead for lead in leads if reminder_is_due(cert, lead, ctx.today)]
            new = [lead for lead in due if f"{REMINDER}:{cert.id}:{lead.label}" not in decided]
            if who in gone or not new or cert.expires_on is None:
                continue
            if not notifiers:
                plan.warnings.append(f"reminder for certificate {cert.id} not sent: no notifier configured")
                continue
            # Several lead times due at once (a first run): one notice, for the nearest.
            expires_on = cert.expires_on
            lead = max(due, key=lambda lead: lead.before(expires_on))
            days = (cert.expires_on - ctx.today).days
            for each in new:
                plan.decisions.append(Decision(
                    id=f"{REMINDER}:{cert.id}:{each.label}", kind=REMINDER, subject=who,
                    payload={"certificate_id": cert.id, "certificate": cert.certificate,
                             "expires_on": cert.expires_on.isoformat(), "lead": each.label,
                             "notice_id": f"certificate_expiring:{cert.id}:{lead.label}",
                             "explanation_items": talent_items(
                                 "certificate_expiring", CERTIFICATE_SOURCE,
                                 {"certificate_id": cert.id, "certificate": cert.certificate,
                                  "expires_on": cert.expires_on.isoformat(), "lead": each.label,
                                  "due_from": each.before(cert.expires_on).isoformat()})},
                    explanation=[f"{cert.certificate} of {who} expires on {cert.expires_on.isoformat()}; the "
                                 f"{each.label} reminder is due from "
                                 f"{each.before(cert.expires_on).isoformat()}"]))
            employee = people.get(who)
            name = employee.name if employee else who
            recipients = hr
            if employee:
                recipients = (Recipient(name=employee.name, employee_id=who, email=employee.email,
                                        role="employee"), *recipients)
            plan.writes.append(Write("send_notice", {"notice": Notice(
                id=f"certificate_expiring:{cert.id}:{lead.label}", notice="certificate_expiring",
                recipients=recipients, related_id=cert.id, language=employee.language if employee else "zh",
                subject=f"证书即将到期：{name} {cert.certificate}",
                body=(f"{name}（{who}）持有的证书 {cert.certificate} 将于 {cert.expires_on.isoformat()} 到期"
                      f"（还有 {days} 天）。请安排复训或换证。"))}))
            sent.append(f"{name} ({who}) {cert.certificate} expires {cert.expires_on.isoformat()} "
                        f"({days} days)")
        plan.summary.append(f"certificate reminders: {len(sent)} due"
                            + (": " + "; ".join(sent) if sent else ""))
        return plan


def hr_recipients(cfg: CertificatesConfig, employees: Sequence[Employee],
                  gone: set[str]) -> tuple[Recipient, ...]:
    """The configured HR contacts, else the employees whose role is hr, else a bare HR recipient."""
    if cfg.hr:
        return tuple(Recipient(name=r.name, email=r.email, employee_id=r.employee_id, role="hr")
                     for r in cfg.hr)
    staff = sorted((e for e in employees if e.role.lower() == "hr" and e.employee_id not in gone),
                   key=lambda e: e.employee_id)
    return tuple(Recipient(name=e.name, email=e.email, employee_id=e.employee_id, role="hr")
                 for e in staff) or (Recipient(name="HR", role="hr"),)
