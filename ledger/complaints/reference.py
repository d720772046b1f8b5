"""Complaint references: the customer's ticket number, derived from the received event's leaf hash.

Format: ``CMP-`` then 25 Crockford base32 symbols in five groups of five. The first 24 symbols
encode the first 15 bytes (120 bits) of the leaf hash, so a collision needs about 2**60
complaints; the 25th is Crockford's mod-37 check symbol, which catches any single mistyped
symbol and any swap of two adjacent symbols. Example: ``CMP-0KZ7M-1X9QD-...-ABCD*``.
"""

from __future__ import annotations

import hmac

from ledger.complaints.errors import InvalidReference

PREFIX = "CMP"
REFERENCE_BYTES = 15
_DATA_SYMBOLS = REFERENCE_BYTES * 8 // 5  # 24
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CHECK_ALPHABET = ALPHABET + "*~$=U"  # Crockford: values 32..36 exist only as check symbols
# Crockford decoding is forgiving of the look-alikes a human is likely to type.
_ALIASES = str.maketrans({"I": "1", "L": "1", "O": "0"})
_DECODE = {c: i for i, c in enumerate(CHECK_ALPHABET)}


def _check_symbol(value: int) -> str:
    return CHECK_ALPHABET[value % 37]


_PAIRS = [a + b for a in ALPHABET for b in ALPHABET]  # a 10-bit value's two symbols


def _encode(data: bytes) -> str:
    """The 24 data symbols (15 bytes are exactly 24 groups of 5 bits) and the check symbol."""
    value = int.from_bytes(data, "big")
    pairs = [_PAIRS[(value >> shift) & 1023] for shift in range(_DATA_SYMBOLS * 5 - 10, -1, -10)]
    return "".join(pairs) + _check_symbol(value)


def _group(symbols: str) -> str:
    s = symbols
    return f"{PREFIX}-{s[0:5]}-{s[5:10]}-{s[10:15]}-{s[15:20]}-{s[20:25]}"


def format_reference(leaf_hash: bytes) -> str:
    """The printed reference for a complaint whose received event has leaf hash ``leaf_hash``."""
    if not isinstance(leaf_hash, bytes | bytearray) or len(leaf_hash) < REFERENCE_BYTES:
        raise InvalidReference(
            f"a reference needs at least {REFERENCE_BYTES} bytes of leaf hash", "REFERENCE_SOURCE"
        )
    return _group(_encode(bytes(leaf_hash[:REFERENCE_BYTES])))


def _symbols(text: str) -> str:
    """Normalise user input to the 25 bare symbols (no prefix, no separators, upper case)."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidReference("the complaint reference is empty", "REFERENCE_EMPTY")
    s = "".join(text.split()).upper().replace("-", "")
    if len(s) == len(PREFIX) + _DATA_SYMBOLS + 1 and s.startswith(PREFIX):
        s = s[len(PREFIX) :]
    s = s.translate(_ALIASES)
    if len(s) != _DATA_SYMBOLS + 1:
        raise InvalidReference(
            f"a complaint reference has {_DATA_SYMBOLS + 1} symbols after {PREFIX}-, "
            f"this one has {len(s)}",
            "REFERENCE_LENGTH",
        )
    for pos, c in enumerate(s[:-1]):
        if c not in ALPHABET:
            raise InvalidReference(
                f"character {c!r} (symbol {pos + 1}) cannot appear in a complaint reference",
                "REFERENCE_CHARACTER",
            )
    if s[-1] not in _DECODE:
        raise InvalidReference(
            f"character {s[-1]!r} is not a valid check symbol", "REFERENCE_CHARACTER"
        )
    return s


def reference_bytes(text: str) -> bytes:
    """The 15 leaf-hash bytes a (possibly sloppily typed) reference encodes; checks the check."""
    s = _symbols(text)
    value = 0
    for c in s[:-1]:
        value = (value << 5) | _DECODE[c]
    if _check_symbol(value) != s[-1]:
        raise InvalidReference(
            "the complaint reference contains a typo (its check symbol does not match)",
            "REFERENCE_CHECK",
        )
    return value.to_bytes(REFERENCE_BYTES, "big")


def parse_reference(text: str) -> str:
    """Normalise user input (case, spaces, hyphens, I/L→1, O→0) to the canonical reference."""
    return _group(_encode(reference_bytes(text)))


def is_canonical_reference(text: object) -> bool:
    """True when ``text`` is exactly the canonical printed form (as stored in envelopes)."""
    if not isinstance(text, str):
        return False
    try:
        return parse_reference(text) == text
    except InvalidReference:
        return False


def reference_matches(reference: str, leaf_hash: bytes) -> bool:
    """True when ``reference`` was derived from ``leaf_hash``."""
    try:
        prefix = reference_bytes(reference)
    except InvalidReference:
        return False
    return hmac.compare_digest(prefix, bytes(leaf_hash[:REFERENCE_BYTES]))
