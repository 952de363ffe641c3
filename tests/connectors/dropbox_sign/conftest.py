"""Dropbox Sign faked with ``responses``; fixtures/ are copied from the vendor unchanged.

``*Response.json`` and ``EventCallbackAccountSignatureRequestSent.json``: the examples of
github.com/hellosign/hellosign-openapi (``examples/json/``), the source of the official
SDKs and the API reference. ``EventCallbackHelper_*Callbacks.json``: that repository's
``test_fixtures/``, the published callback vectors the SDKs' ``EventCallbackHelper`` tests
check with the API key ``SDK_API_KEY``. Tests adjust ids and metadata in code, not in files.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
import responses

from trainbridge.connectors.dropbox_sign import DropboxSignConnector
from trainbridge.core.connector import ConnectorContext
from trainbridge.core.records import Agreement
from trainbridge.testing import Clock

FIXTURES = Path(__file__).parent / "fixtures"
BASE = "https://api.hellosign.com/v3"
API_KEY = "c4a1e6f0b2d94e7f8a3b5c6d7e8f9012a3b4c5d6e7f8091a2b3c4d5e6f708192"
SDK_API_KEY = "324e3b0840f065eb51f3fd63231d0d33daa35d4ed10d27718839e81737065782"
REQUEST_ID = "2b388914e3ae3b738bd4e2ee2850c677e6dc53d2"
# 2024-06-02T09:00:00Z
NOW = 1_717_318_800.0
PDF = b"%PDF-1.7\n% training agreement for lms:agr-7\n%%EOF\n"
SIGNED_PDF = b"%PDF-1.7\n% signed, with the Dropbox Sign audit trail\n%%EOF\n"


def payload(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def agreement(agreement_id: str = "lms:agr-7", **overrides: Any) -> Agreement:
    return Agreement(id=agreement_id, source="lms", employee_id="E007", program_id="P-LEAN",
                     template_id="training-v1", template_version="3",
                     service_start=date(2024, 7, 1), service_months=24,
                     service_end=date(2026, 7, 1), **overrides)


def ours(name: str, *, agreement_id: str = "lms:agr-7", **changes: Any) -> dict[str, Any]:
    """A vendor example answer, as if it were the request we sent for ``agreement_id``."""
    answer = payload(name)
    request = answer["signature_request"]
    request["metadata"] = {"trainbridge_agreement_id": agreement_id}
    request.update(changes)
    return answer


def form_fields(body: bytes, content_type: str) -> dict[str, Any]:
    """The parts of a multipart body: text values, and (filename, bytes) for files."""
    message = BytesParser(policy=policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        data = part.get_payload(decode=True)
        filename = part.get_filename()
        fields[str(name)] = (filename, data) if filename else data.decode()
    return fields


def multipart_callback(event: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    """A callback POST as Dropbox Sign makes it: multipart/form-data with a ``json`` field."""
    boundary = f"----dropboxsign{uuid.UUID(int=7).hex}"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"json\"\r\n\r\n"
            f"{json.dumps(event)}\r\n--{boundary}--\r\n").encode()
    return {"Content-Type": f"multipart/form-data; boundary={boundary}",
            "User-Agent": "HelloSign API"}, body


@pytest.fixture
def fake() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def clock(tb_clock: Clock) -> Clock:
    """The kit's clock, at NOW: every context's ``clock``, and its ``sleep`` records the waits."""
    tb_clock.current = datetime.fromtimestamp(NOW, tz=UTC)
    return tb_clock


@pytest.fixture
def make_dropbox_sign(tmp_path: Path, clock: Clock) -> Callable[..., DropboxSignConnector]:
    """An instance in test mode at NOW; its waits are ``clock.sleeps``."""

    def build(**overrides: Any) -> DropboxSignConnector:
        table = {"api_key": API_KEY, "test_mode": True,
                 "http": {"backoff_base": 0, "backoff_max": 0, "max_attempts": 3}, **overrides}
        conn = DropboxSignConnector.from_mapping("dbs", table, ConnectorContext(base_dir=tmp_path))
        assert isinstance(conn, DropboxSignConnector)
        return conn

    return build


@pytest.fixture
def dropbox_sign(make_dropbox_sign: Callable[..., DropboxSignConnector]) -> DropboxSignConnector:
    return make_dropbox_sign()
