"""The ``csv_reviews`` connector: performance review scores from files, as metrics."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from pydantic import Field

from trainbridge import hookimpl
from trainbridge.connectors.files import FileSourceConfig, _FileSource
from trainbridge.core.connector import ConnectorConfig
from trainbridge.core.records import HealthResult, MetricValue, Page


class CsvReviewsConfig(FileSourceConfig):
    path: str = Field(description="CSV/JSONL of review scores, metric = competency:<name>")


class CsvReviews(_FileSource):
    """Performance reviews from files: competency scores as metrics.

    Unlike ``csv_metrics`` it writes no training results back, so it can sit next to the
    KPI source without making result writes ambiguous.
    """

    config_model: ClassVar[type[ConnectorConfig]] = CsvReviewsConfig
    vendor = "CSV/JSONL files"
    config: CsvReviewsConfig

    @hookimpl
    def fetch_metrics(self, since: str | None) -> Iterator[Page]:
        return self._pages(self.config.path, MetricValue.kind, since)

    @hookimpl
    def healthcheck(self) -> HealthResult:
        return self._check_paths(self.config.path)
