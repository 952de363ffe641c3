"""plugins.toml: every error names the file, the table, the key and the fix."""

from __future__ import annotations

import pytest

from tests.conftest import write
from trainbridge.core.config import load_settings
from trainbridge.core.errors import ConfigError, PluginError
from trainbridge.core.manager import PluginHost, load_host


def load(tmp_path, text):
    return load_settings(write(tmp_path / "plugins.toml", text))


def test_an_unknown_key_names_file_table_key_and_fix(tmp_path):
    settings = load(tmp_path, '[connectors.hr]\ntype = "csv_people"\nemployess = "e.csv"\n')
    with pytest.raises(ConfigError) as err:
        load_host(settings)
    text = str(err.value)
    assert "plugins.toml" in text and "[connectors.hr]" in text and "'employess'" in text
    assert "unknown key" in text and "hint:" in text


def test_a_wrong_type_is_an_error_naming_the_key(tmp_path):
    settings = load(tmp_path, '[connectors.n]\ntype = "file_notifier"\npath = 3\n')
    with pytest.raises(ConfigError, match=r"\[connectors.n\].*'path'"):
        load_host(settings)


def test_a_missing_environment_variable_names_the_variable_and_the_fix(tmp_path, monkeypatch):
    monkeypatch.delenv("ACME_TOKEN", raising=False)
    with pytest.raises(ConfigError) as err:
        load(tmp_path, '[connectors.pay]\ntype = "jsonl_payroll"\npath = "${ACME_TOKEN}"\n')
    assert "ACME_TOKEN is not set" in str(err.value) and "export ACME_TOKEN" in str(err.value)
    assert "[connectors.pay]" in str(err.value)


def test_environment_defaults_and_substitution(tmp_path, monkeypatch):
    monkeypatch.setenv("OUT_DIR", "exports")
    settings = load(tmp_path, '[connectors.pay]\ntype = "jsonl_payroll"\npath = "${OUT_DIR}/p.jsonl"\n'
                              '[connectors.n]\ntype = "file_notifier"\npath = "${NOTICES:-n.jsonl}"\n')
    assert settings.connectors["pay"]["path"] == "exports/p.jsonl"
    assert settings.connectors["n"]["path"] == "n.jsonl"


def test_an_unknown_connector_type_lists_the_known_ones(tmp_path):
    settings = load(tmp_path, '[connectors.x]\ntype = "acme_payroll"\n')
    with pytest.raises(ConfigError, match="(?s)unknown connector type 'acme_payroll'.*csv_people"):
        load_host(settings)


def test_a_missing_type_and_an_unknown_table_are_errors(tmp_path):
    with pytest.raises(ConfigError, match="'type'"):
        load(tmp_path, '[connectors.x]\npath = "a"\n')
    with pytest.raises(ConfigError, match=r"\[connector\].*unknown table"):
        load(tmp_path, '[connector.x]\ntype = "a"\n')


def test_broken_toml_says_where(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(tmp_path, "[ledger\nurl = 1\n")


def test_a_missing_file_says_how_to_create_one(tmp_path):
    with pytest.raises(ConfigError, match="trainbridge init"):
        load_settings(tmp_path / "nope.toml")


def test_two_instances_of_one_type_are_normal(tmp_path):
    settings = load(tmp_path, '[connectors.pay_sh]\ntype = "jsonl_payroll"\npath = "sh.jsonl"\n'
                              'legal_entities = ["ACME-SH"]\n'
                              '[connectors.pay_bj]\ntype = "jsonl_payroll"\npath = "bj.jsonl"\n')
    host = load_host(settings)
    assert {i.name for i in host.instances_with("post_adjustment")} == {"pay_sh", "pay_bj"}


def test_sqlite_path_is_relative_to_the_config_file(tmp_path):
    settings = load(tmp_path, '[ledger]\nurl = "sqlite:///state/tb.db"\n')
    assert settings.resolved_ledger_url() == f"sqlite:///{tmp_path.resolve()}/state/tb.db"


def test_two_plugins_claiming_one_connector_type_is_an_error_naming_both():
    host = PluginHost.create()

    class Other:
        @staticmethod
        def register_connectors(register):
            register("csv_people", object)

    from trainbridge import hookimpl

    other = Other()
    other.register_connectors = hookimpl(Other.register_connectors)  # type: ignore[method-assign]
    host.pm.register(other, name="acme_people")
    host.connector_types.clear()
    with pytest.raises(PluginError, match="'csv_people' is registered by both .*files.*'acme_people'"):
        host._collect()


def test_plugins_are_blocked_by_name(tmp_path):
    settings = load(tmp_path, '[plugins]\ndisable = ["ingest"]\n')
    host = load_host(settings)
    assert "ingest" not in host.jobs


def test_generated_toml_quotes_keys_that_are_not_bare():
    import tomllib

    from trainbridge.core.demo import to_toml

    data = {"connectors": {"hr": {"type": "bamboohr", "termination_types": {
        "Resignation (Voluntary)": "resignation", "http://adlnet.gov/expapi/verbs/attended": "attended"}}}}
    assert tomllib.loads(to_toml(data)) == data
