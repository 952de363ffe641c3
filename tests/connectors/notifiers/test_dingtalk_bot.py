"""DingTalk custom robot, faked as documented in "自定义机器人发送群消息" and its security
settings page (加签): ``POST /robot/send?access_token=..&timestamp=..&sign=..``, answers
``{"errcode": 0, "errmsg": "ok"}``, 130101 when more than 20 messages a minute."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.parse
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from trainbridge.connectors.chatbots import dingtalk_sign
from trainbridge.core.errors import AuthError, RateLimited, ServerError

TOKEN = "9a8b7c6d5e4f30211203f4e5d6c7b8a99a8b7c6d5e4f30211203f4e5d6c7b8a9"
SECRET = "SECd4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6"
SEND = "https://oapi.dingtalk.com/robot/send"
OK = {"errcode": 0, "errmsg": "ok"}


def query(call: responses.Call) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


def sent(call: responses.Call) -> dict:
    return json.loads(call.request.body)


def test_the_signature_matches_dingtalks_python_sample() -> None:
    # The doc's Python 3.8 sample with its own secret 'this is secret' and a fixed
    # millisecond timestamp; the doc prints no finished signature, so the value is ours.
    timestamp, secret = "1577262236757", "this is secret"
    secret_enc = secret.encode("utf-8")
    string_to_sign_enc = f"{timestamp}\n{secret}".encode()
    hmac_code = hmac.new(secret_enc, string_to_sign_enc, digestmod=hashlib.sha256).digest()
    documented = urllib.parse.quote_plus(base64.b64encode(hmac_code))

    assert urllib.parse.quote_plus(dingtalk_sign(secret, int(timestamp))) == documented
    assert documented == "hmPWwU%2B7lVdm3ZZz0r9tSfx0L4Q26jWOZr9%2BGs6EZQM%3D"


def test_a_signed_markdown_reminder(make_bot, make_notice, vendor, clock) -> None:
    vendor.post(SEND, json=OK)
    bot = make_bot("dingtalk_bot", {"access_token": TOKEN, "secret": "this is secret"})
    clock.now = 1577262236.757

    receipt = bot.send_notice(make_notice("张伟：服务期至 2025-06-30。\n- 违约金按月递减"))

    [call] = vendor.calls
    assert call.request.url.startswith(f"{SEND}?access_token={TOKEN}&timestamp=1577262236757&")
    assert call.request.url.endswith("&sign=hmPWwU%2B7lVdm3ZZz0r9tSfx0L4Q26jWOZr9%2BGs6EZQM%3D")
    assert call.request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert sent(call) == {"msgtype": "markdown", "markdown": {
        "title": "服务期即将结束提醒",
        "text": "#### 服务期即将结束提醒\n\n张伟：服务期至 2025-06-30。  \n- 违约金按月递减"}}
    assert receipt.ref == "notice:sp-end:E1001"


def test_plain_text_without_a_secret_sends_only_the_token(make_bot, make_notice, vendor) -> None:
    vendor.post(SEND, json=OK)
    bot = make_bot("dingtalk_bot", {"access_token": TOKEN, "msgtype": "text"})

    bot.send_notice(make_notice("Your service period ends on 2025-06-30.",
                                subject="Service period ending", language="en"))

    assert query(vendor.calls[0]) == {"access_token": [TOKEN]}
    assert sent(vendor.calls[0]) == {"msgtype": "text", "text": {
        "content": "Service period ending\n\nYour service period ends on 2025-06-30."}}


def test_twenty_messages_a_minute_are_kept_by_waiting_not_by_failing(make_bot, make_notice,
                                                                    vendor, clock) -> None:
    posted_at: list[float] = []

    def answer(request):
        posted_at.append(clock.now)
        return 200, {}, json.dumps(OK)

    vendor.add_callback(responses.POST, SEND, callback=answer)
    bot = make_bot("dingtalk_bot", {"access_token": TOKEN, "secret": SECRET})

    for n in range(45):
        bot.send_notice(make_notice("提醒", notice_id=f"notice:{n}"))

    assert len(posted_at) == 45
    assert all(sum(1 for t in posted_at if start <= t < start + 60) <= 20 for start in posted_at)
    assert clock.sleeps == [60.0, 60.0]  # nothing sleeps for real: the clock is fake


def test_send_too_fast_is_rate_limited_without_waiting_out_the_ten_minute_block(
        make_bot, make_notice, vendor, clock) -> None:
    # The answer as DingTalk sends it, with its extra fields.
    vendor.post(SEND, json={"status": 1111, "wait": 5, "source": "x5", "punish": "deny",
                            "uuid": "9ff0e7e2346aabb5a8bcbb7c93c71636", "errcode": 130101,
                            "errmsg": "send too fast, exceed 20 times per minute"})
    bot = make_bot("dingtalk_bot", {"access_token": TOKEN})

    with pytest.raises(RateLimited, match="130101") as caught:
        bot.send_notice(make_notice("x"))

    assert "600 s" in caught.value.hint and "next run" in caught.value.hint
    assert len(vendor.calls) == 1
    assert clock.sleeps == []


def test_a_long_message_is_split_by_the_content_limit(make_bot, make_notice, vendor) -> None:
    vendor.post(SEND, json=OK)
    bot = make_bot("dingtalk_bot", {"access_token": TOKEN, "msgtype": "text",
                                    "max_content_bytes": 2000})
    lines = [f"{n:03d}. 李娜 — 培训协议 TA-{n:04d} 服务期至 2026-01-31" for n in range(120)]

    bot.send_notice(make_notice("\n".join(lines)))

    contents = [sent(c)["text"]["content"] for c in vendor.calls]
    assert len(contents) > 1
    assert all(len(c.encode()) <= 2000 for c in contents)
    assert all(c.startswith(f"服务期即将结束提醒（{i}/{len(contents)}）\n\n")
               for i, c in enumerate(contents, 1))
    assert [line for c in contents for line in c.split("\n\n", 1)[1].split("\n")] == lines


def test_a_failed_security_check_is_an_auth_error(make_bot, make_notice, vendor) -> None:
    vendor.post(SEND, json={"errcode": 310000, "errmsg": "sign not match, more: [https://ding-doc"
                                                         ".dingtalk.com/doc#/serverapi2/qf2nxq]"})
    bot = make_bot("dingtalk_bot", {"access_token": TOKEN, "secret": "wrong"})

    with pytest.raises(AuthError, match="sign not match") as caught:
        bot.send_notice(make_notice("x"))

    assert "secret" in caught.value.hint


def test_a_server_error_is_retried_then_reported(make_bot, make_notice, vendor) -> None:
    vendor.post(SEND, status=500, json={"errcode": -1, "errmsg": "系统繁忙"})
    bot = make_bot("dingtalk_bot", {"access_token": TOKEN, "http": {"max_attempts": 3}})

    with pytest.raises(ServerError):
        bot.send_notice(make_notice("x"))

    assert len(vendor.calls) == 3


def test_http_429_is_retried(make_bot, make_notice, vendor, clock) -> None:
    vendor.post(SEND, status=429, headers={"Retry-After": "3"})
    vendor.post(SEND, json=OK)
    bot = make_bot("dingtalk_bot", {"access_token": TOKEN})

    bot.send_notice(make_notice("x"))

    assert len(vendor.calls) == 2
    assert clock.sleeps[0] >= 3


def test_healthcheck_tells_a_wrong_token_from_a_working_one(make_bot, vendor) -> None:
    vendor.post(SEND, json={"errcode": 300001, "errmsg": "token is not exist"})
    vendor.post(SEND, json={"errcode": 40035, "errmsg": "缺少参数 json"})
    bot = make_bot("dingtalk_bot", {"access_token": TOKEN})

    wrong, right = bot.healthcheck(), bot.healthcheck()

    assert not wrong.ok and "300001" in wrong.detail
    assert right.ok and "nothing was posted" in right.detail
    assert sent(vendor.calls[0]) == {"msgtype": "text", "text": {"content": ""}}


def test_healthcheck_on_a_keyword_robot_is_not_a_credentials_failure(make_bot, vendor) -> None:
    vendor.post(SEND, json={"errcode": 310000, "errmsg": "keywords not in content"})
    bot = make_bot("dingtalk_bot", {"access_token": TOKEN})

    assert bot.healthcheck().ok
