"""Completed envelopes signed outside trainbridge -> ``Agreement`` records (``fetch_agreements``).

An e-signature connector lists its completed envelopes; HR put the agreement's terms on each
as metadata (DocuSign envelope custom fields, Dropbox Sign ``metadata``). The keys are the
same for every vendor (a connector's ``agreement_fields`` renames them):

* required: ``employee_id``, ``program_id``, ``service_start`` (ISO date), and the period as
  ``service_months`` (1-240) or ``service_last_day`` (the inclusive last day, as agreements
  write it: 2025-01-01 to 2026-12-31 is 24 months); either is enough, and both must agree (an
  envelope whose last day and months disagree is quarantined naming both);
* optional: ``clause_amount``, ``currency`` (default CNY), ``session_id``, ``enrollment_id``,
  ``template_id`` (default: the vendor), ``template_version`` (default 1), ``deduction_consent``
  (true/false), ``jurisdiction``, ``proration`` (month/day).

The signing date is the vendor's completion time. An envelope without the required keys, or
with a value that cannot be read, is quarantined with a plain reason naming the envelope and
the key; an envelope trainbridge sent itself (it carries ``trainbridge_agreement_id``) is
already an agreement in the ledger and is skipped.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, NamedTuple

from trainbridge import hookimpl
from trainbridge.core.records import Agreement, AgreementStatus, Page, Reject, make_id
from trainbridge.rules.refunds import add_months, months_between
from trainbridge.sdk.streams import RestStream, StreamPage

REQUIRED = ("employee_id", "program_id", "service_start")
OPTIONAL = ("service_months", "service_last_day", "clause_amount", "currency", "session_id", "enrollment_id",
            "template_id", "template_version", "deduction_consent", "jurisdiction", "proration")
KEYS = (*REQUIRED, *OPTIONAL)
TRUE = {"true", "yes", "y", "1", "是", "同意"}
FALSE = {"false", "no", "n", "0", "否", "", "不同意"}


class SignedElsewhere(NamedTuple):
    """One completed envelope read for ``fetch_agreements``: its id, terms, signing date and raw JSON."""

    envelope_id: str
    terms: dict[str, str]
    signed_at: datetime | None
    raw: Any


class EsignArchive:
    """``fetch_agreements`` of an e-signature connector, off unless ``import_agreements``.

    A vendor's mixin gives the stream of its completed envelopes (``agreements_stream``), reads
    one of them (``signed_elsewhere``: None skips it) and says what cursor the last page keeps.
    """

    name: str
    config: Any
    #: The vendor's name in agreements (``template_id``) and in quarantine reasons.
    archive_vendor: ClassVar[str]
    #: Where the docs explain the metadata (named in quarantine reasons).
    archive_docs: ClassVar[str]

    def produces(self, hook: str) -> tuple[str, ...]:
        if hook == "fetch_agreements" and not self.config.import_agreements:
            return ()  # opt-in: an account's other envelopes are not read unless asked
        return super().produces(hook)  # type: ignore[misc]

    def agreements_stream(self) -> RestStream:
        raise NotImplementedError

    def agreement_pages(self, since: str | None) -> Iterator[StreamPage]:
        """The stream's pages; a vendor that cannot ask for "changed since" reads it whole."""
        return self.agreements_stream().pages()

    def signed_elsewhere(self, item: Mapping[str, Any]) -> SignedElsewhere | None:
        raise NotImplementedError

    def agreements_cursor(self, part: StreamPage) -> str:
        raise NotImplementedError

    @hookimpl
    def fetch_agreements(self, since: str | None) -> Iterator[Page]:
        if not self.config.import_agreements:
            return
        for part in self.agreement_pages(since):
            page = Page()
            for item in part.items:
                found = self.signed_elsewhere(item) if isinstance(item, Mapping) else None
                if found is not None:
                    add_agreement(page, instance=self.name, vendor=self.archive_vendor,
                                  envelope_id=found.envelope_id, terms=found.terms, signed_at=found.signed_at,
                                  raw=found.raw, docs=self.archive_docs)
            if part.last:
                page.cursor = self.agreements_cursor(part)
            yield page


def terms_of(metadata: Mapping[str, Any], renamed: Mapping[str, str] | None = None) -> dict[str, str]:
    """Our keys -> the envelope's values (``renamed`` maps our key to the vendor's field name)."""
    names = {key: (renamed or {}).get(key, key) for key in KEYS}
    lowered = {str(k).strip().lower(): v for k, v in metadata.items()}
    found = {}
    for key, name in names.items():
        value = lowered.get(name.lower())
        if value is not None and str(value).strip() != "":
            found[key] = str(value).strip()
    return found


