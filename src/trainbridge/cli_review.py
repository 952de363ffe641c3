"""What waits for a person: quarantined records, proposals for HR, undelivered outbox rows."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from trainbridge.cli_state import State, echo_json, pass_state
from trainbridge.core.results import ExitCode
from trainbridge.core.secrets import redact


@click.group()
def quarantine() -> None:
    """Records that failed validation: list, show, retry, discard."""


@quarantine.command(name="list")
@click.option("--all", "show_all", is_flag=True, help="Include resolved and discarded.")
@click.option("--language", type=click.Choice(["en", "zh"]), default="en", show_default=True,
              help="The reasons in plain English or Chinese (the validator's own message: quarantine show).")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def quarantine_list(state: State, show_all: bool, language: str, as_json: bool) -> None:
    """Records waiting in quarantine (open ones; --all for every one), with the reason in plain words."""
    from trainbridge.core.words import quarantine_sentences, word

    ws = state.workspace(read_only=True)
    with ws.ledger.transaction() as conn:
        rows = ws.ledger.list_quarantine(conn, status=None if show_all else "open")
    if as_json:
        echo_json(rows)
        return
    separator = "；" if language == "zh" else "; "
    for row in rows:
        reason = separator.join(quarantine_sentences(row["reason"], language))
        click.echo(redact(f"{row['id']} [{word('status', row['status'], language)}] "
                          f"{row['instance']}.{row['hook']} {word('record', row['model'], language)} "
                          f"{row['key'] or ''}: {reason}"))
    if not rows:
        click.echo("隔离区为空" if language == "zh" else "quarantine is empty")


@quarantine.command(name="show")
@click.argument("qid", type=int)
@pass_state
def quarantine_show(state: State, qid: int) -> None:
    """One quarantined record: its payload (secrets removed), source and reason, as JSON."""
    ws = state.workspace(read_only=True)
    with ws.ledger.transaction() as conn:
        row = ws.ledger.get_quarantined(conn, qid)
    if row is None:
        raise click.ClickException(f"no quarantined record {qid}")
    echo_json(row)


@quarantine.command(name="retry")
@click.argument("qid", type=int)
@click.option("--data", "data_file", type=click.Path(exists=True, dir_okay=False),
              help="JSON file with the corrected record data.")
@pass_state
def quarantine_retry(state: State, qid: int, data_file: str | None) -> None:
    """Validate a quarantined record again (optionally with corrected data)."""
    from trainbridge.core.runner import retry_quarantined

    data = json.loads(Path(data_file).read_text(encoding="utf-8")) if data_file else None
    try:
        record = retry_quarantined(state.workspace(), qid, data=data)
    except ValueError as exc:
        raise click.ClickException(f"still invalid: {exc}") from None
    click.echo(f"record {record.id} accepted; quarantine {qid} resolved")


@quarantine.command(name="discard")
@click.argument("qid", type=int)
@pass_state
def quarantine_discard(state: State, qid: int) -> None:
    """Give up a quarantined record for good (audited)."""
    ws = state.workspace(read_only=True)
    with ws.ledger.transaction() as conn:
        ws.ledger.set_quarantine_status(conn, qid, "discarded")
        ws.ledger.audit(conn, actor="cli", action="quarantine.discard", subject=str(qid))
    click.echo(f"quarantine {qid} discarded")


@click.group()
def proposals() -> None:
    """Money-moving and score-changing proposals waiting for HR: list, show, approve, reject."""


@proposals.command(name="list")
@click.option("--status", type=click.Choice(["pending", "approved", "rejected", "delivered", "failed",
                                             "abandoned"]))
@click.option("--kind")
@click.option("--language", type=click.Choice(["en", "zh"]), default="en", show_default=True,
              help="Kinds, statuses, amounts (¥17,000.00) and the explanation in English or Chinese.")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def proposals_list(state: State, status: str | None, kind: str | None, language: str, as_json: bool) -> None:
    """Proposals (by status or kind): who, what, how much, for when, and why in a sentence."""
    ws = state.workspace(read_only=True)
    with ws.ledger.transaction() as conn:
        rows = ws.ledger.list_proposals(conn, status=status, kind=kind)
        if as_json:
            echo_json([{k: v for k, v in r.items() if k != "args"} for r in rows])
            return
        from trainbridge.cli_proposal_text import list_lines

        lines = list_lines(ws, conn, rows, language)
    for line in lines:
        click.echo(redact(line))


@proposals.command(name="show")
@click.argument("proposal_id")
@click.option("--language", type=click.Choice(["en", "zh"]), default="en", show_default=True,
              help="The proposal in English or Chinese words.")
@click.option("--json", "as_json", is_flag=True,
              help="Everything stored, with the decision behind it (its id and explanation_items) and "
                   "the deliveries.")
@pass_state
def proposals_show(state: State, proposal_id: str, language: str, as_json: bool) -> None:
    """One proposal: what approving writes, for whom, how much, why (the rule and its legal basis), and
    what became of its deliveries."""
    from trainbridge.cli_proposal_text import decision_of, explanation_items, show_lines

    ws = state.workspace(read_only=True)
    with ws.ledger.transaction() as conn:
        row = ws.ledger.get_proposal(conn, proposal_id)
        if row is None:
            raise click.ClickException(f"no proposal {proposal_id}")
        deliveries = [r for r in ws.ledger.outbox(conn) if r.proposal_id == proposal_id]
        lines = [] if as_json else show_lines(ws, conn, row, deliveries, language)
        decision = decision_of(ws, conn, row) if as_json else None
    if not as_json:
        for line in lines:
            click.echo(redact(line))
        return
    items = {"decision": decision["id"], "explanation_items": explanation_items(decision)} \
        if decision is not None else {}
    echo_json({**row, **items, "deliveries": [
        {"outbox": d.id, "instance": d.instance, "state": d.state, "attempts": d.attempts,
         "last_error": d.last_error, "ref": d.ref, "delivered_at": d.delivered_at,
         "confirmed_at": d.confirmed_at, "status_detail": d.status_detail,
         "next_attempt_at": d.next_attempt_at} for d in deliveries]})


@proposals.command(name="approve")
@click.argument("ids", nargs=-1, required=True)
@click.option("--by", "actor", default="cli", show_default=True, help="Who approves (recorded).")
@click.option("--reason", default="")
@click.option("--no-deliver", is_flag=True, help="Leave delivery to the next sync.")
@pass_state
def proposals_approve(state: State, ids: tuple[str, ...], actor: str, reason: str, no_deliver: bool) -> None:
    """Approve proposals and deliver them now; says per proposal if delivery worked (exit 1 if not)."""
    from trainbridge.core.runner import approve_proposals

    outcome = approve_proposals(state.workspace(), ids, actor=actor, reason=reason,
                                deliver_now=not no_deliver)
    for pid, what in outcome.items():
        click.echo(f"{pid}: {what}")
    if any(v == "not found" or v.startswith(("not pending", "approved; delivery failed"))
           for v in outcome.values()):
        sys.exit(ExitCode.FAILED)


@proposals.command(name="reject")
@click.argument("ids", nargs=-1, required=True)
@click.option("--by", "actor", default="cli", show_default=True)
@click.option("--reason", required=True)
@pass_state
def proposals_reject(state: State, ids: tuple[str, ...], actor: str, reason: str) -> None:
    """Reject proposals with a reason (recorded); nothing is delivered."""
    from trainbridge.core.runner import reject_proposals

    for pid, what in reject_proposals(state.workspace(), ids, actor=actor, reason=reason).items():
        click.echo(f"{pid}: {what}")


@click.group()
def outbox() -> None:
    """Writes to vendors (payroll, signatures, notices): what is undelivered, retry, abandon."""


@outbox.command(name="list")
@click.option("--state", "states", multiple=True,
              type=click.Choice(["pending", "delivering", "failed", "dead", "delivered", "confirmed",
                                 "abandoned"]),
              help="Only rows in this state (repeatable); default: every row not delivered.")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def outbox_list(state: State, states: tuple[str, ...], as_json: bool) -> None:
    """Outbox rows, by default those not delivered yet (failed, dead, pending)."""
    ws = state.workspace(read_only=True)
    wanted = states or ("pending", "delivering", "failed", "dead")
    with ws.ledger.transaction() as conn:
        rows = ws.ledger.outbox(conn, states=wanted)
    if as_json:
        echo_json([{k: v for k, v in r.__dict__.items() if k != "args"} for r in rows])
        return
    for r in rows:
        why = f": {r.last_error}" if r.last_error else ""
        click.echo(redact(f"{r.id} [{r.state}, {r.attempts} attempt(s)] {r.operation} -> {r.instance}"
                          f"{' (proposal ' + r.proposal_id + ')' if r.proposal_id else ''}{why}"))
    if not rows:
        click.echo("nothing undelivered")


@outbox.command(name="retry")
@click.argument("ids", nargs=-1, required=True)
@click.option("--by", "actor", default="cli", show_default=True, help="Who asks (recorded).")
@pass_state
def outbox_retry(state: State, ids: tuple[str, ...], actor: str) -> None:
    """Put failed or dead rows back in the queue (attempts from zero); the next sync delivers them."""
    ws = state.workspace(read_only=True)
    done = ws.ledger.requeue(ids, actor=actor)
    for oid in ids:
        click.echo(f"{oid}: {'queued again' if oid in done else 'not failed or dead (or unknown)'}")
    if len(done) < len(ids):
        sys.exit(ExitCode.FAILED)


@outbox.command(name="abandon")
@click.argument("outbox_id")
@click.option("--reason", required=True, help="Why it will never be delivered (recorded).")
@click.option("--by", "actor", default="cli", show_default=True, help="Who decides (recorded).")
@pass_state
def outbox_abandon(state: State, outbox_id: str, reason: str, actor: str) -> None:
    """Give up an undelivered write for good (e.g. paid by hand); audited, its proposal shows it."""
    ws = state.workspace(read_only=True)
    if not ws.ledger.abandon(outbox_id, actor=actor, reason=reason):
        raise click.ClickException(f"{outbox_id} is not an undelivered outbox row")
    click.echo(f"{outbox_id}: abandoned ({reason})")

