"""Send proposals to approval channels once, withdraw them once decided elsewhere, apply verdicts once.

Exactly once, step by step:

* **send**: a link row (status ``sending``, our key) is committed *before* the vendor is
  called; the instance id is recorded after. A crash between the two leaves ``sending``: the
  next run calls ``send_for_approval`` again with the same key and ``resend=True``, and the
  connector finds the instance it created (Feishu's ``uuid``, DingTalk's form reference)
  instead of opening a second one.
* **verdict**: a verified event is stored on the link (``outcome``) in the transaction that
  records the event id, so a replayed event changes nothing; it is then applied through
  :func:`trainbridge.core.delivery.approve_proposals` / ``reject_proposals`` (the console's
  path: outbox, delivery, audit), whose pending -> decided update succeeds once. A verdict for
  a proposal decided meanwhile (rejected in the console, superseded by a newer quote) is
  recorded and audited with the reason, and changes nothing.
* **withdraw**: an open instance whose proposal is no longer pending (decided in the console or
  the CLI, superseded by a job) is cancelled at the vendor, at once after a console decision
  and again by every sync until it is.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.engine import Connection

from trainbridge.core.approvals import links
from trainbridge.core.approvals.form import approval_key, build_request
from trainbridge.core.approvals.models import ApprovalOutcome, ApprovalTicket
from trainbridge.core.ledger import now_utc
from trainbridge.core.secrets import redact
from trainbridge.core.workspace import Workspace

log = logging.getLogger("trainbridge.approvals")
#: the approval apps by connector type, (中文, English).
VENDOR_NAMES = {"feishu_approval": ("飞书审批", "Feishu Approval"),
                "dingtalk_approval": ("钉钉审批", "DingTalk OA")}
#: the decision reason a vendor verdict is recorded with (``verdict_reason``); old rows said
#: "已通过 in 飞书审批 Feishu Approval (instance X)".
_REASON = re.compile(
    r"(?:已在.+?中(?:通过|拒绝)（审批实例 .+?） / )?(?P<outcome>approved|rejected|已通过|已拒绝) in "
    r"(?:[^()]*?(?P<vendor>Feishu Approval|DingTalk OA))?[^()]* \(instance (?P<ref>.+)\)$"
)


def verdict_sentence(outcome: str, vendor_type: str | None, ref: str, lang: str) -> str:
    """"已在飞书审批中通过（审批实例 X）" / "Approved in Feishu Approval (instance X)"."""
    zh_name, en_name = VENDOR_NAMES.get(vendor_type or "", ("审批应用", "the approval app"))
    if lang == "zh":
        return f"已在{zh_name}中{'通过' if outcome == 'approved' else '拒绝'}（审批实例 {ref}）"
    return f"{'Approved' if outcome == 'approved' else 'Rejected'} in {en_name} (instance {ref})"


def verdict_reason(outcome: str, vendor_type: str | None, ref: str) -> str:
    """The decision reason stored for a vendor verdict: the Chinese sentence, then the English one."""
    zh = verdict_sentence(outcome, vendor_type, ref, "zh")
    en = verdict_sentence(outcome, vendor_type, ref, "en")
    return f"{zh} / {en[0].lower()}{en[1:]}"


def parse_verdict_reason(reason: str | None) -> tuple[str, str | None, str] | None:
    """(outcome, vendor type, instance) of a reason ``verdict_reason`` wrote, else None (typed text)."""
    match = _REASON.fullmatch(reason or "")
    if match is None:
        return None
    outcome = "approved" if match["outcome"] in ("approved", "已通过") else "rejected"
    vendor = next((t for t, (_, en) in VENDOR_NAMES.items() if en == match["vendor"]), None)
    return outcome, vendor, match["ref"]


class Tally(Protocol):
    """Where a step counts and reports its failures (a sync's ``ChannelReport``, a CLI run's result)."""

    errors: list[str]

    def bump(self, name: str, n: int = 1) -> None: ...


@dataclass
class ChannelReport:
    counts: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    def bump(self, name: str, n: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + n


def active(ws: Workspace) -> bool:
    return ws.settings.approval_routing.active


def sync_approvals(ws: Workspace, *, deliver_now: bool = True) -> ChannelReport:
    """Apply arrived verdicts, withdraw instances of decided proposals, send new ones."""
    report = ChannelReport()
    if not active(ws):
        return report
    ws.ensure_migrated()
    apply_outcomes(ws, report, deliver_now=deliver_now)
    withdraw_decided(ws, report)
    send_pending(ws, report)
    return report


def send_pending(ws: Workspace, report: ChannelReport | None = None) -> ChannelReport:
    """Open one approval instance for each pending proposal of a kind routed to a channel."""
    report = report or ChannelReport()
    routing, ledger = ws.settings.approval_routing, ws.ledger
    with ledger.transaction() as conn:
        pending = ledger.list_proposals(conn, status="pending")
        known = (
            {
                row["proposal_id"]: row
                for row in links.list_links(ledger, conn, proposal_ids=[p["id"] for p in pending])
            }
            if pending
            else {}
        )
    for proposal in pending:
        instance = routing.instance_for(proposal["kind"])
        link = known.get(proposal["id"])
        if instance is None or (link is not None and link["status"] != "sending"):
            continue
        pid = proposal["id"]
        resend = link is not None  # an earlier attempt may have created the instance
        with ledger.transaction() as conn:
            if link is None:
                key = approval_key(ledger.tenant, pid)
                links.add_link(ledger, conn, proposal_id=pid, instance=instance, key=key)
                link = links.get_link(ledger, conn, pid)
            assert link is not None
            request = build_request(
                ledger, conn, proposal, routing, key=link["key"], resend=resend, since=link["created_at"]
            )
        try:
            ticket: ApprovalTicket = ws.host.call(
                link["instance"], "send_for_approval", request=request, idempotency_key=link["key"]
            )
        except Exception as exc:
            message = redact(f"approval {pid} -> {link['instance']} not sent: {exc}")
            log.warning("%s", message)
            with ledger.transaction() as conn:
                links.update_link(ledger, conn, pid, only={"status": "sending"}, detail=message[:2000])
            report.errors.append(message)
            report.bump("approvals_failed")
            continue
        with ledger.transaction() as conn:
            if links.update_link(
                ledger,
                conn,
                pid,
                only={"status": "sending"},
                ref=ticket.ref,
                status="open",
                detail=ticket.detail or None,
            ):
                ledger.audit(
                    conn,
                    actor=f"approvals:{link['instance']}",
                    action="approval.sent",
                    subject=pid,
                    detail={"instance": link["instance"], "ref": ticket.ref, "key": link["key"]},
                )
        report.bump("approvals_sent")
        report.lines.append(f"{pid} sent for approval to {link['instance']} (instance {ticket.ref})")
    return report


def withdraw_decided(
    ws: Workspace, report: ChannelReport | None = None, *, proposal_ids: Sequence[str] | None = None
) -> ChannelReport:
    """Cancel the open instances of proposals decided elsewhere (console, CLI, a newer quote)."""
    report = report or ChannelReport()
    ledger = ws.ledger
    with ledger.transaction() as conn:
        candidates = []
        for link in links.list_links(ledger, conn, statuses=links.OPEN, proposal_ids=proposal_ids):
            proposal = ledger.get_proposal(conn, link["proposal_id"])
            if link["outcome"] is None and (proposal is None or proposal["status"] != "pending"):
                candidates.append((link, proposal))
    for link, proposal in candidates:
        pid = link["proposal_id"]
        why = (
            (
                f"已在 trainbridge 中处理（{proposal['status']}，{proposal['decided_by'] or 'job'}）"
                f" decided in trainbridge: {proposal['status']} by {proposal['decided_by'] or 'a job'}"
                + (
                    f" ({proposal['decision_reason']})"
                    if proposal and proposal.get("decision_reason")
                    else ""
                )
            )
            if proposal
            else "提案已不存在 the proposal no longer exists"
        )
        answer = withdraw_at_vendor(ws, link, why, report)
        if answer is None:
            log.warning("%s", report.errors[-1])
            continue
        mark_withdrawn(ws, link, answer, why, actor=f"approvals:{link['instance']}")
        report.bump("approvals_withdrawn")
        report.lines.append(f"{pid}: approval instance {answer.ref or link['ref']} withdrawn ({why})")
    return report


def withdraw_at_vendor(
    ws: Workspace, link: Mapping[str, Any], why: str, report: Tally
) -> ApprovalTicket | None:
    """The channel's answer to withdrawing the link's instance; None when the call failed (the
    error, redacted, is the last of ``report.errors``)."""
    ticket = ApprovalTicket(ref=link["ref"] or "", key=link["key"])
    try:
        answer: ApprovalTicket = ws.host.call(
            link["instance"], "withdraw_approval", ticket=ticket, reason=why
        )
    except Exception as exc:
        instance, pid = link["ref"] or link["key"], link["proposal_id"]
        report.errors.append(redact(f"approval instance {instance} of {pid} not withdrawn: {exc}"))
        report.bump("approvals_withdraw_failed")
        return None
    return answer


def mark_withdrawn(
    ws: Workspace, link: Mapping[str, Any], answer: ApprovalTicket, why: str, *, actor: str
) -> None:
    """The link ``withdrawn`` (so no sync sends it again), audited once with the vendor's answer."""
    ledger, pid = ws.ledger, link["proposal_id"]
    with ledger.transaction() as conn:
        if links.update_link(
            ledger,
            conn,
            pid,
            only={"status": links.OPEN, "outcome": None},
            status="withdrawn",
            ref=answer.ref or link["ref"],
            detail=why,
        ):
            ledger.audit(
                conn,
                actor=actor,
                action="approval.withdrawn",
                subject=pid,
                detail={
                    "instance": link["instance"],
                    "ref": answer.ref or link["ref"],
                    "reason": why,
                    "vendor": answer.detail,
                },
            )


