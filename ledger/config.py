"""Settings from environment variables (one place; the README lists them all)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=lambda: Path(_env("LEDGER_DATA_DIR", "data")).resolve())
    database_url: str = ""
    log_origin: str = field(
        default_factory=lambda: _env("LEDGER_LOG_ORIGIN", "ledger.example/complaints")
    )
    log_key_file: Path | None = None
    redis_url: str | None = field(default_factory=lambda: os.environ.get("LEDGER_REDIS_URL"))
    max_request_bytes: int = field(
        default_factory=lambda: int(_env("LEDGER_MAX_REQUEST_BYTES", str(64 * 1024)))
    )
    jurisdiction: str = field(default_factory=lambda: _env("LEDGER_JURISDICTION", "EU-PSD2"))
    rate_limit: str = field(
        default_factory=lambda: _env("LEDGER_RATE_LIMIT", "100/second;3000/minute")
    )
    sequencer_max_batch: int = field(
        default_factory=lambda: int(_env("LEDGER_SEQUENCER_MAX_BATCH", "4096"))
    )

    def __post_init__(self) -> None:
        if not self.database_url:
            url = os.environ.get("LEDGER_DATABASE_URL") or (
                f"sqlite:///{self.data_dir / 'ledger.sqlite3'}"
            )
            object.__setattr__(self, "database_url", url)
        if self.log_key_file is None:
            key = os.environ.get("LEDGER_LOG_KEY_FILE") or str(self.data_dir / "log.key")
            object.__setattr__(self, "log_key_file", Path(key))
