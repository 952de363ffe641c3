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
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Literal

import requests
from pydantic import Field, SecretStr

from trainbridge import hookimpl
from trainbridge.core.connector import Connector, ConnectorConfig, ConnectorContext
from trainbridge.core.errors import AuthError, ClientError, ConnectorError, RateLimited
from trainbridge.core.http import REQUEST_ID_HEADERS, HttpClient, HttpSettings
from trainbridge.core.records import DeliveryReceipt, HealthResult, Notice
from trainbridge.core.secrets import register_secret

# Vendors answer refusals in the JSON body, with HTTP 200 or 400; other statuses are the
# HTTP layer's to retry (429, 5xx) and map.
_ANSWERED = frozenset({*range(200, 300), 400})
_WECOM_HINT_ID = re.compile(r"hint: \[([^\]]+)\]")


def feishu_sign(secret: str, timestamp: int) -> str:
    """Feishu/Lark custom bot signature: the key is ``"{timestamp}\\n{secret}"``, the message empty."""
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk robot signature (before URL-encoding, which the query string does)."""
    message = f"{timestamp_ms}\n{secret}".encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def split_lines(text: str, fits: Callable[[str], bool]) -> list[str]:
    """Cut ``text`` at line ends into the fewest pieces that each ``fits``.

    A single line too long for a piece is cut between characters. ``fits("")`` must hold.
    """
    pieces: list[str] = []
    current: list[str] = []
    for line in text.split("\n"):
        if fits("\n".join([*current, line])):
            current.append(line)
            continue
        if current:
            pieces.append("\n".join(current))
        while not fits(line):
            cut = _longest_prefix(line, fits)
            pieces.append(line[:cut])
            line = line[cut:]
        current = [line]
    pieces.append("\n".join(current))
    trimmed = [p.strip("\n") for p in pieces]
    return [p for p in trimmed if p] or [""]


def _longest_prefix(line: str, fits: Callable[[str], bool]) -> int:
    low, high = 1, len(line)  # one character always fits once fits("") does, or we stop
    while low < high:
        mid = (low + high + 1) // 2
        if fits(line[:mid]):
            low = mid
        else:
            high = mid - 1
    return low


def part_label(language: str, index: int, total: int) -> str:
    """The minimal framing of a split notice, in the notice's language."""
    return f"（{index}/{total}）" if _is_chinese(language) else f" ({index}/{total})"


def _is_chinese(language: str) -> bool:
    return language.lower().startswith("zh")


class SendWindow:
    """Client-side rate limit: at most ``limit`` sends in any ``period`` seconds, per rule."""

    def __init__(self, rules: Sequence[tuple[int, float]], *, clock: Callable[[], float],
                 sleep: Callable[[float], None]) -> None:
        self.rules = tuple(rules)
        self._clock, self._sleep = clock, sleep
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()
        self._longest = max((period for _, period in self.rules), default=0.0)

    def wait_time(self) -> float:
        """Seconds until one more send keeps every rule."""
        now = self._clock()
        while self._sent and self._sent[0] <= now - self._longest:
            self._sent.popleft()
        wait = 0.0
        for limit, period in self.rules:
            recent = [t for t in self._sent if t > now - period]
            if len(recent) >= limit:
                wait = max(wait, recent[-limit] + period - now)
        return wait

    def acquire(self, *, max_wait: float, instance: str) -> None:
        """Wait for a free slot and take it; a wait above ``max_wait`` raises RateLimited."""
        with self._lock:
            while (wait := self.wait_time()) > 0:
                if wait > max_wait:
                    msg = f"the robot's send limit needs a {wait:.0f} s pause"
                    raise RateLimited(msg, instance=instance, hint=(
                        f"more than http.max_wait ({max_wait:g} s): the notice stays in the outbox "
                        "and is sent on the next run"))
                self._sleep(wait)
            self._sent.append(self._clock())


class ChatBotConfig(ConnectorConfig):
    base_url: str
    messages_per_minute: int = Field(default=20, ge=1)
    max_parts: int = Field(default=20, ge=1, le=99,
                           description="Most messages one notice may be split into")
    http: HttpSettings = Field(default_factory=HttpSettings)


