"""Start-up stays light; read-only commands need no secrets; a broken plugin never stops the others."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from importlib.metadata import EntryPoint

import pytest

from tests.cli.conftest import append
from trainbridge.cli import PLUGIN_COMMANDS, build_cli
from trainbridge.core import manager

LIGHT = """
import sys
from trainbridge.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
heavy = ("trainbridge.plugins", "trainbridge.connectors", "sqlalchemy")
print(sorted(m for m in sys.modules if m.startswith(heavy)), file=sys.stderr)
"""


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["proposals", "approve", "--help"]])
def test_help_and_version_import_no_plugin_and_no_database_driver(args):
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", LIGHT, *args], capture_output=True, text=True, check=True)
    elapsed = time.perf_counter() - started
    assert done.stderr.strip().splitlines()[-1] == "[]"
    assert elapsed < 3, f"{args} took {elapsed:.2f} s"  # under 1 s on a quiet machine (BENCHMARKS.md)


def test_the_help_lists_every_plugin_command_by_its_real_name():
    group = build_cli()
    import click

    group.plugin_host(click.Context(group))
    core = {"check", "demo", "init", "outbox", "plugins", "proposals", "quarantine", "report", "runs",
            "schema", "sync"}
    assert set(group.commands) - core == set(PLUGIN_COMMANDS)


@pytest.mark.parametrize("command", [["runs"], ["proposals", "list"], ["quarantine", "list"],
                                     ["outbox", "list"], ["report", "costs"]])
def test_read_only_commands_need_no_connector_secrets(initialised, tb, monkeypatch, command):
    append(initialised, '[connectors.chat]\ntype = "wecom_bot"\nkey = "${WECOM_KEY}"\n')
    monkeypatch.delenv("WECOM_KEY", raising=False)
    code, _out, err = tb(*command)
    assert code == 0, err
    code, _, err = tb("sync")
    assert code == 2 and "environment variable WECOM_KEY is not set" in err and "[connectors.chat]" in err


class BrokenEntryPoint(EntryPoint):
    def load(self):
        raise ImportError("No module named 'acme_payroll.client'")


@pytest.fixture
def broken_plugin(monkeypatch):
    monkeypatch.setattr(manager, "LOAD_ERRORS", {})
    point = BrokenEntryPoint(name="acme_payroll", value="acme_payroll", group="trainbridge")
    monkeypatch.setattr(manager, "installed_entry_points", lambda: [point])
    return point


def test_a_plugin_that_fails_to_import_is_one_line_and_the_rest_works(initialised, tb, broken_plugin):
    code, out, err = tb("check")
    assert code == 0, err
    assert "plugin acme_payroll skipped: installed plugin (acme_payroll) failed to load: ImportError" in err
    code, out, err = tb("plugins", "--json")
    assert code == 0
    assert "acme_payroll" in json.loads(out)["load_errors"]
    assert tb("sync")[0] == 0


def test_a_disabled_plugin_is_neither_loaded_nor_listed(initialised, tb, broken_plugin):
    append(initialised, '[plugins]\ndisable = ["acme_payroll", "points_reminders"]\n')
    code, out, err = tb("plugins", "--json")
    listing = json.loads(out)
    assert code == 0 and listing["load_errors"] == {}
    assert listing["disabled"] == ["acme_payroll", "points_reminders"]
    assert "trainbridge.plugins.points_reminders" not in [p["name"] for p in listing["plugins"]]
    assert "points_reminders" not in listing["jobs"]
    code, out, err = tb("check")
    assert code == 0 and "acme_payroll" not in err


def test_plugins_json_is_json_even_when_two_plugins_clash(initialised, tb, monkeypatch):
    from trainbridge.core.errors import PluginError

    def clash(cls, disabled=()):
        msg = "connector type 'csv_people' is registered by both 'trainbridge.connectors.files' and 'acme'"
        raise PluginError(msg, hint="uninstall one of them or block one with [plugins] disable")

    monkeypatch.setattr(manager.PluginHost, "create", classmethod(clash))
    code, out, _err = tb("plugins", "--json")
    assert code == 2
    assert "registered by both" in json.loads(out)["error"]
