"""DingTalk faked with ``responses``; payloads in fixtures/ follow the official docs.

Shapes: open.dingtalk.com pages "获取企业内部应用的accessToken" (v1.0 oauth2), "获取员工花名册字段
信息" (api-getemployeerosterbyfield), "获取离职员工列表" (obtain-the-list-of-employees-who-have-
left), "批量获取员工离职信息" (obtain-resignation-information-of-employees-new-version), the old
"查询企业在职员工列表" / "获取离职员工列表" / "获取员工离职信息" (topapi queryonjob, querydimission,
listdimission: SDK ``OapiSmartworkHrmEmployee*Response``), aliyun/dingtalk-sdk models.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import responses

from trainbridge.connectors.dingtalk_hrm import DingTalkHrm
from trainbridge.core.connector import ConnectorContext
from trainbridge.testing import Clock

FIXTURES = Path(__file__).parent / "fixtures"
API = "https://api.dingtalk.com"
OAPI = "https://oapi.dingtalk.com"
TOKEN_URL = f"{API}/v1.0/oauth2/accessToken"
ROSTER_URL = f"{API}/v1.0/hrm/rosters/lists/query"
DISMISSIONS_URL = f"{API}/v1.0/hrm/employees/dismissions"
INFOS_URL = f"{API}/v1.0/hrm/employees/dimissionInfos"
ON_JOB_URL = f"{OAPI}/topapi/smartwork/hrm/employee/queryonjob"
QUERY_DIMISSION_URL = f"{OAPI}/topapi/smartwork/hrm/employee/querydimission"
LIST_DIMISSION_URL = f"{OAPI}/topapi/smartwork/hrm/employee/listdimission"
TOKEN = "fw8ef8we8f76e6f7s8df8s"
NOW = 1_750_000_000.0


def payload(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


@pytest.fixture
def fake() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def config() -> dict[str, Any]:
    return {"app_key": "dingxyz0123456789", "app_secret": "dt-app-secret-0123456789",
            "agent_id": 1185599675, "callback_token": "callback-token-abc",
            "callback_aes_key": "Yue0EfdN5900c1ce5cf6A152c63DDe1808a60c5ecd7",
            "http": {"backoff_base": 0, "max_attempts": 3}}


@pytest.fixture
def clock(tb_clock: Clock) -> Clock:
    """The kit's clock, at NOW: the connectors' context reads and waits on it."""
    tb_clock.current = datetime.fromtimestamp(NOW, UTC)
    return tb_clock


@pytest.fixture
def make_connector(config: dict[str, Any], tmp_path: Path, clock: Clock) -> Callable[..., DingTalkHrm]:
    def build(**overrides: Any) -> DingTalkHrm:
        conn = DingTalkHrm.from_mapping("dingtalk_hr", {**config, **overrides},
                                        ConnectorContext(base_dir=tmp_path))
        assert isinstance(conn, DingTalkHrm)
        return conn

    return build


@pytest.fixture
def dingtalk(make_connector: Callable[..., DingTalkHrm]) -> DingTalkHrm:
    return make_connector()


@pytest.fixture
def token_ok(fake: responses.RequestsMock) -> responses.BaseResponse:
    return fake.add(responses.POST, TOKEN_URL, json=payload("token"))
