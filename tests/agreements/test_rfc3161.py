"""The ``rfc3161`` evidence connector against a TSA built with ``openssl ts`` in the test (A3).

A CA and a TSA certificate (extended key usage timeStamping) are made with ``openssl``
in tmp_path; a small HTTP server on 127.0.0.1 answers each TimeStampReq by running
``openssl ts -reply``, as a TSA does (RFC 3161 section 3.4, ``application/timestamp-query``
in, ``application/timestamp-reply`` out).
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from asn1crypto import tsp

from trainbridge.connectors.rfc3161 import LocalTsa, Rfc3161, TimeStampResp
from trainbridge.core.connector import ConnectorContext
from trainbridge.core.errors import ConnectorError
from trainbridge.testing import check_connector

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")

TS_CONFIG = """
[ tsa ]
default_tsa = tsa_config1

[ tsa_config1 ]
dir = {dir}
serial = $dir/tsaserial
crypto_device = builtin
signer_cert = $dir/tsa.crt
certs = $dir/ca.crt
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
other_policies = 1.2.3.4.5.6
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""
SIGNED_PDF = b"%PDF-1.7 signed agreement of E001 \xe5\xbc\xa0\xe4\xbc\x9f"


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@dataclass
class OpensslTsa:
    url: str
    folder: Path
    queries: list[dict[str, object]] = field(default_factory=list)
    refuse: bool = False


