"""Email notices through any SMTP server, with the standard library (smtplib, email).

One message per notice, to every recipient that has an email address. Its Message-ID is
derived from the notice id, so a re-sent notice carries the same id and mail clients and
archives recognise it as the same message. Supports implicit TLS (``ssl``, port 465),
STARTTLS (port 587) and plain connections (a relay on a trusted network, or tests).
"""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from collections.abc import Callable, Sequence
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate
from typing import ClassVar, Literal, Self

from pydantic import Field, SecretStr, model_validator

from trainbridge import hookimpl
from trainbridge.core.connector import Connector, ConnectorConfig, ConnectorContext
from trainbridge.core.errors import AuthError, ClientError, ConnectorError, ServerError
from trainbridge.core.records import DeliveryReceipt, HealthResult, Notice, Recipient
from trainbridge.core.secrets import register_secret

_DEFAULT_PORTS = {"ssl": 465, "starttls": 587, "none": 25}


class SmtpConfig(ConnectorConfig):
    host: str
    port: int | None = Field(default=None, ge=1, le=65535,
                             description="Default: 465 for ssl, 587 for starttls, 25 for none")
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    from_address: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    from_name: str = ""
    reply_to: str | None = None
    timeout: float = Field(default=30.0, gt=0)
    tls_verify: bool | str = Field(default=True,
                                   description="false, or a CA bundle path for a private CA")
    local_hostname: str | None = Field(default=None, description="The name we give in EHLO")

    @model_validator(mode="after")
    def _login_is_complete(self) -> Self:
        if (self.username is None) != (self.password is None):
            msg = "username and password go together: give both, or neither for no login"
            raise ValueError(msg)
        return self


def notice_message_id(notice_id: str, domain: str) -> str:
    """The Message-ID of a notice's email: the same notice always gets the same one."""
    digest = hashlib.sha256(notice_id.encode()).hexdigest()[:32]
    return f"<notice.{digest}@{domain}>"


def build_message(notice: Notice, recipients: Sequence[Recipient], *, from_address: str,
                  from_name: str = "", reply_to: str | None = None) -> EmailMessage:
    """The notice as a plain-text UTF-8 email in its own language; nothing added to the body."""
    msg = EmailMessage()
    msg["Subject"] = " ".join(notice.subject.split())  # a header is one line
    msg["From"] = Address(display_name=from_name, addr_spec=from_address)
    msg["To"] = [Address(display_name=r.name, addr_spec=r.email or "") for r in recipients]
    if reply_to:
        msg["Reply-To"] = reply_to
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = notice_message_id(notice.id, from_address.rpartition("@")[2])
    msg["X-Trainbridge-Notice"] = notice.notice
    msg["X-Trainbridge-Notice-Id"] = notice.id
    # base64 travels through servers without 8BITMIME; the body may be all Chinese.
    msg.set_content(notice.body, charset="utf-8", cte="base64")
    msg["Content-Language"] = notice.language  # after set_content, which resets Content-*
    return msg


