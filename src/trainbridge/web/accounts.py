"""Console accounts and sessions: argon2 password hashes, server-side sessions, a login rate limit.

Tables live in the ledger (migration namespace ``web``) so the console needs nothing
but the workspace; a session is a random token whose SHA-256 is stored, so a copy of
the database does not let anyone in.

A one-time password (``serve --demo``, ``users add --generate``) is stored with the
:data:`ONE_TIME` prefix; the first login with it spends it (the hash is replaced by
:data:`SPENT`, in the same statement that checks it is still the one-time hash) and the
session may only set a new password until it has.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import threading
import time
from collections import OrderedDict, deque
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
#: longer names cannot exist (the column is 128 wide); longer passwords are not hashed at all.
MAX_NAME_CHARS = 128
MAX_PASSWORD_CHARS = 256
MIN_PASSWORD_CHARS = 8
ONE_TIME = "one-time$"
#: no argon2 hash starts with "!", so a spent one-time password matches nothing.
SPENT = "!spent"

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
    #: logged in with a one-time password that is now spent: may only choose a new one.
    must_set_password: bool = False

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


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise ConfigError(f"password is shorter than {MIN_PASSWORD_CHARS} characters",
                          hint="choose a longer one")
    if len(password) > MAX_PASSWORD_CHARS:
        raise ConfigError(f"password is longer than {MAX_PASSWORD_CHARS} characters",
                          hint="choose a shorter one")


def add_user(ledger: Ledger, name: str, role: str, password: str, *, employee_id: str | None = None,
             replace: bool = False, one_time: bool = False, must_change: bool = False) -> User:
    """Create (or, with ``replace``, reset) a console account; the password is stored as an argon2 hash.

    ``one_time``: the password works for one login, which must then choose a new password.
    ``must_change``: it works until its user chooses their own, which their first session must do
    (an admin chose it: production mode).
    """
    if not name or len(name) > MAX_NAME_CHARS:
        raise ConfigError(f"a user name has 1 to {MAX_NAME_CHARS} characters")
    if role not in ROLES:
        raise ConfigError(f"unknown role {role!r}", hint=f"roles: {', '.join(ROLES)}")
    if role == "manager" and not employee_id:
        raise ConfigError(f"manager {name!r} needs --employee", hint="the employee id the manager is, "
                          "so the leaderboard shows them their own row")
    if role == "manager" and employee_id:
        _check_employee(ledger, name, employee_id)
    check_password_rules(password)
    stored = (ONE_TIME if one_time else "") + _hasher().hash(password)
    row = {"tenant": ledger.tenant, "name": name, "role": role, "employee_id": employee_id,
           "password_hash": stored, "created_at": now_utc()}
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
        from trainbridge.web.account_admin import _set_flag

        _set_flag(ledger, conn, name, must_change=must_change)
        ledger.audit(conn, actor="cli", action="web.user_set", subject=name, detail={"role": role})
    return User(name, role, employee_id)


def _check_employee(ledger: Ledger, name: str, employee_id: str) -> None:
    """A manager account is one employee the ledger knows (its leaderboard row, its department)."""
    with ledger.transaction() as conn:
        if next(ledger.iter_records(conn, "employee", subject=employee_id, batch=1), None) is not None:
            return
        known = sorted({str(getattr(e, "employee_id", "")) for e in ledger.iter_records(conn, "employee")})
    shown = ", ".join(known[:10]) + (f" (and {len(known) - 10} more)" if len(known) > 10 else "")
    raise ConfigError(f"manager {name!r}: no employee {employee_id!r} in the ledger",
                      hint=f"known employees: {shown}" if known else
                      "the ledger has no employees yet: run `trainbridge sync` first")


def list_users(ledger: Ledger) -> list[dict[str, Any]]:
    t = users_table
    with ledger.transaction() as conn:
        rows = conn.execute(sa.select(t.c.name, t.c.role, t.c.employee_id, t.c.created_at)
                            .where(t.c.tenant == ledger.tenant).order_by(t.c.name)).mappings()
        return [dict(r) for r in rows]


# A fixed hash to verify against when the user does not exist, so the answer takes as long.
_DUMMY_HASH: str | None = None


def authenticate(ledger: Ledger, name: str, password: str) -> User | None:
    """The user when ``password`` is theirs; a one-time password is spent by this call."""
    global _DUMMY_HASH
    if len(name) > MAX_NAME_CHARS or len(password) > MAX_PASSWORD_CHARS:
        return None
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
    stored: str = row["password_hash"]
    one_time = stored.startswith(ONE_TIME)
    try:
        hasher.verify(stored.removeprefix(ONE_TIME), password)
    except (VerificationError, InvalidHashError):
        return None
    from trainbridge.web.account_admin import is_disabled, must_change

    with ledger.transaction() as conn:
        if is_disabled(ledger, conn, name):
            return None  # the same work and the same answer as a wrong password
        change = must_change(ledger, conn, name)
    if one_time:
        with ledger.transaction() as conn:
            spent = conn.execute(sa.update(t).where(t.c.tenant == ledger.tenant, t.c.name == name,
                                                    t.c.password_hash == stored).values(password_hash=SPENT))
            if spent.rowcount != 1:
                return None  # a parallel login spent it first
            ledger.audit(conn, actor=name, action="web.one_time_password_used", subject=name)
    return User(row["name"], row["role"], row["employee_id"], must_set_password=one_time or change)


def set_password(ledger: Ledger, user: User, password: str) -> None:
    """The user's new password (their sessions stay open: they just chose it in one)."""
    check_password_rules(password)
    hashed = _hasher().hash(password)
    t = users_table
    with ledger.transaction() as conn:
        conn.execute(sa.update(t).where(t.c.tenant == ledger.tenant, t.c.name == user.name)
                     .values(password_hash=hashed))
        ledger.audit(conn, actor=user.name, action="web.password_set", subject=user.name)


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
            sa.select(s.c.csrf_token, s.c.expires_at, s.c.token_sha256, u.c.name, u.c.role, u.c.employee_id,
                      u.c.password_hash)
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
    from trainbridge.web.account_admin import flags

    with ledger.transaction() as conn:
        state = flags(ledger, conn, row["name"]).get(row["name"], {})
    if state.get("disabled"):
        return None
    user = User(row["name"], row["role"], row["employee_id"],
                must_set_password=row["password_hash"] == SPENT or bool(state.get("must_change")))
    return Session(user, row["csrf_token"], row["token_sha256"])


