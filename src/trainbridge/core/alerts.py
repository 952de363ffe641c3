"""``[alerts]``: a failed or partial sync's summary, sent once per run to the people who fix it.

```toml
[alerts]
notifier = "it_chat"            # a connector instance that sends notices (chat bot, smtp, file)
on = ["failed", "partial"]      # which sync outcomes alert (default: both)
to = ["it-oncall@acme.cn"]      # recipients' addresses (a chat bot may need none)
```

A run is alerted at most once: the notice id carries the sync's run id, the ledger remembers
which runs were alerted, and a notifier that fails is logged, never the sync's outcome.
"""

from __future__ import annotations

import logging
from typing import Any

from trainbridge.core.results import SyncResults
from trainbridge.core.secrets import redact

log = logging.getLogger("trainbridge.alerts")
STATE_JOB = "alerts"
MAX_ERRORS = 10


def sync_status(results: SyncResults) -> str:
    """``failed`` when any part failed, ``partial`` when any was partial, else ``ok``."""
    statuses = {r.status for r in results.all()}
    for status in ("failed", "partial"):
        if status in statuses:
            return status
    return "ok"


def summary(tenant: str, status: str, results: SyncResults) -> tuple[str, str]:
    """(subject, body) of the alert: each part's status and counts, then the first errors."""
    run = results.ingest.run_id
    subject = f"trainbridge {tenant}: sync {status}" + (f" (run {run})" if run is not None else "")
    lines: list[str] = []
    errors: list[str] = []
    for result in results.all():
        counts = ", ".join(f"{k}={v}" for k, v in sorted(result.counts.items()))
        lines.append(f"{result.job}: {result.status}" + (f" ({counts})" if counts else ""))
        errors += [f"{result.job}: {e}" for e in result.errors]
    if errors:
        lines += ["", "errors:", *errors[:MAX_ERRORS]]
        if len(errors) > MAX_ERRORS:
            lines.append(f"... and {len(errors) - MAX_ERRORS} more (trainbridge runs)")
    return subject, redact("\n".join(lines))


def alert_if_needed(ws: Any, results: SyncResults) -> str | None:
    """Send the run's summary through ``[alerts] notifier`` if its outcome is one ``on`` names.

    Returns the notice id sent, or None (nothing to send, already sent, or a dry run).
    """
    from trainbridge.core.records import Notice, Recipient

    config = ws.settings.alerts
    run_id = results.ingest.run_id
    if not config or run_id is None:
        return None
    status = sync_status(results)
    if status not in config["on"]:
        return None
    key = f"run:{run_id}"
    with ws.ledger.transaction() as conn:
        if ws.ledger.get_state(conn, STATE_JOB, key):
            return None
    subject, body = summary(ws.settings.tenant, status, results)
    notice = Notice(id=f"alert:{ws.settings.tenant}:{run_id}", source="alerts", notice="sync_alert",
                    recipients=tuple(Recipient(name=to, email=to if "@" in to else None, role="it")
                                     for to in config["to"]) or (Recipient(name="IT", role="it"),),
                    subject=subject, body=body, language=config.get("language", "en"))
    try:
        ws.host.call(config["notifier"], "send_notice", notice=notice)
    except Exception as exc:
        log.error("alert for run %s through %s failed: %s", run_id, config["notifier"], redact(str(exc)))
        return None
    with ws.ledger.transaction() as conn:
        ws.ledger.set_state(conn, STATE_JOB, key, {"notice": notice.id, "status": status})
    return notice.id

