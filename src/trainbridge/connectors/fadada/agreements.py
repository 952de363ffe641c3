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

from collections.abc import Iterator, Mapping
from typing import Any

from trainbridge import hookimpl
from trainbridge.connectors.esign_agreements import add_agreement, from_millis, terms_of
from trainbridge.connectors.fadada.config import FadadaConfig
from trainbridge.core.records import Page
from trainbridge.sdk.streams import PageNumber, RestStream, get

DOCS = "docs/connectors/fadada.md, 'Agreements signed in 法大大'"
PAGE_SIZE = 100
FINISHED = "task_finished"


class FadadaArchive:
    """``fetch_agreements`` for :class:`~trainbridge.connectors.fadada.FadadaConnector`."""

    name: str
    config: FadadaConfig
    api: Any

    def produces(self, hook: str) -> tuple[str, ...]:
        if hook == "fetch_agreements" and not self.config.import_agreements:
            return ()  # opt-in: the company's other contracts are not read unless asked
        return super().produces(hook)  # type: ignore[misc]

    def agreements_stream(self) -> RestStream:
        body = {"ownerId": {"idType": "corp", "openId": self.config.open_corp_id},
                "listFilter": {"signTaskStatus": [FINISHED]}}
        return RestStream(self.api, "/sign-task/owner/get-list", method="POST", body=body, paging_in="body",
                          records="data.signTasks", absent_is_empty=True, name="finished sign tasks",
                          paging=PageNumber(param="listPageNo", size_param="listPageSize", size=PAGE_SIZE,
                                            total_pages="data.listPageCount"),
                          ctx=getattr(self, "ctx", None), where=f"[connectors.{self.name}]")

    @hookimpl
    def fetch_agreements(self, since: str | None) -> Iterator[Page]:
        cfg = self.config
        if not cfg.import_agreements:
            return
        for part in self.agreements_stream().pages():
            page = Page()
            for task in part.items:
                if not isinstance(task, Mapping) or task.get("signTaskStatus") != FINISHED:
                    continue
                task_id = str(task.get("signTaskId") or "")
                fields = self.fill_fields(task_id)
                terms = terms_of(fields, cfg.agreement_fields)
                if task.get("transReferenceId") and not terms:
                    continue  # sent by trainbridge (or another system): not an agreement to import
                add_agreement(page, instance=self.name, vendor="fadada", envelope_id=task_id, terms=terms,
                              signed_at=from_millis(task.get("finishTime")),
                              raw={**task, "fillFields": fields}, docs=DOCS)
            if part.last:
                count = str(get(part.body, "data.listPageCount"))
                page.cursor = f"listPageSize={PAGE_SIZE};listPageCount={int(count) if count.isdigit() else 0}"
            yield page

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

