"""``rfc3161``: trusted timestamps (RFC 3161) as the evidence of a signed agreement.

``deposit_evidence`` sends a ``TimeStampReq`` whose message imprint is the signed
document's SHA-256 to a Time Stamping Authority (``POST``, ``application/timestamp-query``)
and keeps the returned token; ``verify_evidence`` checks, offline, that a token covers a
digest and was signed by the TSA: message imprint, CMS signature, the ``timeStamping``
key usage, the certificate's validity at the time stamped, and (with ``tsa_ca``) its
chain to a trusted CA. Anyone can check a token the same way with ``openssl ts -verify``.

``url = "local"`` runs an in-process TSA instead, with a CA and a signing key generated
into ``local_dir`` on first use: for the demo and offline tests only, since a timestamp
from your own key proves nothing to a court.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

from asn1crypto import cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pydantic import Field, SecretStr

from trainbridge import hookimpl
from trainbridge.core.connector import Connector, ConnectorConfig, ConnectorContext
from trainbridge.core.errors import ConnectorError
from trainbridge.core.http import HttpClient, HttpSettings
from trainbridge.core.records import EvidenceCheck, EvidenceReceipt, HealthResult, make_id

QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"
LOCAL = "local"
LOCAL_POLICY = "1.3.6.1.4.1.4146.2.3.1.999"  # a placeholder policy for the local TSA only
_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1, "sha224": hashes.SHA224, "sha256": hashes.SHA256, "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


class TimeStampResp(core.Sequence):
    """RFC 3161 TimeStampResp; asn1crypto's own requires the token, which a refusal omits."""

    _fields: ClassVar[list[tuple[Any, ...]]] = [
        ("status", tsp.PKIStatusInfo), ("time_stamp_token", cms.ContentInfo, {"optional": True})]


class Rfc3161Config(ConnectorConfig):
    url: str = Field(description='The TSA URL, or "local" for the in-process demo TSA')
    username: str | None = Field(default=None, description="HTTP basic auth user, if the TSA needs one")
    password: SecretStr | None = None
    ca_bundle: str | None = Field(default=None, description="CA bundle for the TSA's HTTPS certificate")
    tsa_ca: str | None = Field(default=None, description="PEM: the TSA's CA (or its certificate); "
                                                         "tokens must chain to it")
    policy: str | None = Field(default=None, description="TSA policy OID to ask for")
    local_dir: str = Field(default=".tsa", description="Key and certificates of the local TSA")
    http: HttpSettings = Field(default_factory=HttpSettings)


@dataclass(frozen=True)
class TokenCheck:
    valid: bool
    reason: str
    gen_time: datetime | None = None
    serial: int | None = None
    tsa: str = ""


