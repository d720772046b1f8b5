"""The log signing key file: C2SP private-key string, mode 0600, never printed."""

from __future__ import annotations

import stat
from pathlib import Path

from ledger.errors import LedgerError
from ledger.log.note import Signer
from ledger.secretfiles import write_secret_file


class KeyFileError(LedgerError, RuntimeError):
    """The key file is missing, malformed or readable by others."""


def create_key_file(path: Path, name: str) -> Signer:
    """Generate a new Ed25519 key named ``name`` into ``path`` (refuses to overwrite)."""
    signer = Signer.generate(name)
    write_secret_file(path, signer.to_string() + "\n")
    return signer


def load_key_file(path: Path) -> Signer:
    """Load a signer; refuses a file that group or others can read or write."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError as exc:
        raise KeyFileError(f"key file {path} does not exist") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(f"key file {path} must have mode 0600")
    try:
        return Signer.from_string(path.read_text())
    except ValueError as exc:
        raise KeyFileError(f"key file {path} is not a valid signer key") from exc


def ensure_key_file(path: Path, name: str) -> Signer:
    if path.exists():
        return load_key_file(path)
    return create_key_file(path, name)