def record_outcome(
    ws: Workspace, conn: Connection, instance: str, outcome: ApprovalOutcome, event_id: str
) -> None:
    """Keep a verified vendor verdict on its link, in the webhook's transaction (no I/O here)."""
    ledger = ws.ledger
    link = links.find_link(ledger, conn, instance, outcome.ref, outcome.key)
    detail = {
        "event": event_id,
        "instance": instance,
        "ref": outcome.ref,
        "key": outcome.key,
        "vendor_status": outcome.vendor_status,
        "approvers": list(outcome.approvers),
    }
    actor = f"webhook:{instance}"
    if link is None:
        ledger.audit(
            conn,
            actor=actor,
            action="approval.unknown_instance",
            subject=f"{instance}:{outcome.ref}",
            detail={**detail, "why": "no proposal was sent as this instance: kept as an event only"},
        )
        return
    pid = link["proposal_id"]
    if link["ref"] is None and outcome.ref:
        links.update_link(ledger, conn, pid, only={"ref": None}, ref=outcome.ref)
    if outcome.status == "pending":
        return
    if outcome.status in ("approved", "rejected"):
        if link["outcome"] is not None:
            ledger.audit(
                conn,
                actor=actor,
                action="approval.outcome_ignored",
                subject=pid,
                detail={
                    **detail,
                    "why": f"the instance was already {link['outcome']}; a later {outcome.vendor_status} "
                    "changes nothing",
                },
            )
            return
        links.update_link(
            ledger,
            conn,
            pid,
            only={"outcome": None},
            outcome=outcome.status,
            outcome_by=list(outcome.approvers),
            detail=outcome.comment or None,
        )
        ledger.audit(
            conn, actor=actor, action=f"approval.{outcome.status}_at_vendor", subject=pid, detail=detail
        )
        return
    if link["status"] in links.OPEN:
        links.update_link(
            ledger,
            conn,
            pid,
            only={"status": links.OPEN},
            status="closed",
            detail=f"closed at the vendor: {outcome.vendor_status}",
        )
        ledger.audit(
            conn,
            actor=actor,
            action="approval.closed_at_vendor",
            subject=pid,
            detail={
                **detail,
                "why": "the instance was cancelled or deleted in the vendor's app; the proposal stays "
                "pending for the console",
            },
        )


