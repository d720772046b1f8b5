"""An in-memory transparency log implementing CheckpointSource, for the anchoring tests.

Uses the project's pure RFC 6962 functions from ledger.log.merkle and signs real C2SP
checkpoint notes with Ed25519, so the worker sees exactly what the real log store will hand it.
"""

from __future__ import annotations

import base64
import hashlib
import threading

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ledger.log.merkle import consistency_proof, in_memory_getter, leaf_hash, tree_root


class MemoryLog:
    """An append-only log of byte entries with signed checkpoints; thread-safe."""

    def __init__(self, origin: str = "example.org/complaints/test", key_name: str = "test-log"):
        self.origin = origin
        self.key_name = key_name
        self._key = Ed25519PrivateKey.generate()
        public = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self._key_id = hashlib.sha256(key_name.encode() + b"\n\x01" + public).digest()[:4]
        self._leaves: list[bytes] = []
        self._lock = threading.Lock()

    def append(self, *entries: bytes) -> int:
        with self._lock:
            self._leaves.extend(leaf_hash(e) for e in entries)
            return len(self._leaves)

    def grow_to(self, size: int) -> int:
        """Append numbered entries until the log has ``size`` of them."""
        with self._lock:
            start = len(self._leaves)
            self._leaves.extend(leaf_hash(b"entry %d" % i) for i in range(start, size))
            return len(self._leaves)

    @property
    def size(self) -> int:
        return len(self._leaves)

    def _getter(self, size: int):
        # A getter over a fixed prefix: later appends cannot change what it answers.
        return in_memory_getter(self._leaves[:size])

    # --- CheckpointSource ------------------------------------------------------------------

    def latest_checkpoint(self) -> tuple[int, bytes, bytes]:
        with self._lock:
            size = len(self._leaves)
            root = tree_root(size, self._getter(size))
        body = f"{self.origin}\n{size}\n{base64.b64encode(root).decode()}\n".encode()
        sig = base64.b64encode(self._key_id + self._key.sign(body)).decode()
        note = body + f"\n— {self.key_name} {sig}\n".encode()
        return size, root, note

    def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        with self._lock:
            return consistency_proof(size1, size2, self._getter(size2))

    def root_at(self, size: int) -> bytes:
        with self._lock:
            return tree_root(size, self._getter(size))


def env_log(engine: object = None) -> MemoryLog:
    """Source factory for scripts/anchor_worker.py in tests: a deterministic log whose size
    and origin come from TEST_ANCHOR_LOG_SIZE and TEST_ANCHOR_LOG_ORIGIN."""
    import os

    log = MemoryLog(origin=os.environ["TEST_ANCHOR_LOG_ORIGIN"])
    log.grow_to(int(os.environ["TEST_ANCHOR_LOG_SIZE"]))
    return log
