"""An xAPI 1.0.3 LRS faked with ``responses``.

Statements in fixtures/ are the examples of the specification (github.com/adlnet/xAPI-Spec,
xAPI-Data.md appendix A "Example Statements" and 2.3.2 "Voiding"), given our learners and
dates; the StatementResult, the ``more`` IRL and the About document follow xAPI-Data.md 2.5
and xAPI-Communication.md 2.1.3 and 2.8.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import responses
from responses import matchers

from trainbridge.connectors.xapi import XAPIConnector
from trainbridge.core.connector import ConnectorContext

FIXTURES = Path(__file__).parent / "fixtures"
ENDPOINT = "https://lrs.example.com/xapi/"
STATEMENTS = f"{ENDPOINT}statements"
ABOUT = f"{ENDPOINT}about"
SECRET = "lrs-secret-0123456789"
MORE = "bWFnaWMtcGFnZS0y"
CONSISTENT = {"X-Experience-API-Consistent-Through": "2024-06-01T00:00:00.000Z",
              "X-Experience-API-Version": "1.0.3"}
VOIDED_ID = "6690e6c9-3ef0-4ed3-8b37-7f3964730bee"


def payload(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def first_page(fake: responses.RequestsMock, body: Any = None, **kw: Any) -> None:
    """The first query (it carries limit and ascending; a ``more`` IRL does not)."""
    fake.add(responses.GET, STATEMENTS, json=payload("statements_page1") if body is None else body,
             match=[matchers.query_param_matcher({"ascending": "true"}, strict_match=False)],
             headers={**CONSISTENT, **kw.pop("headers", {})}, **kw)


def more_page(fake: responses.RequestsMock) -> None:
    fake.add(responses.GET, STATEMENTS, json=payload("statements_page2"), headers=CONSISTENT,
             match=[matchers.query_param_matcher({"more": MORE})])


def voided_lookup(fake: responses.RequestsMock, **kw: Any) -> None:
    fake.add(responses.GET, STATEMENTS, headers=CONSISTENT,
             match=[matchers.query_param_matcher({"voidedStatementId": VOIDED_ID,
                                                  "format": "ids"})],
             **({"json": payload("voided_statement")} | kw))


@pytest.fixture
def fake() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def config() -> dict[str, Any]:
    return {"endpoint": "https://lrs.example.com/xapi", "username": "lrs-key", "password": SECRET,
            "verbs": {"https://xapi.example.cn/verbs/submitted-action-plan":
                      "action_plan_submitted"},
            "http": {"backoff_base": 0, "max_attempts": 3}}


@pytest.fixture
def make_lrs(config: dict[str, Any], tmp_path: Path) -> Callable[..., XAPIConnector]:
    def build(**overrides: Any) -> XAPIConnector:
        conn = XAPIConnector.from_mapping("lrs", {**config, **overrides},
                                          ConnectorContext(base_dir=tmp_path))
        assert isinstance(conn, XAPIConnector)
        conn.sleeps = []  # type: ignore[attr-defined]
        conn.http._sleep = conn.sleeps.append  # type: ignore[attr-defined]
        return conn

    return build


@pytest.fixture
def lrs(make_lrs: Callable[..., XAPIConnector]) -> XAPIConnector:
    return make_lrs()
