"""Which storage the attachments use, from the settings: the S3-compatible bucket when
``LEDGER_ATTACHMENTS_S3_URL`` is set, else the local folder (``LEDGER_ATTACHMENTS_DIR``,
default ``<data>/attachments``). Checked when the ledger opens: a half-configured bucket
stops the server at start, naming the variable, rather than failing the first upload."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from ledger.attachments.backends import Backend, LocalBackend, S3Backend, S3Config
from ledger.config import Settings
from ledger.errors import LedgerError

_S3 = "LEDGER_ATTACHMENTS_S3_"


class AttachmentConfigError(LedgerError, ValueError):
    """The attachment storage settings are incomplete or malformed."""


def s3_config(env: Mapping[str, str]) -> S3Config | None:
    """The bucket the ``LEDGER_ATTACHMENTS_S3_*`` variables describe; None without a URL."""
    values = {name.removeprefix(_S3): value.strip() for name, value in env.items()}
    url = values.get("URL", "")
    if not url:
        extra = sorted(f"{_S3}{k}" for k, v in values.items() if v)
        if extra:
            raise AttachmentConfigError(f"{', '.join(extra)} set without {_S3}URL")
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AttachmentConfigError(f"{_S3}URL is the http(s) endpoint of the object store")
    if parts.username or parts.password:
        raise AttachmentConfigError(
            f"{_S3}URL carries no credentials: use {_S3}ACCESS_KEY_ID and {_S3}SECRET_ACCESS_KEY"
        )
    bucket = values.get("BUCKET", "")
    if not bucket:
        raise AttachmentConfigError(f"{_S3}BUCKET is required with {_S3}URL")
    key_id, secret = values.get("ACCESS_KEY_ID") or None, values.get("SECRET_ACCESS_KEY") or None
    if (key_id is None) != (secret is None):
        raise AttachmentConfigError(
            f"set both {_S3}ACCESS_KEY_ID and {_S3}SECRET_ACCESS_KEY, or neither (then the "
            "object store's usual credential chain applies)"
        )
    prefix = values.get("PREFIX", "")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return S3Config(url, bucket, values.get("REGION") or None, key_id, secret, prefix)


def backend_for(settings: Settings) -> Backend:
    """The storage the settings name (the bucket, else the local folder)."""
    s3 = s3_config(settings.attachments_s3)
    if s3 is not None:
        return S3Backend(s3)
    return LocalBackend(settings.attachments_dir or settings.data_dir / "attachments")
