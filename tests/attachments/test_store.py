"""The attachment store over both backends (a local folder; S3 through moto's server over
real HTTP): files stored once per SHA-256 and checked on the way back, refusals that store
nothing, erasure and the purge that follows it, and its safety against a racing upload."""

from __future__ import annotations

import hashlib
import stat
import threading
import time
from pathlib import Path

import pytest

from ledger.attachments.backends import LocalBackend, S3Backend, blob_key
from ledger.attachments.config import AttachmentConfigError, backend_for, s3_config
from ledger.attachments.errors import (
    AttachmentCorrupt,
    AttachmentEmpty,
    AttachmentNotFound,
    AttachmentTooLarge,
    AttachmentTypeRefused,
    StorageError,
)
from ledger.attachments.models import Attachment
from ledger.attachments.store import AttachmentStore, mark_erased
from ledger.config import Settings
from tests.attachments.conftest import JPEG, PDF, TEXT, WEBP, png

REF_A = "CMP-AAAAA-AAAAA-AAAAA-AAAAA-AAAAA"
REF_B = "CMP-BBBBB-BBBBB-BBBBB-BBBBB-BBBBB"
MAX = 4096


@pytest.fixture(params=["local", "s3"])
def backend(request, tmp_path: Path):
    if request.param == "local":
        return LocalBackend(tmp_path / "blobs")
    s3 = request.getfixturevalue("s3")
    config = s3_config(s3.env(prefix="files"))
    assert config is not None and config.prefix == "files/"
    backend = S3Backend(config)
    backend.server = s3  # for the test to list the bucket
    return backend


@pytest.fixture
def files(engine, backend) -> AttachmentStore:
    return AttachmentStore(engine, backend, MAX)


def blobs(backend) -> list[str]:
    """The SHA-256 of every blob the backend holds."""
    if isinstance(backend, LocalBackend):
        if not backend.root.exists():
            return []
        return sorted(p.name for p in backend.root.rglob("*") if p.is_file())
    return [key.rsplit("/", 1)[-1] for key in backend.server.objects()]


def rows(engine) -> list[tuple]:
    from sqlalchemy import select

    with engine.connect() as conn:
        t = Attachment.__table__
        found = conn.execute(
            select(t.c.reference, t.c.sha256, t.c.name, t.c.erased_at, t.c.purged_at).order_by(
                t.c.reference
            )
        )
        return [tuple(r) for r in found]


def erase(engine, reference: str, sha: str) -> None:
    from datetime import UTC, datetime

    with engine.begin() as conn:
        mark_erased(conn, reference, [sha], datetime.now(UTC))


@pytest.mark.parametrize(
    ("data", "media_type"),
    [(png(), "image/png"), (JPEG, "image/jpeg"), (WEBP, "image/webp"), (PDF, "application/pdf"),
     (TEXT, "text/plain; charset=utf-8")],
)  # fmt: skip
def test_a_file_goes_in_and_comes_back_checked(files, backend, data, media_type) -> None:
    stored = files.put(REF_A, data, media_type, "../../etc/statement\x07.bin")
    sha = hashlib.sha256(data).hexdigest()
    assert stored.listing() == {
        "sha256": sha,
        "size": len(data),
        "media_type": media_type.split(";")[0],
        "name": "statement.bin",  # the last path component, no control characters
    }
    assert blobs(backend) == [sha]
    back = files.get(REF_A, sha)
    assert back.data == data and back.media_type == stored.media_type
    if isinstance(backend, LocalBackend):
        assert (backend.root / blob_key(sha)).read_bytes() == data
    else:
        assert backend.server.objects() == [f"files/{sha[:2]}/{sha[2:4]}/{sha}"]


def test_the_same_file_in_two_complaints_is_one_blob_and_two_rows(files, backend, engine) -> None:
    data = png(b"shared")
    a = files.put(REF_A, data, "image/png", "a.png")
    b = files.put(REF_B, data, "image/png", None)
    assert a.sha256 == b.sha256 and b.name == f"attachment-{a.sha256[:12]}.png"
    assert blobs(backend) == [a.sha256]
    assert [r[:2] for r in rows(engine)] == [(REF_A, a.sha256), (REF_B, a.sha256)]
    # Not a file of a third complaint, whatever its hash.
    with pytest.raises(AttachmentNotFound):
        files.get("CMP-CCCCC-CCCCC-CCCCC-CCCCC-CCCCC", a.sha256)
    assert files.files(REF_A, [a.sha256, "0" * 64, "not-a-hash"]) == {a.sha256: data}


