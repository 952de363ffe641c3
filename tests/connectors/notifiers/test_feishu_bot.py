"""Feishu/Lark custom bot, faked as documented in "自定义机器人使用指南"
(open.feishu.cn/document/client-docs/bot-v3/add-custom-bot): request and answer shapes,
the signed-request form, the 20 KB body limit and the error codes 19021, 9499, 11232."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
import responses

from trainbridge.connectors.chatbots import feishu_sign
from trainbridge.core.errors import AuthError, ClientError, RateLimited, ServerError

TOKEN = "0b8a4a6c-7f0e-4b69-9c55-2d1b0b9a1f3e"
HOOK = f"https://open.feishu.cn/open-apis/bot/v2/hook/{TOKEN}"
SUCCESS = {"code": 0, "data": {}, "msg": "success"}


def sent(call: responses.Call) -> dict:
    return json.loads(call.request.body)


def test_the_signature_follows_feishus_python_sample_byte_for_byte() -> None:
    # Our own vector: the doc publishes the algorithm (its Python 3.9 sample, below) but no
    # finished signature; 1599360473 is the timestamp of its signed-request example.
    timestamp, secret = 1599360473, "demo-secret"
    key_enc = f"{timestamp}\n{secret}".encode()
    hmac_code = hmac.new(key_enc, b"", digestmod=hashlib.sha256).digest()
    documented = base64.b64encode(hmac_code).decode("utf-8")

    assert feishu_sign(secret, timestamp) == documented
    assert feishu_sign(secret, timestamp) == "3/MaVZ8JLIy4TUG+7KSFJqvUkTKd+HWY8g+56DZWq8s="


def test_a_chinese_reminder_is_posted_as_signed_rich_text(make_bot, make_notice, vendor,
                                                          clock) -> None:
    vendor.post(HOOK, json=SUCCESS, headers={"X-Tt-Logid": "20240601101500A1B2"})
    bot = make_bot("feishu_bot", {"hook_token": TOKEN, "secret": "demo-secret"})
    notice = make_notice("张伟：培训服务期将于 2025-06-30 结束。\n如有疑问请联系 HR。")

    receipt = bot.send_notice(notice)

    [call] = vendor.calls
    assert call.request.method == "POST"
    assert call.request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert "培训服务期".encode() in call.request.body  # UTF-8, not \\u escapes
    assert sent(call) == {
        "timestamp": "1599360473",
        "sign": "3/MaVZ8JLIy4TUG+7KSFJqvUkTKd+HWY8g+56DZWq8s=",
        "msg_type": "post",
        "content": {"post": {"zh_cn": {
            "title": "服务期即将结束提醒",
            "content": [[{"tag": "text", "text": "张伟：培训服务期将于 2025-06-30 结束。"}],
                        [{"tag": "text", "text": "如有疑问请联系 HR。"}]]}}},
    }
    assert receipt.ref == notice.id
    assert receipt.status == "delivered"


def test_an_english_notice_as_plain_text_to_lark_without_a_secret(make_bot, make_notice,
                                                                  vendor) -> None:
    hook = f"https://open.larksuite.com/open-apis/bot/v2/hook/{TOKEN}"
    vendor.post(hook, json=SUCCESS)
    bot = make_bot("feishu_bot", {"hook_token": TOKEN, "msg_type": "text",
                                  "base_url": "https://open.larksuite.com"})

    bot.send_notice(make_notice("Your service period ends on 2025-06-30.",
                                subject="Service period ending", language="en"))

    assert sent(vendor.calls[0]) == {
        "msg_type": "text",
        "content": {"text": "Service period ending\n\nYour service period ends on 2025-06-30."}}


def test_english_rich_text_uses_the_en_us_locale(make_bot, make_notice, vendor) -> None:
    vendor.post(HOOK, json=SUCCESS)
    bot = make_bot("feishu_bot", {"hook_token": TOKEN})

    bot.send_notice(make_notice("line", subject="Reminder", language="en"))

    assert list(sent(vendor.calls[0])["content"]["post"]) == ["en_us"]


def test_a_long_list_becomes_several_messages_under_20_kb_each(make_bot, make_notice,
                                                              vendor) -> None:
    vendor.post(HOOK, json=SUCCESS)
    bot = make_bot("feishu_bot", {"hook_token": TOKEN, "secret": "demo-secret"})
    lines = [f"{n:04d} 员工 张伟{n} 服务期至 2025-06-30，剩余违约金 1,234.56 元" for n in range(900)]

    receipt = bot.send_notice(make_notice("\n".join(lines)))

    bodies = [call.request.body for call in vendor.calls]
    total = len(bodies)
    assert total == 5  # 900 lines of 68 bytes: about 64 KB of rich text
    assert all(19_000 < len(body) <= 20_000 for body in bodies[:-1])
    assert len(bodies[-1]) <= 20_000
    titles = [json.loads(b)["content"]["post"]["zh_cn"]["title"] for b in bodies]
    assert titles == [f"服务期即将结束提醒（{n}/5）" for n in range(1, 6)]
    posted = [row[0]["text"] for b in bodies
              for row in json.loads(b)["content"]["post"]["zh_cn"]["content"]]
    assert posted == lines
    assert receipt.detail == "5 messages posted to the group"


def test_a_refused_signature_is_an_auth_error_with_the_log_id(make_bot, make_notice,
                                                             vendor) -> None:
    vendor.post(HOOK, headers={"X-Tt-Logid": "20240601101500A1B2"}, json={
        "code": 19021, "data": {},
        "msg": "sign match fail or timestamp is not within one hour from current time"})
    bot = make_bot("feishu_bot", {"hook_token": TOKEN, "secret": "wrong"})

    with pytest.raises(AuthError) as caught:
        bot.send_notice(make_notice("x"))

    assert caught.value.request_id == "20240601101500A1B2"
    assert "19021" in caught.value.message
    assert "clock" in caught.value.hint
    assert len(vendor.calls) == 1


@pytest.mark.parametrize("limited", [
    {"code": 11232, "data": {}, "msg": "frequency limited psm[lark.oapi.app_platform_runtime]"},
    {"code": 9499, "data": {}, "msg": "too many request"},
])
def test_a_frequency_limit_answer_waits_and_sends_again(make_bot, make_notice, vendor, clock,
                                                        limited) -> None:
    vendor.post(HOOK, json=limited)
    vendor.post(HOOK, json=SUCCESS)
    bot = make_bot("feishu_bot", {"hook_token": TOKEN, "secret": "demo-secret"})

    bot.send_notice(make_notice("x"))

    assert len(vendor.calls) == 2
    assert clock.sleeps == [1.0]
    first, second = (sent(c) for c in vendor.calls)
    assert int(second["timestamp"]) == int(first["timestamp"]) + 1  # signed afresh


def test_a_frequency_limit_that_lasts_gives_up_as_rate_limited(make_bot, make_notice,
                                                               vendor) -> None:
    vendor.post(HOOK, json={"code": 11232, "data": {}, "msg": "frequency limited"})
    bot = make_bot("feishu_bot", {"hook_token": TOKEN, "http": {"max_attempts": 3}})

    with pytest.raises(RateLimited, match="11232"):
        bot.send_notice(make_notice("x"))

    assert len(vendor.calls) == 3


def test_a_bad_request_answer_is_not_retried(make_bot, make_notice, vendor) -> None:
    vendor.post(HOOK, json={"code": 9499, "data": {}, "msg": "Bad Request"})
    bot = make_bot("feishu_bot", {"hook_token": TOKEN})

    with pytest.raises(ClientError, match="20 KB"):
        bot.send_notice(make_notice("x"))

    assert len(vendor.calls) == 1


def test_http_429_honours_retry_after(make_bot, make_notice, vendor, clock) -> None:
    vendor.post(HOOK, status=429, headers={"Retry-After": "7"}, json={"code": 99991400,
                                                                     "msg": "too many requests"})
    vendor.post(HOOK, json=SUCCESS)
    bot = make_bot("feishu_bot", {"hook_token": TOKEN})

    bot.send_notice(make_notice("x"))

    assert len(vendor.calls) == 2
    assert clock.sleeps and clock.sleeps[0] >= 7


def test_a_server_error_that_lasts_is_a_server_error(make_bot, make_notice, vendor) -> None:
    vendor.post(HOOK, status=502, body="<html>Bad Gateway</html>")
    bot = make_bot("feishu_bot", {"hook_token": TOKEN, "http": {"max_attempts": 2}})

    with pytest.raises(ServerError):
        bot.send_notice(make_notice("x"))

    assert len(vendor.calls) == 2


def test_a_retried_notice_resumes_after_the_parts_already_posted(make_bot, make_notice,
                                                                vendor) -> None:
    vendor.post(HOOK, json=SUCCESS)
    vendor.post(HOOK, status=503)
    vendor.post(HOOK, json=SUCCESS)
    bot = make_bot("feishu_bot", {"hook_token": TOKEN, "max_body_bytes": 2000,
                                  "http": {"max_attempts": 1}})
    notice = make_notice("\n".join(f"第 {n} 行：培训协议服务期提醒" for n in range(60)))

    with pytest.raises(ServerError):
        bot.send_notice(notice)
    bot.send_notice(notice)

    titles = [sent(c)["content"]["post"]["zh_cn"]["title"] for c in vendor.calls]
    assert [t[-5:] for t in titles] == ["（1/3）", "（2/3）", "（2/3）", "（3/3）"]


def test_the_robot_keeps_to_five_messages_a_second(make_bot, make_notice, vendor, clock) -> None:
    vendor.post(HOOK, json=SUCCESS)
    bot = make_bot("feishu_bot", {"hook_token": TOKEN})

    for n in range(6):
        bot.send_notice(make_notice("x", notice_id=f"notice:{n}"))

    assert clock.sleeps == [pytest.approx(1.0)]


def test_healthcheck_posts_an_empty_probe_and_reads_the_answer(make_bot, vendor) -> None:
    vendor.post(HOOK, json={"code": 9499, "data": {}, "msg": "Bad Request"})
    bot = make_bot("feishu_bot", {"hook_token": TOKEN, "secret": "demo-secret"})

    health = bot.healthcheck()

    assert health.ok, health.detail
    assert "nothing was posted" in health.detail
    body = sent(vendor.calls[0])
    assert body["msg_type"] == "text" and body["content"] == {}
    assert body["sign"] == "3/MaVZ8JLIy4TUG+7KSFJqvUkTKd+HWY8g+56DZWq8s="


def test_healthcheck_reports_a_wrong_hook_token(make_bot, vendor) -> None:
    vendor.post(HOOK, json={"code": 19001, "data": {},
                            "msg": "param invalid: incoming webhook access token invalid"})
    bot = make_bot("feishu_bot", {"hook_token": TOKEN})

    health = bot.healthcheck()

    assert not health.ok
    assert "19001" in health.detail and "webhook address" in health.detail


def test_the_hook_token_never_reaches_an_error_message(make_bot, make_notice, vendor) -> None:
    vendor.post(HOOK, status=404, json={"code": 404, "msg": "not found"})
    bot = make_bot("feishu_bot", {"hook_token": TOKEN})

    with pytest.raises(Exception) as caught:
        bot.send_notice(make_notice("x"))

    assert TOKEN not in str(caught.value)
