"""Training agreements: what a template must contain, the service period, reminders, the gate.

Pure functions: no I/O, no clock (``today`` is an argument). The PRC rules behind them:

* LCL art. 22: a service period may be agreed when the employer paid for special
  professional/technical training; the agreement states the training, the period and
  the penalty (refund) for breaking it. A template therefore needs four clauses:
  training content, service period, refund conditions, rights and duties (A1).
* LCL art. 25: induction and safety training are the employer's duty and carry no
  service period, so no agreement is drafted for them.
* "先签后训" (A6): training starts only after the agreement is signed.
* A4: HR and the employee are reminded before the service period ends.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from trainbridge.core.errors import ConfigError
from trainbridge.core.records import AgreementStatus, EnvelopeStatus
from trainbridge.rules.refunds import NO_SERVICE_PERIOD_CATEGORIES, add_months

#: The clauses every agreement template must hold, as Jinja2 block names, with what they mean.
REQUIRED_CLAUSES: dict[str, str] = {
    "training_content": "培训内容 / training content",
    "service_period": "服务期 / service period",
    "refund_conditions": "违约金与培训费用返还条件 / refund conditions",
    "rights_and_duties": "双方权利义务 / rights and duties",
}


class TemplateRejected(ConfigError):
    """An agreement template cannot be used: a required clause is missing or empty."""


def check_clauses(template_id: str, version: str, clauses: Mapping[str, bool]) -> None:
    """Reject a template missing a required clause; ``clauses`` maps block name -> has text."""
    missing = [name for name in REQUIRED_CLAUSES if name not in clauses]
    empty = [name for name in REQUIRED_CLAUSES if name in clauses and not clauses[name]]
    problems = [f"clause {name!r} ({REQUIRED_CLAUSES[name]}) is missing" for name in missing]
    problems += [f"clause {name!r} ({REQUIRED_CLAUSES[name]}) is empty" for name in empty]
    if problems:
        msg = f"agreement template {template_id} v{version} is rejected: " + "; ".join(problems)
        raise TemplateRejected(msg, hint="add {% block NAME %}...{% endblock %} for each clause "
                                         "(LCL art. 22); publish the fix as a new version")


def version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key for template versions: numeric parts compare as numbers (2 < 10)."""
    return tuple((0, int(part)) if part.isdigit() else (1, part)
                 for part in re.split(r"[.\-_]", version) if part)


def latest_version(versions: Iterable[str]) -> str | None:
    ordered = sorted(versions, key=version_key)
    return ordered[-1] if ordered else None


# --- the service period ---------------------------------------------------------------


@dataclass(frozen=True)
class ServicePeriod:
    start: date
    end: date
    months: int
    explanation: tuple[str, ...]


def service_period(months: int, *, session_end: date | None, enrolled_on: date) -> ServicePeriod:
    """The period ``[start, end)``: from the day after the training ends for ``months`` months.

    Without a session the period starts on the enrollment date. The end is ``start +
    months`` with month-end clamping, the same arithmetic the refund policy prorates over.
    """
    if months < 1:
        msg = f"a service period needs at least one month, not {months}"
        raise ValueError(msg)
    if session_end is not None:
        start = session_end + timedelta(days=1)
        why = f"service period starts the day after the training ends ({session_end.isoformat()})"
    else:
        start = enrolled_on
        why = f"no session: service period starts on the enrollment date ({enrolled_on.isoformat()})"
    end = add_months(start, months)
    return ServicePeriod(start=start, end=end, months=months, explanation=(
        why, f"{months} months from {start.isoformat()} end on {end.isoformat()} (month-end clamped)"))


def service_period_allowed(category: str) -> tuple[bool, str]:
    """Whether a program's training may carry a service period at all (LCL arts. 22, 25)."""
    if category.lower() in NO_SERVICE_PERIOD_CATEGORIES:
        return False, (f"{category} training is the employer's duty and carries no service period "
                       "(LCL arts. 22, 25)")
    return True, "special professional or technical training may carry a service period (LCL art. 22)"


# --- reminders ------------------------------------------------------------------------

_LEAD = re.compile(r"^\s*(\d+)\s*([mwd])\s*$")


@dataclass(frozen=True)
class Lead:
    """A lead time before a date: months, weeks or days (``1m``, ``2w``, ``10d``)."""

    amount: int
    unit: str

    @property
    def label(self) -> str:
        return f"{self.amount}{self.unit}"

    def before(self, day: date) -> date:
        if self.unit == "m":
            return add_months(day, -self.amount)
        return day - timedelta(days=self.amount * (7 if self.unit == "w" else 1))


def parse_lead(text: str) -> Lead:
    match = _LEAD.match(text)
    if not match:
        msg = f"lead time {text!r} is not a number followed by m (months), w (weeks) or d (days)"
        raise ValueError(msg)
    return Lead(int(match.group(1)), match.group(2))


def reminder_due(service_end: date, lead: Lead) -> date:
    """The day a reminder before the end of the service period falls due."""
    return lead.before(service_end)


def reminder_is_due(service_end: date, lead: Lead, today: date) -> bool:
    """Due from its date until the period ends; after the end a reminder has no point."""
    return reminder_due(service_end, lead) <= today < service_end


# --- signing and the gate -----------------------------------------------------------

_TERMINAL = {AgreementStatus.SIGNED, AgreementStatus.DECLINED, AgreementStatus.VOIDED}


def next_status(current: AgreementStatus, envelope: EnvelopeStatus) -> AgreementStatus:
    """The agreement's status after the vendor reports ``envelope``; never moves backwards.

    Only a completed envelope makes the agreement signed (``signed`` may mean that one of
    several signers signed); signed, declined and voided agreements stay as they are.
    """
    if current in _TERMINAL:
        return current
    if envelope is EnvelopeStatus.COMPLETED:
        return AgreementStatus.SIGNED
    if envelope is EnvelopeStatus.DECLINED:
        return AgreementStatus.DECLINED
    if envelope is EnvelopeStatus.VOIDED:
        return AgreementStatus.VOIDED
    return AgreementStatus.SENT


@dataclass(frozen=True)
class GateCheck:
    blocked: bool
    explanation: tuple[str, ...]


def gate_check(status: AgreementStatus | None, session_start: date, today: date,
               lead_days: int) -> GateCheck:
    """先签后训: an enrollment whose session starts within ``lead_days`` needs a signed agreement."""
    if status is AgreementStatus.SIGNED:
        return GateCheck(False, ("the agreement is signed: training may start",))
    days = (session_start - today).days
    if days < 0 or days > lead_days:
        return GateCheck(False, (f"the session starts in {days} day(s), outside the {lead_days}-day "
                                 "gate window",))
    state = status.value if status else "not drafted"
    return GateCheck(True, (
        f"the session starts on {session_start.isoformat()} ({days} day(s) from {today.isoformat()}) "
        f"and the agreement is {state}",
        "training may start only after the agreement is signed (先签后训)",
    ))


def trained_before_signing(status: AgreementStatus | None, signed_at: datetime | None,
                           attended_at: datetime) -> bool:
    """Attendance recorded while the agreement was not (yet) signed breaks the gate."""
    if status is not AgreementStatus.SIGNED:
        return True
    return signed_at is not None and signed_at > attended_at