def apply_outcomes(
    ws: Workspace, report: ChannelReport | None = None, *, deliver_now: bool = True
) -> ChannelReport:
    """Decide each proposal whose vendor verdict arrived and is not applied yet, through the core path."""
    from trainbridge.core.delivery import approve_proposals, reject_proposals

    report = report or ChannelReport()
    ledger, routing = ws.ledger, ws.settings.approval_routing
    with ledger.transaction() as conn:
        waiting = links.unapplied(ledger, conn)
    for link in waiting:
        pid, outcome = link["proposal_id"], link["outcome"]
        vendor = _type_of(ws, link["instance"])
        approvers = [str(a) for a in (link["outcome_by"] or [])]
        actor = routing.account_for(approvers[-1]) if approvers else f"{link['instance']}:unknown"
        reason = verdict_reason(outcome, vendor, link["ref"])
        if outcome == "approved":
            said = approve_proposals(ws, [pid], actor=actor, reason=reason, deliver_now=deliver_now)[pid]
        else:
            said = reject_proposals(ws, [pid], actor=actor, reason=reason)[pid]
        applied = said.startswith(outcome)
        with ledger.transaction() as conn:
            if not links.update_link(
                ledger,
                conn,
                pid,
                only={"applied_at": None},
                applied_at=now_utc(),
                status=outcome if applied else "ignored",
                detail=said[:2000],
            ):
                continue
            detail = {
                "instance": link["instance"],
                "ref": link["ref"],
                "outcome": outcome,
                "approvers": approvers,
            }
            if not applied:
                proposal = ledger.get_proposal(conn, pid)
                why = (
                    (
                        f"the proposal was already {proposal['status']} "
                        f"(by {proposal['decided_by'] or 'a job'}"
                        + (f": {proposal['decision_reason']}" if proposal.get("decision_reason") else "")
                        + ")"
                    )
                    if proposal
                    else "the proposal no longer exists"
                )
                ledger.audit(
                    conn,
                    actor=actor,
                    action="approval.outcome_ignored",
                    subject=pid,
                    detail={**detail, "why": f"{vendor} said {outcome}, but {why}: nothing changed"},
                )
            elif approvers:
                ledger.audit(
                    conn,
                    actor=actor,
                    action="approval.approver",
                    subject=pid,
                    detail={**detail, "accounts": [routing.account_for(a) for a in approvers]},
                )
        report.bump("approvals_applied" if applied else "approvals_ignored")
        report.lines.append(f"{pid}: {link['instance']} {outcome} -> {said}")
    return report


def _type_of(ws: Workspace, instance: str) -> str:
    return str(ws.settings.connectors.get(instance, {}).get("type", ""))


def channel_summary(report: ChannelReport) -> str:
    c = report.counts
    return (
        f"approvals: {c.get('approvals_sent', 0)} sent, {c.get('approvals_applied', 0)} applied, "
        f"{c.get('approvals_ignored', 0)} ignored, {c.get('approvals_withdrawn', 0)} withdrawn"
    )


def links_for(ws: Workspace, proposal_ids: Sequence[str] | None = None) -> list[dict[str, Any]]:
    with ws.ledger.transaction() as conn:
        return links.list_links(ws.ledger, conn, proposal_ids=proposal_ids)
