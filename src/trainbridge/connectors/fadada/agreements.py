"""法大大: agreements signed outside trainbridge, read from finished sign tasks (``fetch_agreements``).

``POST /sign-task/owner/get-list`` (FASC 5.1 ``getOwnerList``; authorisation ``signtask_info``)
with ``ownerId`` = the company (``open_corp_id``) and ``listFilter.signTaskStatus =
["task_finished"]``, paged by the SDK's ``RestStream``: ``listPageNo`` (from 1) and
``listPageSize`` (at most 100) travel in ``bizContent``, and the answer's ``listPageCount`` ends
the walk; each item of ``signTasks`` carries ``signTaskId``, ``transReferenceId``,
``signTaskStatus`` and ``finishTime`` (epoch milliseconds). The agreement's terms are the
task's fill fields, read with ``POST /sign-task/field/list`` (``fillFields[]``: ``fieldId``,
``fieldName``, ``fieldValue``), named as in :mod:`trainbridge.connectors.esign_agreements` by
their ``fieldId`` (or ``fieldName``; ``agreement_fields`` renames). The signing date is
``finishTime``.

A finished task that carries a ``transReferenceId`` but none of the agreement keys was sent by
trainbridge (its ``transReferenceId`` is the agreement id) or by another system, and is
skipped. The list cannot be asked for "finished since" in every FASC version, so each run
reads it whole (agreements are upserts by id) and the cursor only records the page count.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trainbridge.connectors.esign_agreements import EsignArchive, SignedElsewhere, from_millis, terms_of
from trainbridge.connectors.fadada.config import FadadaConfig
from trainbridge.sdk.streams import PageNumber, RestStream, StreamPage, get

DOCS = "docs/connectors/fadada.md, 'Agreements signed in 法大大'"
PAGE_SIZE = 100
FINISHED = "task_finished"


class FadadaArchive(EsignArchive):
    """``fetch_agreements`` for :class:`~trainbridge.connectors.fadada.FadadaConnector`."""

    config: FadadaConfig
    api: Any
    archive_vendor = "fadada"
    archive_docs = DOCS

    def agreements_stream(self) -> RestStream:
        body = {"ownerId": {"idType": "corp", "openId": self.config.open_corp_id},
                "listFilter": {"signTaskStatus": [FINISHED]}}
        return RestStream(self.api, "/sign-task/owner/get-list", method="POST", body=body, paging_in="body",
                          records="data.signTasks", absent_is_empty=True, name="finished sign tasks",
                          paging=PageNumber(param="listPageNo", size_param="listPageSize", size=PAGE_SIZE,
                                            total_pages="data.listPageCount"),
                          ctx=getattr(self, "ctx", None), where=f"[connectors.{self.name}]")

    def signed_elsewhere(self, item: Mapping[str, Any]) -> SignedElsewhere | None:
        if item.get("signTaskStatus") != FINISHED:
            return None
        task_id = str(item.get("signTaskId") or "")
        fields = self.fill_fields(task_id)
        terms = terms_of(fields, self.config.agreement_fields)
        if item.get("transReferenceId") and not terms:
            return None  # sent by trainbridge (or another system): not an agreement to import
        return SignedElsewhere(task_id, terms, from_millis(item.get("finishTime")),
                               {**item, "fillFields": fields})

    def agreements_cursor(self, part: StreamPage) -> str:
        count = str(get(part.body, "data.listPageCount"))
        return f"listPageSize={PAGE_SIZE};listPageCount={int(count) if count.isdigit() else 0}"

    def fill_fields(self, task_id: str) -> dict[str, str]:
        """The task's filled fields, by ``fieldName`` and by ``fieldId`` (the id wins)."""
        data = self.api.call("/sign-task/field/list", {"signTaskId": task_id}, idempotent=True)
        items = [f for f in (data.get("fillFields") or []) if isinstance(f, Mapping)]
        found: dict[str, str] = {}
        for key in ("fieldName", "fieldId"):
            for field in items:
                if field.get(key) and field.get("fieldValue") not in (None, ""):
                    found[str(field[key])] = str(field["fieldValue"])
        return found

