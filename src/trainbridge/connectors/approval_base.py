"""What the approval channels (Feishu Approval, DingTalk OA approval) do alike around their vendor's calls.

A resend looks for the instance an interrupted send may have created, in a window from
``lookup_days`` before the first attempt to a little after now; a withdrawal of an instance
that was never created, or is no longer pending, calls nothing at the vendor.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from trainbridge.core.approvals.models import ApprovalRequest, ApprovalTicket, OutcomeStatus

#: How far past now the lookup window reaches (the vendor's clock may run ahead of ours).
AHEAD = timedelta(minutes=5)


def lookup_window(now: float, since: datetime | None, days: int) -> tuple[int, int]:
    """Epoch milliseconds (start, end) in which a resend looks for the instance it may have created."""
    moment = datetime.fromtimestamp(now, UTC)
    start = (since or moment) - timedelta(days=days)
    return int(start.timestamp() * 1000), int((moment + AHEAD).timestamp() * 1000)


def found_again(
    request: ApprovalRequest, key: str, find: Callable[[], str | None], by: str
) -> ApprovalTicket | None:
    """On a resend, the ticket of the instance an interrupted send created (``find``), else None."""
    ref = find() if request.resend else None
    return (
        ApprovalTicket(ref=ref, key=key, detail=f"found by {by} after an interrupted send") if ref else None
    )


def never_created(ticket: ApprovalTicket) -> ApprovalTicket:
    """The answer to withdrawing an instance that was never created: withdrawn, nothing to call."""
    return ticket.model_copy(update={"status": "withdrawn", "detail": "no instance was created"})


def left_as_is(ref: str, ticket: ApprovalTicket, status: OutcomeStatus, vendor_status: str) -> ApprovalTicket:
    """The answer to withdrawing an instance no longer pending at the vendor: left as it is."""
    detail = f"already {vendor_status}: not withdrawn"
    return ApprovalTicket(ref=ref, key=ticket.key, status=status, detail=detail)