@pytest.mark.parametrize(
    ("data", "media_type", "error", "code"),
    [
        (b"", "image/png", AttachmentEmpty, "ATTACHMENT_EMPTY"),
        (png(b"x" * MAX), "image/png", AttachmentTooLarge, "ATTACHMENT_TOO_LARGE"),
        (PDF, "image/png", AttachmentTypeRefused, "ATTACHMENT_TYPE_MISMATCH"),
        (b"<script>alert(1)</script>", "image/png", AttachmentTypeRefused,
         "ATTACHMENT_TYPE_MISMATCH"),
        (b"<html></html>", "text/html", AttachmentTypeRefused, "ATTACHMENT_TYPE_NOT_ALLOWED"),
        (b"\x00\x01binary", "text/plain", AttachmentTypeRefused, "ATTACHMENT_TYPE_MISMATCH"),
        (TEXT, "text/plain; charset=latin-1", AttachmentTypeRefused,
         "ATTACHMENT_TYPE_NOT_ALLOWED"),
        (png(), None, AttachmentTypeRefused, "ATTACHMENT_TYPE_NOT_ALLOWED"),
    ],
)  # fmt: skip
def test_refused_files_leave_nothing_behind(
    files, backend, engine, data, media_type, error, code
) -> None:
    with pytest.raises(error) as caught:
        files.put(REF_A, data, media_type, "x")
    assert caught.value.code == code and caught.value.message
    assert blobs(backend) == [] and rows(engine) == []


def test_erasure_deletes_the_blob_once_no_complaint_holds_it(files, backend, engine) -> None:
    data = png(b"erase me")
    sha = files.put(REF_A, data, "image/png", "passport.png").sha256
    files.put(REF_B, data, "image/png", "mine.png")
    erase(engine, REF_A, sha)
    assert files.pending_purges() == [sha]
    assert files.purge() == 0  # complaint B still holds the file: the blob stays
    assert files.pending_purges() == [] and blobs(backend) == [sha]
    erased = next(r for r in rows(engine) if r[0] == REF_A)
    assert erased[2] == "" and erased[3] is not None and erased[4] is not None  # name blanked
    with pytest.raises(AttachmentNotFound):
        files.get(REF_A, sha)
    assert files.get(REF_B, sha).data == data

    erase(engine, REF_B, sha)
    assert files.purge() == 1 and blobs(backend) == []
    assert files.purge() == 0  # idempotent: nothing pending any more
    # Uploaded again later: the same row is live again, and the blob back.
    files.put(REF_A, data, "image/png", "again.png")
    assert files.get(REF_A, sha).name == "again.png" and blobs(backend) == [sha]