class Rfc3161(Connector):
    """An RFC 3161 Time Stamping Authority as the evidence service."""

    config_model: ClassVar[type[ConnectorConfig]] = Rfc3161Config
    vendor = "RFC 3161 Time Stamping Authority"
    config: Rfc3161Config

    def __init__(self, name: str, config: ConnectorConfig, ctx: ConnectorContext | None = None) -> None:
        super().__init__(name, config, ctx)
        self._http: HttpClient | None = None
        self._local: LocalTsa | None = None

    @property
    def is_local(self) -> bool:
        return self.config.url == LOCAL

    def local_tsa(self) -> LocalTsa:
        if self._local is None:
            self._local = LocalTsa.open(self.ctx.resolve(self.config.local_dir))
        return self._local

    def http(self) -> HttpClient:
        if self._http is None:
            settings = self.config.http
            if self.config.ca_bundle:
                bundle = str(self.ctx.resolve(self.config.ca_bundle))
                settings = settings.model_copy(update={"verify": bundle})
            auth = None
            if self.config.username and self.config.password:
                auth = (self.config.username, self.config.password.get_secret_value())
            self._http = self.ctx.http(self.config.url, instance=self.name, settings=settings, auth=auth)
        return self._http

    def trust_anchors(self) -> list[x509.Certificate]:
        if self.is_local:
            return [self.local_tsa().ca]
        if not self.config.tsa_ca:
            return []
        path = self.ctx.resolve(self.config.tsa_ca)
        try:
            return x509.load_pem_x509_certificates(path.read_bytes())
        except (OSError, ValueError) as exc:
            raise ConnectorError(f"cannot read tsa_ca {path}: {exc}", instance=self.name,
                                 hint="tsa_ca is a PEM file with the TSA's CA certificate(s)") from None

    # --- role hooks ---------------------------------------------------------------------

    @hookimpl
    def deposit_evidence(self, digest: str, meta: Mapping[str, str]) -> EvidenceReceipt:
        imprint = _digest_bytes(digest)
        nonce = secrets.randbits(63)
        request = timestamp_request(imprint, nonce=nonce, policy=self.config.policy)
        if self.is_local:
            reply = self.local_tsa().respond(request)
        else:
            resp = self.http().post(self.config.url, data=request.dump(), headers={"Content-Type": QUERY_TYPE,
                                                                      "Accept": REPLY_TYPE},
                                    idempotent=True)
            reply = resp.content
        token = self._token_from_reply(reply, imprint, nonce)
        check = check_token(token, digest, self.trust_anchors())
        if not check.valid:
            raise ConnectorError(f"the TSA's token does not check out: {check.reason}", instance=self.name,
                                 hint="check url and tsa_ca of this instance")
        agreement_id = meta["agreement_id"]
        assert check.gen_time is not None
        return EvidenceReceipt(
            id=make_id(self.name, agreement_id, digest[:16]), source=self.name, agreement_id=agreement_id,
            digest=digest, algorithm="sha256", provider=f"rfc3161 {self.config.url}",
            receipt_id=f"{check.tsa or self.config.url}#{check.serial}",
            token=base64.b64encode(token).decode(), deposited_at=check.gen_time)

    def _token_from_reply(self, reply: bytes, imprint: bytes, nonce: int) -> bytes:
        try:
            answer = TimeStampResp.load(reply)
            status = answer["status"]["status"].native
        except ValueError as exc:
            raise ConnectorError(f"the TSA's answer is not a TimeStampResp ({exc})", instance=self.name,
                                 hint="is url the TSA's timestamp endpoint?") from None
        if status not in ("granted", "granted_with_mods"):
            text = "; ".join(answer["status"]["status_string"].native or [])
            fail = answer["status"]["fail_info"].native
            raise ConnectorError(f"the TSA refused the request: {status} {text} {sorted(fail or [])}".strip(),
                                 instance=self.name, hint="check policy and the TSA's account terms")
        token = answer["time_stamp_token"]
        info = token["content"]["encap_content_info"]["content"].parsed
        if info["message_imprint"]["hashed_message"].native != imprint:
            raise ConnectorError("the TSA timestamped another digest than the one sent", instance=self.name)
        if info["nonce"].native != nonce:
            raise ConnectorError("the TSA's answer carries another nonce (a replayed answer?)",
                                 instance=self.name)
        return bytes(token.dump())

    @hookimpl
    def verify_evidence(self, receipt: EvidenceReceipt, digest: str) -> EvidenceCheck:
        now = datetime.now(UTC)
        if receipt.digest != digest:
            return EvidenceCheck(valid=False, checked_at=now, reason=(
                f"wrong token: the receipt was issued for SHA-256 {receipt.digest}, not {digest}"))
        try:
            token = base64.b64decode(receipt.token, validate=True)
        except ValueError:
            return EvidenceCheck(valid=False, reason="wrong token: it is not base64", checked_at=now)
        check = check_token(token, digest, self.trust_anchors())
        return EvidenceCheck(valid=check.valid, reason=check.reason, checked_at=now)

    @hookimpl
    def healthcheck(self) -> HealthResult:
        probe = hashlib.sha256(b"trainbridge healthcheck").hexdigest()
        receipt = self.deposit_evidence(probe, {"agreement_id": "healthcheck"})
        return HealthResult(ok=True, detail=f"timestamp granted at {receipt.deposited_at.isoformat()}")


