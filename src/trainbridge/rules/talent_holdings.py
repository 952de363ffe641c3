"""Talent data: who is still here, which certificates they hold, and what they completed.

The shared ground of the talent rules (profiles, demand forecast, certificate reminders).
Pure functions of records: no I/O, no clock (``today`` is passed in).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from trainbridge.core.records import (
    Certificate,
    Employee,
    EmploymentStatus,
    Enrollment,
    EnrollmentStatus,
    LearningEvent,
    LearningEventKind,
    Separation,
)
from trainbridge.rules.agreements import Lead


def departed(employees: Iterable[Employee], separations: Iterable[Separation], today: date) -> set[str]:
    """Employees gone by ``today``: a separation whose last day has passed, or a terminated status."""
    gone = {s.employee_id for s in separations if s.last_day < today}
    gone |= {e.employee_id for e in employees if e.status is EmploymentStatus.TERMINATED}
    return gone


def latest_certificates(certificates: Iterable[Certificate]) -> dict[tuple[str, str], Certificate]:
    """(employee, certificate) -> the one that runs longest: a renewal replaces the old certificate."""
    latest: dict[tuple[str, str], Certificate] = {}
    for cert in certificates:
        key = (cert.employee_id, cert.certificate)
        held = latest.get(key)
        if held is None or _runs_longer(cert, held):
            latest[key] = cert
    return latest


def _runs_longer(a: Certificate, b: Certificate) -> bool:
    if a.expires_on is None or b.expires_on is None:
        return a.expires_on is None and (b.expires_on is not None or a.issued_on > b.issued_on)
    return (a.expires_on, a.issued_on) > (b.expires_on, b.issued_on)


def is_valid(cert: Certificate, today: date) -> bool:
    """Issued by ``today`` and not expired: a certificate is good through its expiry day."""
    return cert.issued_on <= today and (cert.expires_on is None or cert.expires_on >= today)


def reminder_is_due(cert: Certificate, lead: Lead, today: date) -> bool:
    """Due from ``lead`` before the expiry through the expiry day itself."""
    return cert.expires_on is not None and lead.before(cert.expires_on) <= today <= cert.expires_on


def completed_programs(employee_id: str, events: Iterable[LearningEvent],
                       enrollments: Iterable[Enrollment]) -> set[str]:
    done = {e.program_id for e in enrollments
            if e.employee_id == employee_id and e.status is EnrollmentStatus.COMPLETED}
    done |= {e.program_id for e in events if e.employee_id == employee_id and e.program_id
             and e.event in (LearningEventKind.COMPLETED, LearningEventKind.PASSED,
                             LearningEventKind.CERTIFICATE_OBTAINED)}
    return {p for p in done if p}
