"""Builders for e签宝 connectors on the kit's clock (``tb_clock``): fixed time, no real sleeping."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from trainbridge.connectors.esign_cn import EsignConnector, EsignEvidenceConnector
from trainbridge.core.connector import ConnectorContext
from trainbridge.testing import Clock

FIXTURES = Path(__file__).parent / "fixtures"
NOW_MS = 1_700_000_640_000  # 2023-11-14 22:24 UTC, just after the fixtures' flow finished
APP_ID = "7438817393"
APP_SECRET = "9f3d6c1b2a8e4f70b5c4d3e2f1a0b9c8"
SANDBOX = "https://smlopenapi.esign.cn"
CALLBACK_URL = "https://hr.example.com/hooks/esign?tenant=acme"


def fixture_json(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes().rstrip(b"\n")


@pytest.fixture
def clock(tb_clock: Clock) -> Clock:
    """The kit's clock at NOW_MS: the context's ``clock`` and ``sleep`` (recorded, never waited)."""
    tb_clock.current = datetime.fromtimestamp(NOW_MS / 1000, tz=UTC)
    return tb_clock


@pytest.fixture
def esign(tmp_path: Path, clock: Clock) -> Callable[..., EsignConnector]:
    def build(**overrides: Any) -> EsignConnector:
        table = {"app_id": APP_ID, "app_secret": APP_SECRET, "base_url": SANDBOX,
                 "callback_url": CALLBACK_URL,
                 "http": {"backoff_base": 0, "backoff_max": 0, "max_attempts": 3}, **overrides}
        conn = EsignConnector.from_mapping("esign", table, ConnectorContext(base_dir=tmp_path))
        assert isinstance(conn, EsignConnector)
        return conn

    return build


@pytest.fixture
def evidence(tmp_path: Path, clock: Clock) -> Callable[..., EsignEvidenceConnector]:
    def build(**overrides: Any) -> EsignEvidenceConnector:
        table = {"project_id": "1111563517", "project_secret": "95439b0863c241c63a861b87d1e647b7",
                 "base_url": "https://smlcunzheng.tsign.cn:9443",
                 "scene_template_id": "64b9c14c-a7fd-4141-93b6-d62a238b8fb2",
                 "segment_template_id": "fbdd2d5c-4c43-4d33-9c8f-b3b87a1c2e3d",
                 "http": {"backoff_base": 0, "backoff_max": 0, "max_attempts": 3}, **overrides}
        conn = EsignEvidenceConnector.from_mapping("evidence", table,
                                                   ConnectorContext(base_dir=tmp_path))
        assert isinstance(conn, EsignEvidenceConnector)
        return conn

    return build
