"""WeCom group robot, faked as documented in "群机器人配置说明"
(developer.work.weixin.qq.com/document/path/91770): ``POST /cgi-bin/webhook/send?key=..``,
text content at most 2048 bytes, markdown at most 4096, 20 messages a minute, errcode 45009."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from trainbridge.core.errors import AuthError, ClientError, ServerError

KEY = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"  # the doc's example webhook key
SEND = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"
OK = {"errcode": 0, "errmsg": "ok"}


def sent(call: responses.Call) -> dict:
    return json.loads(call.request.body)


def test_a_markdown_reminder_goes_to_the_robots_key(make_bot, make_notice, vendor) -> None:
    vendor.post(SEND, json=OK)
    bot = make_bot("wecom_bot", {"key": KEY})

    receipt = bot.send_notice(make_notice("张伟：服务期至 2025-06-30。\n请按时完成交接。"))

    [call] = vendor.calls
    assert parse_qs(urlsplit(call.request.url).query) == {"key": [KEY]}
    assert call.request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert sent(call) == {"msgtype": "markdown", "markdown": {
        "content": "**服务期即将结束提醒**\n张伟：服务期至 2025-06-30。\n请按时完成交接。"}}
    assert receipt.status == "delivered"


@pytest.mark.parametrize(("msgtype", "limit"), [("text", 2048), ("markdown", 4096)])
def test_long_lists_are_split_by_the_documented_byte_limits(make_bot, make_notice, vendor,
                                                            msgtype, limit) -> None:
    vendor.post(SEND, json=OK)
    bot = make_bot("wecom_bot", {"key": KEY, "msgtype": msgtype})
    lines = [f"{n:03d}. 王芳 培训协议服务期至 2026-03-31" for n in range(300)]

    bot.send_notice(make_notice("\n".join(lines)))

    contents = [sent(c)[msgtype]["content"] for c in vendor.calls]
    assert len(contents) > 1
    assert all(len(c.encode()) <= limit for c in contents)
    assert all(len(c.encode()) > limit - 100 for c in contents[:-1])
    assert f"（1/{len(contents)}）" in contents[0]


def test_a_frequency_limit_waits_for_the_minute_to_pass(make_bot, make_notice, vendor,
                                                       clock) -> None:
    vendor.post(SEND, json={"errcode": 45009, "errmsg": "api freq out of limit, hint: "
                            "[1714538355214402498975046], from ip: 119.2.196.241, more info at "
                            "https://open.work.weixin.qq.com/devtool/query?e=45009"})
    vendor.post(SEND, json=OK)
    bot = make_bot("wecom_bot", {"key": KEY})

    bot.send_notice(make_notice("x"))

    assert len(vendor.calls) == 2
    assert clock.sleeps == [60.0]


def test_a_content_too_long_answer_carries_wecoms_hint_id(make_bot, make_notice, vendor) -> None:
    vendor.post(SEND, json={"errcode": 40058, "errmsg": "markdown.content exceed max length "
                            "4096. invalid Request Parameter, hint: [1714538355214402498975046], "
                            "from ip: 119.2.196.241, more info at "
                            "https://open.work.weixin.qq.com/devtool/query?e=40058"})
    bot = make_bot("wecom_bot", {"key": KEY})

    with pytest.raises(ClientError) as caught:
        bot.send_notice(make_notice("x"))

    assert caught.value.request_id == "1714538355214402498975046"
    assert "max_content_bytes" in caught.value.hint


def test_an_invalid_key_is_an_auth_error_and_fails_the_healthcheck(make_bot, make_notice,
                                                                  vendor) -> None:
    vendor.post(SEND, json={"errcode": 93000, "errmsg": "invalid webhook url, hint: [17145383552"
                            "14402498975046], more info at https://open.work.weixin.qq.com/"
                            "devtool/query?e=93000"})
    bot = make_bot("wecom_bot", {"key": KEY})

    with pytest.raises(AuthError):
        bot.send_notice(make_notice("x"))
    health = bot.healthcheck()

    assert not health.ok and "93000" in health.detail
    assert KEY not in health.detail


def test_healthcheck_passes_when_only_the_empty_probe_is_refused(make_bot, vendor) -> None:
    vendor.post(SEND, json={"errcode": 44004, "errmsg": "text content is empty"})
    bot = make_bot("wecom_bot", {"key": KEY})

    health = bot.healthcheck()

    assert health.ok
    assert sent(vendor.calls[0]) == {"msgtype": "text", "text": {"content": ""}}


def test_429_then_success_and_a_lasting_5xx(make_bot, make_notice, vendor, clock) -> None:
    vendor.post(SEND, status=429, headers={"Retry-After": "2"})
    vendor.post(SEND, json=OK)
    vendor.post(SEND, status=503)
    bot = make_bot("wecom_bot", {"key": KEY, "http": {"max_attempts": 2}})

    bot.send_notice(make_notice("first", notice_id="notice:1"))
    with pytest.raises(ServerError):
        bot.send_notice(make_notice("second", notice_id="notice:2"))

    assert clock.sleeps[0] >= 2
    assert len(vendor.calls) == 4
