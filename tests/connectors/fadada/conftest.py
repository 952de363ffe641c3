"""Builders for the 法大大 connector on the kit's clock (``tb_clock``) with a fixed nonce."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from trainbridge.connectors.fadada import FadadaConnector
from trainbridge.core.connector import ConnectorContext
from trainbridge.testing import Clock

FIXTURES = Path(__file__).parent / "fixtures"
NOW_MS = 1_700_000_640_000
APP_ID = "80002314"
APP_SECRET = "Wq1nYf2Zr3Xe4Dc5Vb6Ng7Hm8Jk9Lp0A"
OPEN_CORP_ID = "a814cfeeefdb4a5c92b9e147f02fe99d"
UAT = "https://uat-api.fadada.com/api/v5"


def fixture_json(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def nonces() -> Iterator[str]:
    n = 0
    while True:
        n += 1
        yield f"{n:032x}"


@pytest.fixture
def clock(tb_clock: Clock) -> Clock:
    """The kit's clock at NOW_MS: the context's ``clock`` (token expiry, X-FASC-Timestamp, the
    callback window) and ``sleep`` (the client's retries, recorded in ``clock.sleeps``)."""
    tb_clock.current = datetime.fromtimestamp(NOW_MS / 1000, tz=UTC)
    return tb_clock


@pytest.fixture
def fadada(tmp_path: Path, clock: Clock) -> Callable[..., FadadaConnector]:
    def build(**overrides: Any) -> FadadaConnector:
        table = {"app_id": APP_ID, "app_secret": APP_SECRET, "base_url": UAT,
                 "open_corp_id": OPEN_CORP_ID,
                 "http": {"backoff_base": 0, "backoff_max": 0, "max_attempts": 3}, **overrides}
        conn = FadadaConnector.from_mapping("fdd", table, ConnectorContext(base_dir=tmp_path))
        assert isinstance(conn, FadadaConnector)
        sequence = nonces()
        conn.nonce = lambda: next(sequence)
        return conn

    return build
