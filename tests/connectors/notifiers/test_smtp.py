"""SMTP email against a small ESMTP server started on 127.0.0.1 (see conftest.py)."""

from __future__ import annotations

import email
import email.policy
import socket

import pytest

from trainbridge.core.errors import AuthError, ClientError, ConnectorError, ServerError
from trainbridge.core.records import Recipient

HR = Recipient(name="人力资源部", email="hr@example.cn", role="hr")
ZHANG = Recipient(name="张伟", employee_id="E1001", email="zhang.wei@example.cn")
NO_MAIL = Recipient(name="李娜", employee_id="E1002")


def parse(data: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(data, policy=email.policy.default)


def test_a_chinese_notice_arrives_as_one_utf8_email_to_every_recipient_with_an_address(
        tb_instance, smtp_server, make_notice) -> None:
    server = smtp_server()
    notifier = tb_instance("smtp", {"host": "127.0.0.1", "port": server.port, "security": "none",
                                    "from_address": "training@example.cn",
                                    "from_name": "培训管理"})
    notice = make_notice("张伟：您的培训服务期将于 2025-06-30 结束。\n违约金按未履行月数递减。",
                         recipients=(ZHANG, HR, NO_MAIL))

    receipt = notifier.send_notice(notice)

    [received] = server.messages
    assert received.mail_from == "training@example.cn"
    assert received.rcpt_to == ["zhang.wei@example.cn", "hr@example.cn"]
    msg = parse(received.data)
    assert msg["Subject"] == "服务期即将结束提醒"
    assert msg["To"].addresses[0].display_name == "张伟"
    assert [a.addr_spec for a in msg["To"].addresses] == ["zhang.wei@example.cn", "hr@example.cn"]
    assert msg["From"].addresses[0].display_name == "培训管理"
    assert msg["Content-Language"] == "zh"
    assert msg.get_content_charset() == "utf-8"
    assert msg.get_content() == ("张伟：您的培训服务期将于 2025-06-30 结束。\n"
                                 "违约金按未履行月数递减。\n")
    assert receipt.ref == msg["Message-ID"]
    assert "sent to 2 recipient(s)" in receipt.detail
    assert "1 recipient(s) without an email address skipped" in receipt.detail


def test_a_resent_notice_carries_the_same_message_id(tb_instance, smtp_server,
                                                     make_notice) -> None:
    server = smtp_server()
    notifier = tb_instance("smtp", {"host": "127.0.0.1", "port": server.port, "security": "none",
                                    "from_address": "training@example.cn"})

    first = notifier.send_notice(make_notice("x"))
    again = notifier.send_notice(make_notice("x"))
    other = notifier.send_notice(make_notice("x", notice_id="notice:sp-end:E1002"))

    ids = [parse(m.data)["Message-ID"] for m in server.messages]
    assert ids[0] == ids[1] == first.ref == again.ref
    assert ids[2] == other.ref != ids[0]
    assert ids[0].startswith("<notice.") and ids[0].endswith("@example.cn>")
    assert parse(server.messages[0].data)["X-Trainbridge-Notice-Id"] == "notice:sp-end:E1001"


def test_starttls_with_a_private_ca_and_a_login(tb_instance, smtp_server, certificates,
                                                make_notice) -> None:
    server = smtp_server(tls=certificates.server, users={"training": "s3cret-pass"})
    notifier = tb_instance("smtp", {"host": "127.0.0.1", "port": server.port,
                                    "username": "training", "password": "s3cret-pass",
                                    "from_address": "training@example.cn",
                                    "tls_verify": str(certificates.ca)})

    notifier.send_notice(make_notice("Service period ends 2025-06-30.", language="en",
                                     subject="Service period ending"))

    assert server.commands[:5] == ["EHLO", "STARTTLS", "EHLO", "AUTH", "MAIL"]
    assert parse(server.messages[0].data)["Subject"] == "Service period ending"


def test_implicit_tls_on_an_ssl_port(tb_instance, smtp_server, certificates,
                                     make_notice) -> None:
    server = smtp_server(tls=certificates.server, implicit_tls=True)
    notifier = tb_instance("smtp", {"host": "127.0.0.1", "port": server.port, "security": "ssl",
                                    "from_address": "training@example.cn",
                                    "tls_verify": str(certificates.ca)})

    notifier.send_notice(make_notice("x"))

    assert len(server.messages) == 1


def test_an_untrusted_certificate_is_refused(tb_instance, smtp_server, certificates,
                                             make_notice) -> None:
    server = smtp_server(tls=certificates.server)
    notifier = tb_instance("smtp", {"host": "127.0.0.1", "port": server.port,
                                    "from_address": "training@example.cn"})

    with pytest.raises(ConnectorError, match="TLS") as caught:
        notifier.send_notice(make_notice("x"))

    assert "tls_verify" in caught.value.hint
    assert server.messages == []


def test_a_server_without_starttls_is_not_used_in_clear(tb_instance, smtp_server,
                                                        make_notice) -> None:
    server = smtp_server()
    notifier = tb_instance("smtp", {"host": "127.0.0.1", "port": server.port,
                                    "from_address": "training@example.cn"})

    with pytest.raises(ConnectorError, match="STARTTLS"):
        notifier.send_notice(make_notice("x"))

    assert "MAIL" not in server.commands


def test_a_wrong_password_is_an_auth_error_and_the_password_stays_out_of_it(
        tb_instance, smtp_server, certificates, make_notice) -> None:
    server = smtp_server(tls=certificates.server, users={"training": "right"})
    notifier = tb_instance("smtp", {"host": "127.0.0.1", "port": server.port,
                                    "username": "training", "password": "wrong-password",
                                    "from_address": "training@example.cn",
                                    "tls_verify": str(certificates.ca)})

    with pytest.raises(AuthError, match="535") as caught:
        notifier.send_notice(make_notice("x"))

    assert "wrong-password" not in str(caught.value)
    health = notifier.healthcheck()
    assert not health.ok and "535" in health.detail


def test_healthcheck_connects_greets_logs_in_and_quits(tb_instance, smtp_server,
                                                       certificates) -> None:
    server = smtp_server(tls=certificates.server, users={"training": "s3cret-pass"})
    notifier = tb_instance("smtp", {"host": "127.0.0.1", "port": server.port,
                                    "username": "training", "password": "s3cret-pass",
                                    "from_address": "training@example.cn",
                                    "tls_verify": str(certificates.ca)})

    health = notifier.healthcheck()

    assert health.ok, health.detail
    assert "login as training accepted" in health.detail
    assert server.commands == ["EHLO", "STARTTLS", "EHLO", "AUTH", "QUIT"]
    assert server.messages == []


def test_one_refused_recipient_is_noted_and_the_rest_receive_it(tb_instance, smtp_server,
                                                                make_notice) -> None:
    server = smtp_server(refuse_rcpt={"hr@example.cn"})
    notifier = tb_instance("smtp", {"host": "127.0.0.1", "port": server.port, "security": "none",
                                    "from_address": "training@example.cn"})

    receipt = notifier.send_notice(make_notice("x", recipients=(ZHANG, HR)))

    assert server.messages[0].rcpt_to == ["zhang.wei@example.cn"]
    assert "refused: hr@example.cn (550)" in receipt.detail


def test_every_recipient_refused_is_a_client_error(tb_instance, smtp_server,
                                                   make_notice) -> None:
    server = smtp_server(refuse_rcpt={"zhang.wei@example.cn"})
    notifier = tb_instance("smtp", {"host": "127.0.0.1", "port": server.port, "security": "none",
                                    "from_address": "training@example.cn"})

    with pytest.raises(ClientError, match="zhang.wei@example.cn"):
        notifier.send_notice(make_notice("x"))


def test_a_temporary_refusal_is_a_server_error_for_the_outbox_to_retry(
        tb_instance, smtp_server, make_notice) -> None:
    server = smtp_server(data_reply="451 4.3.0 Temporary lookup failure")
    notifier = tb_instance("smtp", {"host": "127.0.0.1", "port": server.port, "security": "none",
                                    "from_address": "training@example.cn"})

    with pytest.raises(ServerError, match="451"):
        notifier.send_notice(make_notice("x"))


def test_no_recipient_with_an_email_skips_without_connecting(tb_instance, make_notice) -> None:
    notifier = tb_instance("smtp", {"host": "mail.invalid", "from_address": "training@example.cn"})

    receipt = notifier.send_notice(make_notice("x", recipients=(NO_MAIL,)))

    assert receipt.status == "skipped"


def test_an_unreachable_server_names_what_to_check(tb_instance, make_notice) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    notifier = tb_instance("smtp", {"host": "127.0.0.1", "port": port, "security": "none",
                                    "from_address": "training@example.cn", "timeout": 5})

    with pytest.raises(ConnectorError) as caught:
        notifier.send_notice(make_notice("x"))

    assert "host, port and security" in caught.value.hint


def test_a_login_needs_both_username_and_password(tb_instance) -> None:
    with pytest.raises(ValueError, match="username and password go together"):
        tb_instance("smtp", {"host": "mail.example.cn", "username": "training",
                             "from_address": "training@example.cn"})
