"""Group chat robots as notifiers: Feishu/Lark custom bot, DingTalk custom robot, WeCom robot.

Each is a webhook that posts into one group chat; there is nothing to read back, so a
notice becomes one or more messages and the receipt is the notice's own id.

What we implement, from the vendors' documentation:

* Feishu/Lark custom bot ("自定义机器人使用指南", open.feishu.cn/document/client-docs/bot-v3/
  add-custom-bot): ``POST {base}/open-apis/bot/v2/hook/{token}`` with ``msg_type`` ``text``
  (``content.text``) or ``post`` (``content.post.{zh_cn|en_us|ja_jp}.{title, content}``).
  Signing: ``timestamp`` (seconds) and ``sign = base64(HMAC-SHA256(key=f"{timestamp}\\n
  {secret}", msg=b""))`` in the JSON body. The answer is ``{"code": 0, "msg": "success"}``;
  19021 sign/timestamp refused, 19022 IP not allowed, 19024 keyword missing, 9499 bad request
  or too many requests, 11232 frequency limit. Limits: body <= 20 KB; 100/min and 5/s per bot.
* DingTalk custom robot ("自定义机器人发送群消息"): ``POST {base}/robot/send?access_token=..``
  with ``msgtype`` ``text`` (``text.content``) or ``markdown`` (``markdown.{title,text}``).
  Signing: ``timestamp`` (ms) and ``sign = urlencode(base64(HMAC-SHA256(key=secret,
  msg=f"{timestamp}\\n{secret}")))`` in the query. Answer ``{"errcode": 0, "errmsg": "ok"}``;
  130101 "send too fast, exceed 20 times per minute" (the robot is then blocked for 10 min),
  310000 security check (sign, keyword or IP). 20 messages a minute per robot.
* WeCom group robot ("群机器人配置说明", developer.work.weixin.qq.com/document/path/91770):
  ``POST {base}/cgi-bin/webhook/send?key=..`` with ``msgtype`` ``text`` (``text.content``,
  at most 2048 bytes) or ``markdown`` (``markdown.content``, at most 4096 bytes); errcode
  45009 frequency limit, 93000 invalid webhook key; 20 messages a minute per robot.

Long notices are cut at line ends (a long list stays readable) into parts that each fit
the vendor's limit, every part carrying the subject and "(2/3)". Sends go through a
per-instance sliding window so we never exceed the vendor's rate ourselves.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from typing import Any, ClassVar, Literal

import requests
from pydantic import Field, SecretStr

from trainbridge import hookimpl
from trainbridge.connectors.chatbot_base import (  # noqa: F401 - re-exported for tests and vendors
    ChatBot,
    ChatBotConfig,
    SendWindow,
    _is_chinese,
    encode,
    part_label,
    split_lines,
)
from trainbridge.core.connector import ConnectorConfig
from trainbridge.core.errors import AuthError, ClientError, ConnectorError


def feishu_sign(secret: str, timestamp: int) -> str:
    """Feishu/Lark custom bot signature: the key is ``"{timestamp}\\n{secret}"``, the message empty."""
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk robot signature (before URL-encoding, which the query string does)."""
    message = f"{timestamp_ms}\n{secret}".encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


# --- Feishu / Lark ------------------------------------------------------------------------


class FeishuBotConfig(ChatBotConfig):
    base_url: str = Field(default="https://open.feishu.cn",
                          description="https://open.larksuite.com for Lark")
    hook_token: SecretStr = Field(description="The last part of the webhook address")
    secret: SecretStr | None = Field(default=None, description="签名校验 secret, if set")
    msg_type: Literal["post", "text"] = "post"
    max_body_bytes: int = Field(default=20_000, ge=1_000, le=20 * 1024)
    messages_per_minute: int = Field(default=100, ge=1)
    messages_per_second: int = Field(default=5, ge=1)


