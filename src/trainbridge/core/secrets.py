"""Keep secrets out of logs, errors, reports, dry-run output and the ledger.

Every secret the configuration resolves is registered here: each value a ``${VAR}`` brought
in, each secret field, each token a vendor issued us. ``redact`` replaces every occurrence
of a registered value in any text - raw, URL-encoded, base64 (at any alignment) and
JSON-escaped - and ``scrub`` walks JSON-like payloads. A logging filter applies ``redact``
to every record, so a secret cannot leak through a log line.

Only values we were given are registered, never text a caller sent us: an unsigned webhook
must not be able to make ``redact`` rewrite ordinary words.

A value of 8 characters or more is masked wherever it appears. A shorter one (4 to 7
characters; shorter ones are ignored) is not shaped like a secret and could be a word of an
id: it is masked only as a whole token, never inside an identifier, so a Feishu ``app_secret
= "demo"`` hides ``demo`` in ``secret demo refused`` but leaves ``feishu:ou_demo_hr_li`` (an
approver's id in the audit log) and the instance name ``feishu_demo`` intact.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import threading
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "***"
#: shorter values would mask common words; a base64 core shorter than this is too ambiguous.
MIN_SECRET_CHARS = 4
#: a value at least this long is masked anywhere; a shorter one only as a whole token.
MIN_SUBSTRING_CHARS = 8
_MIN_ENCODED_CHARS = 8
#: characters of an identifier: a short secret next to one of them is part of a longer word.
_WORD = r"A-Za-z0-9_\-"
_SECRET_KEY = re.compile(
    r"(pass(word)?|secret|token|api[_-]?key|apikey|auth(orization)?|credential|private[_-]?key|"
    r"signature|cookie|session[_-]?key|encrypt[_-]?key|app[_-]?secret)",
    re.IGNORECASE,
)
_lock = threading.Lock()
_secrets: set[str] = set()


def _new_lock_after_fork() -> None:
    """A forked process (a reader) gets a free lock: another thread may have held it at the fork."""
    global _lock
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_lock_after_fork)
#: a regex for every form each secret can appear in, longest first (rebuilt when one is added).
_forms: list[tuple[int, str]] = []  # (length of the text it matches, regex)
_pattern: re.Pattern[str] | None = None


def register_secret(value: str | None) -> None:
    """Remember ``value`` as a secret; short values (< 4 chars) are ignored as too common, and
    values under 8 characters are masked only as whole tokens."""
    global _pattern
    if not value or len(value) < MIN_SECRET_CHARS:
        return
    with _lock:
        if value in _secrets:
            return
        _secrets.add(value)
        if len(value) >= MIN_SUBSTRING_CHARS:
            new = [(len(f), re.escape(f)) for f in encoded_forms(value)]
        else:  # short: its plain forms, and only where they stand alone (not inside an id)
            new = [(len(f), rf"(?<![{_WORD}]){re.escape(f)}(?![{_WORD}])") for f in _short_forms(value)]
        _forms.extend(f for f in new if f not in _forms)
        # longest text first: a long secret that contains a short one is masked whole
        _forms.sort(key=lambda form: form[0], reverse=True)
        _pattern = re.compile("|".join(regex for _, regex in _forms))


def encoded_forms(secret: str) -> list[str]:
    """The secret as it can appear in text: raw, URL-encoded, JSON-escaped and base64 (standard
    and URL-safe, inside a longer encoded string at each of the three byte alignments)."""
    forms = {secret, quote(secret, safe=""), quote(secret), quote_plus(secret),
             json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]}
    raw = secret.encode("utf-8")
    for shift in range(3):
        # `shift` unknown bytes before the secret spoil the first ceil(shift*4/3) characters;
        # the last partial group depends on what follows. What is left is fixed.
        encoded = base64.b64encode(b"\0" * shift + raw).decode("ascii")
        start = -(-shift * 4 // 3)
        end = (shift + len(raw)) // 3 * 4
        core = encoded[start:end]
        if len(core) >= _MIN_ENCODED_CHARS:
            forms.add(core)
            forms.add(core.replace("+", "-").replace("/", "_"))
        if shift == 0:
            forms.add(encoded if len(encoded) >= _MIN_ENCODED_CHARS else secret)
    return sorted(forms, key=len, reverse=True)


def _short_forms(secret: str) -> list[str]:
    """A short value's forms: raw, URL-encoded and JSON-escaped (its base64 is too short to
    tell from other text)."""
    forms = {secret, quote(secret, safe=""), quote(secret), quote_plus(secret),
             json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]}
    return sorted(forms, key=len, reverse=True)


def is_secret_key(key: str) -> bool:
    return bool(_SECRET_KEY.search(key))


def redact(text: str) -> str:
    """``text`` with every form of every registered secret replaced by ``***``."""
    if not text:
        return text
    with _lock:
        pattern = _pattern
    return pattern.sub(MASK, text) if pattern is not None else text


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
