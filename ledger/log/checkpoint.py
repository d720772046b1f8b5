"""C2SP tlog-checkpoint bodies: ``<origin>\\n<size>\\n<base64 root>\\n[extension lines]``."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

from ledger.errors import LedgerError
from ledger.log.note import NoteError, Signer, Verifier, open_note, sign_note


class CheckpointError(LedgerError, ValueError):
    """A checkpoint body is malformed or its signature does not verify."""


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = field(default=())

    def body(self) -> str:
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode()]
        return "\n".join([*lines, *self.extensions]) + "\n"

    def sign(self, *signers: Signer) -> str:
        return sign_note(self.body(), *signers)


def parse_checkpoint(body: str) -> Checkpoint:
    if not body.endswith("\n"):
        raise CheckpointError("checkpoint must end in a newline")
    lines = body[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError("checkpoint needs origin, size and root lines")
    origin, size_s, root_s, *ext = lines
    if not origin:
        raise CheckpointError("checkpoint origin is empty")
    if not size_s.isdigit() or not size_s.isascii() or (size_s != "0" and size_s[0] == "0"):
        raise CheckpointError("checkpoint size is not a decimal number")
    try:
        root = base64.b64decode(root_s, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CheckpointError("checkpoint root is not base64") from exc
    if len(root) != 32:
        raise CheckpointError("checkpoint root is not 32 bytes")
    if any(not e for e in ext):
        raise CheckpointError("empty extension line in checkpoint")
    return Checkpoint(origin, int(size_s), root, tuple(ext))


def open_checkpoint(signed: str, log_verifier: Verifier, origin: str | None = None) -> Checkpoint:
    """Verify the log's signature on a signed checkpoint and parse it.

    Other signatures (witnesses) are allowed and ignored unless their key is passed in.
    """
    try:
        opened = open_note(signed, [log_verifier])
    except NoteError as exc:
        raise CheckpointError(f"checkpoint signature: {exc}") from exc
    cp = parse_checkpoint(opened.text)
    if origin is not None and cp.origin != origin:
        raise CheckpointError(f"checkpoint origin {cp.origin!r} is not {origin!r}")
    return cp
