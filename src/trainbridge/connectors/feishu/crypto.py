"""Feishu / Lark event subscription crypto: decrypting ``{"encrypt": ...}`` and the signature.

Source: the official SDK larksuite/oapi-sdk-python, ``lark_oapi/core/utils/decryptor.py``
(AES-256-CBC, key = SHA-256 of the Encrypt Key, IV = first 16 bytes of the base64-decoded
payload, PKCS#7) and ``lark_oapi/event/dispatcher_handler.py`` ``_verify_sign``
(``X-Lark-Signature`` = hex SHA-256 of timestamp + nonce + encrypt key + raw body).
The doc page "接收事件" (event-subscription-configure-/encrypt-key-encryption-configuration-case)
publishes the vector key ``test key`` -> ``hello world`` used in the tests.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 16


class EventCryptoError(ValueError):
    """The payload cannot be decrypted with this key (wrong key, tampered or truncated)."""


def decrypt_event(encrypt_key: str, encrypted: str) -> bytes:
    """Decrypt the ``encrypt`` field of an event body; raise :class:`EventCryptoError`."""
    try:
        raw = base64.b64decode(encrypted, validate=True)
    except (binascii.Error, ValueError) as exc:
        msg = "the encrypt field is not base64"
        raise EventCryptoError(msg) from exc
    if len(raw) < 2 * BLOCK or len(raw) % BLOCK:
        msg = "the encrypt field has the wrong length for AES-CBC"
        raise EventCryptoError(msg)
    key = hashlib.sha256(encrypt_key.encode()).digest()
    decryptor = Cipher(algorithms.AES(key), modes.CBC(raw[:BLOCK])).decryptor()
    padded = decryptor.update(raw[BLOCK:]) + decryptor.finalize()
    return _unpad(padded)


def encrypt_event(encrypt_key: str, plaintext: bytes, iv: bytes) -> str:
    """The inverse of :func:`decrypt_event` (Feishu's side; used to build test vectors)."""
    key = hashlib.sha256(encrypt_key.encode()).digest()
    pad = BLOCK - len(plaintext) % BLOCK
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    body = encryptor.update(plaintext + bytes([pad]) * pad) + encryptor.finalize()
    return base64.b64encode(iv + body).decode()


def signature(timestamp: str, nonce: str, encrypt_key: str, body: bytes) -> str:
    """Hex SHA-256 of ``timestamp + nonce + encrypt_key`` followed by the raw body bytes."""
    return hashlib.sha256((timestamp + nonce + encrypt_key).encode() + body).hexdigest()


def signature_matches(expected: str, received: str) -> bool:
    return hmac.compare_digest(expected.encode(), received.strip().lower().encode())


def _unpad(padded: bytes) -> bytes:
    pad = padded[-1] if padded else 0
    # A wrong key decrypts to noise; the padding check is what notices.
    if not 1 <= pad <= BLOCK or padded[-pad:] != bytes([pad]) * pad:
        msg = "bad padding: wrong Encrypt Key or a tampered payload"
        raise EventCryptoError(msg)
    return padded[:-pad]