def make_pki(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
            "-days", "30", "-subj", "/CN=Test TSA Root", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=folder)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "tsa.key", "-out", "tsa.csr",
            "-subj", "/CN=Test TSA", cwd=folder)
    (folder / "ext.cnf").write_text("basicConstraints=CA:FALSE\nextendedKeyUsage=critical,timeStamping\n")
    openssl("x509", "-req", "-in", "tsa.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "tsa.crt", "-days", "30", "-extfile", "ext.cnf", cwd=folder)
    (folder / "tsaserial").write_text("01\n")
    (folder / "ts.cnf").write_text(TS_CONFIG.format(dir=folder))


@pytest.fixture
def openssl_tsa(tmp_path: Path) -> Iterator[OpensslTsa]:
    folder = tmp_path / "tsa-pki"
    make_pki(folder)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            tsa.queries.append({"path": self.path, "headers": dict(self.headers), "body": body})
            if tsa.refuse:
                answer = TimeStampResp({"status": {"status": "rejection", "status_string": ["bad policy"],
                                                   "fail_info": {"unaccepted_policy"}}}).dump()
            else:
                with lock:
                    (folder / "q.tsq").write_bytes(body)
                    openssl("ts", "-reply", "-config", "ts.cnf", "-queryfile", "q.tsq", "-out", "r.tsr",
                            cwd=folder)
                    answer = (folder / "r.tsr").read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    tsa = OpensslTsa(url=f"http://127.0.0.1:{server.server_address[1]}/tsr", folder=folder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield tsa
    server.shutdown()
    server.server_close()


def connector(tmp_path: Path, tsa: OpensslTsa, **extra: object) -> Rfc3161:
    table = {"url": tsa.url, "tsa_ca": str(tsa.folder / "ca.crt"), "username": "acme",
             "password": "tsa-pass-123", "http": {"max_attempts": 1}, **extra}
    built = Rfc3161.from_mapping("tsa", table, ConnectorContext(base_dir=tmp_path))
    assert isinstance(built, Rfc3161)
    return built


def test_deposit_sends_a_timestamp_query_over_the_documents_sha256(tmp_path, openssl_tsa):
    digest = hashlib.sha256(SIGNED_PDF).hexdigest()
    tsa = connector(tmp_path, openssl_tsa)
    receipt = tsa.deposit_evidence(digest, {"agreement_id": "agreement:lms:S1-E001"})
    [query] = openssl_tsa.queries
    headers = query["headers"]
    assert query["path"] == "/tsr" and headers["Content-Type"] == "application/timestamp-query"
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"acme:tsa-pass-123").decode()
    request = tsp.TimeStampReq.load(query["body"])
    assert request["message_imprint"]["hash_algorithm"]["algorithm"].native == "sha256"
    assert request["message_imprint"]["hashed_message"].native == bytes.fromhex(digest)
    assert request["cert_req"].native is True and request["nonce"].native
    assert receipt.agreement_id == "agreement:lms:S1-E001" and receipt.digest == digest
    assert receipt.id == f"tsa:agreement:lms:S1-E001:{digest[:16]}" and "CN=Test TSA" in receipt.receipt_id


def test_a_token_from_the_openssl_tsa_verifies(tmp_path, openssl_tsa):
    tsa = connector(tmp_path, openssl_tsa)
    digest = hashlib.sha256(SIGNED_PDF).hexdigest()
    check = tsa.verify_evidence(tsa.deposit_evidence(digest, {"agreement_id": "a1"}), digest)
    assert check.valid, check.reason
    assert "CN=Test TSA" in check.reason
    # and openssl agrees
    token = tmp_path / "token.der"
    token.write_bytes(base64.b64decode(tsa.deposit_evidence(digest, {"agreement_id": "a1"}).token))
    (tmp_path / "doc.pdf").write_bytes(SIGNED_PDF)
    openssl("ts", "-verify", "-data", "doc.pdf", "-in", "token.der", "-token_in",
            "-CAfile", str(openssl_tsa.folder / "ca.crt"), "-untrusted", str(openssl_tsa.folder / "tsa.crt"),
            cwd=tmp_path)


def test_a_tampered_document_is_invalid(tmp_path, openssl_tsa):
    tsa = connector(tmp_path, openssl_tsa)
    receipt = tsa.deposit_evidence(hashlib.sha256(SIGNED_PDF).hexdigest(), {"agreement_id": "a1"})
    tampered = hashlib.sha256(SIGNED_PDF + b" one more clause").hexdigest()
    check = tsa.verify_evidence(receipt.model_copy(update={"digest": tampered}), tampered)
    assert not check.valid and "wrong token: it timestamps" in check.reason and tampered in check.reason


def test_a_wrong_token_is_invalid(tmp_path, openssl_tsa):
    tsa = connector(tmp_path, openssl_tsa)
    digest = hashlib.sha256(SIGNED_PDF).hexdigest()
    receipt = tsa.deposit_evidence(digest, {"agreement_id": "a1"})
    other = tsa.deposit_evidence(hashlib.sha256(b"another agreement").hexdigest(), {"agreement_id": "a2"})
    swapped = tsa.verify_evidence(receipt.model_copy(update={"token": other.token}), digest)
    assert not swapped.valid and "wrong token" in swapped.reason
    raw = bytearray(base64.b64decode(receipt.token))
    raw[-5] ^= 0xFF  # inside the RSA signature
    broken = tsa.verify_evidence(receipt.model_copy(update={"token": base64.b64encode(raw).decode()}), digest)
    assert not broken.valid and "signature does not verify" in broken.reason
    junk = base64.b64encode(b"junk").decode()
    garbage = tsa.verify_evidence(receipt.model_copy(update={"token": junk}), digest)
    assert not garbage.valid and garbage.reason.startswith("wrong token")


def test_a_token_from_a_tsa_outside_tsa_ca_is_invalid(tmp_path, openssl_tsa):
    digest = hashlib.sha256(SIGNED_PDF).hexdigest()
    local = Rfc3161.from_mapping("local", {"url": "local"}, ConnectorContext(base_dir=tmp_path))
    foreign = local.deposit_evidence(digest, {"agreement_id": "a1"})  # valid for the local CA
    check = connector(tmp_path, openssl_tsa).verify_evidence(foreign, digest)
    assert not check.valid and "does not chain to tsa_ca" in check.reason


def test_a_refusal_by_the_tsa_is_an_error_with_its_reason(tmp_path, openssl_tsa):
    openssl_tsa.refuse = True
    with pytest.raises(ConnectorError, match="refused the request: rejection bad policy"):
        connector(tmp_path, openssl_tsa).deposit_evidence(hashlib.sha256(b"x").hexdigest(),
                                                          {"agreement_id": "a"})


def test_a_digest_that_is_not_sha256_is_refused_before_any_request(tmp_path, openssl_tsa):
    with pytest.raises(ConnectorError, match="not a SHA-256"):
        connector(tmp_path, openssl_tsa).deposit_evidence("abc", {"agreement_id": "a"})
    assert openssl_tsa.queries == []


def test_the_local_tsa_signs_tokens_openssl_accepts(tmp_path):
    tsa = Rfc3161.from_mapping("tsa", {"url": "local", "local_dir": "keys"},
                               ConnectorContext(base_dir=tmp_path))
    digest = hashlib.sha256(SIGNED_PDF).hexdigest()
    receipt = tsa.deposit_evidence(digest, {"agreement_id": "a1"})
    assert tsa.verify_evidence(receipt, digest).valid
    assert (tmp_path / "keys" / "tsa.key").stat().st_mode & 0o077 == 0
    (tmp_path / "token.der").write_bytes(base64.b64decode(receipt.token))
    (tmp_path / "doc.pdf").write_bytes(SIGNED_PDF)
    openssl("ts", "-verify", "-data", "doc.pdf", "-in", "token.der", "-token_in",
            "-CAfile", "keys/tsa-ca.pem", "-untrusted", "keys/tsa.pem", cwd=tmp_path)
    assert isinstance(LocalTsa.open(tmp_path / "keys").cert.serial_number, int)  # the same key is reused


def test_the_connector_passes_the_contract(tmp_path):
    tsa = Rfc3161.from_mapping("tsa", {"url": "local"}, ConnectorContext(base_dir=tmp_path))
    assert set(check_connector(tsa, exercise=True)) == {"deposit_evidence", "verify_evidence", "healthcheck"}
