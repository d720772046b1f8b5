"""The one JSON encoding of hashes, keys and signatures: lowercase hex, no prefix.

Every hash, key, salt and signature in our JSON is lowercase hex (``bytes.hex()``); base64
appears only inside C2SP signed-note text, where that standard fixes it. Decoders are
strict, so a value in another encoding (base64, upper case, ``0x``) is refused rather than
guessed at. See docs/spec/encoding.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ledger.errors import LedgerError
from ledger.log.merkle import HASH_SIZE

_HEX = re.compile(r"(?:[0-9a-f]{2})*")


class EncodingError(LedgerError, ValueError):
    """A value is not lowercase hex of the expected length."""


def parse_hex(value: object, size: int | None = None) -> bytes:
    """Lowercase hex (no prefix) to bytes; ``size`` checks the decoded length."""
    if not isinstance(value, str) or not _HEX.fullmatch(value):
        raise EncodingError(f"not lowercase hex: {value!r}")
    raw = bytes.fromhex(value)
    if size is not None and len(raw) != size:
        raise EncodingError(f"expected {size} bytes of hex, got {len(raw)}")
    return raw


def parse_hash(value: object) -> bytes:
    """A SHA-256 hash (64 lowercase hex characters) to its 32 bytes."""
    return parse_hex(value, HASH_SIZE)


def parse_hashes(values: object) -> list[bytes]:
    """A JSON list of hashes (a Merkle proof) to bytes."""
    if not isinstance(values, list):
        raise EncodingError("a proof must be a list of hashes")
    return [parse_hash(v) for v in values]


def hashes_hex(values: Iterable[bytes]) -> list[str]:
    """Hashes (a Merkle proof) to their JSON form."""
    return [v.hex() for v in values]
