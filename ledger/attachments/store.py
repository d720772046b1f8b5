"""The attachment service: files uploaded to a complaint, stored by SHA-256, that the
complaint's steps then list in their bodies (``attachments: [{name, sha256, media_type,
size}]``) and so commit to.

* ``AttachmentStore.put`` checks the file (not empty, not over the maximum, a type its bytes
  confirm), writes the blob and its row in one transaction (the row commits only once the blob
  is durable), and returns what a step lists.
* ``check_uploaded`` (the write path, inside a step's transaction) refuses a step listing a
  file not uploaded to its complaint, or with another size or type.
* ``mark_erased`` (the erasure step's transaction) marks the files of an erased body that no
  other live body of the complaint lists; ``AttachmentStore.purge`` then deletes each blob no
  live row names any more. The deletion runs after the commit, at start and every hour; it is
  idempotent and serialised with uploads of the same blob, so a crash or a storage outage only
  delays it (docs/attachments.md, "Erasure").
"""

from __future__ import annotations

import hashlib
import logging
import re
import struct
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ledger.attachments.backends import Backend
from ledger.attachments.errors import (
    AttachmentCorrupt,
    AttachmentEmpty,
    AttachmentNotFound,
    AttachmentNotUploaded,
    AttachmentTooLarge,
    StorageError,
)
from ledger.attachments.media import EXTENSIONS, checked_type
from ledger.attachments.models import Attachment
from ledger.periodic import Periodic

log = logging.getLogger(__name__)

PURGE_INTERVAL_SECONDS = 3600.0
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
MAX_NAME = 255
_A = Attachment.__table__


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class StoredAttachment:
    """A file on a complaint; ``data`` only when it was read (``get``)."""

    reference: str
    sha256: str
    size: int
    media_type: str
    name: str
    uploaded_at: datetime
    data: bytes | None = field(default=None, repr=False)

    def listing(self) -> dict[str, Any]:
        """What a step's body lists for this file (and what an upload answers)."""
        return {
            "sha256": self.sha256,
            "size": self.size,
            "media_type": self.media_type,
            "name": self.name,
        }


def clean_name(name: str | None) -> str | None:
    """The file name to keep: its last path component, without control characters or
    surrounding blanks, NFC, at most 255 characters; None when nothing is left."""
    if not name:
        return None
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip()
    if name in ("", ".", ".."):
        return None
    return name[:MAX_NAME]


def default_name(sha256: str, media_type: str) -> str:
    return f"attachment-{sha256[:12]}.{EXTENSIONS.get(media_type, 'bin')}"


