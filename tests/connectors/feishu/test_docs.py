"""The plugins.toml table in docs/connectors/feishu_people.md works as written."""

from __future__ import annotations

import re
from pathlib import Path

from trainbridge.connectors.feishu import FeishuPeople
from trainbridge.core.config import load_settings
from trainbridge.core.manager import load_host
from trainbridge.core.records import SeparationReason

DOC = Path(__file__).parents[3] / "docs" / "connectors" / "feishu_people.md"


def test_the_documented_table_builds_an_instance(tmp_path, monkeypatch):
    for var in ("FEISHU_APP_SECRET", "FEISHU_VERIFICATION_TOKEN", "FEISHU_ENCRYPT_KEY"):
        monkeypatch.setenv(var, f"value-of-{var.lower()}")
    table = re.search(r"```toml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert table is not None
    path = tmp_path / "plugins.toml"
    path.write_text(table.group(1), encoding="utf-8")
    host = load_host(load_settings(path))
    conn = host.instances["feishu_hr"]
    assert isinstance(conn, FeishuPeople)
    assert conn.reason_table.table["劳动合同期满"] is SeparationReason.CONTRACT_END
    assert conn.config.http.max_attempts == 5
