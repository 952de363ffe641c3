"""Fixtures for the notifier tests: a fake clock, notices, faked robots, a local SMTP server."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import socketserver
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import responses
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from trainbridge.core.connector import Connector
from trainbridge.core.records import Notice, Recipient

# The timestamp of Feishu's own signed-request example (自定义机器人使用指南).
DOC_TIMESTAMP = 1_599_360_473


class FakeClock:
    """Wall clock and pause for connectors: sleeping only moves the clock."""

    def __init__(self, now: float = DOC_TIMESTAMP) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def vendor() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def make_bot(tb_instance: Callable[..., Connector], clock: FakeClock) -> Callable[..., Any]:
    """A notifier instance built from its plugins.toml table, on the fake clock."""

    def build(type_name: str, config: dict[str, Any], name: str = "hr_group") -> Any:
        conn: Any = tb_instance(type_name, config, name)
        conn.ctx.clock, conn.ctx.sleep = clock.time, clock.sleep
        return conn

    return build


@pytest.fixture
def make_notice() -> Callable[..., Notice]:
    def build(body: str = "", *, subject: str = "服务期即将结束提醒", language: str = "zh",
              notice_id: str = "notice:sp-end:E1001", recipients: tuple[Recipient, ...] = ()
              ) -> Notice:
        return Notice(id=notice_id, notice="service_period_ending", subject=subject, body=body,
                      language=language, recipients=recipients or (
                          Recipient(name="张伟", employee_id="E1001", email="zhang.wei@example.cn"),))

    return build


# --- a local SMTP server -------------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_to: list[str]
    data: bytes


@dataclass
class SmtpServer:
    """A tiny ESMTP server on 127.0.0.1: EHLO, STARTTLS, AUTH PLAIN, MAIL, RCPT, DATA, QUIT."""

    users: dict[str, str] = field(default_factory=dict)
    tls: ssl.SSLContext | None = None
    implicit_tls: bool = False
    offer_starttls: bool = True
    refuse_rcpt: set[str] = field(default_factory=set)
    data_reply: str | None = None
    messages: list[Received] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    port: int = 0

    def start(self) -> SmtpServer:
        smtp = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                smtp.serve(self.request)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                         daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def serve(self, sock: Any) -> None:
        secure = False
        if self.implicit_tls:
            assert self.tls is not None
            sock, secure = self.tls.wrap_socket(sock, server_side=True), True
        stream = sock.makefile("rwb")

        def reply(line: str) -> None:
            stream.write(line.encode() + b"\r\n")
            stream.flush()

        reply("220 mail.test ESMTP")
        mail_from, rcpts = "", []
        while raw := stream.readline():
            verb, _, arg = raw.decode().rstrip("\r\n").partition(" ")
            verb = verb.upper()
            self.commands.append(verb)
            if verb == "EHLO":
                lines = ["mail.test", "8BITMIME"]
                if self.users:
                    lines.append("AUTH PLAIN")
                if self.tls is not None and self.offer_starttls and not secure:
                    lines.append("STARTTLS")
                for i, text in enumerate(lines):
                    reply(("250 " if i == len(lines) - 1 else "250-") + text)
            elif verb == "STARTTLS" and self.tls is not None:
                reply("220 2.0.0 Ready to start TLS")
                sock, secure = self.tls.wrap_socket(sock, server_side=True), True
                stream = sock.makefile("rwb")
            elif verb == "AUTH":
                _, user, password = base64.b64decode(arg.split(" ")[1]).decode().split("\0")
                ok = self.users.get(user) == password
                reply("235 2.7.0 Authentication successful" if ok
                      else "535 5.7.8 Authentication credentials invalid")
            elif verb == "MAIL":
                mail_from, rcpts = arg.partition(":")[2].strip("<>"), []
                reply("250 2.1.0 Ok")
            elif verb == "RCPT":
                address = arg.partition(":")[2].strip("<>")
                if address in self.refuse_rcpt:
                    reply(f"550 5.1.1 <{address}>: Recipient address rejected")
                else:
                    rcpts.append(address)
                    reply("250 2.1.5 Ok")
            elif verb == "DATA":
                reply("354 End data with <CR><LF>.<CR><LF>")
                data = b""
                while (line := stream.readline()) != b".\r\n":
                    data += line[1:] if line.startswith(b"..") else line
                if self.data_reply:
                    reply(self.data_reply)
                else:
                    self.messages.append(Received(mail_from, rcpts, data))
                    reply("250 2.0.0 Ok: queued as 4QX7ZT")
            elif verb in ("RSET", "NOOP"):
                reply("250 2.0.0 Ok")
            elif verb == "QUIT":
                reply("221 2.0.0 Bye")
                break
            else:
                reply("502 5.5.2 Error: command not recognized")
        stream.close()
        sock.close()


@dataclass
class Certificates:
    ca: Path
    server: ssl.SSLContext


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """A private CA and a server certificate for 127.0.0.1, as a company relay might have."""
    folder = tmp_path_factory.mktemp("tls")
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "trainbridge test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                         critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
                critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    ca_path, cert_path, key_path = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_path, key_path)
    return Certificates(ca=ca_path, server=server)


@pytest.fixture
def smtp_server() -> Iterator[Callable[..., SmtpServer]]:
    started: list[SmtpServer] = []

    def start(**options: Any) -> SmtpServer:
        server = SmtpServer(**options).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
