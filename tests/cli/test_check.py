"""``check`` refuses what ``sync`` would refuse, with one message naming file, table, key and fix."""

from __future__ import annotations

import pytest

from tests.cli.conftest import append, replace

BAD_TABLES = [
    ('[jobs.separations]\nproration = "weekly"\n', "[jobs.separations], key 'proration'", "'month' or 'day'"),
    ('[schedule]\ncosts = "every night"\n', "[schedule], key 'costs'", "not a cron expression"),
    ('[sync]\njobs = ["cost"]\n', "[sync], key 'jobs'", "unknown job 'cost'"),
    ('[approvals]\nauto = "refund"\n', "[approvals], key 'auto'", 'auto = ["refund"]'),
    ('[approvals]\nauto = ["refnd"]\n', "[approvals], key 'auto'", "unknown proposal kind 'refnd'"),
    ('[alerts]\nnotifier = "pager"\n', "[alerts], key 'notifier'", "no connector instance 'pager'"),
    ('[alerts]\nnotifier = "notices"\non = ["sometimes"]\n', "[alerts], key 'on'", "unknown run status"),
]


@pytest.mark.parametrize(("table", "where", "what"), BAD_TABLES, ids=lambda v: v.split("\n")[0][:30])
def test_check_refuses_what_sync_refuses_with_one_message(initialised, tb, table, where, what):
    config = append(initialised, table)
    for command in (["check"], ["sync"], ["sync", "--dry-run"]):
        code, out, err = tb(*command)
        assert code == 2, (command, out, err)
        assert f"{config}, {where}" in err and what in err
        assert "hint:" in err and "Traceback" not in err + out


@pytest.mark.parametrize("value", ['"fifteen minutes"', "-5", "true", "59.5"])
def test_a_lock_timeout_that_is_not_whole_seconds_is_one_message(initialised, tb, value):
    replace(initialised, "# lock_timeout_seconds = 900", f"lock_timeout_seconds = {value}")
    code, _out, err = tb("check")
    assert code == 2
    assert "[ledger], key 'lock_timeout_seconds'" in err and "lock_timeout_seconds = 900" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("url", ["postgresql+psycopg://postgres@127.0.0.1:1/trainbridge",
                                 "sqlite:////nonexistent-folder/trainbridge.db"])
def test_a_ledger_that_cannot_be_opened_is_one_message(initialised, tb, url):
    config = replace(initialised, 'url = "sqlite:///trainbridge.db"', f'url = "{url}"')
    for command in ("check", "runs", "sync"):
        code, _out, err = tb(command)
        assert code == 2
        assert f"{config}, [ledger], key 'url': the ledger" in err and "cannot be opened" in err
        assert len(err.strip().splitlines()) == 2 and "Traceback" not in err


def test_an_unexpected_error_is_one_line_and_debug_shows_the_traceback(initialised, tb, monkeypatch):
    from trainbridge.core import runner

    def broken(*args, **kwargs):
        raise KeyError("boom")

    monkeypatch.setattr(runner, "sync", broken)
    code, _out, err = tb("sync")
    assert code == 1
    assert err.splitlines()[0] == "error: KeyError: 'boom'" and "--debug" in err and "Traceback" not in err
    with pytest.raises(KeyError):
        tb("--debug", "sync")


def test_check_of_a_sound_config_says_valid(initialised, tb):
    code, out, err = tb("check")
    assert code == 0, err
    assert f"config {initialised / 'plugins.toml'}: valid" in out


def test_a_missing_input_file_is_named_with_its_key_and_the_fix(initialised, tb):
    replace(initialised, 'employees = "data/employees.csv"', 'employees = "data/nope.csv"')
    code, out, err = tb("check")
    assert code == 1, err
    [line] = [line for line in out.splitlines() if line.startswith("FAIL hr")]
    assert str(initialised / "data" / "nope.csv") in line
    assert "[connectors.hr] employees = 'data/nope.csv'" in line
    assert "fix the path in plugins.toml" in line and "Traceback" not in out + err
