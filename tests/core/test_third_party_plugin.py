"""A vendor's connector package, installed with pip, found through the entry point and used."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import write

SAMPLE = Path(__file__).parents[1] / "sample_plugin"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    import shutil

    target = tmp_path_factory.mktemp("site")
    source = tmp_path_factory.mktemp("src") / "acme"
    shutil.copytree(SAMPLE, source)  # building writes egg-info next to the sources: not in our tree
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(source)], check=True, capture_output=True, timeout=300)
    return target


def trainbridge(installed: Path, cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(installed), **env}
    return subprocess.run([sys.executable, "-m", "trainbridge", *args], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=120)


def test_installed_plugin_is_listed_with_its_connector_type(installed, tmp_path):
    out = trainbridge(installed, tmp_path, "plugins", "--json")
    assert out.returncode == 0, out.stderr
    plugins = {p["name"]: p for p in json.loads(out.stdout)["plugins"]}
    assert plugins["acme_people"]["connector_hooks"] == {"acme_people": ["fetch_employees", "healthcheck"]}
    assert not plugins["acme_people"]["builtin"]


def test_installed_plugin_is_configured_checked_and_synced(installed, tmp_path):
    write(tmp_path / "people.json", json.dumps([{"id": "A1", "name": "张伟"}, {"id": "A2", "name": None}]))
    write(tmp_path / "plugins.toml", '[connectors.acme]\ntype = "acme_people"\npeople = "people.json"\n'
                                     'token = "${ACME_TOKEN}"\n')
    env = {"ACME_TOKEN": "tok-3f9a-secret-value"}
    check = trainbridge(installed, tmp_path, "check", **env)
    assert check.returncode == 0 and "ok   acme" in check.stdout, check.stdout + check.stderr
    run = trainbridge(installed, tmp_path, "sync", "ingest", **env)
    assert run.returncode == 3, run.stdout + run.stderr  # A2 has no name: quarantined, run partial
    listing = trainbridge(installed, tmp_path, "quarantine", "list", "--json", **env)
    [bad] = json.loads(listing.stdout)
    assert bad["instance"] == "acme" and "name" in bad["reason"]
    assert "tok-3f9a-secret-value" not in listing.stdout


def test_load_plugins_variable_restricts_installed_plugins(installed, tmp_path):
    out = trainbridge(installed, tmp_path, "plugins", "--json", TRAINBRIDGE_LOAD_PLUGINS="")
    assert "acme_people" not in {p["name"] for p in json.loads(out.stdout)["plugins"]}


def test_a_bad_table_for_an_installed_type_names_the_key(installed, tmp_path):
    write(tmp_path / "plugins.toml", '[connectors.acme]\ntype = "acme_people"\npeople = "p.json"\n')
    out = trainbridge(installed, tmp_path, "check")
    assert out.returncode == 2
    assert "[connectors.acme]" in out.stderr and "'token'" in out.stderr and "required" in out.stderr


def test_a_misnamed_hook_argument_is_one_line_naming_plugin_hook_and_argument(installed, tmp_path):
    out = trainbridge(installed, tmp_path, "plugins")

    assert out.returncode == 0, out.stderr
    assert ("acme_misspelled: FAILED TO LOAD: connector type 'acme_misspelled': fetch_employees(sinse) "
            "declares 'sinse', which the spec fetch_employees(since) does not have") in out.stderr
    assert "acme_people (installed)" in out.stdout  # the other plugins load


def test_check_fails_the_misnamed_instance_and_checks_the_others(installed, tmp_path):
    write(tmp_path / "people.json", json.dumps([{"id": "A1", "name": "张伟"}]))
    write(tmp_path / "plugins.toml", '[connectors.acme]\ntype = "acme_people"\npeople = "people.json"\n'
                                     'token = "t"\n[connectors.old_acme]\ntype = "acme_misspelled"\n')

    out = trainbridge(installed, tmp_path, "check")

    assert out.returncode == 1, out.stdout + out.stderr
    assert "ok   acme (AcmePeople)" in out.stdout
    [line] = [x for x in out.stdout.splitlines() if x.startswith("FAIL old_acme")]
    assert "[connectors.old_acme]" in line and "plugin acme_misspelled" in line and "'sinse'" in line
