"""Secrets kept encrypted at rest: AES-256-GCM under a key file (mode 0600, created once).

Webhook signing secrets must stay usable (the HMAC needs them), so they are encrypted, not
hashed; each is bound to its endpoint id (associated data), so a sealed secret copied to
another row does not open.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger.errors import LedgerError
from ledger.secretfiles import ensure_secret_key

NONCE_BYTES = 12


class SealError(LedgerError, ValueError):
    """A sealed secret does not open with this key (another key file, or altered)."""


class SecretBox:
    """Seal and open secrets with the key in ``key_file`` (created on first use)."""

    def __init__(self, key_file: Path) -> None:
        self.key_file = key_file
        self._aead: AESGCM | None = None
        self._lock = threading.Lock()

    def _cipher(self) -> AESGCM:
        with self._lock:
            if self._aead is None:
                self._aead = AESGCM(ensure_secret_key(self.key_file))
            return self._aead

    def seal(self, context: str, secret: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._cipher().encrypt(nonce, secret.encode(), context.encode())

    def open(self, context: str, sealed: bytes) -> str:
        nonce, ciphertext = sealed[:NONCE_BYTES], sealed[NONCE_BYTES:]
        try:
            return self._cipher().decrypt(nonce, ciphertext, context.encode()).decode()
        except InvalidTag as exc:
            raise SealError(
                f"a sealed secret does not open with {self.key_file} (another key file?)"
            ) from exc
