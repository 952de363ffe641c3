"""DocuSign: agreements signed outside trainbridge, read from completed envelopes (``fetch_agreements``).

``GET /v2.1/accounts/{accountId}/envelopes?from_date=...&status=completed&include=custom_fields``
(Envelopes:listStatusChanges), paged by the SDK's ``RestStream`` with ``start_position`` and
``count`` until ``totalSetSize`` (a string in DocuSign's JSON) is reached. The agreement's terms
are the envelope's custom fields (``customFields.textCustomFields`` / ``listCustomFields``,
``name`` and ``value``), named as in :mod:`trainbridge.connectors.esign_agreements`; the
signing date is ``completedDateTime``. The cursor is the latest ``statusChangedDateTime`` read
(the stream's incremental field), so the next run asks only for envelopes changed since.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from trainbridge import hookimpl
from trainbridge.connectors.docusign.config import AGREEMENT_FIELD, DocusignConfig
from trainbridge.connectors.esign_agreements import add_agreement, terms_of, when
from trainbridge.core.records import Page
from trainbridge.sdk.streams import Incremental, Offset, RestStream

DOCS = "docs/connectors/docusign.md, 'Agreements signed in DocuSign'"


class DocusignArchive:
    """``fetch_agreements`` for :class:`~trainbridge.connectors.docusign.DocusignConnector`."""

    name: str
    config: DocusignConfig
    api: Any

    def produces(self, hook: str) -> tuple[str, ...]:
        if hook == "fetch_agreements" and not self.config.import_agreements:
            return ()  # opt-in: an account's other envelopes are not read unless asked
        return super().produces(hook)  # type: ignore[misc]

    def agreements_stream(self) -> RestStream:
        cfg = self.config
        return RestStream(
            self.api, "/envelopes", records="envelopes", absent_is_empty=True, name="completed envelopes",
            params={"status": "completed", "include": "custom_fields"},
            paging=Offset(param="start_position", limit_param="count", limit=cfg.agreements_page_size,
                          total="totalSetSize"),
            incremental=Incremental(param="from_date", field="statusChangedDateTime",
                                    initial=f"{cfg.agreements_since.isoformat()}T00:00:00Z"),
            ctx=getattr(self, "ctx", None), where=f"[connectors.{self.name}]")

    @hookimpl
    def fetch_agreements(self, since: str | None) -> Iterator[Page]:
        cfg = self.config
        if not cfg.import_agreements:
            return
        for part in self.agreements_stream().pages(since):
            page = Page()
            for envelope in part.items:
                if not isinstance(envelope, Mapping):
                    continue
                fields = custom_fields(envelope)
                if AGREEMENT_FIELD in fields:
                    continue  # sent by trainbridge: already an agreement in the ledger
                add_agreement(page, instance=self.name, vendor="docusign",
                              envelope_id=str(envelope.get("envelopeId") or ""),
                              terms=terms_of(fields, cfg.agreement_fields),
                              signed_at=when(envelope.get("completedDateTime")), raw=dict(envelope),
                              docs=DOCS)
            if part.last:
                page.cursor = str(part.newest)  # the from_date of the next run, as DocuSign wrote it
            yield page


def custom_fields(envelope: Mapping[str, Any]) -> dict[str, str]:
    """An envelope's text and list custom fields, name -> value."""
    found: dict[str, str] = {}
    holder = envelope.get("customFields") or {}
    for group in ("textCustomFields", "listCustomFields"):
        for field in holder.get(group) or []:
            if isinstance(field, Mapping) and field.get("name"):
                found[str(field["name"])] = str(field.get("value") or "")
    return found