class FeishuBot(ChatBot):
    """Feishu/Lark custom bot (飞书自定义机器人)."""

    config_model: ClassVar[type[ConnectorConfig]] = FeishuBotConfig
    vendor: ClassVar[str] = "Feishu/Lark custom bot"
    config: FeishuBotConfig
    errors: ClassVar[dict[int, tuple[type[ConnectorError], str]]] = {
        19001: (AuthError, "the hook token is not valid: copy the webhook address again from "
                           "the group's bot settings (the bot may have been removed)"),
        19021: (AuthError, "signature refused: check `secret` against the bot's 签名校验 "
                           "setting and that this machine's clock is within an hour of real time"),
        19022: (AuthError, "this machine's IP address is not on the bot's IP whitelist"),
        19024: (ClientError, "the bot's keyword check failed: the message has none of its "
                             "keywords; use a signing secret instead, or add a keyword to the "
                             "notice template"),
        9499: (ClientError, "Feishu calls the request malformed: the body may exceed 20 KB "
                            "(lower max_body_bytes)"),
    }
    retry_codes: ClassVar[dict[int, float]] = {11232: 1.0, 9499: 1.0}

    def send_rules(self) -> list[tuple[int, float]]:
        return [(self.config.messages_per_minute, 60.0), (self.config.messages_per_second, 1.0)]

    def build(self, title: str, text: str, language: str) -> dict[str, Any]:
        if self.config.msg_type == "text":
            return {"msg_type": "text", "content": {"text": f"{title}\n\n{text}" if text else title}}
        lines = text.split("\n") if text else []
        locale = "zh_cn" if _is_chinese(language) else \
            "ja_jp" if language.lower().startswith("ja") else "en_us"
        return {"msg_type": "post", "content": {"post": {locale: {
            "title": title, "content": [[{"tag": "text", "text": line}] for line in lines]}}}}

    def size(self, payload: dict[str, Any]) -> int:
        # A ten-digit timestamp and a 44-character sign, as every real one until 2286.
        return len(encode(self.signed(payload, timestamp=1_000_000_000)))

    def size_limit(self) -> int:
        return self.config.max_body_bytes

    def signed(self, payload: dict[str, Any], *, timestamp: int | None = None) -> dict[str, Any]:
        if self.config.secret is None:
            return payload
        ts = int(self.ctx.clock()) if timestamp is None else timestamp
        return {"timestamp": str(ts), "sign": feishu_sign(self.config.secret.get_secret_value(), ts),
                **payload}

    def post(self, payload: dict[str, Any]) -> requests.Response:
        token = self.config.hook_token.get_secret_value()
        return self.post_json(f"/open-apis/bot/v2/hook/{token}", self.signed(payload))

    def probe(self) -> dict[str, Any]:
        return {"msg_type": "text", "content": {}}

    def answer(self, body: dict[str, Any]) -> tuple[int, str]:
        # Old hooks answer StatusCode/StatusMessage; new ones code/msg.
        code = body.get("code", body.get("StatusCode", -1))
        return int(code), str(body.get("msg", body.get("StatusMessage", "")))

    def retry_wait(self, code: int, message: str, attempt: int) -> float | None:
        # 9499 means "Bad Request" as well as "too many request": only the latter passes.
        if code == 9499 and "bad request" in message.lower():
            return None
        return super().retry_wait(code, message, attempt)


# --- DingTalk ------------------------------------------------------------------------------


class DingTalkBotConfig(ChatBotConfig):
    base_url: str = "https://oapi.dingtalk.com"
    access_token: SecretStr = Field(description="access_token of the webhook address")
    secret: SecretStr | None = Field(default=None, description="加签 secret (SEC...), if set")
    msgtype: Literal["markdown", "text"] = "markdown"
    max_content_bytes: int = Field(default=20_000, ge=500, le=20_000)


