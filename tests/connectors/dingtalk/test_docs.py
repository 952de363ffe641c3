"""The plugins.toml table in docs/connectors/dingtalk_hrm.md works as written."""

from __future__ import annotations

import re
from pathlib import Path

from trainbridge.connectors.dingtalk_hrm import DingTalkHrm
from trainbridge.core.config import load_settings
from trainbridge.core.manager import load_host
from trainbridge.core.records import SeparationReason

DOC = Path(__file__).parents[3] / "docs" / "connectors" / "dingtalk_hrm.md"


def test_the_documented_table_builds_an_instance(tmp_path, monkeypatch):
    monkeypatch.setenv("DINGTALK_APP_SECRET", "dt-app-secret-0123456789")
    monkeypatch.setenv("DINGTALK_CALLBACK_TOKEN", "callback-token-abc")
    monkeypatch.setenv("DINGTALK_CALLBACK_AES_KEY", "Yue0EfdN5900c1ce5cf6A152c63DDe1808a60c5ecd7")
    table = re.search(r"```toml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert table is not None
    path = tmp_path / "plugins.toml"
    path.write_text(table.group(1), encoding="utf-8")
    host = load_host(load_settings(path))
    conn = host.instances["dingtalk_hr"]
    assert isinstance(conn, DingTalkHrm)
    assert conn.reasons.types[9] is SeparationReason.RESIGNATION
    assert conn.reasons.names["被迫离职"] is SeparationReason.EMPLOYER_FAULT
