"""C2SP signed-note with Ed25519 keys (compatible with Go's golang.org/x/mod/sumdb/note).

Key strings:
  verifier  ``<name>+<hex key id>+<base64(0x01 || public key)>``
  signer    ``PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 || seed)>``
A signed note is the text, a blank line, then ``— <name> <base64(key id || sig)>`` lines.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ledger.errors import LedgerError

ALG_ED25519 = 0x01
SIG_PREFIX = "\u2014 "  # em dash, space
MAX_SIGNATURES = 100


class NoteError(LedgerError, ValueError):
    """A key string, note or signature is malformed or does not verify."""


def _is_valid_name(name: str) -> bool:
    return bool(name) and not any(c.isspace() or c == "+" for c in name)


def key_id(name: str, public_key: bytes) -> int:
    """First 4 bytes (big-endian) of SHA-256(name || 0x0A || 0x01 || public key)."""
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


def _b64decode(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise NoteError(f"invalid base64: {exc}") from exc


@dataclass(frozen=True)
class Verifier:
    name: str
    key_id: int
    public_key: bytes

    @classmethod
    def from_string(cls, vkey: str) -> Verifier:
        parts = vkey.split("+", 2)
        if len(parts) != 3:
            raise NoteError("verifier key must be name+keyid+key")
        name, hex_id, b64 = parts
        if not _is_valid_name(name) or len(hex_id) != 8:
            raise NoteError("malformed verifier key name or key id")
        try:
            kid = int(hex_id, 16)
        except ValueError as exc:
            raise NoteError("verifier key id is not hex") from exc
        raw = _b64decode(b64)
        if len(raw) != 33 or raw[0] != ALG_ED25519:
            raise NoteError("verifier key is not an Ed25519 key")
        if key_id(name, raw[1:]) != kid:
            raise NoteError("verifier key id does not match the key")
        return cls(name, kid, raw[1:])

    def __str__(self) -> str:
        raw = bytes([ALG_ED25519]) + self.public_key
        return f"{self.name}+{self.key_id:08x}+{base64.b64encode(raw).decode()}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except InvalidSignature:
            return False
        return True


class Signer:
    """An Ed25519 note signer. Its ``repr`` never shows the key."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        if not _is_valid_name(name):
            raise NoteError(f"invalid key name {name!r}")
        self.name = name
        self._key = private_key
        self.public_key = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.key_id = key_id(name, self.public_key)

    @classmethod
    def generate(cls, name: str) -> Signer:
        return cls(name, Ed25519PrivateKey.generate())

    @classmethod
    def from_string(cls, skey: str) -> Signer:
        parts = skey.strip().split("+", 4)
        if len(parts) != 5 or parts[0] != "PRIVATE" or parts[1] != "KEY":
            raise NoteError("signer key must be PRIVATE+KEY+name+keyid+key")
        _, _, name, hex_id, b64 = parts
        raw = _b64decode(b64)
        if len(raw) != 33 or raw[0] != ALG_ED25519:
            raise NoteError("signer key is not an Ed25519 key")
        signer = cls(name, Ed25519PrivateKey.from_private_bytes(raw[1:]))
        if len(hex_id) != 8 or f"{signer.key_id:08x}" != hex_id.lower():
            raise NoteError("signer key id does not match the key")
        return signer

    def to_string(self) -> str:
        """The private key string; write it only to a protected file."""
        from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

        seed = self._key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        raw = base64.b64encode(bytes([ALG_ED25519]) + seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.key_id:08x}+{raw}"

    def verifier(self) -> Verifier:
        return Verifier(self.name, self.key_id, self.public_key)

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

    def __repr__(self) -> str:
        return f"Signer(name={self.name!r}, key_id={self.key_id:08x})"


@dataclass(frozen=True)
class Signature:
    name: str
    key_id: int
    signature: bytes

    def line(self) -> str:
        blob = struct.pack(">I", self.key_id) + self.signature
        return f"{SIG_PREFIX}{self.name} {base64.b64encode(blob).decode()}\n"


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise NoteError("note text must end in a newline")
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise NoteError("note text contains control characters")


def sign_note(text: str, *signers: Signer) -> str:
    """Return the signed note: text, blank line, one signature line per signer."""
    _check_text(text)
    message = text.encode("utf-8")
    lines = [Signature(s.name, s.key_id, s.sign(message)).line() for s in signers]
    return text + "\n" + "".join(lines)


def add_signatures(signed: str, *signers: Signer) -> str:
    """Append further signatures (e.g. witness cosignatures) to an already signed note."""
    text, _ = split_note(signed)
    message = text.encode("utf-8")
    extra = [Signature(s.name, s.key_id, s.sign(message)).line() for s in signers]
    return signed + "".join(extra)


def split_note(signed: str) -> tuple[str, list[Signature]]:
    """Split a signed note into its text and parsed signature lines (no verification)."""
    if not signed.endswith("\n"):
        raise NoteError("signed note must end in a newline")
    idx = signed.rfind("\n\n")
    if idx < 0:
        raise NoteError("signed note has no signature block")
    text, block = signed[: idx + 1], signed[idx + 2 :]
    _check_text(text)
    sigs: list[Signature] = []
    for line in block.splitlines():
        if not line.startswith(SIG_PREFIX):
            raise NoteError("malformed signature line")
        name, _, b64 = line[len(SIG_PREFIX) :].partition(" ")
        if not _is_valid_name(name) or not b64:
            raise NoteError("malformed signature line")
        blob = _b64decode(b64)
        if len(blob) < 5:
            raise NoteError("signature too short")
        sigs.append(Signature(name, struct.unpack(">I", blob[:4])[0], blob[4:]))
    if not sigs:
        raise NoteError("signed note has no signatures")
    if len(sigs) > MAX_SIGNATURES:
        raise NoteError("too many signatures")
    return text, sigs


@dataclass(frozen=True)
class OpenedNote:
    text: str
    verified: tuple[Signature, ...]
    unverified: tuple[Signature, ...]


def open_note(signed: str, verifiers: list[Verifier]) -> OpenedNote:
    """Verify a signed note against known keys.

    Signatures from unknown keys are kept as ``unverified``; a signature from a known key
    that does not verify is an error; at least one known key must have signed.
    """
    text, sigs = split_note(signed)
    message = text.encode("utf-8")
    known = {(v.name, v.key_id): v for v in verifiers}
    good: list[Signature] = []
    unknown: list[Signature] = []
    for sig in sigs:
        v = known.get((sig.name, sig.key_id))
        if v is None:
            unknown.append(sig)
        elif v.verify(message, sig.signature):
            if sig not in good:
                good.append(sig)
        else:
            raise NoteError(f"invalid signature for key {sig.name}+{sig.key_id:08x}")
    if not good:
        raise NoteError("no signature from a known key")
    return OpenedNote(text, tuple(good), tuple(unknown))
