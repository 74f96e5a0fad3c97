"""Keys derived from the master secret: hashing of tokens, keyed lookups, envelope encryption.

Sensitive columns are encrypted with a data key per (scope, data class); the data key is stored
only wrapped by the master key. Destroying the wrapped key shreds every copy of the ciphertext.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from uuid import UUID

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_FORMAT = b"\x01"  # ciphertext layout version: 0x01 | nonce(12) | AES-GCM(ct+tag)


class DecryptionError(Exception):
    """Raised when ciphertext was tampered with or its key is gone."""


def _derive(secret: str, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"caravan/v1", info=purpose).derive(
        secret.encode()
    )


def new_token(prefix: str) -> str:
    """A 256-bit bearer secret with a non-secret prefix that leak scanners can match."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def token_hash(token: str) -> bytes:
    """SHA-256 of a high-entropy token; fine unkeyed because the token cannot be guessed."""
    return hashlib.sha256(token.encode()).digest()


def _seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(12)
    return _FORMAT + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def _open(key: bytes, blob: bytes, aad: bytes) -> bytes:
    if not blob.startswith(_FORMAT) or len(blob) < 29:
        raise DecryptionError("unknown ciphertext format")
    try:
        return AESGCM(key).decrypt(blob[1:13], blob[13:], aad)
    except Exception as exc:  # cryptography raises InvalidTag
        raise DecryptionError("ciphertext does not decrypt with this key") from exc


class Keyring:
    """Everything derived from CARAVAN_SECRET_KEY; one per process, passed to services."""

    def __init__(self, secret: str) -> None:
        self.master_key_id = hashlib.sha256(_derive(secret, b"key-id")).hexdigest()[:16]
        self._wrap_key = _derive(secret, b"wrap")
        self._lookup_key = _derive(secret, b"lookup")
        self._limiter_key = _derive(secret, b"rate-limit")
        self._token_key = _derive(secret, b"derived-token")

    def lookup_hash(self, value: str) -> bytes:
        """Keyed hash used to find a row by a personal value (an email) without storing it."""
        return hmac.new(self._lookup_key, value.encode(), hashlib.sha256).digest()

    def limiter_bucket(self, *parts: str) -> bytes:
        """Keyed hash naming a rate-limit bucket, so no raw email or IP is ever stored."""
        return hmac.new(self._limiter_key, "\x1f".join(parts).encode(), hashlib.sha256).digest()

    def derived_token(self, prefix: str, purpose: str, subject: UUID) -> str:
        """A 256-bit secret token recomputable from its subject (so a retried request can be
        answered with the same token without storing it); store only its `token_hash`."""
        mac = hmac.new(self._token_key, f"{purpose}:{subject}".encode(), hashlib.sha256)
        return f"{prefix}_{base64.urlsafe_b64encode(mac.digest()).rstrip(b'=').decode()}"

    @staticmethod
    def keyed_token(data_key: bytes, prefix: str, purpose: str, subject: UUID) -> str:
        """Like `derived_token`, but from a data key: it survives master-key rotation (which
        rewraps the data key unchanged) and dies with the key when that is destroyed."""
        mac = hmac.new(data_key, f"{purpose}:{subject}".encode(), hashlib.sha256)
        return f"{prefix}_{base64.urlsafe_b64encode(mac.digest()).rstrip(b'=').decode()}"

    def new_wrapped_data_key(self, aad: bytes) -> tuple[bytes, bytes]:
        """A fresh data key and its wrapped form (the only one that is stored)."""
        key = AESGCM.generate_key(bit_length=256)
        return key, _seal(self._wrap_key, key, aad)

    def wrap(self, data_key: bytes, aad: bytes) -> bytes:
        """Wrap an existing data key with this master key (master-key rotation)."""
        return _seal(self._wrap_key, data_key, aad)

    def unwrap(self, wrapped: bytes, aad: bytes) -> bytes:
        return _open(self._wrap_key, wrapped, aad)

    @staticmethod
    def encrypt(data_key: bytes, plaintext: str, aad: bytes = b"") -> bytes:
        return _seal(data_key, plaintext.encode(), aad)

    @staticmethod
    def decrypt(data_key: bytes, blob: bytes, aad: bytes = b"") -> str:
        return _open(data_key, blob, aad).decode()
