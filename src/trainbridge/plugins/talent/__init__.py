"""Talent data (T1, T2, D1) and certificate expiry reminders: the plugin.

- :mod:`.job`: the ``certificates`` job (expiry reminders to the holder and HR), pure ``decide``;
- :mod:`.reports`: the ``profile``, ``demand`` and ``needs`` reports and their options;
- :mod:`.view`: what the reports read from the ledger, once per report;
- :mod:`.config`: the ``[jobs.talent]`` and ``[jobs.certificates]`` tables;
- :mod:`.reviews`: the ``csv_reviews`` connector (review scores from files);
- :mod:`.demo`: the demo's certificates, review scores and tables.

This module registers the job, the reports and the connector, and prepares the demo.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

from trainbridge import hookimpl
from trainbridge.core.jobs import Job
from trainbridge.core.reports import Report
from trainbridge.plugins.talent.config import REMINDER, CertificatesConfig, TalentConfig, talent_config
from trainbridge.plugins.talent.demo import demo_talent, prepare_demo
from trainbridge.plugins.talent.job import CertificatesJob, hr_recipients
from trainbridge.plugins.talent.reports import demand_report, needs_report, profile_report, talent_reports
from trainbridge.plugins.talent.reviews import CsvReviews, CsvReviewsConfig
from trainbridge.plugins.talent.view import View, cost_lines, load_view

__all__ = ["REMINDER", "CertificatesConfig", "CertificatesJob", "CsvReviews", "CsvReviewsConfig",
           "TalentConfig", "View", "cost_lines", "demand_report", "demo_talent", "hr_recipients", "load_view",
           "needs_report", "profile_report", "talent_config"]


@hookimpl
def register_reports(register: Callable[[Report], None]) -> None:
    for report in talent_reports():
        register(report)


@hookimpl
def register_jobs(register: Callable[[Job], None]) -> None:
    register(CertificatesJob())


@hookimpl
def register_connectors(register: Callable[..., None]) -> None:
    register("csv_reviews", CsvReviews)


@hookimpl
def demo_prepare(workspace: Path, today: date) -> Mapping[str, Any]:
    return prepare_demo(workspace, today)
