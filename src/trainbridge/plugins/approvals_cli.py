"""``trainbridge approvals``: the proposals sent to Feishu / DingTalk approval, and their upkeep.

* ``list``: each proposal sent as a vendor approval instance (``tb_approval_links``), zh or en.
* ``subscribe [INSTANCE]``: Feishu's 订阅审批事件 for every configured approval code; for
  DingTalk, what to register where (its callbacks are registered in the developer console).
* ``send``: open the instances of pending routed proposals now, without a whole sync.
* ``withdraw PROPOSAL``: cancel one open instance (撤回 / 撤销); the proposal stays for the console.

``send`` and ``withdraw`` write, so they hold the tenant's sync lock as a sync and the console's
approve do (a second one exits 75). ``trainbridge check`` reports each channel through
:func:`check_channels`. See docs/approvals.md.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import click

from trainbridge import hookimpl
from trainbridge.cli_state import State, echo_json, pass_state
from trainbridge.core.approvals import links
from trainbridge.core.approvals.channel import mark_withdrawn, withdraw_at_vendor
from trainbridge.core.approvals.models import ApprovalTicket
from trainbridge.core.errors import AlreadyRunning
from trainbridge.core.localtime import tenant_now
from trainbridge.core.results import ExitCode, RunResult
from trainbridge.core.secrets import redact
from trainbridge.core.workspace import Workspace
from trainbridge.plugins.approvals_check import channel_instances, check_channels, dingtalk_setup

__all__ = ["approvals", "check_channels", "register_commands"]

#: The run name of ``send`` / ``withdraw`` in ``trainbridge runs``.
RUN = "approvals"
STATUSES = ("sending", "open", "withdrawn", "closed", "approved", "rejected", "ignored")
#: Feishu's answer to a second subscription of the same approval code by the same app.
FEISHU_ALREADY_SUBSCRIBED = "1390007"

WORDS: dict[str, dict[str, str]] = {
    "zh": {
        "proposal": "提案",
        "kind": "类型",
        "channel": "审批渠道",
        "ref": "审批实例",
        "sent": "发起时间",
        "status": "状态",
        "verdict": "审批结论",
        "applied": "已执行",
        "none": "没有发往审批渠道的提案",
        "none_with": "没有处于该状态的审批实例",
        "sending": "发起中",
        "open": "审批中",
        "withdrawn": "已撤回",
        "closed": "已在审批端关闭",
        "approved": "已通过",
        "rejected": "已拒绝",
        "ignored": "结论未执行",
        "subscribed": "已订阅审批事件",
        "already": "已订阅过（飞书答复 1390007），无需重复",
        "not_subscribed": "订阅失败",
        "sent_now": "已发起审批",
        "would_send": "将发起审批",
        "nothing_to_send": "没有待发起的提案",
        "not_routed": "没有提案类型路由到审批渠道（[approvals] channel / kinds）",
        "withdrawn_now": "审批实例已撤回；提案仍待在控制台处理",
        "no_link": "该提案没有审批实例",
        "unknown": "没有这个提案",
        "known": "已发往审批的提案",
        "no_known": "还没有提案发往审批渠道",
        "not_open": "审批实例不在审批中，未撤回",
        "vendor_kept": "审批端未撤回",
        "busy": "另一个同步正在运行，稍后再试",
    },
    "en": {
        "proposal": "proposal",
        "kind": "kind",
        "channel": "channel",
        "ref": "instance",
        "sent": "sent at",
        "status": "status",
        "verdict": "verdict",
        "applied": "applied",
        "none": "no proposal was sent for approval",
        "none_with": "no approval instance in this state",
        "sending": "sending",
        "open": "open",
        "withdrawn": "withdrawn",
        "closed": "closed at the vendor",
        "approved": "approved",
        "rejected": "rejected",
        "ignored": "verdict not applied",
        "subscribed": "subscribed to the approval events",
        "already": "already subscribed (Feishu code 1390007)",
        "not_subscribed": "not subscribed",
        "sent_now": "sent for approval",
        "would_send": "would be sent",
        "nothing_to_send": "no proposal waits to be sent",
        "not_routed": "no proposal kind is routed to an approval channel ([approvals] channel / kinds)",
        "withdrawn_now": "approval instance withdrawn; the proposal stays pending for the console",
        "no_link": "no approval instance for this proposal",
        "unknown": "no such proposal",
        "known": "proposals sent for approval",
        "no_known": "no proposal has been sent for approval yet",
        "not_open": "the instance is not open; not withdrawn",
        "vendor_kept": "the vendor did not withdraw it",
        "busy": "another sync is running; try again later",
    },
}
LANGUAGE = click.option("--language", type=click.Choice(["zh", "en"]), default="zh", show_default=True)


@click.group()
def approvals() -> None:
    """Proposals approved in Feishu / DingTalk: list, subscribe, send, withdraw."""


@approvals.command(name="list")
@click.option("--status", type=click.Choice(STATUSES), help="Only instances in this state.")
@LANGUAGE
@click.option("--json", "as_json", is_flag=True)
@pass_state
def approvals_list(state: State, status: str | None, language: str, as_json: bool) -> None:
    """Each proposal sent as a vendor approval: instance, when sent, vendor verdict, applied or not."""
    ws = state.workspace(read_only=True)
    rows = link_rows(ws, status)
    if as_json:
        echo_json(rows)
        return
    for line in render(rows, language, ws, status):
        click.echo(redact(line))


def link_rows(ws: Workspace, status: str | None = None) -> list[dict[str, Any]]:
    """The links with their proposal's kind, the channel's connector type and the approvers as
    console accounts; times are the tenant's, with their UTC offset."""
    with ws.ledger.transaction() as conn:
        found = links.list_links(ws.ledger, conn, statuses=[status] if status else None)
        proposals = {link["proposal_id"]: ws.ledger.get_proposal(conn, link["proposal_id"]) or {}
                     for link in found}

    def when(value: datetime | None) -> str | None:
        return tenant_now(ws.settings, value).isoformat(timespec="seconds") if value else None

    return [
        {
            "proposal": link["proposal_id"],
            "kind": proposals[link["proposal_id"]].get("kind") or "",
            "instance": link["instance"],
            "channel": str(ws.settings.connectors.get(link["instance"], {}).get("type") or ""),
            "ref": link["ref"],
            "key": link["key"],
            "sent_at": when(link["created_at"]),
            "status": link["status"],
            "verdict": link["outcome"],
            "verdict_by": list(link["outcome_by"] or []),
            "verdict_accounts": accounts_for(ws, link, proposals[link["proposal_id"]]),
            "applied_at": when(link["applied_at"]),
            "detail": link["detail"],
        }
        for link in found
    ]


