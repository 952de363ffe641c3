"""Dropbox Sign: agreements signed outside trainbridge, read from complete requests (``fetch_agreements``).

``GET /v3/signature_request/list?page=N&page_size=100`` (optionally ``account_id``), page after
page up to ``list_info.num_pages`` (the SDK's ``RestStream`` with ``PageNumber``); only requests
with ``is_complete`` are agreements. The terms
are the request's ``metadata`` (at most 10 keys of 40 characters, values of 500, by Dropbox
Sign's limits), named as in :mod:`trainbridge.connectors.esign_agreements`; the signing date is
the last signer's ``signed_at`` (Unix time). The list is newest first and cannot be asked for
"changed since", so every run reads it whole (agreements are upserts by id: nothing changes
twice) and the cursor only records when it was read.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from trainbridge.connectors.esign_agreements import EsignArchive, SignedElsewhere, terms_of
from trainbridge.sdk.streams import PageNumber, RestStream, StreamPage

DOCS = "docs/connectors/dropbox_sign.md, 'Agreements signed in Dropbox Sign'"
PAGE_SIZE = 100
#: The metadata key of the agreement id on every request trainbridge sends.
AGREEMENT_KEY = "trainbridge_agreement_id"


class DropboxSignArchive(EsignArchive):
    """``fetch_agreements`` for :class:`~trainbridge.connectors.dropbox_sign.DropboxSignConnector`."""

    http: Any
    archive_vendor = "dropbox_sign"
    archive_docs = DOCS

    def agreements_stream(self) -> RestStream:
        params = {"account_id": self.config.account_id} if self.config.account_id else {}
        return RestStream(self.http, "/signature_request/list", records="signature_requests",
                          absent_is_empty=True, params=params, name="signature requests",
                          paging=PageNumber(param="page", size_param="page_size", size=PAGE_SIZE,
                                            total_pages="list_info.num_pages"),
                          ctx=getattr(self, "ctx", None), where=f"[connectors.{self.name}]")

    def signed_elsewhere(self, item: Mapping[str, Any]) -> SignedElsewhere | None:
        metadata = item.get("metadata") or {}
        if not isinstance(metadata, Mapping) or not item.get("is_complete"):
            return None
        if AGREEMENT_KEY in metadata:
            return None  # sent by trainbridge: already an agreement in the ledger
        return SignedElsewhere(str(item.get("signature_request_id") or ""),
                               terms_of(metadata, self.config.agreement_fields),
                               last_signed(item), dict(item))

    def agreements_cursor(self, part: StreamPage) -> str:
        info = part.body.get("list_info") if isinstance(part.body, Mapping) else None
        pages = info.get("num_pages") if isinstance(info, Mapping) else 0
        return f"page_size={PAGE_SIZE};pages={int(pages or 0)}"

def last_signed(request: Mapping[str, Any]) -> datetime | None:
    """When the request was complete: the latest ``signed_at`` of its signatures."""
    times = []
    for signature in request.get("signatures") or []:
        try:
            seconds = int(signature.get("signed_at") or 0)
        except (TypeError, ValueError):
            continue
        if seconds > 0:
            times.append(datetime.fromtimestamp(seconds, tz=UTC))
    return max(times, default=None)