def _digest_bytes(digest: str) -> bytes:
    try:
        imprint = bytes.fromhex(digest)
    except ValueError:
        imprint = b""
    if len(imprint) != 32:
        msg = f"not a SHA-256 hex digest: {digest!r}"
        raise ConnectorError(msg, hint="deposit_evidence takes the document's SHA-256 in hex")
    return imprint


def timestamp_request(imprint: bytes, *, nonce: int, policy: str | None = None) -> tsp.TimeStampReq:
    """A v1 TimeStampReq over a SHA-256 imprint, asking for the TSA's certificate."""
    fields: dict[str, Any] = {
        "version": "v1",
        "message_imprint": {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": imprint},
        "nonce": nonce,
        "cert_req": True,
    }
    if policy:
        fields["req_policy"] = policy
    return tsp.TimeStampReq(fields)


# --- checking a token -------------------------------------------------------------------


def check_token(token: bytes, digest: str, anchors: list[x509.Certificate]) -> TokenCheck:
    """Does ``token`` (a DER TimeStampToken) timestamp ``digest``, signed by a trusted TSA?"""
    try:
        content = cms.ContentInfo.load(token)
        if content["content_type"].native != "signed_data":
            return TokenCheck(False, "wrong token: not a CMS SignedData")
        signed = content["content"]
        encap = signed["encap_content_info"]
        if encap["content_type"].native != "tst_info":
            return TokenCheck(False, "wrong token: it does not carry a TSTInfo")
        tst_der = bytes(encap["content"].contents)
        info = tsp.TSTInfo.load(tst_der)
        imprint = info["message_imprint"]
        gen_time: datetime = info["gen_time"].native
        serial = int(info["serial_number"].native)
        [signer] = list(signed["signer_infos"])
        certs = [c.chosen for c in signed["certificates"] if c.name == "certificate"] \
            if signed["certificates"].native is not None else []
    except (ValueError, TypeError, KeyError) as exc:
        return TokenCheck(False, f"wrong token: it cannot be parsed ({exc})")
    stamped = imprint["hashed_message"].native.hex()
    if imprint["hash_algorithm"]["algorithm"].native != "sha256" or stamped != digest:
        return TokenCheck(False, f"wrong token: it timestamps {stamped}, not the document's SHA-256 {digest}",
                          gen_time, serial)
    cert = _signer_certificate(signer, certs + [asn1_x509.Certificate.load(a.public_bytes(
        serialization.Encoding.DER)) for a in anchors])
    if cert is None:
        return TokenCheck(False, "wrong token: the TSA's certificate is not in the token (or in tsa_ca)",
                          gen_time, serial)
    tsa_cert = x509.load_der_x509_certificate(cert.dump())
    tsa_name = tsa_cert.subject.rfc4514_string()
    problem = _signature_problem(signer, tst_der, tsa_cert) or _certificate_problem(tsa_cert, gen_time)
    if problem:
        return TokenCheck(False, f"wrong token: {problem}", gen_time, serial, tsa_name)
    intermediates = [x509.load_der_x509_certificate(c.dump()) for c in certs]
    if not anchors:
        return TokenCheck(True, f"valid: timestamped {gen_time.isoformat()} by {tsa_name}, serial {serial} "
                                "(its certificate was not checked against a trusted CA: set tsa_ca)",
                          gen_time, serial, tsa_name)
    if not _chains_to(tsa_cert, anchors, intermediates, gen_time):
        return TokenCheck(False, f"wrong token: the TSA certificate {tsa_name} does not chain to tsa_ca",
                          gen_time, serial, tsa_name)
    return TokenCheck(True, f"valid: timestamped {gen_time.isoformat()} by {tsa_name}, serial {serial}",
                      gen_time, serial, tsa_name)


def _signer_certificate(signer: cms.SignerInfo,
                        certs: list[asn1_x509.Certificate]) -> asn1_x509.Certificate | None:
    sid = signer["sid"]
    for cert in certs:
        if sid.name == "issuer_and_serial_number":
            wanted = sid.chosen
            if cert.issuer == wanted["issuer"] and cert.serial_number == wanted["serial_number"].native:
                return cert
        elif cert.key_identifier == sid.chosen.native:
            return cert
    return None


def _signature_problem(signer: cms.SignerInfo, tst_der: bytes, cert: x509.Certificate) -> str | None:
    algorithm = signer["digest_algorithm"]["algorithm"].native
    if algorithm not in _HASHES:
        return f"unsupported digest algorithm {algorithm}"
    hash_alg = _HASHES[algorithm]()
    attrs = signer["signed_attrs"]
    if attrs.native is not None and len(attrs):
        values = {a["type"].native: a["values"][0] for a in attrs}
        if values.get("content_type") is None or values["content_type"].native != "tst_info":
            return "the signed content type is not TSTInfo"
        expected = hashlib.new(algorithm, tst_der).digest()
        if values.get("message_digest") is None or values["message_digest"].native != expected:
            return "the TSTInfo was altered (its digest differs from the signed one)"
        signed_bytes = b"\x31" + attrs.dump()[1:]  # signed as a SET OF, not as the [0] field
    else:
        signed_bytes = tst_der
    signature = signer["signature"].native
    key = cert.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            if signer["signature_algorithm"].signature_algo == "rsassa_pss":
                params = signer["signature_algorithm"]["parameters"]
                pss_hash = _HASHES[params["hash_algorithm"]["algorithm"].native]()
                key.verify(signature, signed_bytes, padding.PSS(
                    mgf=padding.MGF1(pss_hash), salt_length=params["salt_length"].native), pss_hash)
            else:
                key.verify(signature, signed_bytes, padding.PKCS1v15(), hash_alg)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, signed_bytes, ec.ECDSA(hash_alg))
        elif isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, signed_bytes)
        else:
            return f"unsupported TSA key type {type(key).__name__}"
    except InvalidSignature:
        return "the TSA's signature does not verify"
    return None


