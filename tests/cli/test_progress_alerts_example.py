"""Progress events per page and job, quiet third-party logs, alerts once per run, the example config."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from tests.cli.conftest import append
from trainbridge.cli import JsonFormatter, OursFirst
from trainbridge.core import progress
from trainbridge.core.alerts import alert_if_needed
from trainbridge.core.config import load_settings
from trainbridge.core.manager import load_host
from trainbridge.core.runner import Workspace, sync

ROOT = Path(__file__).resolve().parents[2]


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, ...]] = []

    def page(self, instance: str, stream: str, records: int, rejected: int) -> None:
        self.events.append(("page", instance, stream, str(records)))

    def job(self, name: str, result: object | None) -> None:
        self.events.append(("job", name, "done" if result is not None else "started"))


def test_a_sync_reports_each_page_and_each_job(initialised):
    ws = Workspace(load_settings(initialised / "plugins.toml"))
    with progress.observing(Recorder()) as seen:
        sync(ws, ["costs"])
    assert ("page", "finance", "fetch_cost_items", "1") in seen.events
    assert seen.events[-2:] == [("job", "costs", "started"), ("job", "costs", "done")]


def test_json_logs_carry_the_page_and_job_events_as_fields():
    events = progress.LogEvents()
    formatter = JsonFormatter()
    lines: list[dict[str, object]] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(json.loads(formatter.format(record)))  # type: ignore[method-assign]
    logger = logging.getLogger("trainbridge.progress")
    logger.addHandler(handler)
    old = logger.level
    logger.setLevel(logging.INFO)
    try:
        events.page("hr", "fetch_employees", 100, 2)
        events.page("hr", "fetch_employees", 50, 0)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old)
    assert lines[1]["event"] == "page" and lines[1]["records_total"] == 150 and lines[0]["rejected"] == 2


def test_other_libraries_info_logs_are_dropped_and_their_warnings_kept():
    keep = OursFirst()

    def record(name: str, level: int) -> logging.LogRecord:
        return logging.LogRecord(name, level, __file__, 1, "subsetting glyphs", None, None)

    assert not keep.filter(record("fontTools.subset", logging.INFO))
    assert keep.filter(record("fontTools.subset", logging.WARNING))
    assert keep.filter(record("trainbridge.progress", logging.INFO))


def test_a_partial_run_is_alerted_once_through_the_notifier(initialised, tb):
    append(initialised, '[alerts]\nnotifier = "notices"\nto = ["it-oncall@example.com"]\n')
    (initialised / "data" / "metrics.csv").unlink()
    code, _, _ = tb("sync")
    assert code == 3
    notices = [json.loads(line) for line in (initialised / "out" / "notices.jsonl").read_text().splitlines()]
    alerts = [n for n in notices if n["notice"] == "sync_alert"]
    assert len(alerts) == 1
    assert alerts[0]["subject"].startswith("trainbridge default: sync partial (run ")
    assert "kpi.fetch_metrics failed" in alerts[0]["body"]
    assert alerts[0]["recipients"][0]["email"] == "it-oncall@example.com"

    ws = Workspace(load_settings(initialised / "plugins.toml"))
    again = sync(ws, ["ingest"])
    assert alert_if_needed(ws, again) is not None  # a new run: its own alert
    assert alert_if_needed(ws, again) is None  # the same run: never twice


def test_an_ok_run_sends_no_alert(initialised, tb):
    append(initialised, '[alerts]\nnotifier = "notices"\n')
    assert tb("sync")[0] == 0
    notices = initialised / "out" / "notices.jsonl"
    assert not notices.exists() or "sync_alert" not in notices.read_text()


def test_the_example_plugins_toml_at_the_repository_root_is_valid(monkeypatch):
    monkeypatch.delenv("WECOM_BOT_KEY", raising=False)
    monkeypatch.delenv("TRAINBRIDGE_LEDGER_URL", raising=False)
    settings = load_settings(ROOT / "plugins.toml")
    host = load_host(settings)
    assert settings.tenant == "acme-sh" and settings.sync_jobs == ("costs", "separations")
    assert set(host.instances) == {"hr", "lms", "finance", "kpi", "payroll_sh", "payroll_bj", "notices",
                                   "it_chat"}
    assert settings.alerts["notifier"] == "it_chat" and settings.auto_approve == ("review_points",)
