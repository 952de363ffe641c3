"""DocuSign faked with ``responses``; payloads in fixtures/ follow DocuSign's published shapes.

Field names from the official ``docusign-esign-python-client`` models (EnvelopeSummary,
Envelope, Recipients, Signer, CustomFieldsEnvelope, TextCustomField, EnvelopesInformation,
AccountInformation) and the Connect JSON SIM shape in ``connect.schema-v2.json`` of
github.com/docusign/OpenAPI-Specifications; the token answer and the ``consent_required``
error from the JWT grant guide (developers.docusign.com/platform/auth/jwt); error bodies
``{"errorCode", "message"}`` from the eSignature error-codes page.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from trainbridge.connectors.docusign import DocusignConnector
from trainbridge.core.connector import ConnectorContext
from trainbridge.core.records import Agreement
from trainbridge.testing import Clock

FIXTURES = Path(__file__).parent / "fixtures"
ACCOUNT_ID = "2b1c0a7e-5f11-4d6b-8a0e-7e4d2c9b1f00"
BASE_URI = "https://demo.docusign.net/restapi"
API = f"{BASE_URI}/v2.1/accounts/{ACCOUNT_ID}"
ENVELOPE_ID = "93be49ab-b0f2-4c7e-9a35-4a1f0e1b8c21"
TOKEN_URL = "https://account-d.docusign.com/oauth/token"
ACCESS_TOKEN = "eyJ0eXAiOiJNVCIsImFsZyI6IlJTMjU2In0.static-test-token"
INTEGRATION_KEY = "7c2b8d7e-83c3-4940-af5e-cda8a50dd73f"
USER_ID = "0b6a0f5c-7a44-4f0e-9c6b-3d6c2f1e9a01"
HMAC_KEY = "ZHVtbXktaG1hYy1rZXktZm9yLXRyYWluYnJpZGdlLXRlc3Rz"
# 2024-06-02T09:00:00Z, half an hour after the fixtures' envelope completed.
NOW = 1_717_318_800.0
PDF = b"%PDF-1.7\n% training agreement for lms:agr-7\n%%EOF\n"
SIGNED_PDF = b"%PDF-1.7\n% signed by zhang.wei and DocuSign\n%%EOF\n"
CERTIFICATE_PDF = b"%PDF-1.7\n% certificate of completion\n%%EOF\n"


def payload(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def agreement(agreement_id: str = "lms:agr-7", **overrides: Any) -> Agreement:
    return Agreement(id=agreement_id, source="lms", employee_id="E007", program_id="P-LEAN",
                     template_id="training-v1", template_version="3",
                     service_start=date(2024, 7, 1), service_months=24,
                     service_end=date(2026, 7, 1), **overrides)


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def rsa_pem(rsa_key: rsa.RSAPrivateKey) -> str:
    return rsa_key.private_bytes(serialization.Encoding.PEM,
                                 serialization.PrivateFormat.TraditionalOpenSSL,
                                 serialization.NoEncryption()).decode()


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
def make_docusign(tmp_path: Path, clock: Clock) -> Callable[..., DocusignConnector]:
    """An instance on the demo environment at NOW; its waits are ``clock.sleeps``."""

    def build(**overrides: Any) -> DocusignConnector:
        table = {"account_id": ACCOUNT_ID, "base_uri": BASE_URI, "access_token": ACCESS_TOKEN,
                 "hmac_keys": [HMAC_KEY],
                 "http": {"backoff_base": 0, "backoff_max": 0, "max_attempts": 3}, **overrides}
        table = {k: v for k, v in table.items() if v is not None}
        conn = DocusignConnector.from_mapping("ds", table, ConnectorContext(base_dir=tmp_path))
        assert isinstance(conn, DocusignConnector)
        return conn

    return build


@pytest.fixture
def docusign(make_docusign: Callable[..., DocusignConnector]) -> DocusignConnector:
    return make_docusign()


@pytest.fixture
def jwt_docusign(make_docusign: Callable[..., DocusignConnector],
                 rsa_pem: str) -> DocusignConnector:
    return make_docusign(access_token=None, integration_key=INTEGRATION_KEY, user_id=USER_ID,
                         private_key=rsa_pem)