def _certificate_problem(cert: x509.Certificate, at: datetime) -> str | None:
    try:
        usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is None or ExtendedKeyUsageOID.TIME_STAMPING not in usage:
        return "the signing certificate is not a timestamping certificate (extended key usage)"
    if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
        return f"the TSA certificate was not valid at {at.isoformat()}"
    return None


def _chains_to(cert: x509.Certificate, anchors: list[x509.Certificate],
               intermediates: list[x509.Certificate], at: datetime | None = None) -> bool:
    """Does ``cert`` chain to an anchor, through intermediates that are CAs (basic constraints
    ``ca``, ``keyCertSign`` when key usage is given, path length respected) valid at ``at``?"""
    current = cert
    for below in range(6):  # CA certificates between the issuer looked for and the TSA certificate
        if current in anchors:
            return True
        issuer = next((c for c in [*anchors, *intermediates]
                       if c != current and c.subject == current.issuer and _issued(current, c)
                       and (c in anchors or _may_issue(c, below, at))), None)
        if issuer is None:
            return False
        current = issuer
    return False


def _may_issue(ca: x509.Certificate, below: int, at: datetime | None) -> bool:
    """An intermediate may sign the certificate below it: a CA, allowed to sign certificates,
    with ``below`` CA certificates under it within its path length, valid at ``at``."""
    try:
        basic = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return False
    if not basic.ca or (basic.path_length is not None and below > basic.path_length):
        return False
    try:
        usage = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is not None and not usage.key_cert_sign:
        return False
    return at is None or ca.not_valid_before_utc <= at <= ca.not_valid_after_utc


