"""DocuSign: agreements signed outside trainbridge, read from completed envelopes (``fetch_agreements``).

``GET /v2.1/accounts/{accountId}/envelopes?from_date=...&status=completed&include=custom_fields``
(Envelopes:listStatusChanges), paged with ``start_position`` and ``count``: the answer's
``envelopes``, ``resultSetSize``, ``startPosition``, ``endPosition`` and ``totalSetSize`` (strings
in DocuSign's JSON) say whether another page follows. The agreement's terms are the envelope's
custom fields (``customFields.textCustomFields`` / ``listCustomFields``, ``name`` and ``value``),
named as in :mod:`trainbridge.connectors.esign_agreements`; the signing date is
``completedDateTime``. The cursor is the latest ``statusChangedDateTime`` read, so the next run
asks only for envelopes changed since.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from trainbridge import hookimpl
from trainbridge.connectors.esign_agreements import add_agreement, terms_of
from trainbridge.core.records import Page

DOCS = "docs/connectors/docusign.md, 'Agreements signed in DocuSign'"


class DocusignArchive:
    """``fetch_agreements`` for :class:`~trainbridge.connectors.docusign.DocusignConnector`."""

    name: str
    config: Any

    def _json(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        raise NotImplementedError  # the connector's own

    def produces(self, hook: str) -> tuple[str, ...]:
        if hook == "fetch_agreements" and not self.config.import_agreements:
            return ()  # opt-in: an account's other envelopes are not read unless asked
        return super().produces(hook)  # type: ignore[misc]

    @hookimpl
    def fetch_agreements(self, since: str | None) -> Iterator[Page]:
        from trainbridge.connectors.docusign import AGREEMENT_FIELD  # a cycle otherwise

        cfg = self.config
        if not cfg.import_agreements:
            return
        from_date = since or f"{cfg.agreements_since.isoformat()}T00:00:00Z"
        latest = from_date
        position = 0
        while True:
            answer = self._json("GET", "/envelopes", params={
                "from_date": from_date, "status": "completed", "include": "custom_fields",
                "start_position": str(position), "count": str(cfg.agreements_page_size)})
            envelopes = [e for e in answer.get("envelopes") or [] if isinstance(e, Mapping)]
            page = Page()
            for envelope in envelopes:
                changed = str(envelope.get("statusChangedDateTime") or "")
                if changed and _instant(changed) > _instant(latest):
                    latest = changed
                fields = custom_fields(envelope)
                if AGREEMENT_FIELD in fields:
                    continue  # sent by trainbridge: already an agreement in the ledger
                add_agreement(page, instance=self.name, vendor="docusign",
                              envelope_id=str(envelope.get("envelopeId") or ""),
                              terms=terms_of(fields, cfg.agreement_fields),
                              signed_at=_when(envelope.get("completedDateTime")), raw=dict(envelope),
                              docs=DOCS)
            end, total = _number(answer.get("endPosition")), _number(answer.get("totalSetSize"))
            more = bool(envelopes) and end is not None and total is not None and end + 1 < total
            if not more:
                page.cursor = latest
                yield page
                return
            yield page
            position = end + 1 if end is not None else position + len(envelopes)


def custom_fields(envelope: Mapping[str, Any]) -> dict[str, str]:
    """An envelope's text and list custom fields, name -> value."""
    found: dict[str, str] = {}
    holder = envelope.get("customFields") or {}
    for group in ("textCustomFields", "listCustomFields"):
        for field in holder.get(group) or []:
            if isinstance(field, Mapping) and field.get("name"):
                found[str(field["name"])] = str(field.get("value") or "")
    return found


def _number(value: Any) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def _instant(text: str) -> datetime:
    return _when(text) or datetime.min.replace(tzinfo=UTC)


def _when(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)
