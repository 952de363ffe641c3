"""The plugins.toml tables in docs/connectors/esign_cn*.md load as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from trainbridge.connectors.esign_cn import EsignConnector, EsignEvidenceConnector
from trainbridge.core.config import load_settings
from trainbridge.core.manager import PluginHost

DOCS = Path(__file__).resolve().parents[3] / "docs" / "connectors"


def _toml_block(doc: str) -> str:
    [block] = re.findall(r"```toml\n(.*?)```", (DOCS / doc).read_text(encoding="utf-8"), re.S)
    return block


@pytest.mark.parametrize(("doc", "name", "cls"), [
    ("esign_cn.md", "esign", EsignConnector),
    ("esign_cn_evidence.md", "esign_evidence", EsignEvidenceConnector),
])
def test_the_documented_table_builds_an_instance(doc, name, cls, tmp_path, monkeypatch) -> None:
    for var in ("ESIGN_APP_ID", "ESIGN_APP_SECRET", "ESIGN_EVI_PROJECT_ID",
                "ESIGN_EVI_PROJECT_SECRET"):
        monkeypatch.setenv(var, f"{var.lower()}-value")
    (tmp_path / "plugins.toml").write_text(_toml_block(doc), encoding="utf-8")

    host = PluginHost.create()
    host.build_instances(load_settings(tmp_path / "plugins.toml"))

    assert isinstance(host.instances[name], cls)


def test_trainbridge_plugins_lists_both_types() -> None:
    from click.testing import CliRunner

    from trainbridge.cli import cli

    out = CliRunner().invoke(cli, ["plugins"]).output
    assert "connector type esign_cn: send_for_signature, signature_status, download_signed, " \
           "verify_webhook, healthcheck" in out
    assert "connector type esign_cn_evidence: deposit_evidence, verify_evidence, healthcheck" in out
