"""Files that hold secrets (keys, tokens): created readable by their owner only (mode 0600),
in folders only their owner can enter (mode 0700)."""

from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path

from ledger.errors import LedgerError

log = logging.getLogger(__name__)

SECRET_KEY_BYTES = 32
_GROUP_OR_OTHER = stat.S_IRWXG | stat.S_IRWXO


class SecretFileError(LedgerError, RuntimeError):
    """A secret key file is malformed or readable by others."""


def ensure_private_dir(path: Path) -> None:
    """Create ``path`` (mode 0700) or take group and other access away from it."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = path.stat()
    if st.st_mode & _GROUP_OR_OTHER and st.st_uid == os.getuid():
        os.chmod(path, 0o700)


def write_secret_file(path: Path, data: bytes | str, *, replace: bool = False) -> None:
    """Write ``data`` to ``path`` with mode 0600; refuses an existing file unless ``replace``.

    A missing parent folder is created with mode 0700 (an existing one is left as it is:
    the path may be anywhere the operator chose)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if replace else os.O_EXCL)
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def load_secret_key(path: Path) -> bytes:
    """The 32-byte key in ``path`` (hex, one line); refuses a file group or others can use."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError as exc:
        raise SecretFileError(f"secret key file {path} does not exist") from exc
    if mode & _GROUP_OR_OTHER:
        raise SecretFileError(f"secret key file {path} must have mode 0600")
    try:
        key = bytes.fromhex(path.read_text().strip())
    except ValueError:
        key = b""
    if len(key) != SECRET_KEY_BYTES:
        raise SecretFileError(f"secret key file {path} must hold {SECRET_KEY_BYTES} hex bytes")
    return key


def ensure_secret_key(path: Path) -> bytes:
    """Load the key in ``path``, creating it (32 random bytes, mode 0600) the first time."""
    if not path.exists():
        # Written whole under a private name, then linked into place: a process starting at
        # the same moment either wins the link or reads the winner's complete file.
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        write_secret_file(tmp, secrets.token_bytes(SECRET_KEY_BYTES).hex() + "\n")
        try:
            os.link(tmp, path)
            log.info("created secret key file %s (mode 0600)", path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return load_secret_key(path)
