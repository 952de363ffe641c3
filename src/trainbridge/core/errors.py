"""The exception tree. Every error says what went wrong, where, and what to do about it."""

from __future__ import annotations


class TrainbridgeError(Exception):
    """Base of every error trainbridge raises on purpose. ``hint`` says what to do."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


class ConfigError(TrainbridgeError):
    """plugins.toml (or a rules file) is wrong: names the file, the table, the key and the fix."""

    exit_code = 2

    def __init__(self, message: str, *, file: str = "", table: str = "", key: str = "",
                 hint: str = "") -> None:
        where = ", ".join(p for p in (file, f"[{table}]" if table else "",
                                      f"key {key!r}" if key else "") if p)
        super().__init__(f"{where}: {message}" if where else message, hint=hint)
        self.file, self.table, self.key = file, table, key


class PluginError(TrainbridgeError):
    """A plugin is broken or two plugins claim one name."""

    exit_code = 2


class AlreadyRunning(TrainbridgeError):
    """Another run of the same (job, tenant) holds the lock."""

    exit_code = 75


class ConnectorError(TrainbridgeError):
    """A connector instance failed; carries the vendor's request id when there is one."""

    #: Seconds the vendor asked us to wait (Retry-After), when it did.
    retry_after: float | None = None

    def __init__(self, message: str, *, instance: str = "", request_id: str | None = None,
                 status: int | None = None, hint: str = "") -> None:
        parts = [f"{instance}: {message}" if instance else message]
        if status is not None:
            parts.append(f"(HTTP {status})")
        if request_id:
            parts.append(f"[request id {request_id}]")
        super().__init__(" ".join(parts), hint=hint)
        self.instance, self.request_id, self.status = instance, request_id, status


class AuthError(ConnectorError):
    """Credentials were refused (401/403): expired token, missing scope or permission."""


class NotFound(ConnectorError):
    """The vendor has no such object (404)."""


class RateLimited(ConnectorError):
    """The vendor asked us to wait longer than the configured ceiling."""


class ServerError(ConnectorError):
    """The vendor failed (5xx) after every retry."""


class ClientError(ConnectorError):
    """The vendor refused the request as malformed (4xx other than auth and rate limits)."""


class WebhookRejected(TrainbridgeError):
    """A callback failed verification (bad signature, stale timestamp, replay)."""

    exit_code = 1