def listed_attachments(body: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    """The attachments a step's body lists (none for a body without a list of objects)."""
    items = (body or {}).get("attachments")
    if not isinstance(items, list):
        return []
    return [a for a in items if isinstance(a, Mapping) and isinstance(a.get("sha256"), str)]


class AttachmentStore:
    """Files of complaints: rows in ``attachments`` over blobs in ``backend``."""

    def __init__(
        self,
        engine: Engine,
        backend: Backend,
        max_bytes: int,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        if max_bytes < 1:
            raise ValueError("LEDGER_ATTACHMENT_MAX_BYTES must be a positive number of bytes")
        self.engine = engine
        self.backend = backend
        self.max_bytes = max_bytes
        self.clock = clock
        self._purger: Periodic | None = None

    # --- uploads -----------------------------------------------------------------------------

    def check_size(self, size: int | None) -> None:
        """Refuse a declared size before anything is read: AttachmentEmpty, AttachmentTooLarge."""
        if size is not None and size > self.max_bytes:
            raise AttachmentTooLarge(self.max_bytes)
        if size == 0:
            raise AttachmentEmpty("the file is empty")

    def put(
        self, reference: str, data: bytes, media_type: str | None, name: str | None = None
    ) -> StoredAttachment:
        """Store ``data`` for the complaint ``reference`` and answer what a step lists.

        ``media_type`` is the declared type (a Content-Type); the bytes must confirm it.
        Raises AttachmentEmpty, AttachmentTooLarge, AttachmentTypeRefused (nothing stored)
        or StorageError (nothing recorded). Uploading a file again is harmless: same row,
        same blob (an erased one is back until erased again)."""
        self.check_size(len(data))
        media = checked_type(data, media_type)
        sha = hashlib.sha256(data).hexdigest()
        kept = clean_name(name) or default_name(sha, media)
        now = self.clock()
        row = {
            "reference": reference,
            "sha256": sha,
            "media_type": media,
            "size": len(data),
            "name": kept,
            "uploaded_at": now,
            "erased_at": None,
            "purged_at": None,
        }
        with self._blob_tx(sha) as conn:
            conn.execute(_upsert(conn, row))
            # In the row's transaction, holding the blob's lock: the row commits only with a
            # durable blob, and a purge of the same blob waits (it would see this live row).
            self.backend.put(sha, data, media)
        return StoredAttachment(reference, sha, len(data), media, kept, now)

    # --- reads -------------------------------------------------------------------------------

    def info(self, reference: str, sha256: str) -> StoredAttachment:
        """The live file ``sha256`` of the complaint, without its bytes (AttachmentNotFound)."""
        if not SHA256_HEX.fullmatch(sha256):
            raise AttachmentNotFound("no such attachment on this complaint")
        with self.engine.connect() as conn:
            row = conn.execute(
                select(_A).where(
                    _A.c.reference == reference, _A.c.sha256 == sha256, _A.c.erased_at.is_(None)
                )
            ).first()
        if row is None:
            raise AttachmentNotFound("no such attachment on this complaint (or it was erased)")
        return StoredAttachment(
            reference, sha256, row.size, row.media_type, row.name, row.uploaded_at
        )

    def get(self, reference: str, sha256: str) -> StoredAttachment:
        """The live file with its bytes, checked against its SHA-256 (AttachmentNotFound,
        AttachmentCorrupt when the storage holds other bytes, StorageError)."""
        stored = self.info(reference, sha256)
        data = self._read(sha256)
        if data is None:
            raise StorageError(f"attachment {sha256} is recorded but missing from storage")
        return replace(stored, data=data)

    def files(self, reference: str, sha256s: Iterable[str]) -> dict[str, bytes]:
        """The bytes of those of ``sha256s`` that are live files of the complaint (for its
        evidence bundle); a file erased, never uploaded or missing from storage is left out."""
        wanted = {s for s in sha256s if SHA256_HEX.fullmatch(s)}
        if not wanted:
            return {}
        with self.engine.connect() as conn:
            live = conn.execute(
                select(_A.c.sha256).where(
                    _A.c.reference == reference,
                    _A.c.sha256.in_(sorted(wanted)),
                    _A.c.erased_at.is_(None),
                )
            ).scalars()
            shas = sorted(live)
        out = {}
        for sha in shas:
            data = self._read(sha)
            if data is None:
                log.warning("attachment %s of %s is missing from storage", sha, reference)
                continue
            out[sha] = data
        return out

    def _read(self, sha256: str) -> bytes | None:
        data = self.backend.get(sha256)
        if data is not None and hashlib.sha256(data).hexdigest() != sha256:
            raise AttachmentCorrupt(
                f"the stored bytes of attachment {sha256} do not match its SHA-256"
            )
        return data

    # --- erasure -----------------------------------------------------------------------------

    def pending_purges(self) -> list[str]:
        """The blobs whose last rows were erased and whose deletion is still to be done."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(_A.c.sha256)
                .where(_A.c.erased_at.is_not(None), _A.c.purged_at.is_(None))
                .distinct()
            ).scalars()
            return sorted(rows)

    def purge(self) -> int:
        """Delete every blob that no live row names any more; returns how many were deleted.

        Each blob in its own transaction holding the blob's lock (as an upload of it does):
        its erased rows are marked purged, and the blob deleted when no live row names it
        (another complaint may still hold the same file). A storage failure rolls the marks
        back, to be tried again by the next purge."""
        deleted = 0
        for sha in self.pending_purges():
            try:
                deleted += self._purge_one(sha)
            except StorageError as exc:
                log.warning("attachment purge postponed: %s", exc)
        return deleted

    def _purge_one(self, sha256: str) -> int:
        with self._blob_tx(sha256) as conn:
            conn.execute(
                update(_A)
                .where(_A.c.sha256 == sha256, _A.c.erased_at.is_not(None), _A.c.purged_at.is_(None))
                .values(purged_at=self.clock())
            )
            live = conn.execute(
                select(_A.c.reference)
                .where(_A.c.sha256 == sha256, _A.c.erased_at.is_(None))
                .limit(1)
            ).first()
            if live is not None:
                return 0
            self.backend.delete(sha256)
            return 1

    def start_purging(self, interval: float = PURGE_INTERVAL_SECONDS) -> None:
        """Purge now, then every ``interval`` seconds in a daemon thread until ``close``."""
        self.purge()
        if self._purger is None:
            self._purger = Periodic("attachment-purge", interval, self.purge)

    def close(self) -> None:
        if self._purger is not None:
            self._purger.stop()
            self._purger = None

    # --- internals ---------------------------------------------------------------------------

    @contextmanager
    def _blob_tx(self, sha256: str) -> Iterator[Connection]:
        """A write transaction holding the blob's lock: PostgreSQL's advisory lock on its
        hash, SQLite's database write lock (BEGIN IMMEDIATE)."""
        with self.engine.connect() as conn:
            sqlite = conn.dialect.name == "sqlite"
            if sqlite:
                conn.info["sqlite_begin"] = "IMMEDIATE"
            with conn.begin():
                if not sqlite:
                    key = struct.unpack(">q", bytes.fromhex(sha256)[:8])[0]
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
                yield conn


def _upsert(conn: Connection, row: dict[str, Any]):
    """Insert the row, or bring back the complaint's row of the same file."""
    insert = sqlite_insert if conn.dialect.name == "sqlite" else pg_insert
    stmt = insert(_A).values(**row)
    return stmt.on_conflict_do_update(
        index_elements=["reference", "sha256"],
        set_={
            "name": stmt.excluded.name,
            "uploaded_at": stmt.excluded.uploaded_at,
            "erased_at": None,
            "purged_at": None,
        },
    )


# --- the write path (inside a step's transaction) -------------------------------------------


def check_uploaded(conn: Connection, reference: str, listed: Sequence[Mapping[str, Any]]) -> None:
    """Refuse (AttachmentNotUploaded) a step whose body lists a file that is not a live upload
    of this complaint, or gives it another size or media type than the upload's."""
    if not listed:
        return
    shas = sorted({str(a["sha256"]) for a in listed})
    rows = {
        r.sha256: r
        for r in conn.execute(
            select(_A.c.sha256, _A.c.size, _A.c.media_type).where(
                _A.c.reference == reference, _A.c.sha256.in_(shas), _A.c.erased_at.is_(None)
            )
        )
    }
    for i, item in enumerate(listed):
        path = f"body.attachments[{i}]"
        sha = str(item["sha256"])
        row = rows.get(sha)
        if row is None:
            _refuse(
                path,
                f"no file with SHA-256 {sha} was uploaded to this complaint: upload it "
                f"first (POST /v1/complaints/{reference}/attachments)",
            )
        if item.get("size") != row.size or item.get("media_type") != row.media_type:
            _refuse(
                path,
                f"the uploaded file has size {row.size} and media_type {row.media_type}: "
                "list it with the size and media_type its upload answered",
            )


def _refuse(path: str, message: str) -> None:
    raise AttachmentNotUploaded(f"{path}: {message}", field=path)


def mark_erased(conn: Connection, reference: str, sha256s: Iterable[str], at: datetime) -> int:
    """Mark the complaint's files ``sha256s`` erased (their names blanked) in the erasure's
    own transaction; ``AttachmentStore.purge`` deletes the blobs after the commit."""
    shas = sorted(set(sha256s))
    if not shas:
        return 0
    return conn.execute(
        update(_A)
        .where(_A.c.reference == reference, _A.c.sha256.in_(shas), _A.c.erased_at.is_(None))
        .values(erased_at=at, name="")
    ).rowcount
