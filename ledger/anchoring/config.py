"""Anchor worker settings from its environment variables, and the submitter key file."""

from __future__ import annotations

import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger.anchoring.deployments import read_deployment
from ledger.errors import LedgerError
from ledger.secretfiles import write_secret_file

if TYPE_CHECKING:
    from ledger.config import Settings


class ConfigError(LedgerError, ValueError):
    """A missing or malformed setting; the message names the variable."""


def env_value(env: Mapping[str, str], name: str, default: str | None = None) -> str:
    """A worker variable's value (stripped), its default when unset or empty; ConfigError
    when neither is there."""
    value = env.get(name, "").strip() or default
    if value is None:
        raise ConfigError(f"{name} is not set")
    return value


def env_number(env: Mapping[str, str], name: str, default: str, kind: type, minimum: float) -> Any:
    """A worker variable as a number of ``kind`` at least ``minimum``; ConfigError if not."""
    raw = env_value(env, name, default)
    try:
        value = kind(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r} is not a valid {kind.__name__}") from exc
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}")
    return value


@dataclass(frozen=True)
class AnchorSettings:
    rpc_url: str
    chain_id: int | None
    contract: str | None  # None: take it from the data folder's deployment record
    key_file: Path
    interval_seconds: float
    every_entries: int
    confirmations: int
    poll_seconds: float
    data_dir: Path

    @classmethod
    def from_settings(
        cls, settings: Settings, defaults: Mapping[str, str] | None = None
    ) -> AnchorSettings:
        """From the variables ``settings`` read; ``defaults``: values of unset ones."""
        env = {**(defaults or {}), **settings.anchor_env, "LEDGER_DATA_DIR": str(settings.data_dir)}
        return cls.from_env(env)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> AnchorSettings:
        """From the variables in ``env`` (an environment, e.g. one made for the worker)."""
        chain_id = env.get("LEDGER_CHAIN_ID", "").strip()
        return cls(
            rpc_url=env_value(env, "LEDGER_CHAIN_RPC_URL"),
            chain_id=env_number(env, "LEDGER_CHAIN_ID", chain_id, int, 1) if chain_id else None,
            contract=env.get("LEDGER_ANCHOR_CONTRACT", "").strip() or None,
            key_file=Path(env_value(env, "LEDGER_ANCHOR_KEY_FILE")),
            interval_seconds=env_number(env, "LEDGER_ANCHOR_INTERVAL_SECONDS", "600", float, 0),
            every_entries=env_number(env, "LEDGER_ANCHOR_EVERY_ENTRIES", "1000", int, 1),
            confirmations=env_number(env, "LEDGER_ANCHOR_CONFIRMATIONS", "6", int, 1),
            poll_seconds=env_number(env, "LEDGER_ANCHOR_POLL_SECONDS", "2", float, 0.01),
            data_dir=Path(env_value(env, "LEDGER_DATA_DIR", "data")),
        )

    def contract_address(self) -> str:
        """LEDGER_ANCHOR_CONTRACT, else the address recorded for LEDGER_CHAIN_ID in the data
        folder (by scripts/deploy_contract.py or scripts/run.py)."""
        if self.contract:
            return self.contract
        if self.chain_id is None:
            raise ConfigError("set LEDGER_ANCHOR_CONTRACT, or LEDGER_CHAIN_ID to look it up")
        record = read_deployment(self.data_dir, self.chain_id)
        if record is None:
            raise ConfigError(
                f"no LogAnchor recorded for chain {self.chain_id} in {self.data_dir}: "
                "run scripts/deploy_contract.py or set LEDGER_ANCHOR_CONTRACT"
            )
        return record["address"]


def redact_url(url: str) -> str:
    """An RPC URL fit for logs: scheme, host and port only (providers put API keys in the
    path, query or user part)."""
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparsable URL>"
    if not parts.scheme or not parts.hostname:
        return "<unparsable URL>"
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    hidden = "/…" if parts.path.strip("/") or parts.query or parts.username else ""
    return f"{parts.scheme}://{host}{port}{hidden}"


def load_account(key_file: Path) -> LocalAccount:
    """Read a hex private key (with or without 0x) from ``key_file``.

    The key never appears in an error message or a log line; only the address does.
    """
    try:
        mode = key_file.stat().st_mode
        text = key_file.read_text().strip()
    except OSError as exc:
        raise ConfigError(f"cannot read the submitter key file {key_file}: {exc.strerror}") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"{key_file} is readable by others: chmod 600 it")
    try:
        return Account.from_key(text)
    except Exception:
        # Deliberately not chained: the underlying error may quote the key material.
        raise ConfigError(f"{key_file} does not hold a valid hex private key") from None


def write_new_key(key_file: Path) -> LocalAccount:
    """Create a fresh key in ``key_file`` (mode 600); refuses to overwrite."""
    account = Account.create()
    write_secret_file(key_file, account.key.hex() + "\n")
    return account
