"""Security replays run against the console of the demo workspace (tests/web's fixtures), with a
Gusto instance added where a finding needs one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import (  # noqa: F401  (fixtures)
    PASSWORDS,
    TODAY,
    client,
    csrf_of,
    demo_dir,
    demo_template,
    logged_in,
    login,
    workspace,
)
from trainbridge.core.config import load_settings
from trainbridge.core.runner import Workspace

GUSTO_COMPANY = "9aa93530-43d5-484e-b608-33214109420d"


@pytest.fixture
def gusto_client(demo_dir: Path) -> Iterator[Any]:  # noqa: F811
    """The demo console with a Gusto payroll instance whose webhook is not verified yet."""
    from starlette.testclient import TestClient

    from trainbridge.web import WebSettings, create_app

    config = demo_dir / "plugins.toml"
    config.write_text(config.read_text(encoding="utf-8") + f"""
[connectors.gusto_pay]
type = "gusto"
company_id = "{GUSTO_COMPANY}"
access_token = "gusto-company-access-token-for-tests"
""", encoding="utf-8")
    ws = Workspace(load_settings(config))
    ws.ensure_migrated()
    with TestClient(create_app(ws, WebSettings(today=lambda: TODAY)), base_url="http://testserver") as c:
        c.workspace = ws
        yield c
    ws.close()
