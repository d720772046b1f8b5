"""Files that hold secrets (keys, tokens): created readable by their owner only (mode 0600)."""

from __future__ import annotations

import os
from pathlib import Path


def write_secret_file(path: Path, data: bytes | str, *, replace: bool = False) -> None:
    """Write ``data`` to ``path`` with mode 0600; refuses an existing file unless ``replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if replace else os.O_EXCL)
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
