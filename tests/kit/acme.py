"""A small payroll vendor connector written the way docs/plugins.md says, and its mistakes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from trainbridge import hookimpl
from trainbridge.core.connector import Connector, ConnectorConfig, ConnectorContext
from trainbridge.core.records import DeliveryReceipt, Employee, HealthResult, Page, PayrollAdjustment, make_id

BASE = "https://api.acme-pay.example/v1"


class AcmeConfig(ConnectorConfig):
    base_url: str = BASE


class AcmePay(Connector):
    """People from ``GET /people``; bonuses as ``POST /payments`` with the vendor's Idempotency-Key."""

    config_model: ClassVar[type[ConnectorConfig]] = AcmeConfig
    config: AcmeConfig

    def __init__(self, name: str, config: ConnectorConfig, ctx: ConnectorContext | None = None) -> None:
        super().__init__(name, config, ctx)
        self.http = self.ctx.http(self.config.base_url, instance=name)

    @hookimpl
    def fetch_employees(self, since: str | None) -> Iterator[Page]:
        page = Page()
        for person in self.http.get_json("/people"):
            page.add(Employee, {"id": make_id(self.name, person["id"]), "source": self.name,
                                "employee_id": person["id"], "name": person["name"]})
        yield page

    @hookimpl
    def post_adjustment(self, adjustment: PayrollAdjustment,
                        idempotency_key: str | None = None) -> DeliveryReceipt:
        paid = self.http.post("/payments", idempotency_key=idempotency_key or adjustment.id,
                              json={"employee": adjustment.employee_id, "amount": str(adjustment.amount)})
        return DeliveryReceipt(ref=f"payment:{paid.json()['id']}", status="scheduled")

    @hookimpl
    def healthcheck(self) -> HealthResult:
        self.http.get_json("/people")
        return HealthResult(ok=True, detail="token accepted")


class KeylessPay(AcmePay):
    """Forgets the key: a retried payment after a lost answer pays twice."""

    @hookimpl
    def post_adjustment(self, adjustment: PayrollAdjustment,
                        idempotency_key: str | None = None) -> DeliveryReceipt:
        paid = self.http.post("/payments", json={"employee": adjustment.employee_id,
                                                 "amount": str(adjustment.amount)})
        return DeliveryReceipt(ref=f"payment:{paid.json()['id']}", status="scheduled")


class NoCursor(AcmePay):
    @hookimpl
    def fetch_employees(self) -> Iterator[Page]:  # type: ignore[override]
        yield Page()


class UnprefixedIds(AcmePay):
    @hookimpl
    def fetch_employees(self, since: str | None) -> Iterator[Page]:
        page = Page()
        for person in self.http.get_json("/people"):
            page.add(Employee, {"id": person["id"], "source": self.name, "employee_id": person["id"],
                                "name": person["name"]})
        yield page


class DuplicatedIds(AcmePay):
    @hookimpl
    def fetch_employees(self, since: str | None) -> Iterator[Page]:
        page = Page()
        for person in [*self.http.get_json("/people"), self.http.get_json("/people")[0]]:
            page.add(Employee, {"id": make_id(self.name, person["id"]), "source": self.name,
                                "employee_id": person["id"], "name": person["name"]})
        yield page
