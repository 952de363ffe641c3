"""What every group-chat robot shares: cutting long notices, a send window, posting and answers.

The vendors (Feishu/Lark, DingTalk, WeCom) are in :mod:`trainbridge.connectors.chatbots`.
"""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

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
        # The context's clock and sleep (signatures, the send window, waits between attempts).
        self.window = SendWindow(self.send_rules(), clock=lambda: self.ctx.clock(),
                                 sleep=lambda s: self.ctx.sleep(s))
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
        """Post one message; wait and repeat on the vendor's rate-limit codes.

        The client retries 429, 5xx and lost connections itself; this loop is for the codes a
        robot answers with HTTP 200 ("sending too fast"), and re-enters the group's send window
        before each attempt, which a retry inside the client could not."""
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
            self.ctx.sleep(wait)

    @property
    def http(self) -> HttpClient:
        if self._http is None:
            self._http = self.ctx.http(self.config.base_url, instance=self.name,
                                       settings=self.config.http)
        return self._http

    def post_json(self, url: str, payload: dict[str, Any], *,
                  params: dict[str, Any] | None = None) -> requests.Response:
        # Retried on 429/5xx and network errors: the vendor did not take the message then,
        # and a rare duplicate reminder is better than a lost one.
        return self.http.post(url, params=params, data=encode(payload), idempotent=True,
                              headers={"Content-Type": "application/json; charset=utf-8"},
                              ok=_ANSWERED)

    def _json(self, resp: requests.Response) -> dict[str, Any]:
        return self.http.json_object(resp)

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
