"""Secrets never reach logs, errors, dry-run output, the ledger or reports; the CLI end to end."""

from __future__ import annotations

import html
import json
import logging

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from tests.conftest import write
from trainbridge.cli import build_cli
from trainbridge.core.ledger import metadata
from trainbridge.core.manager import PluginHost

SECRET = "tok-7c1e-very-secret"


@pytest.fixture
def acme_host(monkeypatch):
    """The sample vendor plugin registered in-process (the pip-installed path is tested apart)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[1] / "sample_plugin"))
    import acme_trainbridge

    original = PluginHost.create.__func__  # type: ignore[attr-defined]

    def create(cls, disabled=()):
        host = original(cls, disabled)
        host.pm.register(acme_trainbridge, name="acme_people")
        host.connector_types.clear()
        host.jobs.clear()
        host.reports.clear()
        host.migrations.clear()
        host._collect()
        return host

    monkeypatch.setattr(PluginHost, "create", classmethod(create))
    monkeypatch.setenv("ACME_TOKEN", SECRET)
    yield
    sys.path.pop(0)


def test_a_known_secret_appears_in_no_output_log_or_ledger_row(acme_host, tmp_path, caplog):
    write(tmp_path / "people.json", json.dumps([{"id": "A1", "name": "张伟"}, {"id": "A2"}]))
    write(tmp_path / "plugins.toml",
          '[connectors.acme]\ntype = "acme_people"\npeople = "people.json"\ntoken = "${ACME_TOKEN}"\n'
          '[connectors.acme_down]\ntype = "acme_people"\npeople = "people.json"\ntoken = "${ACME_TOKEN}"\n'
          'refuse_login = true\n')
    caplog.set_level(logging.DEBUG)
    outputs = []
    for args in (["sync", "--dry-run", "ingest"], ["sync", "ingest"], ["sync", "--json", "ingest"],
                 ["runs", "--json"], ["quarantine", "list", "--json"], ["check"]):
        result = CliRunner().invoke(build_cli(), ["--config", str(tmp_path / "plugins.toml"), *args])
        outputs.append(result.output)
    text = "\n".join(outputs)
    assert "token *** refused" in text  # the error is there, the secret is not
    assert "quarantine" in text
    assert SECRET not in text
    assert SECRET not in caplog.text
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'trainbridge.db'}")
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(sa.select(table)):
                assert SECRET not in json.dumps([str(v) for v in row]), table.name


def test_init_writes_a_commented_config_and_creates_the_ledger(tmp_path):
    result = CliRunner().invoke(build_cli(), ["init", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "# trainbridge configuration" in (tmp_path / "plugins.toml").read_text()
    assert (tmp_path / "trainbridge.db").exists()


def test_schema_prints_json_schema_for_each_record():
    result = CliRunner().invoke(build_cli(), ["schema", "payroll_adjustment"])
    schema = json.loads(result.output)
    assert {"amount", "currency", "employee_id"} <= set(schema["properties"])
    everything = json.loads(CliRunner().invoke(build_cli(), ["schema"]).output)
    assert {"employee", "separation", "cost_item", "agreement", "notice"} <= set(everything)


def test_demo_runs_every_job_on_sample_data(tmp_path):
    result = CliRunner().invoke(build_cli(), ["demo", "--dir", str(tmp_path / "demo")])
    assert "== ingest: ok" in result.output, result.output
    assert "17 employee" in result.output
    bundle = (tmp_path / "demo" / "out" / "report.html").read_text(encoding="utf-8")
    reports = PluginHost.create().reports.values()
    assert all(html.escape(r.title) in bundle for r in reports) and "not available" not in bundle
    assert "<script" not in bundle and "https://" not in bundle  # one self-contained file
    runs = CliRunner().invoke(build_cli(), ["--config", str(tmp_path / "demo" / "plugins.toml"),
                                            "runs", "--json"])
    # the demo ends with a proposal approved in a (faked) Feishu approval and delivered at once
    assert json.loads(runs.output)[0]["job"] in {"ingest", "approval", *PluginHost.create().jobs}


def test_proposals_and_quarantine_listings_are_json(tmp_path):
    write(tmp_path / "plugins.toml", "")
    for args in (["proposals", "list", "--json"], ["quarantine", "list", "--json"], ["runs", "--json"]):
        result = CliRunner().invoke(build_cli(), ["--config", str(tmp_path / "plugins.toml"), *args])
        assert json.loads(result.output) == [], args


def test_a_secret_written_literally_in_plugins_toml_is_still_hidden(tmp_path):
    import sys
    from pathlib import Path

    from trainbridge.core.secrets import redact

    sys.path.insert(0, str(Path(__file__).parents[1] / "sample_plugin"))
    try:
        import acme_trainbridge

        acme_trainbridge.AcmePeople.from_mapping("acme", {"people": "people.json",
                                                          "token": "literal-tok-93ab"})
    finally:
        sys.path.pop(0)
    assert redact("login with literal-tok-93ab failed") == "login with *** failed"


def test_check_fails_when_one_healthcheck_fails(tmp_path):
    write(tmp_path / "e.csv", "employee_id,name\nE1,张伟\n")
    write(tmp_path / "plugins.toml", '[connectors.hr]\ntype = "csv_people"\nemployees = "e.csv"\n'
                                     '[connectors.hr2]\ntype = "csv_people"\nemployees = "gone.csv"\n')
    result = CliRunner().invoke(build_cli(), ["--config", str(tmp_path / "plugins.toml"), "check"])
    assert result.exit_code == 1
    assert "ok   hr " in result.output and "FAIL hr2" in result.output and "gone.csv" in result.output


def test_a_listing_on_a_current_ledger_imports_no_plugin(tmp_path):
    """`runs` reads the ledger only: no plugin is imported (start-up stays light)."""
    import subprocess
    import sys

    CliRunner().invoke(build_cli(), ["demo", "--dir", str(tmp_path / "demo")])
    probe = ("import sys\nfrom trainbridge.cli import main\n"
             "sys.argv = ['trainbridge', 'runs', '--limit', '1']\n"
             "try:\n    main()\nexcept SystemExit:\n    pass\n"
             "print(sorted(m for m in sys.modules if m.startswith('trainbridge.plugins.')))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path / "demo", capture_output=True,
                         text=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr
