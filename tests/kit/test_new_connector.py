"""``trainbridge new-connector NAME`` writes a package that passes its own tests as generated."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner

from trainbridge import __version__
from trainbridge.plugins.scaffold import new_connector_command, skeleton, write_skeleton

SRC = Path(__file__).resolve().parents[2] / "src"


def test_the_skeleton_declares_its_entry_point_and_pins_trainbridge_below_the_next_major(tmp_path):
    files = skeleton("acme_pay")

    project = tomllib.loads(files["pyproject.toml"])["project"]
    assert project["entry-points"]["trainbridge"] == {"acme_pay": "trainbridge_acme_pay"}
    major = int(__version__.split(".")[0])
    assert project["dependencies"] == [f"trainbridge>={__version__},<{major + 1}"]
    assert sorted(files) == ["README.md", "pyproject.toml", "tests/test_acme_pay.py",
                             "trainbridge_acme_pay/__init__.py"]


#: A DNS label (RFC 1123): letters, digits and inner hyphens; no underscore.
LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def test_the_generated_base_url_has_a_valid_host_name_hyphens_not_underscores():
    files = skeleton("acme_hr")
    [base_url] = re.findall(r'base_url: str = "([^"]+)"', files["trainbridge_acme_hr/__init__.py"])
    [test_base] = re.findall(r'^BASE = "([^"]+)"', files["tests/test_acme_hr.py"], re.MULTILINE)

    host = urlsplit(base_url).hostname or ""
    assert base_url == test_base == "https://api.acme-hr.example/v1"
    assert all(LABEL.fullmatch(label) for label in host.split(".")), host


def test_a_generated_package_passes_its_own_tests(tmp_path):
    write_skeleton("acme_pay", tmp_path / "pkg")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "pkg"), str(SRC)]),
           "TRAINBRIDGE_LOAD_PLUGINS": ""}

    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
                         cwd=tmp_path / "pkg", env=env, capture_output=True, text=True, timeout=300)

    assert run.returncode == 0, run.stdout + run.stderr
    assert "4 passed" in run.stdout


def test_the_command_writes_into_a_new_folder_and_refuses_a_full_one(tmp_path):
    runner = CliRunner()
    made = runner.invoke(new_connector_command, ["acme_pay", "--dir", str(tmp_path / "pkg")])
    again = runner.invoke(new_connector_command, ["acme_pay", "--dir", str(tmp_path / "pkg")])
    bad = runner.invoke(new_connector_command, ["Acme-Pay", "--dir", str(tmp_path / "other")])

    assert made.exit_code == 0, made.output
    assert (tmp_path / "pkg" / "trainbridge_acme_pay" / "__init__.py").is_file()
    assert again.exit_code == 1 and "is not empty" in again.output
    assert bad.exit_code == 1 and "not a lowercase identifier" in bad.output


@pytest.mark.parametrize("name", ["Acme", "x-y", "1acme", ""])
def test_names_that_cannot_be_a_package_are_refused(name):
    with pytest.raises(Exception, match="not a lowercase identifier"):
        skeleton(name)
