"""Where attachment bytes live: a content-addressed local folder, or S3-compatible object
storage. Both name a blob by its SHA-256 (``ab/cd/<sha256>``), so the same file is stored
once, writing it again is harmless, and deleting a missing one is not an error."""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ledger.attachments.errors import StorageError
from ledger.secretfiles import ensure_private_dir


def blob_key(sha256: str) -> str:
    """The blob's path under the storage root: two levels of fan-out, then the full hash."""
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}"


class Backend(Protocol):
    """Blob storage by SHA-256 (hex). ``put`` is durable when it returns."""

    def put(self, sha256: str, data: bytes, media_type: str) -> None: ...

    def get(self, sha256: str) -> bytes | None:
        """The blob, or None when there is none."""
        ...

    def delete(self, sha256: str) -> None:
        """Remove the blob; nothing happens when there is none."""
        ...

    def describe(self) -> str:
        """Where the blobs are, for logs (no credentials)."""
        ...


class LocalBackend:
    """Blobs in ``root/ab/cd/<sha256>``: written to a temporary file in the same folder,
    fsynced, renamed into place and the folder fsynced, so a crash leaves the whole file
    or none. Folders 0700, files 0600 (they hold personal data)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, sha256: str) -> Path:
        return self.root / blob_key(sha256)

    def put(self, sha256: str, data: bytes, media_type: str) -> None:
        path = self._path(sha256)
        try:
            for folder in (self.root, path.parent.parent, path.parent):
                ensure_private_dir(folder)
            fd, tmp = tempfile.mkstemp(prefix=".upload-", dir=path.parent)  # mode 0600
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
            _fsync_dir(path.parent)
        except OSError as exc:
            raise StorageError(f"cannot store attachment {sha256}: {exc.strerror or exc}") from exc

    def get(self, sha256: str) -> bytes | None:
        try:
            return self._path(sha256).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError(f"cannot read attachment {sha256}: {exc.strerror or exc}") from exc

    def delete(self, sha256: str) -> None:
        path = self._path(sha256)
        try:
            path.unlink(missing_ok=True)
            _fsync_dir(path.parent)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StorageError(f"cannot delete attachment {sha256}: {exc.strerror or exc}") from exc

    def describe(self) -> str:
        return f"folder {self.root}"


def _fsync_dir(folder: Path) -> None:
    """Make a rename or unlink in ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class S3Config:
    """An S3-compatible bucket (AWS, MinIO, Ceph, ...). Without keys, boto3's own chain
    (instance role, its config files) supplies the credentials."""

    endpoint_url: str
    bucket: str
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)
    prefix: str = ""


class S3Backend:
    """Blobs as objects ``<prefix>ab/cd/<sha256>`` in one bucket (boto3). S3 writes are
    atomic and durable when acknowledged; a missing object's DELETE succeeds."""

    def __init__(self, config: S3Config, client: Any | None = None) -> None:
        self.config = config
        if client is None:
            import boto3
            from botocore.config import Config

            client = boto3.client(
                "s3",
                endpoint_url=config.endpoint_url,
                region_name=config.region,
                aws_access_key_id=config.access_key_id,
                aws_secret_access_key=config.secret_access_key,
                config=Config(retries={"max_attempts": 3, "mode": "standard"}),
            )
        self.client = client

    def _key(self, sha256: str) -> str:
        return self.config.prefix + blob_key(sha256)

    def put(self, sha256: str, data: bytes, media_type: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.put_object(
                Bucket=self.config.bucket, Key=self._key(sha256), Body=data, ContentType=media_type
            )
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"cannot store attachment {sha256}: {_reason(exc)}") from exc

    def get(self, sha256: str) -> bytes | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            obj = self.client.get_object(Bucket=self.config.bucket, Key=self._key(sha256))
            return obj["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return None
            raise StorageError(f"cannot read attachment {sha256}: {_reason(exc)}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"cannot read attachment {sha256}: {_reason(exc)}") from exc

    def delete(self, sha256: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.delete_object(Bucket=self.config.bucket, Key=self._key(sha256))
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"cannot delete attachment {sha256}: {_reason(exc)}") from exc

    def describe(self) -> str:
        return f"bucket {self.config.bucket} at {self.config.endpoint_url}"


def _reason(exc: Exception) -> str:
    """A boto error in a few words (its code and message; never the request's credentials)."""
    error = getattr(exc, "response", {}).get("Error", {}) if hasattr(exc, "response") else {}
    if error:
        return f"{error.get('Code', 'error')}: {error.get('Message', '')}".strip()
    return type(exc).__name__
