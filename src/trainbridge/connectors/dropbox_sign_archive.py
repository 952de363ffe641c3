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

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from trainbridge import hookimpl
from trainbridge.connectors.esign_agreements import add_agreement, terms_of
from trainbridge.core.records import Page
from trainbridge.sdk.streams import PageNumber, RestStream

DOCS = "docs/connectors/dropbox_sign.md, 'Agreements signed in Dropbox Sign'"
PAGE_SIZE = 100


class DropboxSignArchive:
    """``fetch_agreements`` for :class:`~trainbridge.connectors.dropbox_sign.DropboxSignConnector`."""

    name: str
    config: Any
    http: Any

    def produces(self, hook: str) -> tuple[str, ...]:
        if hook == "fetch_agreements" and not self.config.import_agreements:
            return ()  # opt-in: an account's other requests are not read unless asked
        return super().produces(hook)  # type: ignore[misc]

    def agreements_stream(self) -> RestStream:
        params = {"account_id": self.config.account_id} if self.config.account_id else {}
        return RestStream(self.http, "/signature_request/list", records="signature_requests",
                          absent_is_empty=True, params=params, name="signature requests",
                          paging=PageNumber(param="page", size_param="page_size", size=PAGE_SIZE,
                                            total_pages="list_info.num_pages"),
                          ctx=getattr(self, "ctx", None), where=f"[connectors.{self.name}]")

    @hookimpl
    def fetch_agreements(self, since: str | None) -> Iterator[Page]:
        from trainbridge.connectors.dropbox_sign import AGREEMENT_KEY  # a cycle otherwise

        cfg = self.config
        if not cfg.import_agreements:
            return
        for part in self.agreements_stream().pages():  # newest first, no "since": read whole
            page = Page()
            for request in part.items:
                metadata = request.get("metadata") or {} if isinstance(request, Mapping) else None
                if not isinstance(metadata, Mapping) or not request.get("is_complete"):
                    continue
                if AGREEMENT_KEY in metadata:
                    continue  # sent by trainbridge: already an agreement in the ledger
                add_agreement(page, instance=self.name, vendor="dropbox_sign",
                              envelope_id=str(request.get("signature_request_id") or ""),
                              terms=terms_of(metadata, cfg.agreement_fields),
                              signed_at=last_signed(request), raw=dict(request), docs=DOCS)
            if part.last:
                info = part.body.get("list_info") if isinstance(part.body, Mapping) else None
                pages = info.get("num_pages") if isinstance(info, Mapping) else 0
                page.cursor = f"page_size={PAGE_SIZE};pages={int(pages or 0)}"
            yield page

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
