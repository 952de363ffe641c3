"""Feishu People faked with ``responses``; payloads in fixtures/ follow the official docs.

Sources of the shapes: open.feishu.cn server-docs pages "搜索员工信息" (corehr-v2/employee/search),
"批量查询员工任职信息" (corehr-v2/employees-job_data/batch_get), "搜索离职信息"
(corehr-v1/offboarding/search), "查询员工离职原因列表" (corehr-v1/offboarding/query),
"自建应用获取 tenant_access_token", and the SDK models in larksuite/oapi-sdk-python.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import responses

from trainbridge.connectors.feishu import FeishuPeople
from trainbridge.core.connector import ConnectorContext
from trainbridge.testing import Clock

FIXTURES = Path(__file__).parent / "fixtures"
BASE = "https://open.feishu.cn"
TOKEN_URL = f"{BASE}/open-apis/auth/v3/tenant_access_token/internal"
EMPLOYEES_URL = f"{BASE}/open-apis/corehr/v2/employees/search"
JOB_DATAS_URL = f"{BASE}/open-apis/corehr/v2/employees/job_datas/batch_get"
OFFBOARDINGS_URL = f"{BASE}/open-apis/corehr/v1/offboardings/search"
REASONS_URL = f"{BASE}/open-apis/corehr/v1/offboardings/query"
TOKEN = "t-7f1bcd13fc57d46bac21793a18e560"
NOW = 1_750_000_000.0


def payload(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


@pytest.fixture
def fake() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def config() -> dict[str, Any]:
    return {"app_id": "cli_a1b2c3d4e5f6", "app_secret": "app-secret-0123456789",
            "verification_token": "verify-token-abc", "encrypt_key": "encrypt-key-xyz",
            "http": {"backoff_base": 0, "max_attempts": 3}}


@pytest.fixture
def clock(tb_clock: Clock) -> Clock:
    """The kit's clock, at NOW: the connectors' context reads and waits on it."""
    tb_clock.current = datetime.fromtimestamp(NOW, UTC)
    return tb_clock


@pytest.fixture
def make_connector(config: dict[str, Any], tmp_path: Path, clock: Clock) -> Callable[..., FeishuPeople]:
    def build(**overrides: Any) -> FeishuPeople:
        conn = FeishuPeople.from_mapping("feishu_hr", {**config, **overrides},
                                         ConnectorContext(base_dir=tmp_path))
        assert isinstance(conn, FeishuPeople)
        return conn

    return build


@pytest.fixture
def feishu(make_connector: Callable[..., FeishuPeople]) -> FeishuPeople:
    return make_connector()


@pytest.fixture
def token_ok(fake: responses.RequestsMock) -> responses.BaseResponse:
    return fake.add(responses.POST, TOKEN_URL, json=payload("token"))
