"""Run the command line as an operator does: ``trainbridge ARGS`` -> exit code, stdout, stderr."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from trainbridge.cli import main


@pytest.fixture
def tb(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    def run(*args: str) -> tuple[int, str, str]:
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


@pytest.fixture
def initialised(tmp_path: Path, tb: Callable[..., tuple[int, str, str]],
                monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder after ``trainbridge init`` (config, sample data, ledger), as the cwd."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TRAINBRIDGE_CONFIG", raising=False)
    code, _out, err = tb("init")
    assert code == 0, err
    return tmp_path


def append(folder: Path, text: str) -> Path:
    config = folder / "plugins.toml"
    config.write_text(config.read_text(encoding="utf-8") + "\n" + text, encoding="utf-8")
    return config


def replace(folder: Path, old: str, new: str) -> Path:
    config = folder / "plugins.toml"
    body = config.read_text(encoding="utf-8")
    assert old in body
    config.write_text(body.replace(old, new), encoding="utf-8")
    return config
