"""Keep secrets out of logs, errors, reports, dry-run output and the ledger.

Every secret the configuration resolves is registered here; ``redact`` replaces each
occurrence in any text, and ``scrub`` walks JSON-like payloads. A logging filter
applies ``redact`` to every record, so a secret cannot leak through a log line.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

MASK = "***"
_SECRET_KEY = re.compile(
    r"(pass(word)?|secret|token|api[_-]?key|apikey|auth(orization)?|credential|private[_-]?key|"
    r"signature|cookie|session[_-]?key|encrypt[_-]?key|app[_-]?secret)",
    re.IGNORECASE,
)
_lock = threading.Lock()
_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember ``value`` as a secret; short values (< 4 chars) are ignored as too common."""
    if value and len(value) >= 4:
        with _lock:
            _secrets.add(value)


def is_secret_key(key: str) -> bool:
    return bool(_SECRET_KEY.search(key))


def redact(text: str) -> str:
    if not text:
        return text
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def scrub(value: Any, *, keys: bool = True) -> Any:
    """A copy of a JSON-like payload with known secrets redacted and, with ``keys``, the values
    of secret-named keys masked too. ``keys=False`` is for our own typed answers (a sink's
    receipt), where a field named ``token`` is a public timestamp token, not a credential."""
    if isinstance(value, dict):
        return {
            k: (MASK if keys and is_secret_key(str(k)) and v not in (None, "") else scrub(v, keys=keys))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [scrub(v, keys=keys) for v in value]
    if isinstance(value, str):
        return redact(value)
    return value


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


def install_log_redaction(logger: logging.Logger | None = None) -> None:
    target = logger or logging.getLogger()
    if not any(isinstance(f, RedactingFilter) for f in target.filters):
        target.addFilter(RedactingFilter())
    for handler in target.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