class DingTalkBot(ChatBot):
    """DingTalk custom robot (钉钉自定义机器人)."""

    config_model: ClassVar[type[ConnectorConfig]] = DingTalkBotConfig
    vendor: ClassVar[str] = "DingTalk custom robot"
    config: DingTalkBotConfig
    errors: ClassVar[dict[int, tuple[type[ConnectorError], str]]] = {
        300001: (AuthError, "the access_token is not valid: copy the webhook address again"),
        400101: (AuthError, "the access_token does not exist: copy the webhook address again"),
        400102: (AuthError, "the robot is disabled: enable it in the group's robot settings"),
        310000: (AuthError, "the robot's security check failed (errmsg says which): the "
                            "signature (`secret`, this machine's clock within an hour), a "
                            "keyword, or the IP whitelist"),
    }
    # 130101: DingTalk blocks the robot for 10 minutes after 20 messages in a minute.
    retry_codes: ClassVar[dict[int, float]] = {130101: 600.0, -1: 1.0}

    def build(self, title: str, text: str, language: str) -> dict[str, Any]:
        if self.config.msgtype == "text":
            return {"msgtype": "text", "text": {"content": f"{title}\n\n{text}" if text else title}}
        # DingTalk's markdown joins single newlines; a trailing double space breaks the line.
        body = "  \n".join(text.split("\n"))
        return {"msgtype": "markdown",
                "markdown": {"title": title, "text": f"#### {title}\n\n{body}" if text else title}}

    def size(self, payload: dict[str, Any]) -> int:
        part = payload.get("text") or payload.get("markdown") or {}
        return len(str(part.get("content", part.get("text", ""))).encode())

    def size_limit(self) -> int:
        return self.config.max_content_bytes

    def post(self, payload: dict[str, Any]) -> requests.Response:
        params: dict[str, Any] = {"access_token": self.config.access_token.get_secret_value()}
        if self.config.secret is not None:
            timestamp = int(self.ctx.clock() * 1000)
            params["timestamp"] = str(timestamp)
            params["sign"] = dingtalk_sign(self.config.secret.get_secret_value(), timestamp)
        return self.post_json("/robot/send", payload, params=params)

    def probe(self) -> dict[str, Any]:
        return {"msgtype": "text", "text": {"content": ""}}

    def credentials_refused(self, code: int, message: str) -> bool:
        # 310000 also answers a missing keyword, which the empty probe always lacks.
        if code == 310000 and "keyword" in message.lower():
            return False
        return super().credentials_refused(code, message)


# --- WeCom -----------------------------------------------------------------------------------


class WeComBotConfig(ChatBotConfig):
    base_url: str = "https://qyapi.weixin.qq.com"
    key: SecretStr = Field(description="key of the webhook address")
    msgtype: Literal["markdown", "text"] = "markdown"
    max_content_bytes: int | None = Field(default=None, ge=200, le=4096, description=(
        "Default: the documented limit, 2048 bytes for text and 4096 for markdown"))


class WeComBot(ChatBot):
    """WeCom group robot (企业微信群机器人)."""

    config_model: ClassVar[type[ConnectorConfig]] = WeComBotConfig
    vendor: ClassVar[str] = "WeCom group robot"
    config: WeComBotConfig
    errors: ClassVar[dict[int, tuple[type[ConnectorError], str]]] = {
        93000: (AuthError, "the webhook key is not valid: copy the webhook address again from "
                           "the group's robot (it may have been removed)"),
        40058: (ClientError, "a part exceeded WeCom's length limit: lower max_content_bytes"),
    }
    # 45009: more than 20 messages in a minute; the minute passes.
    retry_codes: ClassVar[dict[int, float]] = {45009: 60.0, -1: 1.0}

    def build(self, title: str, text: str, language: str) -> dict[str, Any]:
        if self.config.msgtype == "text":
            return {"msgtype": "text", "text": {"content": f"{title}\n\n{text}" if text else title}}
        return {"msgtype": "markdown",
                "markdown": {"content": f"**{title}**\n{text}" if text else f"**{title}**"}}

    def size(self, payload: dict[str, Any]) -> int:
        part = payload.get("text") or payload.get("markdown") or {}
        return len(str(part.get("content", "")).encode())

    def size_limit(self) -> int:
        documented = 2048 if self.config.msgtype == "text" else 4096
        return min(self.config.max_content_bytes or documented, documented)

    def post(self, payload: dict[str, Any]) -> requests.Response:
        return self.post_json("/cgi-bin/webhook/send", payload,
                              params={"key": self.config.key.get_secret_value()})

    def probe(self) -> dict[str, Any]:
        return {"msgtype": "text", "text": {"content": ""}}

    def retry_wait(self, code: int, message: str, attempt: int) -> float | None:
        wait = self.retry_codes.get(code)
        return wait if code == 45009 else super().retry_wait(code, message, attempt)


@hookimpl
def register_connectors(register: Callable[..., None]) -> None:
    register("feishu_bot", FeishuBot)
    register("dingtalk_bot", DingTalkBot)
    register("wecom_bot", WeComBot)
