"""Medium: unbounded argon2 on login, unbounded user names, a limiter bypassed in parallel and a
stranger locking out a named account; low: a one-time password that could be used again."""

from __future__ import annotations

import threading

from tests.security.conftest import PASSWORDS, csrf_of, login
from trainbridge.web.accounts import SPENT, HashingGate, LoginLimiter, add_user, users_table


def post_login(client, name: str, password: str):
    form = client.get("/login")
    return client.post("/login", data={"username": name, "password": password,
                                       "csrf_token": csrf_of(form.text), "next": "/"})


def test_a_login_finding_every_hashing_slot_taken_is_answered_429_at_once(workspace):
    from starlette.testclient import TestClient

    from trainbridge.web import WebSettings, create_app

    app = create_app(workspace, WebSettings(hashing_slots=1))
    gate: HashingGate = app.state.hashing_gate
    with TestClient(app) as client:
        assert gate.try_enter()  # another login is hashing right now
        try:
            answer = post_login(client, "hr", PASSWORDS["hr"])
        finally:
            gate.leave()
        assert answer.status_code == 429
        assert post_login(client, "hr", PASSWORDS["hr"]).status_code == 200


def test_a_user_name_of_a_megabyte_is_refused_without_hashing(client):
    answer = post_login(client, "x" * 1_000_000, "whatever-password")

    assert answer.status_code == 400


def test_a_password_of_a_megabyte_is_refused_without_hashing(client):
    assert post_login(client, "hr", "p" * 1_000_000).status_code == 400


def test_forty_parallel_guesses_get_no_more_than_five_checks():
    limiter = LoginLimiter(attempts=5, window=300)
    allowed: list[bool] = []
    start = threading.Barrier(40)

    def guess() -> None:
        start.wait()
        allowed.append(limiter.begin("hr", "203.0.113.9"))

    threads = [threading.Thread(target=guess) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert allowed.count(True) == 5


def test_a_stranger_behind_the_same_proxy_cannot_lock_out_a_real_user(client):
    login(client, "hr")  # the real user's browser has logged in before
    device = client.cookies.get("tb_device", path="/login")
    client.cookies.clear()
    for _ in range(6):  # a stranger, from the same proxy address ("testclient")
        post_login(client, "hr", "wrong-guess-by-a-stranger")
    assert post_login(client, "hr", "wrong-guess-by-a-stranger").status_code == 429

    client.cookies.set("tb_device", device, path="/login")
    assert post_login(client, "hr", PASSWORDS["hr"]).status_code == 200


def test_a_stranger_from_another_address_locks_only_their_own_tries():
    limiter = LoginLimiter(attempts=5, window=300)
    for _ in range(50):
        limiter.begin("hr", "198.51.100.66")

    assert not limiter.begin("hr", "198.51.100.66")
    assert limiter.begin("hr", "192.0.2.10")


def test_the_account_alone_locks_only_far_above_the_pair_limit():
    limiter = LoginLimiter(attempts=5, window=300, spread=20)
    for address in range(100):
        assert limiter.begin("hr", f"10.0.0.{address}")

    assert not limiter.begin("hr", "192.0.2.10")


def test_the_limiter_keeps_a_bounded_number_of_names():
    limiter = LoginLimiter(attempts=5, window=300, max_keys=1000)
    for i in range(20_000):
        limiter.failed(f"sprayed-name-{i}", f"198.51.100.{i % 200}")

    assert len(limiter._failures) <= 1000


def test_a_one_time_password_works_once(workspace, client):
    add_user(workspace.ledger, "newadmin", "admin", "one-time-pass-1", one_time=True)

    first = post_login(client, "newadmin", "one-time-pass-1")
    assert first.status_code == 200 and "/account/password" in str(first.url)
    client.cookies.clear()
    second = post_login(client, "newadmin", "one-time-pass-1")

    assert second.status_code == 401
    with workspace.ledger.transaction() as conn:
        stored = conn.execute(users_table.select().where(users_table.c.name == "newadmin")).mappings().one()
    assert stored["password_hash"] == SPENT


def test_a_session_from_a_one_time_password_must_choose_a_new_one(workspace, client):
    add_user(workspace.ledger, "newadmin", "admin", "one-time-pass-1", one_time=True)
    first = post_login(client, "newadmin", "one-time-pass-1")
    csrf = csrf_of(first.text)

    assert client.get("/audit").url.path == "/account/password"
    chosen = client.post("/account/password", data={"csrf_token": csrf, "password": "my-own-password-9",
                                                    "repeat": "my-own-password-9"})
    assert chosen.status_code == 200
    assert client.get("/audit").url.path == "/audit"
    client.cookies.clear()
    assert login(client, "newadmin", "my-own-password-9")
