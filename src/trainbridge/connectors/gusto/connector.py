"""The Gusto payroll sink: deductions as garnishments, bonuses as off-cycle payrolls, once each."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from trainbridge import hookimpl
from trainbridge.connectors.gusto.client import GustoClient
from trainbridge.connectors.gusto.config import GustoConfig
from trainbridge.connectors.gusto.webhooks import HandshakeTokens, WebhookKeys, verify
from trainbridge.core.connector import Connector, ConnectorConfig, ConnectorContext
from trainbridge.core.errors import ConnectorError, NotFound, RateLimited, ServerError
from trainbridge.core.records import (
    AdjustmentKind,
    AdjustmentUnit,
    DeliveryReceipt,
    HealthResult,
    PayrollAdjustment,
    WebhookResult,
    digest_id,
    quantize_cents,
)

BONUS = "Bonus"


@dataclass(frozen=True)
class OffCyclePay:
    """How one kind of adjustment is paid: an off-cycle payroll with one fixed compensation."""

    reason: str
    compensation: str
    skip_regular_deductions: bool | None = None


#: A bonus: Gusto's "Bonus" off-cycle reason blocks benefits and deductions by default.
BONUS_PAY = OffCyclePay(reason=BONUS, compensation=BONUS)
#: Money given back (a refund deducted in excess): the employee's own, already taxed pay, so a
#: non-taxable "Reimbursement" in a "Correction" off-cycle payroll, with the regular deductions
#: skipped so none of it is taken again (off_cycle_reason and skip_regular_deductions in Gusto's
#: "Create an off-cycle payroll"; "Reimbursement" is one of the payroll's fixed_compensation_types).
CREDIT_PAY = OffCyclePay(reason="Correction", compensation="Reimbursement", skip_regular_deductions=True)
#: Scopes the sink uses (each endpoint's "scope:" line in Gusto's reference). Preparing a payroll
#: returns its employee compensations only with ``employees:read``: without it a bonus can neither
#: be set nor found again, so every sink needs it.
SCOPES = ("garnishments:read", "garnishments:write", "payrolls:read", "payrolls:write",
          "payrolls:run", "employees:read")
#: A percentage bonus reads the employee's salary (GET /v1/employees/{uuid} with its jobs' rates).
PERCENT_SCOPES = ("compensations:read",)
_ANNUAL = {"Year": 1, "Month": 12, "Week": 52}
LIST_HORIZON_DAYS = 90


def marker(adjustment_id: str) -> str:
    """The tag that finds our write again in Gusto: short, stable, no personal data."""
    return f"[trainbridge {digest_id(adjustment_id)}]"


def money(amount: Decimal) -> str:
    return format(quantize_cents(amount), "f")


def _zero(amount: Any) -> bool:
    try:
        return Decimal(str(amount or "0")) == 0
    except InvalidOperation:
        return False


class GustoConnector(Connector):
    """Posts approved refund deductions and bonuses to Gusto, once each."""

    config_model: ClassVar[type[ConnectorConfig]] = GustoConfig
    vendor: ClassVar[str] = "Gusto"
    config: GustoConfig

    def __init__(self, name: str, config: ConnectorConfig, ctx: ConnectorContext | None = None) -> None:
        super().__init__(name, config, ctx)
        cfg = self.config
        self.gusto = GustoClient(name, cfg, self.ctx, scopes=self._needed_scopes())
        self._directory: dict[str, str | None] | None = None
        #: subscription handshake tokens waiting for an admin (the console shows them once).
        self.handshake_tokens = HandshakeTokens()

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.ctx.clock(), UTC)

    def today(self) -> date:
        return self.now().date()

    # --- sink -----------------------------------------------------------------------

    @hookimpl
    def post_adjustment(self, adjustment: PayrollAdjustment,
                        idempotency_key: str | None = None) -> DeliveryReceipt:
        # Gusto has no idempotency key: each write carries a tag of the adjustment id (its memo or
        # description) and is looked up before anything is created.
        self._check_unit(adjustment)
        if adjustment.amount <= 0:
            msg = f"adjustment {adjustment.id} has amount {adjustment.amount}: nothing to post"
            raise ConnectorError(msg, instance=self.name, hint="only positive amounts are posted")
        employee = self._employee_uuid(adjustment.employee_id)
        if adjustment.adjustment is AdjustmentKind.DEDUCTION:
            return self._post_deduction(adjustment, employee)
        if adjustment.adjustment in (AdjustmentKind.BONUS, AdjustmentKind.BONUS_PERCENT):
            amount, how = self._bonus_amount(adjustment, employee)
            return self._post_off_cycle(adjustment, employee, BONUS_PAY, amount, how)
        if adjustment.adjustment is AdjustmentKind.CREDIT:
            return self._post_off_cycle(adjustment, employee, CREDIT_PAY, money(adjustment.amount), "")
        msg = f"adjustment {adjustment.id}: Gusto has no {adjustment.adjustment.value}"
        raise ConnectorError(msg, instance=self.name, hint="a bonus coefficient is applied by the "
                             "bonus process itself: post the resulting amount as a bonus")

    def _check_unit(self, adjustment: PayrollAdjustment) -> None:
        """Money must be in the company's currency; a percent is paid on the annual salary (Gusto's
        fixed compensations take amounts only, so there is no percentage field to post it to); a
        coefficient has no field and no base in Gusto. A rate carries no currency to check."""
        if adjustment.unit is AdjustmentUnit.MONEY:
            if adjustment.currency != self.config.currency:
                msg = (f"adjustment {adjustment.id} is in {adjustment.currency}; "
                       f"Gusto pays {self.config.currency}")
                raise ConnectorError(msg, instance=self.name, hint="route adjustments in other "
                                     "currencies to another payroll instance (legal_entities)")
            return
        if adjustment.unit is AdjustmentUnit.COEFFICIENT:
            msg = (f"adjustment {adjustment.id}: Gusto has no bonus_coefficient (unit coefficient, "
                   f"{adjustment.display()}): its fixed compensations take money amounts only")
            raise ConnectorError(msg, instance=self.name, hint="a bonus coefficient is applied by the "
                                 "bonus process itself: post the resulting amount as a bonus")

    @hookimpl
    def adjustment_status(self, ref: str) -> DeliveryReceipt:
        """A payroll is ``confirmed`` once paid (processed, on or after its check date; Gusto's
        payroll statuses); a deleted payroll or garnishment is ``failed``. A garnishment stays
        ``scheduled``: Gusto does not say which paychecks it was deducted from."""
        kind, _, uuid = ref.partition(":")
        try:
            if kind == "garnishment" and uuid:
                return self._garnishment_receipt(self.gusto.json("GET", f"v1/garnishments/{uuid}"))
            if kind == "payroll" and uuid:
                payroll = self.gusto.json("GET", f"v1/companies/{self.config.company_id}/payrolls/{uuid}")
                return self._payroll_status(payroll)
        except NotFound:
            what = "payroll" if kind == "payroll" else "deduction"
            return DeliveryReceipt(ref=ref, status="failed",
                                   detail=f"the {what} is no longer in Gusto (deleted there): "
                                          "check whether anything was paid or deducted")
        msg = f"{ref!r} is not a Gusto reference of this connector"
        raise ConnectorError(msg, instance=self.name,
                             hint="refs look like garnishment:<uuid> or payroll:<uuid>")

    @hookimpl
    def healthcheck(self) -> HealthResult:
        info = self.gusto.json("GET", "v1/token_info")
        resource = info.get("resource") if isinstance(info, dict) else None
        if isinstance(resource, dict) and resource.get("uuid") not in (None, self.config.company_id):
            owner = f"{resource.get('type')} {resource.get('uuid')}"
            return HealthResult(ok=False, detail=f"the token is for {owner}, "
                                                 f"not company {self.config.company_id}")
        granted = set(str(info.get("scope") or "").split()) if isinstance(info, dict) else set()
        missing = [s for s in self._needed_scopes() if granted and s not in granted]
        if missing:
            return HealthResult(ok=False, detail="the token lacks scope(s) " + ", ".join(missing))
        return HealthResult(ok=True, detail=f"token accepted for company {self.config.company_id} "
                                            f"(API version {self.config.api_version})")

    # --- webhooks -------------------------------------------------------------------

    @hookimpl
    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookResult:
        cfg = self.config
        token = cfg.webhook_verification_token
        keys = WebhookKeys(instance=self.name, company_id=cfg.company_id,
                           verification_token=token.get_secret_value() if token else None,
                           max_age_seconds=cfg.webhook_max_age_seconds)
        return verify(keys, headers, body, self.now(), self.handshake_tokens)

    # --- deductions: one garnishment per refund -------------------------------------

    def _post_deduction(self, adjustment: PayrollAdjustment, employee: str) -> DeliveryReceipt:
        tag = marker(adjustment.id)
        found = self._find_garnishment(employee, tag)
        if found is not None:
            return self._garnishment_receipt(found, again=True)
        total = money(adjustment.amount)
        installment = self.config.deduction_installment
        body: dict[str, Any] = {
            "active": True, "amount": total, "description": f"{self.config.deduction_label} {tag}",
            "court_ordered": False, "deduct_as_percentage": False, "recurring": False, "times": 1,
            "total_amount": total,
        }
        if installment is not None and installment < adjustment.amount:
            # Paid off over several paychecks: a recurring deduction capped at the refund.
            body.update(amount=money(installment), recurring=True, times=None)
        try:
            created = self.gusto.json("POST", f"v1/employees/{employee}/garnishments", json=body)
        except ConnectorError as exc:
            if not (isinstance(exc, ServerError | RateLimited) or exc.status is None):
                raise
            # The answer was lost, not necessarily the write: look again before failing.
            found = self._find_garnishment(employee, tag)
            if found is None:
                raise
            created = found
        return self._garnishment_receipt(created)

    def _find_garnishment(self, employee: str, tag: str) -> dict[str, Any] | None:
        for item in self.gusto.pages(f"v1/employees/{employee}/garnishments", {}):
            if isinstance(item, dict) and tag in str(item.get("description") or ""):
                return item
        return None

    def _garnishment_receipt(self, item: Any, *, again: bool = False) -> DeliveryReceipt:
        if not isinstance(item, dict) or not item.get("uuid"):
            raise self.gusto.bad_answer("garnishment", item)
        active = item.get("active", True)
        plan = (f"{item.get('amount')} per paycheck up to {item.get('total_amount')}"
                if item.get("recurring") else f"{item.get('amount')} once")
        detail = f"post-tax deduction {plan}{' (found, posted earlier)' if again else ''}"
        return DeliveryReceipt(ref=f"garnishment:{item['uuid']}",
                               status="scheduled" if active else "inactive", detail=detail)

    # --- bonuses and credits: one off-cycle payroll per adjustment --------------------

    def _post_off_cycle(self, adjustment: PayrollAdjustment, employee: str, pay: OffCyclePay,
                        amount: str, how: str) -> DeliveryReceipt:
        tag = marker(adjustment.id)
        payroll, adopt = self._find_off_cycle_payroll(adjustment.effective_date, employee, tag, pay)
        if payroll is not None and not adopt:
            return self._payroll_receipt(payroll, again=True)
        if payroll is None:
            payroll = self._create_off_cycle_payroll(adjustment.effective_date, employee, pay)
        pid = str(payroll.get("payroll_uuid") or payroll.get("uuid"))
        path = f"v1/companies/{self.config.company_id}/payrolls/{pid}"
        prepared = self.gusto.json("PUT", f"{path}/prepare", json={"employee_uuids": [employee]})
        self._require_compensations(prepared, pid)
        comp = self._compensation(prepared, employee)
        if comp is None:
            msg = f"off-cycle payroll {pid} was prepared without employee {employee}"
            raise ConnectorError(msg, instance=self.name, hint="check the employee is active and "
                                 "onboarded in Gusto; the empty payroll can be deleted there")
        fixed: dict[str, Any] = {"name": pay.compensation, "amount": amount}
        job = next((f.get("job_uuid") for f in comp.get("fixed_compensations") or []
                    if isinstance(f, dict) and f.get("name") == pay.compensation and f.get("job_uuid")), None)
        if job:
            fixed["job_uuid"] = job
        memo = self.config.bonus_memo if pay is BONUS_PAY else self.config.credit_memo
        line: dict[str, Any] = {"employee_uuid": employee, "memo": f"{memo} {tag}",
                                "fixed_compensations": [fixed]}
        if comp.get("version"):
            line["version"] = comp["version"]
        updated = self.gusto.json("PUT", path, json={"employee_compensations": [line]})
        receipt = self._payroll_receipt({**prepared, **(updated if isinstance(updated, dict) else {})})
        paid = f"{pay.compensation.lower()} {amount} {how}".rstrip()
        return receipt.model_copy(update={"detail": f"{receipt.detail}; {paid}"})

    def _bonus_amount(self, adjustment: PayrollAdjustment, employee: str) -> tuple[str, str]:
        if adjustment.adjustment is AdjustmentKind.BONUS:
            return money(adjustment.amount), ""
        if self.config.bonus_percent_of == "reject":
            msg = f"adjustment {adjustment.id} is a percentage bonus; this instance posts amounts only"
            raise ConnectorError(msg, instance=self.name, hint="set bonus_percent_of = 'annual_salary' "
                                 "or post the bonus as an amount")
        info = self.gusto.json("GET", f"v1/employees/{employee}")
        jobs = info.get("jobs") if isinstance(info, dict) else None
        job = next((j for j in jobs or [] if isinstance(j, dict) and j.get("primary")), None)
        unit = str((job or {}).get("payment_unit") or "")
        if job is None or unit not in _ANNUAL or job.get("rate") in (None, ""):
            msg = (f"adjustment {adjustment.id}: employee {adjustment.employee_id} has no yearly, "
                   f"monthly or weekly rate on a primary job in Gusto ({unit or 'no rate'})")
            raise ConnectorError(msg, instance=self.name, hint="a percentage needs a salary base (the token "
                                 "needs compensations:read); post hourly employees' bonuses as amounts")
        salary = Decimal(str(job["rate"])) * _ANNUAL[unit]
        amount = money(salary * adjustment.amount / 100)
        return amount, f"({adjustment.amount}% of annual salary {money(salary)})"

    def _find_off_cycle_payroll(self, day: date, employee: str, tag: str,
                                pay: OffCyclePay) -> tuple[dict[str, Any] | None, bool]:
        """Our payroll (by the memo's tag), or an empty one a crash left behind to adopt.

        Gusto returns a payroll's ``employee_compensations`` (and so the memo) from GET only once
        it is calculated or processed; ours stay unprocessed for HR, so an uncalculated candidate
        is read through "prepare a payroll for update", which returns them for unprocessed
        payrolls and changes nothing an uncalculated payroll has. Candidates are off-cycle
        payrolls of this reason whose pay period is the one day we create them for."""
        span = timedelta(days=self.config.lookup_window_days)
        # Gusto lists payrolls up to 3 months ahead only; one it cannot list could not be found
        # again after a crash, so it is not created either.
        horizon = self.today() + timedelta(days=LIST_HORIZON_DAYS)
        if day > horizon:
            msg = f"a {pay.compensation.lower()} effective {day} is more than {LIST_HORIZON_DAYS} days ahead"
            raise ConnectorError(msg, instance=self.name, hint="Gusto lists payrolls up to 3 months "
                                 "ahead: approve it nearer its date")
        params = {"payroll_types": "off_cycle", "processing_statuses": "unprocessed,processed",
                  "start_date": (day - span).isoformat(), "end_date": min(day + span, horizon).isoformat()}
        orphan = None
        for item in self.gusto.pages(f"v1/companies/{self.config.company_id}/payrolls", params):
            period = item.get("pay_period") if isinstance(item, dict) else None
            if not isinstance(item, dict) or item.get("off_cycle_reason") != pay.reason \
                    or not isinstance(period, dict) or period.get("start_date") != day.isoformat() \
                    or period.get("end_date") not in (None, day.isoformat()):
                continue
            pid = item.get("payroll_uuid") or item.get("uuid")
            path = f"v1/companies/{self.config.company_id}/payrolls/{pid}"
            if item.get("processed") or item.get("calculated_at"):
                full = self.gusto.json("GET", path)
            else:
                full = self.gusto.json("PUT", f"{path}/prepare", json={"employee_uuids": [employee]})
                self._require_compensations(full, str(pid))
            if not isinstance(full, dict):
                raise self.gusto.bad_answer("payroll", full)
            comps = [c for c in (full.get("employee_compensations") or []) if isinstance(c, dict)]
            mine = next((c for c in comps if c.get("employee_uuid") == employee), None)
            if mine is None:
                continue
            if tag in str(mine.get("memo") or ""):
                return full, False
            untouched = not mine.get("memo") and all(
                _zero(f.get("amount")) for f in mine.get("fixed_compensations") or [] if isinstance(f, dict))
            if orphan is None and len(comps) == 1 and untouched and not full.get("processed") \
                    and not full.get("calculated_at"):
                orphan = full
        return orphan, orphan is not None

    def _create_off_cycle_payroll(self, day: date, employee: str, pay: OffCyclePay) -> dict[str, Any]:
        body: dict[str, Any] = {"off_cycle": True, "off_cycle_reason": pay.reason,
                                "start_date": day.isoformat(), "end_date": day.isoformat(),
                                "employee_uuids": [employee]}
        if pay.skip_regular_deductions is not None:
            body["skip_regular_deductions"] = pay.skip_regular_deductions
        # A check date needs Gusto's ACH lead time; closer (or past) dates are left to Gusto.
        if day >= self.today() + timedelta(days=self.config.check_date_lead_days):
            body["check_date"] = day.isoformat()
        if self.config.fixed_withholding_rate is not None:
            body["fixed_withholding_rate"] = self.config.fixed_withholding_rate
        created = self.gusto.json("POST", f"v1/companies/{self.config.company_id}/payrolls", json=body)
        if not isinstance(created, dict) or not (created.get("payroll_uuid") or created.get("uuid")):
            raise self.gusto.bad_answer("payroll", created)
        return created

    def _require_compensations(self, prepared: Any, pid: str) -> None:
        """A prepared payroll without ``employee_compensations``: Gusto left them out (the token
        lacks ``employees:read``). Raised before anything more is created, so a retry cannot
        leave another empty payroll behind."""
        comps = prepared.get("employee_compensations") if isinstance(prepared, dict) else None
        if comps:
            return
        msg = f"Gusto prepared off-cycle payroll {pid} without any employee compensation"
        raise ConnectorError(msg, instance=self.name, hint="the token needs the employees:read scope "
                             "for Gusto to return them; grant it and the next delivery resumes this "
                             "payroll (trainbridge check lists the missing scopes)")

    @staticmethod
    def _compensation(payroll: Any, employee: str) -> dict[str, Any] | None:
        comps = payroll.get("employee_compensations") if isinstance(payroll, dict) else None
        return next((c for c in comps or [] if isinstance(c, dict) and c.get("employee_uuid") == employee),
                    None)

    def _payroll_receipt(self, payroll: Any, *, again: bool = False) -> DeliveryReceipt:
        if not isinstance(payroll, dict) or not (payroll.get("payroll_uuid") or payroll.get("uuid")):
            raise self.gusto.bad_answer("payroll", payroll)
        pid = payroll.get("payroll_uuid") or payroll.get("uuid")
        request = payroll.get("processing_request")
        request = request if isinstance(request, dict) else {}
        if payroll.get("processed"):
            status, detail = "processed", f"processed {payroll.get('processed_date') or ''}".strip()
        elif request.get("status") == "processing_failed":
            status = "processing_failed"
            detail = "Gusto could not process the payroll: fix it and submit it again in Gusto"
        else:
            status = "calculated" if payroll.get("calculated_at") else "awaiting_submission"
            reason = payroll.get("off_cycle_reason") or "off-cycle"
            detail = f"off-cycle {reason} payroll ready: calculate and submit it in Gusto"
        check = payroll.get("check_date")
        detail = f"{detail}, check date {check}" if check else detail
        return DeliveryReceipt(ref=f"payroll:{pid}", status=status,
                               detail=detail + (" (found, posted earlier)" if again else ""))

    def _payroll_status(self, payroll: Any) -> DeliveryReceipt:
        """``confirmed`` once paid: processed, and its check date reached (Gusto's "Paid" status,
        which is final); until then a processed payroll can still be cancelled."""
        receipt = self._payroll_receipt(payroll)
        check = payroll.get("check_date") if isinstance(payroll, dict) else None
        try:
            check_date = date.fromisoformat(str(check)) if check else None
        except ValueError:
            check_date = None
        if receipt.status == "processed" and check_date is not None and check_date <= self.today():
            return receipt.model_copy(update={"status": "confirmed", "detail": f"paid on {check_date}"})
        return receipt

    # --- employees ------------------------------------------------------------------

    def _employee_uuid(self, employee_id: str) -> str:
        cfg, table = self.config, f"[connectors.{self.name}]"
        if employee_id in cfg.employees:
            return cfg.employees[employee_id]
        if cfg.match_by == "table":
            msg = f"employee {employee_id} has no Gusto uuid"
            raise ConnectorError(msg, instance=self.name, hint=f"add it to employees in {table}, "
                                 "or set match_by to employee_code, work_email or custom_field")
        if self._directory is None:
            self._directory = self._load_directory()
        key = employee_id.lower() if cfg.match_by == "work_email" else employee_id
        if key not in self._directory:
            msg = f"no Gusto employee has {cfg.custom_field or cfg.match_by} {employee_id!r}"
            raise ConnectorError(msg, instance=self.name, hint=f"fill it in Gusto or map it in {table}")
        found = self._directory[key]
        if found is None:
            msg = f"two or more Gusto employees have {cfg.custom_field or cfg.match_by} {employee_id!r}"
            raise ConnectorError(msg, instance=self.name, hint=f"map the right one in employees of {table}")
        return found

    def _load_directory(self) -> dict[str, str | None]:
        cfg = self.config
        params = {"include": "custom_fields"} if cfg.match_by == "custom_field" else {}
        found: dict[str, str | None] = {}
        for person in self.gusto.pages(f"v1/companies/{cfg.company_id}/employees", params):
            if not isinstance(person, dict) or not person.get("uuid"):
                continue
            if cfg.match_by == "custom_field":
                value = next((f.get("value") for f in person.get("custom_fields") or []
                              if isinstance(f, dict) and f.get("name") == cfg.custom_field), None)
            else:
                value = person.get(cfg.match_by)
            if value in (None, ""):
                continue
            key = str(value).lower() if cfg.match_by == "work_email" else str(value)
            found[key] = None if key in found else str(person["uuid"])
        return found

    def _needed_scopes(self) -> tuple[str, ...]:
        return SCOPES + (PERCENT_SCOPES if self.config.bonus_percent_of == "annual_salary" else ())
