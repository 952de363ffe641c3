"""Code reading: RFC 3161 verification builds the TSA's chain by hand; it must refuse an
intermediate that is not a CA and a signer without the timeStamping extended key usage."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from trainbridge.connectors.rfc3161 import LocalTsa, TimeStampResp, check_token, timestamp_request

DOCUMENT = b"%PDF-1.7 signed training agreement of E001"
DIGEST = hashlib.sha256(DOCUMENT).hexdigest()
NOW = datetime.now(UTC) - timedelta(minutes=5)


def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def certificate(name: str, subject_key: rsa.RSAPrivateKey, issuer: str, issuer_key: rsa.RSAPrivateKey, *,
                ca: bool, timestamping: bool = False) -> x509.Certificate:
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
               .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
               .public_key(subject_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(NOW - timedelta(days=1)).not_valid_after(NOW + timedelta(days=365))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if timestamping:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]),
                                        critical=True)
    return builder.sign(issuer_key, hashes.SHA256())


def token(signer: x509.Certificate, signer_key: rsa.RSAPrivateKey, root: x509.Certificate,
          extra: list[x509.Certificate]) -> bytes:
    """A token as a TSA answers it, carrying ``extra`` certificates beside the signer's."""
    request = timestamp_request(bytes.fromhex(DIGEST), nonce=7)
    reply = TimeStampResp.load(LocalTsa(ca=root, cert=signer, key=signer_key).respond(request))
    content = cms.ContentInfo.load(reply["time_stamp_token"].dump())
    signed = content["content"]
    signed["certificates"] = [asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER))
                              for c in [signer, *extra]]
    return bytes(content.dump(force=True))


def test_a_tsa_below_a_ca_intermediate_verifies():
    root_key, middle_key, tsa_key = key(), key(), key()
    root = certificate("Root CA", root_key, "Root CA", root_key, ca=True)
    middle = certificate("Intermediate CA", middle_key, "Root CA", root_key, ca=True)
    tsa = certificate("TSA", tsa_key, "Intermediate CA", middle_key, ca=False, timestamping=True)

    check = check_token(token(tsa, tsa_key, root, [middle]), DIGEST, [root])

    assert check.valid, check.reason


def test_an_intermediate_that_is_not_a_ca_is_refused():
    root_key, middle_key, tsa_key = key(), key(), key()
    root = certificate("Root CA", root_key, "Root CA", root_key, ca=True)
    # An ordinary end-entity certificate the root issued, used to sign a "TSA" of its own.
    middle = certificate("Some server", middle_key, "Root CA", root_key, ca=False)
    tsa = certificate("TSA", tsa_key, "Some server", middle_key, ca=False, timestamping=True)

    check = check_token(token(tsa, tsa_key, root, [middle]), DIGEST, [root])

    assert not check.valid
    assert "does not chain to tsa_ca" in check.reason


def test_a_signer_without_the_timestamping_usage_is_refused():
    root_key, signer_key = key(), key()
    root = certificate("Root CA", root_key, "Root CA", root_key, ca=True)
    signer = certificate("Document signer", signer_key, "Root CA", root_key, ca=False, timestamping=False)

    check = check_token(token(signer, signer_key, root, []), DIGEST, [root])

    assert not check.valid
    assert "not a timestamping certificate" in check.reason
