"""Training agreements (A1-A4, A6): the plugin.

- :mod:`.job`: the ``agreements`` job (draft, send, follow, download, evidence), pure ``decide``;
- :mod:`.gate`: the sign-first gate and service-period reminders (a mixin of the job's run);
- :mod:`.delivered`: signed documents, evidence, recording what sinks answered (a mixin too);
- :mod:`.view`: what the job reads from the ledger and the rules that move an agreement;
- :mod:`.documents`: versioned templates (``templates/<id>/v<version>.j2``), PDF, document store;
- :mod:`.commands`: ``agreements list|sign|templates``, ``evidence verify`` and the functions
  the console calls;
- :mod:`.config`: the ``[jobs.agreements]`` table.

This module registers the job and the commands and prepares the demo.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import click

from trainbridge import hookimpl
from trainbridge.core.jobs import Job
from trainbridge.plugins.agreements.commands import (
    agreements_group,
    apply_webhook,
    evidence_group,
    list_agreements,
    sign_locally,
    verify_agreement_evidence,
)
from trainbridge.plugins.agreements.config import JOB, AgreementsConfig, RecipientConfig
from trainbridge.plugins.agreements.documents import TemplateRegistry
from trainbridge.plugins.agreements.job import AgreementsJob
from trainbridge.rules.refunds import add_months

__all__ = ["AgreementsConfig", "AgreementsJob", "RecipientConfig", "apply_webhook",
           "list_agreements", "sign_locally", "verify_agreement_evidence"]



@hookimpl
def register_jobs(register: Callable[[Job], None]) -> None:
    register(AgreementsJob())


@hookimpl
def register_commands(cli: click.Group) -> None:
    cli.add_command(agreements_group)
    cli.add_command(evidence_group)


@hookimpl
def demo_prepare(workspace: Path, today: date) -> Mapping[str, Any]:
    """A second program whose agreement ends in 25 days (a reminder is due), and the connectors."""
    from zoneinfo import ZoneInfo

    from trainbridge.plugins.ingest import write_jsonl

    service_end = today + timedelta(days=25)
    service_start = add_months(service_end, -12)
    training_day = service_start - timedelta(days=1)
    start = datetime.combine(training_day, time(9, 0), ZoneInfo("Asia/Shanghai"))
    write_jsonl(workspace / "data" / "catalog_agreements.jsonl", [
        {"record": "program", "program_id": "PLC-ADV", "title": "西门子PLC高级编程培训",
         "delivery": "offline", "agreement_template": "service-12m", "service_months": 12,
         "competencies": ["plc_programming"]},
        {"record": "session", "session_id": "PLC-ADV-1", "program_id": "PLC-ADV",
         "starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=8)).isoformat(),
         "location": "苏州培训基地"},
        {"record": "enrollment", "enrollment_id": "PLC-ADV-1-E005", "employee_id": "E005",
         "program_id": "PLC-ADV", "session_id": "PLC-ADV-1",
         "enrolled_on": (training_day - timedelta(days=14)).isoformat(), "status": "completed"},
    ])
    # The demo's own template folder: a 12-month variant, to show templates outside the package.
    package = TemplateRegistry.load().get("service-24m", "1")
    folder = workspace / "agreement_templates" / "service-12m"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "v1.j2").write_text(package.source, encoding="utf-8")
    return {
        "connectors": {
            "lms_agreements": {"type": "file_learning", "catalog": "data/catalog_agreements.jsonl"},
            "esign": {"type": "local_esign", "folder": "esign", "auto_sign": True,
                      # A fresh secret per demo: a published one would let anyone sign callbacks.
                      "webhook_secret": secrets.token_urlsafe(24)},
            "tsa": {"type": "rfc3161", "url": "local", "local_dir": ".tsa"},
        },
        "jobs": {JOB: {
            "company_name": "艾克美（上海）消防科技有限公司",
            "templates_dir": "agreement_templates",
            "enforce_from": today.isoformat(),
            "programs": {"FIRE-CTRL": {"training_cost": "1700.00"}, "PLC-ADV": {"training_cost": "3000.00"}},
        }},
    }
