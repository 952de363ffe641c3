"""The plugins.toml table in docs/connectors/fadada.md loads as written."""

from __future__ import annotations

import re
from pathlib import Path

from trainbridge.connectors.fadada import FadadaConnector
from trainbridge.core.config import load_settings
from trainbridge.core.manager import PluginHost

DOC = Path(__file__).resolve().parents[3] / "docs" / "connectors" / "fadada.md"


def test_the_documented_table_builds_an_instance(tmp_path, monkeypatch) -> None:
    for var in ("FADADA_APP_ID", "FADADA_APP_SECRET", "FADADA_OPEN_CORP_ID"):
        monkeypatch.setenv(var, f"{var.lower()}-value")
    [block] = re.findall(r"```toml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    (tmp_path / "plugins.toml").write_text(block, encoding="utf-8")

    host = PluginHost.create()
    host.build_instances(load_settings(tmp_path / "plugins.toml"))

    conn = host.instances["fadada"]
    assert isinstance(conn, FadadaConnector)
    assert conn.config.app_secret.get_secret_value() == "fadada_app_secret-value"
    assert set(host.hooks_of(conn)) >= {"send_for_signature", "verify_webhook", "healthcheck"}


def test_trainbridge_plugins_lists_fadada() -> None:
    from click.testing import CliRunner

    from trainbridge.cli import cli

    out = CliRunner().invoke(cli, ["plugins"]).output
    assert "connector type fadada: fetch_agreements, send_for_signature, signature_status, " \
           "download_signed, verify_webhook, healthcheck" in out
