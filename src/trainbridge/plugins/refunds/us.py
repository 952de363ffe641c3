"""The US refund policies (``us``, ``us-xx``, ``us-ca``) and how a leaver's agreements find their policy.

The rules are in :mod:`trainbridge.rules.refunds_us`. An agreement names a jurisdiction (its
program's, ``prc`` by default); ``[jobs.separations] jurisdictions`` overrides it from the
employee's legal entity, else their work location (site)::

    [jobs.separations]
    jurisdictions = { "ACME-US-CA" = "us-ca", "ACME-US-TX" = "us-tx", "Houston" = "us" }

and ``[jobs.separations.credentials.<template id>]`` describes a template's tuition agreement
for a transferable credential (the ``us-ca`` exception); ``<template id>@<version>`` describes
one version only and wins over the template's entry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from trainbridge.core.records import Agreement, Employee
from trainbridge.rules.refunds_us import CredentialTerms, us_policy

__all__ = ["CredentialConfig", "credential_for", "localized", "us_policy"]


class CredentialConfig(BaseModel):
    """One template's tuition agreement for a credential; every condition defaults to unmet."""

    model_config = ConfigDict(extra="forbid")
    credential: str = Field(min_length=1, description="The credential, e.g. 'CompTIA Security+'")
    transferable: bool = Field(default=False,
                               description="A third party's credential usable with other employers")
    offered_separately: bool = Field(default=False, description="Offered apart from the employment contract")
    condition_of_employment: bool = Field(default=True, description="The job requires the credential")
    repayment_amount: Decimal | None = Field(default=None, ge=0,
                                             description="The amount stated before the worker agreed")
    prorated: bool = Field(default=False, description="Prorated over the required employment period")
    accelerated: bool = Field(default=True, description="Separation makes the whole repayment due at once")
    owed_on_termination: bool = Field(
        default=True, description="Repayment is asked when the employer terminates other than for misconduct")

    def terms(self) -> CredentialTerms:
        return CredentialTerms(**self.model_dump())


def localized(agreements: Iterable[Agreement], employee: Employee | None,
              jurisdictions: Mapping[str, str]) -> list[Agreement]:
    """Each agreement under the policy its employee's legal entity (else work location) is mapped to."""
    chosen = None
    if employee is not None:
        chosen = jurisdictions.get(employee.legal_entity) or jurisdictions.get(employee.site)
    if not chosen:
        return list(agreements)
    return [a if a.jurisdiction == chosen else a.model_copy(update={"jurisdiction": chosen})
            for a in agreements]


def credential_for(agreement: Agreement,
                   credentials: Mapping[str, CredentialConfig]) -> CredentialTerms | None:
    """The tuition terms described for the agreement's template version, else its template, else None."""
    found = (credentials.get(f"{agreement.template_id}@{agreement.template_version}")
             or credentials.get(agreement.template_id))
    return found.terms() if found else None