def close_session(ledger: Ledger, session: Session) -> None:
    with ledger.transaction() as conn:
        conn.execute(sa.delete(sessions_table).where(sessions_table.c.tenant == ledger.tenant,
                                                     sessions_table.c.token_sha256 == session.token_sha256))


class HashingGate:
    """At most ``slots`` argon2 computations at once (each takes ~64 MiB and a CPU for a while).

    A login that finds every slot taken is answered "try again" at once instead of queueing,
    so a burst of logins can neither exhaust memory nor starve the webhook receiver.
    """

    def __init__(self, slots: int = 2) -> None:
        self._slots = threading.BoundedSemaphore(slots)

    def try_enter(self) -> bool:
        return self._slots.acquire(blocking=False)

    def leave(self) -> None:
        self._slots.release()


class LoginLimiter:
    """Failed logins counted per (user, address) pair, per user and per address, in ``window`` seconds.

    A pair is refused after ``attempts`` failures: a stranger guessing a name locks only their
    own tries. A user (from every address) and an address (for every user) are refused only
    ``spread`` times above that, which bounds distributed guessing and spraying without letting
    one stranger lock out a real user (behind a proxy without forwarded headers every login
    shares one address, so that limit too is far above a person's typing errors). A browser
    that logged in as the user before is its own source (:meth:`source`), so a stranger's
    failures from a shared address do not lock it out.

    :meth:`begin` checks and counts an attempt in one step under a lock, so parallel tries
    cannot all pass the check before any failure is recorded; a success takes its count back.
    At most ``max_keys`` counters are kept (least recently used dropped first). Kept in memory:
    one console process serves a tenant; a restart forgets the failures.
    """

    def __init__(self, attempts: int = 5, window: float = 300.0, *, spread: int = 20,
                 max_keys: int = 4096) -> None:
        self.attempts = attempts
        self.window = window
        self.spread = spread
        self.max_keys = max_keys
        self._failures: OrderedDict[tuple[str, ...], deque[float]] = OrderedDict()
        self._trusted: OrderedDict[tuple[str, ...], None] = OrderedDict()
        self._lock = threading.Lock()

    def _keys(self, user: str, address: str) -> list[tuple[tuple[str, ...], int]]:
        name = user.lower()[:MAX_NAME_CHARS]
        wide = self.attempts * self.spread
        return [(("pair", name, address), self.attempts), (("user", name), wide),
                (("address", address), wide)]

    def _recent(self, key: tuple[str, ...], now: float) -> deque[float]:
        failures = self._failures.get(key)
        if failures is None:
            failures = self._failures[key] = deque()
            while len(self._failures) > self.max_keys:
                self._failures.popitem(last=False)
        else:
            self._failures.move_to_end(key)
        while failures and now - failures[0] > self.window:
            failures.popleft()
        return failures

    def source(self, user: str, address: str, device: str) -> str:
        """Where an attempt comes from: a browser that logged in as ``user`` before (its device
        cookie) counts on its own, so strangers failing from the same address (a proxy without
        forwarded headers) do not lock it out; any other attempt counts by its address."""
        if device:
            key = ("device", user.lower()[:MAX_NAME_CHARS], _digest(device))
            with self._lock:
                if key in self._trusted:
                    self._trusted.move_to_end(key)
                    return f"device:{key[2]}"
        return address

    def trust(self, user: str, device: str) -> None:
        """Remember ``device`` (a random cookie value) as a browser ``user`` logged in from."""
        with self._lock:
            self._trusted[("device", user.lower()[:MAX_NAME_CHARS], _digest(device))] = None
            while len(self._trusted) > self.max_keys:
                self._trusted.popitem(last=False)

    def blocked(self, user: str, address: str) -> bool:
        with self._lock:
            now = time.monotonic()
            return any(len(self._recent(key, now)) >= limit for key, limit in self._keys(user, address))

    def begin(self, user: str, address: str) -> bool:
        """False when the attempt is refused; True when it may go on, counted as a failure
        until :meth:`succeeded` takes it back."""
        with self._lock:
            now = time.monotonic()
            keys = self._keys(user, address)
            if any(len(self._recent(key, now)) >= limit for key, limit in keys):
                return False
            for key, _ in keys:
                self._recent(key, now).append(now)
            return True

    def failed(self, user: str, address: str) -> None:
        """Count a failure that did not go through :meth:`begin`."""
        with self._lock:
            now = time.monotonic()
            for key, _ in self._keys(user, address):
                self._recent(key, now).append(now)

    def succeeded(self, user: str, address: str) -> None:
        with self._lock:
            pair, *wide = self._keys(user, address)
            self._failures.pop(pair[0], None)
            for key, _ in wide:
                failures = self._failures.get(key)
                if failures:
                    failures.pop()