class ChatBot(Connector):
    """What the three robots share: splitting, the send window, answer codes and retries."""

    config: ChatBotConfig
    #: Vendor error code -> (error class, hint); codes not listed become ClientError.
    errors: ClassVar[dict[int, tuple[type[ConnectorError], str]]] = {}
    #: Vendor code -> seconds to wait before sending again (rate limits, "system busy").
    retry_codes: ClassVar[dict[int, float]] = {}

    def __init__(self, name: str, config: ConnectorConfig,
                 ctx: ConnectorContext | None = None) -> None:
        super().__init__(name, config, ctx)
        #: Replaceable in tests: the wall clock (signatures, send window) and the pause.
        self.clock: Callable[[], float] = time.time
        self.sleep: Callable[[float], None] = time.sleep
        self.window = SendWindow(self.send_rules(), clock=lambda: self.clock(),
                                 sleep=lambda s: self.sleep(s))
        self._http: HttpClient | None = None
        # Parts already posted per notice id, so a retry in the same process resumes.
        self._parts_sent: dict[str, int] = {}
        for value in vars(self.config).values():
            if isinstance(value, SecretStr):
                register_secret(value.get_secret_value())

    # --- what each vendor defines ------------------------------------------------------

    def send_rules(self) -> list[tuple[int, float]]:
        return [(self.config.messages_per_minute, 60.0)]

    def build(self, title: str, text: str, language: str) -> dict[str, Any]:
        """The message payload for one part."""
        raise NotImplementedError

    def size(self, payload: dict[str, Any]) -> int:
        """What the vendor's size limit counts, in bytes."""
        raise NotImplementedError

    def size_limit(self) -> int:
        raise NotImplementedError

    def post(self, payload: dict[str, Any]) -> requests.Response:
        raise NotImplementedError

    def probe(self) -> dict[str, Any]:
        """A message the vendor refuses as empty: proves the webhook without posting."""
        raise NotImplementedError

    def answer(self, body: dict[str, Any]) -> tuple[int, str]:
        return int(body.get("errcode", -1)), str(body.get("errmsg", ""))

    def retry_wait(self, code: int, message: str, attempt: int) -> float | None:
        wait = self.retry_codes.get(code)
        return None if wait is None else wait * 2 ** (attempt - 1)

    def credentials_refused(self, code: int, message: str) -> bool:
        return self.errors.get(code, (ClientError, ""))[0] is AuthError

    # --- hooks -----------------------------------------------------------------------------

    @hookimpl
    def send_notice(self, notice: Notice) -> DeliveryReceipt:
        payloads = self.payloads(notice)
        done = self._parts_sent.get(notice.id, 0)
        for number, payload in enumerate(payloads, 1):
            if number <= done:
                continue
            self.deliver(payload)
            self._parts_sent[notice.id] = number
        self._parts_sent.pop(notice.id, None)
        parts = f"{len(payloads)} messages" if len(payloads) > 1 else "1 message"
        return DeliveryReceipt(ref=notice.id, detail=f"{parts} posted to the group")

    @hookimpl
    def healthcheck(self) -> HealthResult:
        self.window.acquire(max_wait=self.config.http.max_wait, instance=self.name)
        resp = self.post(self.probe())
        code, message = self.answer(self._json(resp))
        if self.credentials_refused(code, message):
            hint = self.errors.get(code, (AuthError, ""))[1]
            return HealthResult(ok=False, detail=f"{self.vendor} refused the webhook: {code} "
                                                 f"{message}; {hint}")
        return HealthResult(ok=True, detail=(
            f"webhook accepted the credentials (an empty probe, answered {code} {message}; "
            "nothing was posted)"))

    # --- shared machinery --------------------------------------------------------------------

    def payloads(self, notice: Notice) -> list[dict[str, Any]]:
        """The notice as messages that each fit the vendor's size limit."""
        subject, language, limit = " ".join(notice.subject.split()), notice.language, \
            self.size_limit()
        whole = self.build(subject, notice.body, language)
        if self.size(whole) <= limit:
            return [whole]
        widest = subject + part_label(language, self.config.max_parts, self.config.max_parts)

        def fits(text: str) -> bool:
            return self.size(self.build(widest, text, language)) <= limit

        if not fits(""):
            msg = f"notice {notice.id}: the subject alone exceeds the {limit}-byte message limit"
            raise ClientError(msg, instance=self.name, hint="shorten the notice template's subject")
        chunks = split_lines(notice.body, fits)
        if len(chunks) > self.config.max_parts:
            msg = f"notice {notice.id} needs {len(chunks)} messages, more than max_parts"
            raise ClientError(msg, instance=self.name, hint=(
                f"raise max_parts ({self.config.max_parts}) in [connectors.{self.name}], or send "
                "long lists by email"))
        total = len(chunks)
        return [self.build(subject + part_label(language, i, total), chunk, language)
                for i, chunk in enumerate(chunks, 1)]

    def deliver(self, payload: dict[str, Any]) -> None:
        """Post one message; wait and repeat on the vendor's rate-limit codes."""
        settings = self.config.http
        for attempt in range(1, settings.max_attempts + 1):
            self.window.acquire(max_wait=settings.max_wait, instance=self.name)
            resp = self.post(payload)
            body = self._json(resp)
            code, message = self.answer(body)
            if code == 0:
                return
            request_id = self._request_id(resp, body)
            wait = self.retry_wait(code, message, attempt)
            if wait is None:
                cls, hint = self.errors.get(code, (ClientError, "the vendor's message says why"))
                raise cls(f"{self.vendor} refused the message: {code} {message}",
                          instance=self.name, request_id=request_id, status=resp.status_code,
                          hint=hint)
            if wait > settings.max_wait or attempt == settings.max_attempts:
                raise RateLimited(
                    f"{self.vendor} is limiting this robot: {code} {message}", instance=self.name,
                    request_id=request_id, status=resp.status_code, hint=(
                        f"{attempt} attempt(s); the next would need a {wait:.0f} s pause "
                        f"(http.max_wait is {settings.max_wait:g} s): the notice stays in the "
                        "outbox for the next run; check nothing else posts through this robot"))
            self.log.info("%s: %s answered %d %s, sending again in %.0f s", self.name,
                          self.vendor, code, message, wait)
            self.sleep(wait)

    @property
    def http(self) -> HttpClient:
        if self._http is None:
            self._http = self.ctx.http(self.config.base_url, instance=self.name,
                                       settings=self.config.http, sleep=lambda s: self.sleep(s))
        return self._http

    def post_json(self, url: str, payload: dict[str, Any], *,
                  params: dict[str, Any] | None = None) -> requests.Response:
        # Retried on 429/5xx and network errors: the vendor did not take the message then,
        # and a rare duplicate reminder is better than a lost one.
        return self.http.post(url, params=params, data=encode(payload), idempotent=True,
                              headers={"Content-Type": "application/json; charset=utf-8"},
                              ok=_ANSWERED)

    def _json(self, resp: requests.Response) -> dict[str, Any]:
        try:
            body = resp.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            msg = f"{self.vendor} answered HTTP {resp.status_code} without a JSON object"
            raise ConnectorError(msg, instance=self.name, status=resp.status_code, hint=(
                f"check base_url of [connectors.{self.name}]: a proxy may be answering"))
        return body

    def _request_id(self, resp: requests.Response, body: dict[str, Any]) -> str | None:
        for header in REQUEST_ID_HEADERS:
            if header in resp.headers:
                return str(resp.headers[header])
        if body.get("request_id"):
            return str(body["request_id"])
        found = _WECOM_HINT_ID.search(str(body.get("errmsg", "")))
        return found.group(1) if found else None


def encode(payload: dict[str, Any]) -> bytes:
    """The request body exactly as sent (and as measured against size limits)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


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
        ts = int(self.clock()) if timestamp is None else timestamp
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
            timestamp = int(self.clock() * 1000)
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
