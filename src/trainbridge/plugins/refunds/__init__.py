"""Built-in plugin: training cost per employee (C1) and refunds on departure (A5, C2).

* the ``prc`` refund policy (``refund_policy``, :mod:`.policy`), from :mod:`trainbridge.rules.refunds`;
* the ``us``, ``us-xx`` and ``us-ca`` policies (:mod:`.us`), from :mod:`trainbridge.rules.refunds_us`,
  chosen per leaver from ``[jobs.separations] jurisdictions``;
* job ``costs`` (:mod:`.costs_job`): every cost item allocated to employees, one decision per
  (item, employee), revised when its inputs change;
* job ``separations`` (:mod:`.separations_job`): each leaver's quote under every signed agreement,
  quoted again whenever an input changes, with the difference proposed to payroll (a deduction
  of the remainder or a credit of the excess, posted once after HR approves);
* ``trainbridge refund quote`` (:mod:`.commands`): from the ledger beside what payroll received,
  or as a calculator; ``trainbridge report costs`` (:mod:`.report`).

Both jobs read the ledger once per run (:mod:`.facts`) and store each decision's inputs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from trainbridge import hookimpl
from trainbridge.core.jobs import Job
from trainbridge.core.reports import Report
from trainbridge.plugins.refunds.commands import ledger_quote, quote_from_ledger, refund_group
from trainbridge.plugins.refunds.costs_job import CostsConfig, CostsJob
from trainbridge.plugins.refunds.policy import prc_policy
from trainbridge.plugins.refunds.report import build_costs_report, register_costs_report
from trainbridge.plugins.refunds.separations_job import SeparationsConfig, SeparationsJob
from trainbridge.plugins.refunds.us import us_policy

__all__ = ["CostsConfig", "CostsJob", "SeparationsConfig", "SeparationsJob", "build_costs_report",
           "ledger_quote", "quote_from_ledger"]


@hookimpl
def refund_policy(jurisdiction: str) -> Any:
    return prc_policy(jurisdiction) or us_policy(jurisdiction)


@hookimpl
def register_jobs(register: Callable[[Job], None]) -> None:
    register(CostsJob())
    register(SeparationsJob())


@hookimpl
def register_reports(register: Callable[[Report], None]) -> None:
    register_costs_report(register)


@hookimpl
def register_commands(cli: click.Group) -> None:
    cli.add_command(refund_group)
