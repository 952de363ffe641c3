"""Console accounts and sessions on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

pytest.importorskip("argon2", reason="the console needs the serve extra: pip install 'trainbridge[serve]'")

from trainbridge.core.errors import ConfigError
from trainbridge.core.runner import Workspace
from trainbridge.web import accounts
from trainbridge.web.accounts import LoginLimiter


def test_a_user_logs_in_with_the_password_and_not_without(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace({})
    accounts.add_user(ws.ledger, "lihua", "hr", "correct horse")
    assert accounts.authenticate(ws.ledger, "lihua", "correct horse") == accounts.User("lihua", "hr")
    assert accounts.authenticate(ws.ledger, "lihua", "wrong horse") is None
    assert accounts.authenticate(ws.ledger, "nobody", "correct horse") is None
    with pytest.raises(ConfigError, match="exists"):
        accounts.add_user(ws.ledger, "lihua", "viewer", "another one")


def test_sessions_open_close_expire_and_end_with_a_password_reset(
        make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace({})
    user = accounts.add_user(ws.ledger, "lihua", "hr", "correct horse")
    token, session = accounts.open_session(ws.ledger, user, lifetime=timedelta(hours=1))
    loaded = accounts.load_session(ws.ledger, token)
    assert loaded is not None and loaded.user == user and loaded.csrf_token == session.csrf_token
    accounts.close_session(ws.ledger, session)
    assert accounts.load_session(ws.ledger, token) is None
    expired, _ = accounts.open_session(ws.ledger, user, lifetime=timedelta(seconds=-1))
    assert accounts.load_session(ws.ledger, expired) is None
    token, _ = accounts.open_session(ws.ledger, user, lifetime=timedelta(hours=1))
    accounts.add_user(ws.ledger, "lihua", "viewer", "new password", replace=True)
    assert accounts.load_session(ws.ledger, token) is None


def test_roles_and_passwords_are_checked(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace({})
    with pytest.raises(ConfigError, match="unknown role"):
        accounts.add_user(ws.ledger, "x", "root", "long enough")
    with pytest.raises(ConfigError, match="shorter than 8"):
        accounts.add_user(ws.ledger, "x", "hr", "short")
    with pytest.raises(ConfigError, match="needs --employee"):
        accounts.add_user(ws.ledger, "x", "manager", "long enough")


def test_the_limiter_counts_failures_per_user_and_address() -> None:
    limiter = LoginLimiter(attempts=2, window=300)
    limiter.failed("HR", "10.0.0.1")
    assert not limiter.blocked("hr", "10.0.0.1")
    limiter.failed("hr", "10.0.0.1")
    assert limiter.blocked("hr", "10.0.0.1")
    assert not limiter.blocked("hr", "10.0.0.2") and not limiter.blocked("admin", "10.0.0.1")
    limiter.succeeded("hr", "10.0.0.1")
    assert not limiter.blocked("hr", "10.0.0.1")
