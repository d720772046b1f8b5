"""High-entropy bearer secrets: generated here, stored only as SHA-256, compared in constant time.

The secrets carry 256 bits of randomness, so a plain SHA-256 is enough to store them
(no password-stretching needed: there is nothing to brute-force).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8")).digest()


def secret_matches(secret: str, stored_hash: bytes) -> bool:
    """Constant-time comparison of a presented secret with a stored hash."""
    return hmac.compare_digest(hash_secret(secret), stored_hash)