def add_agreement(page: Page, *, instance: str, vendor: str, envelope_id: str, terms: Mapping[str, str],
                  signed_at: datetime | None, raw: Any, docs: str) -> Agreement | None:
    """The envelope's agreement on ``page``, or a reject saying which metadata is missing or wrong."""
    problems = [f"metadata {key} is missing" for key in REQUIRED if key not in terms]
    if "service_months" not in terms and "service_last_day" not in terms:
        problems.append("metadata service_months or service_last_day is missing (the service period)")
    if signed_at is None:
        problems.append("the envelope has no completion time (the signing date)")
    data: dict[str, Any] = {"id": make_id(instance, envelope_id), "source": instance,
                            "employee_id": terms.get("employee_id"), "program_id": terms.get("program_id"),
                            "template_id": terms.get("template_id", vendor),
                            "template_version": terms.get("template_version", "1"),
                            "status": AgreementStatus.SIGNED.value, "envelope_id": envelope_id,
                            "esign_instance": instance, "signed_at": signed_at}
    for key in ("session_id", "enrollment_id", "currency", "jurisdiction", "proration"):
        if key in terms:
            data[key] = terms[key].upper() if key == "currency" else terms[key]
    start = _date(terms, "service_start", problems)
    last_day = _date(terms, "service_last_day", problems)
    months = _months(terms, problems)
    if "clause_amount" in terms:
        try:
            data["clause_amount"] = Decimal(terms["clause_amount"].replace(",", ""))
        except InvalidOperation:
            problems.append(f"metadata clause_amount {terms['clause_amount']!r} is not an amount "
                            "(e.g. 1700.00)")
    if "deduction_consent" in terms:
        flag = terms["deduction_consent"].lower()
        if flag not in TRUE | FALSE:
            problems.append(f"metadata deduction_consent {terms['deduction_consent']!r} is not true or false")
        data["deduction_consent"] = flag in TRUE
    if start is not None and (last_day is not None or months is not None):
        end = last_day + timedelta(days=1) if last_day is not None else add_months(start, months or 1)
        if end <= start:
            problems.append(f"metadata service_last_day {last_day} is before service_start {start}")
        elif months is not None and last_day is not None and add_months(start, months) != end:
            expected = add_months(start, months) - timedelta(days=1)
            problems.append(f"metadata service_last_day {last_day} and service_months {months} disagree: "
                            f"{months} months from {start} end on {expected} (the inclusive last day); "
                            "correct one of them, or give only one")
        else:
            whole = months_between(start, end)
            data.update(service_start=start, service_end=end,
                        service_months=months or max(1, min(240, round(whole))))
    if problems:
        reason = (f"{vendor} envelope {envelope_id} cannot become a training agreement: "
                  + "; ".join(problems) + f" (see {docs})")
        page.rejects.append(Reject(model=Agreement.kind, reason=reason, data=_jsonable(data), raw=raw,
                                   key=str(data["id"])))
        return None
    before = len(page.rejects)
    record = page.add(Agreement, data, raw)
    if record is None and len(page.rejects) > before:
        last = page.rejects[-1]
        page.rejects[-1] = last.model_copy(update={
            "reason": f"{vendor} envelope {envelope_id}: {last.reason} (see {docs})"})
    return record if isinstance(record, Agreement) else None


def when(value: Any) -> datetime | None:
    """A vendor's ISO timestamp (UTC when it carries no offset), or None when absent or unreadable."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def from_millis(value: Any) -> datetime | None:
    """A vendor's epoch milliseconds (a number or its text), or None when absent or not positive."""
    try:
        millis = int(str(value))
    except (TypeError, ValueError):
        return None
    return datetime.fromtimestamp(millis / 1000, tz=UTC) if millis > 0 else None


def _date(terms: Mapping[str, str], key: str, problems: list[str]) -> date | None:
    if key not in terms:
        return None
    try:
        return date.fromisoformat(terms[key][:10])
    except ValueError:
        problems.append(f"metadata {key} {terms[key]!r} is not an ISO date (e.g. 2025-05-11)")
        return None


def _months(terms: Mapping[str, str], problems: list[str]) -> int | None:
    if "service_months" not in terms:
        return None
    text = terms["service_months"]
    if not text.isdigit() or not 1 <= int(text) <= 240:
        problems.append(f"metadata service_months {text!r} is not a whole number of months from 1 to 240")
        return None
    return int(text)


def _jsonable(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, date | datetime) else str(v) if isinstance(v, Decimal) else v)
            for k, v in data.items() if v is not None}
