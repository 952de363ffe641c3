"""``trainbridge demo``: a workspace with the source documents' sample data, every job run."""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping
from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from trainbridge.core.config import load_settings
from trainbridge.core.manager import PluginHost
from trainbridge.core.runner import Workspace, overall_exit, sync


def merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            merge(base[key], value)
        else:
            base[key] = value
    return base


def toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else toml_value(key)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def to_toml(data: Mapping[str, Any], prefix: str = "") -> str:
    """Enough TOML for configuration: scalars, lists, inline tables, nested tables."""
    lines: list[str] = []
    scalars = {k: v for k, v in data.items() if not isinstance(v, Mapping)}
    tables = {k: v for k, v in data.items() if isinstance(v, Mapping)}
    if prefix and scalars:
        lines.append(f"[{prefix}]")
    lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in scalars.items()]
    if lines:
        lines.append("")
    for key, table in tables.items():
        lines.append(to_toml(table, f"{prefix}.{toml_key(key)}" if prefix else toml_key(key)))
    return "\n".join(lines)


#: The demo company's ``[tenant] timezone``: its "today" is Shanghai's, whatever the machine's zone.
DEMO_TIMEZONE = "Asia/Shanghai"


def demo_today(now: datetime | None = None) -> date:
    """The demo tenant's day at ``now`` (default: this instant): 02:00 in Shanghai on 1 October is
    1 October although UTC still says 30 September."""
    from trainbridge.core.localtime import tenant_today

    return tenant_today(SimpleNamespace(timezone=DEMO_TIMEZONE), now)


def prepare_workspace(directory: Path, today: date) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    # [web] mode = "demo": accounts made in the demo (`trainbridge users add`) keep the password given.
    config: dict[str, Any] = {"tenant": {"id": "demo", "timezone": DEMO_TIMEZONE},
                              "ledger": {"url": "sqlite:///trainbridge.db"}, "web": {"mode": "demo"}}
    host = PluginHost.create()
    for fragment in host.pm.hook.demo_prepare(workspace=directory, today=today):
        if fragment:
            merge(config, fragment)
    path = directory / "plugins.toml"
    path.write_text("# Written by `trainbridge demo`.\n" + to_toml(config), encoding="utf-8")
    return path


def run_demo(directory: Path | None, *, today: date | None = None, echo: Callable[[str], None]) -> int:
    """Write the demo workspace and run every job on the day ``today`` (default: the demo tenant's
    day, :func:`demo_today`, as ``sync`` takes the tenant's day, not the machine's UTC date)."""
    today = today or demo_today()
    workdir = directory or Path(tempfile.mkdtemp(prefix="trainbridge-demo-"))
    config_path = prepare_workspace(workdir, today)
    echo(f"demo workspace: {workdir}")
    echo(f"configuration: {config_path}")
    ws = Workspace(load_settings(config_path))
    try:
        results = sync(ws, today=today)
        for r in results:
            echo(f"\n== {r.job}: {r.status} " + ", ".join(f"{k}={v}" for k, v in sorted(r.counts.items())))
            for line in r.summary:
                echo(f"  {line}")
            for err in r.errors:
                echo(f"  ! {err}")
        _approval_step(ws, echo)
        with ws.ledger.transaction() as conn:
            pending = ws.ledger.list_proposals(conn, status="pending")
        if pending:
            echo("\nwaiting for HR's approval (trainbridge proposals approve ID):")
            for p in pending:
                money = f" {p['amount']} {p['currency']}" if p["amount"] is not None else ""
                echo(f"  {p['id']} {p['kind']} {p['subject'] or ''}{money}: {p['summary']}")
        from trainbridge.core.reports import bundle

        report = workdir / "out" / "report.html"
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(bundle(ws, list(ws.host.reports.values()), title="trainbridge demo reports"),
                          encoding="utf-8")
        echo(f"\nreports ({', '.join(sorted(ws.host.reports))}): {report}")
        command = "trainbridge" if shutil.which("trainbridge") else f"{sys.executable} -m trainbridge"
        echo(f"\nexplore: cd {workdir} && {command} runs && {command} proposals list")
        if directory is None:
            echo(f"(the demo folder is kept for exploring; remove it with: rm -rf {workdir})")
        return int(overall_exit(results))
    finally:
        ws.close()


def _approval_step(ws: Workspace, echo: Callable[[str], None]) -> None:
    """HR approves where HR works (docs/approvals.md): 赵敏's repayment request goes through a
    Feishu Approval faked on 127.0.0.1 and is approved by the signed approval_instance event."""
    from trainbridge.core.approvals.demo import approve_one_in_feishu

    echo("\n== approval in Feishu (faked locally)")
    if approve_one_in_feishu(ws, "repayment_request", echo) is None:
        echo("  no pending repayment request to approve")
