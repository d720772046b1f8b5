"""Where the anchor worker gets checkpoints and proofs from: any log store that can answer this."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class CheckpointSource(Protocol):
    """A transparency log as the anchor worker sees it.

    ``latest_checkpoint`` returns ``(tree size, 32-byte root hash, signed checkpoint note
    text)``; the note's SHA-256 goes on chain in the Anchored event. ``consistency_proof``
    is RFC 9162 PROOF(size1, D[size2]) for ``0 < size1 <= size2``; ``root_at`` is the root
    hash of the tree of ``size`` leaves (used to check the chain still agrees with the log).

    A source may also have a ``verifier`` attribute (``ledger.log.note.Verifier``, the log's
    note key); the worker then checks the note's signature before anchoring it.
    ``ledger.anchoring.logsource.StoreCheckpointSource`` is the real log's source.
    """

    def latest_checkpoint(self) -> tuple[int, bytes, bytes]: ...

    def consistency_proof(self, size1: int, size2: int) -> list[bytes]: ...

    def root_at(self, size: int) -> bytes: ...