class FlakyBackend:
    """A backend whose deletions fail until told otherwise (an object store outage)."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.failing = True

    def put(self, sha256, data, media_type):
        self.inner.put(sha256, data, media_type)

    def get(self, sha256):
        return self.inner.get(sha256)

    def delete(self, sha256):
        if self.failing:
            raise StorageError("the object store is unreachable")
        self.inner.delete(sha256)

    def describe(self):
        return "flaky"


def test_a_failed_deletion_stays_pending_and_is_done_later(engine, tmp_path) -> None:
    backend = FlakyBackend(LocalBackend(tmp_path / "blobs"))
    files = AttachmentStore(engine, backend, MAX)
    sha = files.put(REF_A, TEXT, "text/plain").sha256
    erase(engine, REF_A, sha)
    assert files.purge() == 0  # logged, not raised
    assert files.pending_purges() == [sha] and backend.get(sha) == TEXT  # rolled back
    with pytest.raises(AttachmentNotFound):
        files.get(REF_A, sha)  # erased for every reader already
    backend.failing = False
    assert files.purge() == 1 and backend.get(sha) is None and files.pending_purges() == []


def test_an_upload_racing_a_purge_of_the_same_file_keeps_it(engine, tmp_path) -> None:
    """The purge waits for the upload's transaction (the blob's lock), then sees its row."""
    inner = LocalBackend(tmp_path / "blobs")

    class SlowPut(FlakyBackend):
        def put(self, sha256, data, media_type):
            inner.put(sha256, data, media_type)
            started.set()
            time.sleep(0.5)  # the row is not committed yet

    started = threading.Event()
    slow = SlowPut(inner)
    slow.failing = False
    uploads = AttachmentStore(engine, slow, MAX)
    purges = AttachmentStore(engine, inner, MAX)
    data = png(b"raced")
    sha = purges.put(REF_A, data, "image/png").sha256
    erase(engine, REF_A, sha)
    upload = threading.Thread(target=uploads.put, args=(REF_B, data, "image/png"))
    upload.start()
    assert started.wait(5)
    assert purges.purge() == 0  # waited for the upload; complaint B now holds the file
    upload.join()
    assert inner.get(sha) == data and uploads.get(REF_B, sha).data == data


def test_a_changed_blob_is_detected_on_read(engine, tmp_path) -> None:
    backend = LocalBackend(tmp_path / "blobs")
    files = AttachmentStore(engine, backend, MAX)
    sha = files.put(REF_A, TEXT, "text/plain").sha256
    path = backend.root / blob_key(sha)
    path.write_bytes(TEXT.replace(b"3 days", b"3 hours"))
    with pytest.raises(AttachmentCorrupt):
        files.get(REF_A, sha)
    with pytest.raises(AttachmentCorrupt):
        files.files(REF_A, [sha])
    files.put(REF_A, TEXT, "text/plain")  # uploading it again repairs it
    assert files.get(REF_A, sha).data == TEXT


def test_local_blobs_are_private_and_written_whole(engine, tmp_path) -> None:
    backend = LocalBackend(tmp_path / "blobs")
    files = AttachmentStore(engine, backend, MAX)
    sha = files.put(REF_A, PDF, "application/pdf").sha256
    path = backend.root / blob_key(sha)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for folder in (backend.root, path.parent, path.parent.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == [sha]  # no temporary file left


def test_a_storage_failure_records_nothing(engine, tmp_path) -> None:
    class Broken(FlakyBackend):
        def put(self, sha256, data, media_type):
            raise StorageError("disk full")

    files = AttachmentStore(engine, Broken(LocalBackend(tmp_path / "b")), MAX)
    with pytest.raises(StorageError):
        files.put(REF_A, TEXT, "text/plain")
    assert rows(engine) == []


def test_s3_settings_are_checked_and_name_the_variable(tmp_path, s3) -> None:
    env = s3.env()
    assert s3_config({}) is None
    config = s3_config(env)
    assert config is not None and config.bucket == s3.bucket and config.prefix == ""
    for broken, words in [
        ({**env, "LEDGER_ATTACHMENTS_S3_BUCKET": ""}, "BUCKET is required"),
        ({**env, "LEDGER_ATTACHMENTS_S3_URL": "ftp://x"}, r"http\(s\) endpoint"),
        ({**env, "LEDGER_ATTACHMENTS_S3_URL": "https://k:s@x"}, "carries no credentials"),
        ({**env, "LEDGER_ATTACHMENTS_S3_SECRET_ACCESS_KEY": ""}, "both"),
        ({"LEDGER_ATTACHMENTS_S3_BUCKET": "b"}, "without LEDGER_ATTACHMENTS_S3_URL"),
    ]:
        with pytest.raises(AttachmentConfigError, match=words):
            s3_config(broken)
    local = Settings(data_dir=tmp_path, database_url="sqlite://", attachments_s3={})
    assert isinstance(backend_for(local), LocalBackend)
    assert backend_for(local).root == tmp_path / "attachments"
    remote = Settings(data_dir=tmp_path, database_url="sqlite://", attachments_s3=env)
    assert isinstance(backend_for(remote), S3Backend)
    assert "test-secret-key" not in repr(remote) and "test-secret-key" not in repr(config)
