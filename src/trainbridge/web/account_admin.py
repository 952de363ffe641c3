"""Keeping console accounts: disable, enable, remove, passwords, failed logins in the audit log.

Each account's state lives beside it in ``tb_web_account_flags`` (migration ``web`` 3):
``disabled`` (no login, no session) and ``must_change`` (an admin chose the password: the
first session may only choose a new one; set in production mode, ``[web] mode``). Every
change is audited; the last enabled admin can be neither disabled nor removed, and nobody
can disable or remove their own account from the console. A failed login is audited with
the user name tried and the source, never the password.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from trainbridge.core.errors import ConfigError
from trainbridge.core.ledger import Ledger
from trainbridge.web import accounts
from trainbridge.web.accounts import (
    MAX_NAME_CHARS,
    ONE_TIME,
    SPENT,
    sessions_table,
    users_table,
    web_metadata,
)

flags_table = sa.Table(
    "tb_web_account_flags", web_metadata,
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, default=False),
    sa.Column("must_change", sa.Boolean, nullable=False, default=False),
    sa.PrimaryKeyConstraint("tenant", "name"),
)


def migrate_v3(conn: Connection) -> None:
    web_metadata.create_all(conn, tables=[flags_table])


class AccountRefused(ConfigError):
    """A change the rules do not allow; ``key`` names the console's message for it."""

    def __init__(self, message: str, key: str, hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.key = key


def flags(ledger: Ledger, conn: Connection, name: str | None = None) -> dict[str, dict[str, bool]]:
    t = flags_table
    query = sa.select(t.c.name, t.c.disabled, t.c.must_change).where(t.c.tenant == ledger.tenant)
    if name is not None:
        query = query.where(t.c.name == name)
    return {r.name: {"disabled": bool(r.disabled), "must_change": bool(r.must_change)}
            for r in conn.execute(query)}


def _set_flag(ledger: Ledger, conn: Connection, name: str, **values: bool) -> None:
    t = flags_table
    done = conn.execute(sa.update(t).where(t.c.tenant == ledger.tenant, t.c.name == name).values(**values))
    if done.rowcount == 0:
        row = {"disabled": False, "must_change": False, **values}
        conn.execute(t.insert().values(tenant=ledger.tenant, name=name, **row))


def _end_sessions(ledger: Ledger, conn: Connection, name: str) -> None:
    s = sessions_table
    conn.execute(sa.delete(s).where(s.c.tenant == ledger.tenant, s.c.user_name == name))


def _user(ledger: Ledger, conn: Connection, name: str) -> Any:
    t = users_table
    row = conn.execute(sa.select(t).where(t.c.tenant == ledger.tenant, t.c.name == name)).mappings().first()
    if row is None:
        raise AccountRefused(f"no console account {name!r}", "account_unknown",
                             hint="trainbridge users list shows the accounts")
    return row


def _check_not_last_admin(ledger: Ledger, conn: Connection, name: str, role: str) -> None:
    if role != "admin":
        return
    t = users_table
    admins = [r.name for r in conn.execute(sa.select(t.c.name).where(t.c.tenant == ledger.tenant,
                                                                       t.c.role == "admin"))]
    off = flags(ledger, conn)
    enabled = [a for a in admins if a != name and not off.get(a, {}).get("disabled")]
    if not enabled:
        raise AccountRefused(f"{name} is the last enabled admin", "account_last_admin",
                             hint="add or enable another admin first")


def _check_not_self(name: str, actor: str | None) -> None:
    if actor is not None and actor == name:
        raise AccountRefused("you cannot disable or remove your own account", "account_not_yourself")


def set_disabled(ledger: Ledger, name: str, disabled: bool, *, actor: str,
                 self_name: str | None = None) -> None:
    """Disable (ending every session of) or enable ``name``. ``self_name``: who asks, in the console."""
    with ledger.transaction() as conn:
        user = _user(ledger, conn, name)
        if disabled:
            _check_not_self(name, self_name)
            _check_not_last_admin(ledger, conn, name, user["role"])
            _end_sessions(ledger, conn, name)
        _set_flag(ledger, conn, name, disabled=disabled)
        ledger.audit(conn, actor=actor, action="web.user_disabled" if disabled else "web.user_enabled",
                     subject=name)


def remove_user(ledger: Ledger, name: str, *, actor: str, self_name: str | None = None) -> None:
    """Remove ``name`` with its sessions (the audit log keeps what they did)."""
    with ledger.transaction() as conn:
        user = _user(ledger, conn, name)
        _check_not_self(name, self_name)
        _check_not_last_admin(ledger, conn, name, user["role"])
        _end_sessions(ledger, conn, name)
        conn.execute(sa.delete(flags_table).where(flags_table.c.tenant == ledger.tenant,
                                                  flags_table.c.name == name))
        conn.execute(sa.delete(users_table).where(users_table.c.tenant == ledger.tenant,
                                                  users_table.c.name == name))
        ledger.audit(conn, actor=actor, action="web.user_removed", subject=name,
                     detail={"role": user["role"]})


def require_change(ledger: Ledger, name: str, must_change: bool = True) -> None:
    """``name``'s next session may only choose a new password (an admin chose this one)."""
    with ledger.transaction() as conn:
        _user(ledger, conn, name)
        _set_flag(ledger, conn, name, must_change=must_change)


def reset_password(ledger: Ledger, name: str, password: str, *, actor: str, one_time: bool = False,
                   must_change: bool = False) -> None:
    """An admin sets ``name``'s password (ending their sessions); ``must_change``: they choose their own
    at the next login (production mode); ``one_time``: it works for one login."""
    accounts.check_password_rules(password)
    stored = (ONE_TIME if one_time else "") + accounts._hasher().hash(password)
    t = users_table
    with ledger.transaction() as conn:
        _user(ledger, conn, name)
        conn.execute(sa.update(t).where(t.c.tenant == ledger.tenant, t.c.name == name)
                     .values(password_hash=stored))
        _end_sessions(ledger, conn, name)
        _set_flag(ledger, conn, name, must_change=must_change)
        ledger.audit(conn, actor=actor, action="web.password_reset", subject=name)


def change_password(ledger: Ledger, name: str, current: str, new: str) -> bool:
    """The user's own change: False when ``current`` is not their password (a spent one-time
    password needs none: the login that spent it proved it). Clears ``must_change``."""
    accounts.check_password_rules(new)
    from argon2.exceptions import InvalidHashError, VerificationError

    with ledger.transaction() as conn:
        stored: str = _user(ledger, conn, name)["password_hash"]
    if stored != SPENT:
        if len(current) > accounts.MAX_PASSWORD_CHARS:
            return False
        try:
            accounts._hasher().verify(stored.removeprefix(ONE_TIME), current)
        except (VerificationError, InvalidHashError):
            with ledger.transaction() as conn:
                ledger.audit(conn, actor=name, action="web.password_change_refused", subject=name)
            return False
    hashed = accounts._hasher().hash(new)
    t = users_table
    with ledger.transaction() as conn:
        conn.execute(sa.update(t).where(t.c.tenant == ledger.tenant, t.c.name == name)
                     .values(password_hash=hashed))
        _set_flag(ledger, conn, name, must_change=False)
        ledger.audit(conn, actor=name, action="web.password_set", subject=name)
    return True


def audit_failed_login(ledger: Ledger, name: str, source: str,
                       why: str = "wrong user name or password") -> None:
    """A failed login in the audit log: the name tried (cut to 128 characters) and the source."""
    with ledger.transaction() as conn:
        ledger.audit(conn, actor="-", action="web.login_failed", subject=name[:MAX_NAME_CHARS],
                     detail={"source": source[:200], "why": why})


def is_disabled(ledger: Ledger, conn: Connection, name: str) -> bool:
    return bool(flags(ledger, conn, name).get(name, {}).get("disabled"))


def must_change(ledger: Ledger, conn: Connection, name: str) -> bool:
    return bool(flags(ledger, conn, name).get(name, {}).get("must_change"))


def accounts_table(ledger: Ledger) -> list[dict[str, Any]]:
    """Every account with its state, for the admin page and ``users list``."""
    rows = accounts.list_users(ledger)
    with ledger.transaction() as conn:
        state = flags(ledger, conn)
    return [{**r, **state.get(r["name"], {"disabled": False, "must_change": False})} for r in rows]
