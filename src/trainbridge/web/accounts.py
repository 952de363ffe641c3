"""Console accounts and sessions: argon2 password hashes, server-side sessions, a login rate limit.

Tables live in the ledger (migration namespace ``web``) so the console needs nothing
but the workspace; a session is a random token whose SHA-256 is stored, so a copy of
the database does not let anyone in.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from trainbridge.core.errors import ConfigError
from trainbridge.core.ledger import Ledger, now_utc

ROLES = ("admin", "hr", "viewer", "manager")
#: roles that may approve, reject, retry and discard.
DECIDERS = frozenset({"admin", "hr"})

web_metadata = sa.MetaData()
_ts = sa.DateTime(timezone=True)
users_table = sa.Table(
    "tb_web_users", web_metadata,
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("employee_id", sa.String(255), nullable=True),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("created_at", _ts, nullable=False),
    sa.PrimaryKeyConstraint("tenant", "name"),
)
sessions_table = sa.Table(
    "tb_web_sessions", web_metadata,
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("token_sha256", sa.String(64), nullable=False),
    sa.Column("user_name", sa.String(128), nullable=False),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", _ts, nullable=False),
    sa.Column("expires_at", _ts, nullable=False),
    sa.PrimaryKeyConstraint("tenant", "token_sha256"),
)


def migrate_v1(conn: Connection) -> None:
    web_metadata.create_all(conn, tables=[users_table, sessions_table])


MIGRATIONS = [("web", 1, migrate_v1)]


@dataclass(frozen=True)
class User:
    name: str
    role: str
    employee_id: str | None = None

    @property
    def can_decide(self) -> bool:
        return self.role in DECIDERS


@dataclass(frozen=True)
class Session:
    user: User
    csrf_token: str
    token_sha256: str


def _hasher() -> Any:
    from argon2 import PasswordHasher

    return PasswordHasher()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_password() -> str:
    return secrets.token_urlsafe(12)


def add_user(ledger: Ledger, name: str, role: str, password: str, *, employee_id: str | None = None,
             replace: bool = False) -> User:
    """Create (or, with ``replace``, reset) a console account; the password is stored as an argon2 hash."""
    if role not in ROLES:
        raise ConfigError(f"unknown role {role!r}", hint=f"roles: {', '.join(ROLES)}")
    if role == "manager" and not employee_id:
        raise ConfigError(f"manager {name!r} needs --employee", hint="the employee id the manager is, "
                          "so the leaderboard shows them their own row")
    if len(password) < 8:
        raise ConfigError("password is shorter than 8 characters", hint="choose a longer one")
    row = {"tenant": ledger.tenant, "name": name, "role": role, "employee_id": employee_id,
           "password_hash": _hasher().hash(password), "created_at": now_utc()}
    t = users_table
    with ledger.transaction() as conn:
        exists = conn.execute(sa.select(t.c.name).where(t.c.tenant == ledger.tenant,
                                                        t.c.name == name)).first()
        if exists and not replace:
            raise ConfigError(f"user {name!r} exists", hint="use --replace to reset the password and role")
        if exists:
            conn.execute(sa.update(t).where(t.c.tenant == ledger.tenant, t.c.name == name).values(
                role=role, employee_id=employee_id, password_hash=row["password_hash"]))
            conn.execute(sa.delete(sessions_table).where(sessions_table.c.tenant == ledger.tenant,
                                                         sessions_table.c.user_name == name))
        else:
            conn.execute(t.insert().values(**row))
        ledger.audit(conn, actor="cli", action="web.user_set", subject=name, detail={"role": role})
    return User(name, role, employee_id)


def list_users(ledger: Ledger) -> list[dict[str, Any]]:
    t = users_table
    with ledger.transaction() as conn:
        rows = conn.execute(sa.select(t.c.name, t.c.role, t.c.employee_id, t.c.created_at)
                            .where(t.c.tenant == ledger.tenant).order_by(t.c.name)).mappings()
        return [dict(r) for r in rows]


# A fixed hash to verify against when the user does not exist, so the answer takes as long.
_DUMMY_HASH: str | None = None


def authenticate(ledger: Ledger, name: str, password: str) -> User | None:
    global _DUMMY_HASH
    t = users_table
    with ledger.transaction() as conn:
        row = conn.execute(sa.select(t).where(t.c.tenant == ledger.tenant,
                                              t.c.name == name)).mappings().first()
    hasher = _hasher()
    from argon2.exceptions import InvalidHashError, VerificationError

    if row is None:
        _DUMMY_HASH = _DUMMY_HASH or hasher.hash(new_password())
        with contextlib.suppress(VerificationError):
            hasher.verify(_DUMMY_HASH, password)
        return None
    try:
        hasher.verify(row["password_hash"], password)
    except (VerificationError, InvalidHashError):
        return None
    return User(row["name"], row["role"], row["employee_id"])


def open_session(ledger: Ledger, user: User, *, lifetime: timedelta) -> tuple[str, Session]:
    """A new session for ``user``; returns the cookie value (never stored) and the session."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24)
    now = now_utc()
    with ledger.transaction() as conn:
        conn.execute(sessions_table.insert().values(
            tenant=ledger.tenant, token_sha256=_digest(token), user_name=user.name, csrf_token=csrf,
            created_at=now, expires_at=now + lifetime))
        conn.execute(sa.delete(sessions_table).where(sessions_table.c.tenant == ledger.tenant,
                                                     sessions_table.c.expires_at < now))
        ledger.audit(conn, actor=user.name, action="web.login", subject=user.name)
    return token, Session(user, csrf, _digest(token))


def load_session(ledger: Ledger, token: str) -> Session | None:
    s, u = sessions_table, users_table
    with ledger.transaction() as conn:
        row = conn.execute(
            sa.select(s.c.csrf_token, s.c.expires_at, s.c.token_sha256, u.c.name, u.c.role, u.c.employee_id)
            .join(u, (u.c.tenant == s.c.tenant) & (u.c.name == s.c.user_name))
            .where(s.c.tenant == ledger.tenant, s.c.token_sha256 == _digest(token))).mappings().first()
    if row is None:
        return None
    expires: datetime = row["expires_at"]
    if expires.tzinfo is None:
        from datetime import UTC

        expires = expires.replace(tzinfo=UTC)
    if expires < now_utc():
        return None
    return Session(User(row["name"], row["role"], row["employee_id"]), row["csrf_token"], row["token_sha256"])


def close_session(ledger: Ledger, session: Session) -> None:
    with ledger.transaction() as conn:
        conn.execute(sa.delete(sessions_table).where(sessions_table.c.tenant == ledger.tenant,
                                                     sessions_table.c.token_sha256 == session.token_sha256))


class LoginLimiter:
    """At most ``attempts`` failed logins per (user, address) in ``window`` seconds.

    Kept in memory: one console process serves a tenant; a restart forgets the failures.
    """

    def __init__(self, attempts: int = 5, window: float = 300.0) -> None:
        self.attempts = attempts
        self.window = window
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        failures = self._failures.setdefault(key, deque())
        while failures and now - failures[0] > self.window:
            failures.popleft()
        return failures

    def blocked(self, user: str, address: str) -> bool:
        with self._lock:
            return len(self._recent((user.lower(), address), time.monotonic())) >= self.attempts

    def failed(self, user: str, address: str) -> None:
        with self._lock:
            now = time.monotonic()
            self._recent((user.lower(), address), now).append(now)

    def succeeded(self, user: str, address: str) -> None:
        with self._lock:
            self._failures.pop((user.lower(), address), None)
