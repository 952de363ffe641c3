"""A connector with a misspelled hook argument (``sinse``): trainbridge must name it and keep going."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from trainbridge import hookimpl
from trainbridge.core.connector import Connector, ConnectorConfig
from trainbridge.core.records import Page


class AcmeMisspelled(Connector):
    config_model: ClassVar[type[ConnectorConfig]] = ConnectorConfig
    vendor = "Acme HR (old build)"

    @hookimpl
    def fetch_employees(self, sinse: str | None) -> Iterator[Page]:
        yield Page()


@hookimpl
def register_connectors(register):  # type: ignore[no-untyped-def]
    register("acme_misspelled", AcmeMisspelled)
