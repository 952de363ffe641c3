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

from trainbridge.connectors.docusign.config import AGREEMENT_FIELD, DocusignConfig
from trainbridge.connectors.esign_agreements import EsignArchive, SignedElsewhere, terms_of, when
from trainbridge.sdk.streams import Incremental, Offset, RestStream, StreamPage

DOCS = "docs/connectors/docusign.md, 'Agreements signed in DocuSign'"


class DocusignArchive(EsignArchive):
    """``fetch_agreements`` for :class:`~trainbridge.connectors.docusign.DocusignConnector`."""

    config: DocusignConfig
    api: Any
    archive_vendor = "docusign"
    archive_docs = DOCS

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

    def agreement_pages(self, since: str | None) -> Iterator[StreamPage]:
        return self.agreements_stream().pages(since)

    def signed_elsewhere(self, item: Mapping[str, Any]) -> SignedElsewhere | None:
        fields = custom_fields(item)
        if AGREEMENT_FIELD in fields:
            return None  # sent by trainbridge: already an agreement in the ledger
        return SignedElsewhere(str(item.get("envelopeId") or ""),
                               terms_of(fields, self.config.agreement_fields),
                               when(item.get("completedDateTime")), dict(item))

    def agreements_cursor(self, part: StreamPage) -> str:
        return str(part.newest)  # the from_date of the next run, as DocuSign wrote it


def custom_fields(envelope: Mapping[str, Any]) -> dict[str, str]:
    """An envelope's text and list custom fields, name -> value."""
    found: dict[str, str] = {}
    holder = envelope.get("customFields") or {}
    for group in ("textCustomFields", "listCustomFields"):
        for field in holder.get(group) or []:
            if isinstance(field, Mapping) and field.get("name"):
                found[str(field["name"])] = str(field.get("value") or "")
    return found
