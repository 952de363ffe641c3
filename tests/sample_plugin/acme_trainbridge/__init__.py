"""Acme HR: a sample vendor connector, written only from docs/plugins.md."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import ClassVar

from pydantic import SecretStr

from trainbridge import hookimpl
from trainbridge.core.connector import Connector, ConnectorConfig
from trainbridge.core.errors import AuthError
from trainbridge.core.records import Employee, HealthResult, Page, make_id


class AcmePeopleConfig(ConnectorConfig):
    people: str
    token: SecretStr
    refuse_login: bool = False


class AcmePeople(Connector):
    config_model: ClassVar[type[ConnectorConfig]] = AcmePeopleConfig
    vendor = "Acme HR"
    config: AcmePeopleConfig

    @hookimpl
    def fetch_employees(self, since: str | None) -> Iterator[Page]:
        token = self.config.token.get_secret_value()
        if self.config.refuse_login:
            # A careless vendor error that echoes the credential: trainbridge must still hide it.
            raise AuthError(f"token {token} refused", instance=self.name, status=401)
        page = Page(cursor="v1")
        for row in json.loads(self.ctx.resolve(self.config.people).read_text(encoding="utf-8")):
            page.add(Employee, {"id": make_id(self.name, row["id"]), "employee_id": row["id"],
                                "name": row.get("name"), "department": row.get("dept", "")},
                     raw={**row, "session": token})
        yield page

    @hookimpl
    def healthcheck(self) -> HealthResult:
        ok = not self.config.refuse_login
        return HealthResult(ok=ok, detail="token accepted" if ok else "token refused")


@hookimpl
def register_connectors(register):  # type: ignore[no-untyped-def]
    register("acme_people", AcmePeople)
