"""DingTalk HTTP callback crypto (钉钉回调加解密).

Source: open-dingtalk/DingTalk-Callback-Crypto (``DingCallbackCrypto.java``,
``DingCallbackCrypto3.py``):

* signature = hex SHA-1 of the sorted ``[token, timestamp, nonce, encrypt]`` concatenated;
* AES-256-CBC with key = base64decode(EncodingAESKey + "="), IV = key[:16];
* plaintext = 16 random bytes + 4-byte big-endian length + message + owner key
  (corpId for a registered callback, appKey for an internal app's event subscription,
  suiteKey for an ISV app), PKCS#7-padded to 32-byte blocks;
* the reply is ``{"msg_signature", "timeStamp", "nonce", "encrypt"}`` with "success"
  encrypted (``getEncryptedMap``), ``timeStamp`` in milliseconds.

The Python demo in that repository publishes one vector (token ``mryue``); the tests use it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import string
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

AES_KEY_LENGTH = 43
PAD_BLOCK = 32
RANDOM_LENGTH = 16
_NONCE_ALPHABET = string.ascii_letters + string.digits


class CallbackCryptoError(ValueError):
    """The callback cannot be verified or decrypted."""


class CallbackCrypto:
    """One application's callback keys: token, EncodingAESKey and owner key."""

    def __init__(self, token: str, encoding_aes_key: str, owner_key: str) -> None:
        if len(encoding_aes_key) != AES_KEY_LENGTH:
            msg = f"the EncodingAESKey must be {AES_KEY_LENGTH} characters"
            raise CallbackCryptoError(msg)
        try:
            self._key = base64.b64decode(encoding_aes_key + "=", validate=True)
        except (binascii.Error, ValueError) as exc:
            msg = "the EncodingAESKey is not base64"
            raise CallbackCryptoError(msg) from exc
        self._token = token
        self._owner_key = owner_key

    def signature(self, timestamp: str, nonce: str, encrypt: str) -> str:
        joined = "".join(sorted([self._token, timestamp, nonce, encrypt]))
        return hashlib.sha1(joined.encode()).hexdigest()  # the vendor fixed SHA-1

    def verify(self, msg_signature: str, timestamp: str, nonce: str, encrypt: str) -> None:
        expected = self.signature(timestamp, nonce, encrypt)
        if not hmac.compare_digest(expected.encode(), msg_signature.strip().lower().encode()):
            msg = "msg_signature does not match"
            raise CallbackCryptoError(msg)

    def decrypt(self, encrypt: str) -> str:
        try:
            raw = base64.b64decode(encrypt, validate=False)
        except (binascii.Error, ValueError) as exc:
            msg = "encrypt is not base64"
            raise CallbackCryptoError(msg) from exc
        if not raw or len(raw) % 16:
            msg = "encrypt has the wrong length for AES-CBC"
            raise CallbackCryptoError(msg)
        decryptor = Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16])).decryptor()
        plain = decryptor.update(raw) + decryptor.finalize()
        pad = plain[-1]
        if not 1 <= pad <= PAD_BLOCK or plain[-pad:] != bytes([pad]) * pad:
            msg = "bad padding: wrong EncodingAESKey or a tampered payload"
            raise CallbackCryptoError(msg)
        plain = plain[:-pad]
        if len(plain) < RANDOM_LENGTH + 4:
            msg = "decrypted payload too short"
            raise CallbackCryptoError(msg)
        (length,) = struct.unpack(">I", plain[RANDOM_LENGTH:RANDOM_LENGTH + 4])
        start = RANDOM_LENGTH + 4
        if start + length > len(plain):
            msg = "decrypted payload length field is wrong"
            raise CallbackCryptoError(msg)
        owner = plain[start + length:]
        if not hmac.compare_digest(owner, self._owner_key.encode()):
            msg = "the payload was encrypted for another corpId/appKey"
            raise CallbackCryptoError(msg)
        try:
            return plain[start:start + length].decode()
        except UnicodeDecodeError as exc:
            msg = "decrypted message is not UTF-8"
            raise CallbackCryptoError(msg) from exc

    def encrypt(self, message: str, random_prefix: bytes | None = None) -> str:
        body = message.encode()
        prefix = random_prefix if random_prefix is not None else _random_text(RANDOM_LENGTH)
        plain = prefix + struct.pack(">I", len(body)) + body + self._owner_key.encode()
        pad = PAD_BLOCK - len(plain) % PAD_BLOCK
        plain += bytes([pad]) * pad
        encryptor = Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16])).encryptor()
        return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()

    def encrypted_reply(self, message: str, timestamp_ms: int,
                        nonce: str | None = None) -> dict[str, str]:
        """The map DingTalk expects back (``getEncryptedMap``), e.g. for "success"."""
        encrypt = self.encrypt(message)
        nonce = nonce or _random_text(8).decode()
        timestamp = str(timestamp_ms)
        return {
            "msg_signature": self.signature(timestamp, nonce, encrypt),
            "timeStamp": timestamp,
            "nonce": nonce,
            "encrypt": encrypt,
        }


def _random_text(size: int) -> bytes:
    # The vendor's libraries use alphanumeric padding; any bytes decrypt the same.
    return "".join(secrets.choice(_NONCE_ALPHABET) for _ in range(size)).encode()


def new_encoding_aes_key() -> str:
    """A fresh 43-character EncodingAESKey (what the DingTalk console generates)."""
    return base64.b64encode(os.urandom(32)).decode().rstrip("=")