def accounts_for(ws: Workspace, link: dict[str, Any], proposal: dict[str, Any]) -> list[str]:
    """The approvers as console accounts: ``[approvals.approvers]``'s mapping; for a verdict that was
    applied without a mapping in today's configuration, the account it was recorded as (the
    proposal's ``decided_by``), else the vendor's id."""
    approvers = list(link["outcome_by"] or [])
    mapped = [ws.settings.approval_routing.account_for(a) for a in approvers]
    applied = link["applied_at"] is not None and link["status"] in ("approved", "rejected")
    if applied and mapped == approvers and proposal.get("decided_by") and len(approvers) == 1:
        return [str(proposal["decided_by"])]
    return mapped


def render(rows: list[dict[str, Any]], language: str, ws: Workspace, status: str | None = None) -> list[str]:
    from trainbridge.core.words import word

    words = WORDS[language]
    if not rows:
        if status:
            return [f"{words['none_with']}（{words.get(status, status)}）" if language == "zh"
                    else f"{words['none_with']} ({words.get(status, status)})"]
        return [words["none"]]

    def when(value: str | None) -> str:
        return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M") if value else "—"

    table = [
        tuple(
            words[k] for k in ("proposal", "kind", "channel", "ref", "sent", "status", "verdict", "applied")
        )
    ]
    for r in rows:
        verdict = words.get(r["verdict"] or "", "—")
        if r["verdict_accounts"]:
            verdict += f" ({', '.join(r['verdict_accounts'])})"
        channel = r["instance"]
        if r["channel"] and r["channel"] != r["instance"]:
            channel += f" ({word('connector', r['channel'], language)})"
        table.append(
            (
                r["proposal"],
                word("kind", r["kind"], language),
                channel,
                r["ref"] or "—",
                when(r["sent_at"]),
                words.get(r["status"], r["status"]),
                verdict,
                when(r["applied_at"]),
            )
        )
    widths = [max(_width(row[i]) for row in table) for i in range(len(table[0]))]
    return [
        "  ".join(cell + " " * (w - _width(cell)) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in table
    ]


def _width(text: str) -> int:
    """Columns a terminal gives ``text``: CJK characters take two."""
    return sum(2 if "\u2e80" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef" else 1 for ch in text)


@approvals.command(name="subscribe")
@click.argument("instance", required=False)
@click.option(
    "--url",
    "base_url",
    default="https://<trainbridge serve>",
    show_default=True,
    help="The address trainbridge serve is reached at (for the URLs to register).",
)
@LANGUAGE
@pass_state
def approvals_subscribe(state: State, instance: str | None, base_url: str, language: str) -> None:
    """Subscribe Feishu approval codes to their events; say what to register for DingTalk."""
    from trainbridge.connectors.dingtalk_hrm.approval import DingTalkApproval
    from trainbridge.connectors.feishu.approval import FeishuApproval
    from trainbridge.core.errors import ConnectorError

    ws = state.workspace()
    chosen = _chosen(ws, instance)
    words, ok, failed = WORDS[language], 0, 0
    for name, connector in chosen.items():
        if isinstance(connector, FeishuApproval):
            code = connector.config.approval_code
            try:
                connector.subscribe()
                said = words["subscribed"]
            except ConnectorError as exc:
                if f"code {FEISHU_ALREADY_SUBSCRIBED}" not in str(exc):
                    failed += 1
                    click.echo(redact(f"FAIL {name} {code}: {words['not_subscribed']}: {exc}"), err=True)
                    continue
                said = words["already"]
            ok += 1
            click.echo(f"ok   {name} {code}: {said}")
            click.echo(f"     {_feishu_reminder(name, base_url, language)}")
        elif isinstance(connector, DingTalkApproval):
            lines, ready = dingtalk_setup(connector, base_url, language)
            ok, failed = ok + ready, failed + (not ready)
            click.echo(f"{'ok  ' if ready else 'FAIL'} {name} {connector.config.process_code}:")
            for line in lines:
                click.echo(f"     {line}")
    sys.exit(ExitCode.OK if not failed else ExitCode.PARTIAL if ok else ExitCode.FAILED)


def _feishu_reminder(name: str, base_url: str, language: str) -> str:
    url = f"{base_url.rstrip('/')}/webhooks/{name}"
    if language == "zh":
        return (
            f"开发者后台 > 事件与回调：请求地址 {url}，添加事件「审批实例状态变更」(approval_instance)，"
            "Encrypt Key 与 Verification Token 同 encrypt_key / verification_token"
        )
    return (
        f"developer console > Events: request URL {url}, add the event approval_instance, "
        "Encrypt Key and Verification Token as encrypt_key / verification_token"
    )


def _chosen(ws: Workspace, instance: str | None) -> dict[str, Any]:
    every = channel_instances(ws)
    if instance is None:
        if not every:
            click.echo(
                "no [connectors.NAME] of type feishu_approval or dingtalk_approval is configured "
                "(docs/approvals.md)",
                err=True,
            )
            sys.exit(ExitCode.USAGE)
        return every
    if instance not in every:
        raise click.UsageError(
            f"{instance!r} is not an approval channel; configured: {', '.join(sorted(every)) or 'none'}"
        )
    return {instance: every[instance]}


@contextmanager
def sync_lock(ws: Workspace, language: str) -> Iterator[RunResult]:
    """The tenant's sync lock, held by a run named ``approvals``; busy -> exit 75."""
    from trainbridge.core.delivery import SYNC_LOCK

    run_id = ws.ledger.start_run(RUN)
    try:
        ws.ledger.acquire_lock(
            SYNC_LOCK, run_id, stale_after=timedelta(seconds=ws.settings.lock_timeout_seconds)
        )
    except AlreadyRunning as exc:
        ws.ledger.finish_run(run_id, "already_running", {}, [str(exc)])
        click.echo(redact(f"{WORDS[language]['busy']}: {exc}"), err=True)
        sys.exit(ExitCode.ALREADY_RUNNING)
    result = RunResult(job=RUN, run_id=run_id)
    try:
        yield result
    except Exception as exc:
        result.status = "failed"
        result.errors.append(redact(f"{type(exc).__name__}: {exc}"))
        raise
    finally:
        if result.status == "ok" and result.errors:
            result.status = "partial"
        ws.ledger.finish_run(run_id, result.status, result.counts, result.errors)
        ws.ledger.release_lock(SYNC_LOCK, run_id)


@approvals.command(name="send")
@click.option("--dry-run", is_flag=True, help="Only list the proposals that would be sent.")
@LANGUAGE
@pass_state
def approvals_send(state: State, dry_run: bool, language: str) -> None:
    """Open the approval instances of pending routed proposals now (no whole sync)."""
    from trainbridge.core.approvals.channel import send_pending

    ws = state.workspace()
    words = WORDS[language]
    if not ws.settings.approval_routing.active:
        click.echo(words["not_routed"], err=True)
        sys.exit(ExitCode.USAGE)
    if dry_run:
        waiting = unsent(ws)
        for pid, instance in waiting:
            click.echo(f"{pid}: {words['would_send']} -> {instance}")
        if not waiting:
            click.echo(words["nothing_to_send"])
        return
    with sync_lock(ws, language) as result:
        report = send_pending(ws)
        result.counts.update(report.counts)
        result.errors.extend(report.errors)
    for line in report.lines:
        click.echo(redact(line))
    for error in report.errors:
        click.echo(redact(f"! {error}"), err=True)
    sent = report.counts.get("approvals_sent", 0)
    if not sent and not report.errors:
        click.echo(words["nothing_to_send"])
    else:
        click.echo(f"{words['sent_now']}: {sent}")
    if report.errors:
        sys.exit(ExitCode.PARTIAL if sent else ExitCode.FAILED)


def unsent(ws: Workspace) -> list[tuple[str, str]]:
    """(proposal, instance) of the pending proposals ``send`` would send (new, or an unfinished send)."""
    routing = ws.settings.approval_routing
    with ws.ledger.transaction() as conn:
        pending = ws.ledger.list_proposals(conn, status="pending")
        known = {link["proposal_id"]: link for link in links.list_links(ws.ledger, conn)}
    waiting = []
    for proposal in pending:
        instance, link = routing.instance_for(proposal["kind"]), known.get(proposal["id"])
        if instance is not None and (link is None or link["status"] == "sending"):
            waiting.append((proposal["id"], link["instance"] if link else instance))
    return waiting


@approvals.command(name="withdraw")
@click.argument("proposal_id")
@click.option("--reason", default="", help="Why (written on the withdrawal and in the audit log).")
@click.option("--by", "actor", default="cli", show_default=True, help="Who withdraws (audited).")
@LANGUAGE
@pass_state
def approvals_withdraw(state: State, proposal_id: str, reason: str, actor: str, language: str) -> None:
    """Withdraw one proposal's approval instance (Feishu 撤回, DingTalk 撤销); it stays for the console."""
    ws = state.workspace()
    words = WORDS[language]
    with ws.ledger.transaction() as conn:
        link = links.get_link(ws.ledger, conn, proposal_id)
        exists = link is not None or ws.ledger.get_proposal(conn, proposal_id) is not None
        sent = [] if exists else [row["proposal_id"] for row in links.list_links(ws.ledger, conn)]
    if not exists:  # a typing error: say which ids there are (exit 2, like refund settle)
        shown = ", ".join(sent[:10]) + (" …" if len(sent) > 10 else "")
        hint = f"{words['known']}: {shown}" if sent else words["no_known"]
        click.echo(f"{proposal_id}: {words['unknown']}{'；' if language == 'zh' else '; '}{hint}", err=True)
        sys.exit(ExitCode.USAGE)
    if link is None:
        click.echo(f"{proposal_id}: {words['no_link']}", err=True)
        sys.exit(ExitCode.FAILED)
    if link["status"] not in links.OPEN or link["outcome"] is not None:
        click.echo(
            f"{proposal_id}: {words['not_open']} ({words.get(link['status'], link['status'])})", err=True
        )
        sys.exit(ExitCode.FAILED)
    why = reason or f"由 {actor} 在 trainbridge 撤回 withdrawn in trainbridge by {actor}"
    with sync_lock(ws, language) as result:
        answer = withdraw_one(ws, link, why, actor, result)
    if answer is None:
        click.echo(redact(f"{proposal_id}: {result.errors[-1]}"), err=True)
        sys.exit(ExitCode.FAILED)
    if answer.status != "withdrawn":
        click.echo(redact(f"{proposal_id}: {words['vendor_kept']}: {answer.detail}"), err=True)
        sys.exit(ExitCode.FAILED)
    click.echo(f"{proposal_id}: {words['withdrawn_now']} ({link['instance']} {answer.ref or link['ref']})")


def withdraw_one(
    ws: Workspace, link: dict[str, Any], why: str, actor: str, result: RunResult
) -> ApprovalTicket | None:
    """Cancel the instance at the vendor and mark the link ``withdrawn`` (so no sync sends it again)."""
    answer = withdraw_at_vendor(ws, link, why, result)
    if answer is None or answer.status != "withdrawn":
        return answer
    mark_withdrawn(ws, link, answer, why, actor=actor)
    result.bump("approvals_withdrawn")
    return answer


@hookimpl
def register_commands(cli: click.Group) -> None:
    cli.add_command(approvals)
