"""Gusto payroll (``gusto``): refund deductions as garnishments, bonuses and credits (money given
back) as off-cycle payrolls; paid, cancelled or deleted payrolls confirm or fail the delivery.

From Gusto's Embedded Payroll API reference (docs.gusto.com/embedded-payroll/reference), its
OpenAPI document and the generated models of github.com/Gusto/gusto-python-client
(``gusto_embedded_v_2026_06_15``); every call sends ``X-Gusto-API-Version`` (``2026-06-15``):

* ``GET /v1/token_info``: ``scope`` (space separated), ``resource {type, uuid}``.
* ``GET /v1/companies/{company_id}/employees`` (``page``, ``per``, ``include=custom_fields``):
  ``uuid``, ``employee_code``, ``work_email``, ``custom_fields[{name, value}]``; ``GET
  /v1/employees/{id}``: ``jobs[{primary, rate, payment_unit}]``.
* ``GET|POST /v1/employees/{employee_id}/garnishments``, ``GET /v1/garnishments/{id}``: a
  post-tax deduction with ``amount`` ("8.00"), ``description``, ``court_ordered``, ``times``,
  ``recurring``, ``deduct_as_percentage``, ``total_amount``, ``active``.
* ``POST /v1/companies/{company_id}/payrolls`` creates an unprocessed off-cycle payroll
  (``off_cycle``, ``off_cycle_reason`` "Bonus", ``start_date``, ``end_date``,
  ``employee_uuids``, ``check_date``); ``PUT .../payrolls/{id}/prepare`` answers the
  ``employee_compensations`` with their ``version``; ``PUT .../payrolls/{id}`` sets
  ``employee_compensations[{employee_uuid, version, memo, fixed_compensations[{name: "Bonus",
  amount, job_uuid}]}]``; ``GET .../payrolls`` lists them (``payroll_types``,
  ``processing_statuses``, ``start_date``, ``end_date``, ``page``, ``per``).
* Errors are ``{"errors": [{"error_key", "category", "message"}]}``; list pages report
  ``X-Total-Pages``; 200 requests a minute per token, then 429 with ``Retry-After``.
* ``POST /oauth/token`` (``grant_type=refresh_token``) gives a 2-hour access token and a new
  refresh token; the old one stops working.
* ``GET .../payrolls/{id}``: ``processed``, ``processed_date``, ``check_date``,
  ``processing_request.status``; a payroll is *paid* (final) once processed and its check date
  reached; a submitted one can be cancelled until its payroll deadline (docs "Payroll Statuses").
  A credit is a "Correction" off-cycle payroll (``skip_regular_deductions``) paying a
  "Reimbursement" fixed compensation.
* Webhooks: see :mod:`trainbridge.connectors.gusto.webhooks`; ``payroll.paid`` confirms the
  delivery of a bonus or credit, ``payroll.cancelled``/``reversed``/``deleted`` fail it.

Gusto takes no idempotency key, so each write carries a marker derived from our adjustment id
(in the garnishment's description, in the bonus paystub's memo) and is looked up before it
is posted: a delivery repeated after a crash finds the first write instead of making another.
"""

from __future__ import annotations

from collections.abc import Callable

from trainbridge import hookimpl
from trainbridge.connectors.gusto.config import GustoConfig, GustoOAuth
from trainbridge.connectors.gusto.connector import GustoConnector, marker


@hookimpl
def register_connectors(register: Callable[..., None]) -> None:
    register("gusto", GustoConnector)


__all__ = ["GustoConfig", "GustoConnector", "GustoOAuth", "marker", "register_connectors"]