def _issued(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


# --- the local TSA (demo, offline tests) --------------------------------------------


@dataclass(frozen=True)
class LocalTsa:
    """A CA and a timestamping key kept in a folder; answers TimeStampReqs in process."""

    ca: x509.Certificate
    cert: x509.Certificate
    key: rsa.RSAPrivateKey

    @classmethod
    def open(cls, folder: Path) -> LocalTsa:
        ca_path, cert_path, key_path = folder / "tsa-ca.pem", folder / "tsa.pem", folder / "tsa.key"
        if not key_path.exists():
            folder.mkdir(parents=True, exist_ok=True)
            ca, cert, key = _make_local_pki()
            ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
            cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
            key_path.touch(mode=0o600)
            key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                   serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption()))
        loaded = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        assert isinstance(loaded, rsa.RSAPrivateKey)
        return cls(x509.load_pem_x509_certificate(ca_path.read_bytes()),
                   x509.load_pem_x509_certificate(cert_path.read_bytes()), loaded)

    def respond(self, request: tsp.TimeStampReq, now: datetime | None = None) -> bytes:
        """A granted TimeStampResp for ``request``, signed like ``openssl ts -reply`` would."""
        now = (now or datetime.now(UTC)).replace(microsecond=0)
        info = tsp.TSTInfo({
            "version": "v1",
            "policy": request["req_policy"].native or LOCAL_POLICY,
            "message_imprint": request["message_imprint"],
            "serial_number": secrets.randbits(63),
            "gen_time": now,
            "accuracy": {"seconds": 1},
            "nonce": request["nonce"].native,
        })
        tst_der = info.dump()
        cert = asn1_x509.Certificate.load(self.cert.public_bytes(serialization.Encoding.DER))
        essv2 = tsp.SigningCertificateV2({"certs": [{
            "hash_algorithm": {"algorithm": "sha256"},
            "cert_hash": hashlib.sha256(cert.dump()).digest()}]})
        attrs = [cms.CMSAttribute({"type": "content_type", "values": ["tst_info"]}),
                 cms.CMSAttribute({"type": "message_digest", "values": [hashlib.sha256(tst_der).digest()]}),
                 cms.CMSAttribute({"type": "signing_certificate_v2", "values": [essv2]})]
        # DER orders a SET OF by encoding; verifiers such as OpenSSL re-encode before checking.
        signed_attrs = cms.CMSAttributes(sorted(attrs, key=lambda a: a.dump()))
        signature = self.key.sign(signed_attrs.dump(), padding.PKCS1v15(), hashes.SHA256())
        signer = cms.SignerInfo({
            "version": "v1",
            "sid": {"issuer_and_serial_number": {"issuer": cert.issuer, "serial_number": cert.serial_number}},
            "digest_algorithm": {"algorithm": "sha256"},
            "signed_attrs": signed_attrs,
            "signature_algorithm": {"algorithm": "rsassa_pkcs1v15"},
            "signature": signature,
        })
        signed = cms.SignedData({
            "version": "v3",
            "digest_algorithms": [{"algorithm": "sha256"}],
            "encap_content_info": {"content_type": "tst_info", "content": info},
            "certificates": [cert] if request["cert_req"].native else [],
            "signer_infos": [signer],
        })
        return bytes(TimeStampResp({
            "status": {"status": "granted"},
            "time_stamp_token": {"content_type": "signed_data", "content": signed},
        }).dump())


def _make_local_pki() -> tuple[x509.Certificate, x509.Certificate, rsa.RSAPrivateKey]:
    now = datetime.now(UTC) - timedelta(minutes=5)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "trainbridge local TSA CA (demo only)")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now).not_valid_after(now + timedelta(days=3650 * 3))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False, key_agreement=False,
                                       key_cert_sign=True, crl_sign=True, encipher_only=False,
                                       decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                                        "trainbridge local TSA (demo only)")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + timedelta(days=3650 * 3))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
            .sign(ca_key, hashes.SHA256()))
    return ca, cert, key


@hookimpl
def register_connectors(register: Callable[..., None]) -> None:
    register("rfc3161", Rfc3161)