class SmtpNotifier(Connector):
    """Sends each notice as one email to its recipients with an email address."""

    config_model: ClassVar[type[ConnectorConfig]] = SmtpConfig
    vendor: ClassVar[str] = "SMTP email"
    config: SmtpConfig

    def __init__(self, name: str, config: ConnectorConfig,
                 ctx: ConnectorContext | None = None) -> None:
        super().__init__(name, config, ctx)
        if self.config.password is not None:
            register_secret(self.config.password.get_secret_value())
        #: Replaceable in tests.
        self.connect: Callable[[], smtplib.SMTP] = self._connect

    @property
    def port(self) -> int:
        return self.config.port or _DEFAULT_PORTS[self.config.security]

    @hookimpl
    def send_notice(self, notice: Notice) -> DeliveryReceipt:
        cfg = self.config
        to = [r for r in notice.recipients if r.email]
        without = len(notice.recipients) - len(to)
        message_id = notice_message_id(notice.id, cfg.from_address.rpartition("@")[2])
        if not to:
            return DeliveryReceipt(ref=message_id, status="skipped",
                                   detail="no recipient has an email address")
        try:
            msg = build_message(notice, to, from_address=cfg.from_address,
                                from_name=cfg.from_name, reply_to=cfg.reply_to)
        except (ValueError, HeaderParseError) as exc:  # an address the email package refuses
            raise ClientError(f"notice {notice.id}: {exc}", instance=self.name,
                              hint="check the recipients' email addresses") from None
        with self._session("send") as smtp:
            try:
                refused = smtp.send_message(msg, from_addr=cfg.from_address,
                                            to_addrs=[r.email or "" for r in to])
            except (smtplib.SMTPException, OSError) as exc:
                raise self._error(exc, "send") from None
        notes = [f"sent to {len(to) - len(refused)} recipient(s)"]
        if refused:
            notes.append("refused: " + ", ".join(f"{a} ({c})" for a, (c, _) in refused.items()))
        if without:
            notes.append(f"{without} recipient(s) without an email address skipped")
        return DeliveryReceipt(ref=message_id, detail="; ".join(notes))

    @hookimpl
    def healthcheck(self) -> HealthResult:
        try:
            with self._session("check"):
                pass
        except AuthError as exc:
            return HealthResult(ok=False, detail=exc.message)
        login = f"login as {self.config.username} accepted" if self.config.username else "no login"
        return HealthResult(ok=True, detail=f"{self.config.host}:{self.port} answered; {login}")

    def _tls(self) -> ssl.SSLContext:
        verify = self.config.tls_verify
        context = ssl.create_default_context(cafile=verify if isinstance(verify, str) else None)
        if verify is False:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def _connect(self) -> smtplib.SMTP:
        cfg = self.config
        if cfg.security == "ssl":
            return smtplib.SMTP_SSL(cfg.host, self.port, local_hostname=cfg.local_hostname,
                                    timeout=cfg.timeout, context=self._tls())
        return smtplib.SMTP(cfg.host, self.port, local_hostname=cfg.local_hostname,
                            timeout=cfg.timeout)

    def _session(self, action: str) -> _Session:
        return _Session(self, action)

    def _error(self, exc: BaseException, action: str) -> ConnectorError:
        """An smtplib or socket failure as one of our errors, with what to check."""
        where = f"{self.config.host}:{self.port}"
        table = f"[connectors.{self.name}]"
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            return AuthError(f"{where} refused the login: {_reply(exc)}", instance=self.name,
                             hint=f"check username and password in {table}; some providers "
                                  "need an app password or SMTP enabled for the mailbox")
        if isinstance(exc, smtplib.SMTPNotSupportedError):
            return ConnectorError(f"{where}: {exc}", instance=self.name, hint=(
                f"the server does not offer this: set security (ssl, starttls, none) in {table} "
                "to what it supports"))
        if isinstance(exc, smtplib.SMTPSenderRefused):
            return ClientError(f"{where} refused the sender {exc.sender}: {_reply(exc)}",
                               instance=self.name, hint=(
                                   f"from_address in {table} must be a mailbox the login may "
                                   "send as"))
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            refused = ", ".join(f"{a} ({c})" for a, (c, _) in exc.recipients.items())
            return ClientError(f"{where} refused every recipient: {refused}", instance=self.name,
                               hint="check the recipients' email addresses")
        if isinstance(exc, smtplib.SMTPResponseException):
            cls = ServerError if 400 <= exc.smtp_code < 500 else ClientError
            return cls(f"{where} answered {action}: {_reply(exc)}", instance=self.name, hint=(
                "a 4xx answer is temporary: the outbox tries again" if cls is ServerError
                else "the server refused the message: its answer says why"))
        if isinstance(exc, ssl.SSLError):
            return ConnectorError(f"TLS with {where} failed: {exc}", instance=self.name, hint=(
                f"check security and port in {table}; for a private CA give tls_verify the "
                "CA bundle's path"))
        return ConnectorError(f"{action} through {where} failed: {exc}", instance=self.name, hint=(
            f"check host, port and security in {table} and that this machine may reach it; "
            f"timeout is {self.config.timeout:g} s"))


class _Session:
    """An SMTP connection, greeted, upgraded to TLS when configured, and logged in."""

    def __init__(self, notifier: SmtpNotifier, action: str) -> None:
        self.notifier, self.action = notifier, action
        self.smtp: smtplib.SMTP | None = None

    def __enter__(self) -> smtplib.SMTP:
        n, cfg = self.notifier, self.notifier.config
        try:
            self.smtp = smtp = n.connect()
            smtp.ehlo()
            if cfg.security == "starttls":
                if not smtp.has_extn("starttls"):
                    msg = "the server does not offer STARTTLS"
                    raise smtplib.SMTPNotSupportedError(msg)
                smtp.starttls(context=n._tls())
                smtp.ehlo()
            if cfg.username is not None and cfg.password is not None:
                smtp.login(cfg.username, cfg.password.get_secret_value())
        except (smtplib.SMTPException, OSError) as exc:
            self._close()
            raise n._error(exc, self.action) from None
        return smtp

    def __exit__(self, *exc_info: object) -> None:
        self._close()

    def _close(self) -> None:
        if self.smtp is None:
            return
        try:
            self.smtp.quit()
        except (smtplib.SMTPException, OSError):
            self.smtp.close()
        self.smtp = None


def _reply(exc: smtplib.SMTPResponseException) -> str:
    text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) \
        else str(exc.smtp_error)
    return f"{exc.smtp_code} {' '.join(text.split())}"


@hookimpl
def register_connectors(register: Callable[..., None]) -> None:
    register("smtp", SmtpNotifier)
