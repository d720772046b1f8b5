"""The payout worker's settings from its environment variables, and its two key files.

The worker holds two keys, each in its own file of mode 0600 that is never printed:

* the **sender** (``LEDGER_PAYOUT_KEY_FILE``): the EVM account that sends the vault's
  payouts and pays their gas (hex private key, as ``anchor.key``; a key of its own, so its
  nonces never race the anchor worker's);
* the **signing key** (``LEDGER_PAYOUT_SIGNING_KEY_FILE``): the Ed25519 key (PKCS#8 PEM, as
  ``scripts/officer.py keygen`` writes) that signs the ``compensation_paid`` steps it
  records, registered on the log with the role ``system``.

The vault is ``LEDGER_PAYOUT_VAULT``, or the address the run command recorded for the chain
in the data folder (``payout_vault.json``, :mod:`ledger.payouts.devvault`).
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from ledger.anchoring.config import ConfigError, env_number, env_value
from ledger.secretfiles import write_secret_file

if TYPE_CHECKING:
    from ledger.config import Settings

VAULT_RECORD_FILE = "payout_vault.json"


# --- the data folder's record of the vault (development chain) ------------------------------


def read_vault_record(data_dir: Path, chain_id: int) -> dict[str, Any] | None:
    """The vault recorded for ``chain_id`` in the data folder, or None."""
    path = data_dir / VAULT_RECORD_FILE
    if not path.exists():
        return None
    return json.loads(path.read_text()).get("chains", {}).get(str(chain_id))


def write_vault_record(data_dir: Path, chain_id: int, record: Mapping[str, Any]) -> Path:
    """Record the vault of ``chain_id``, keeping other chains' records (atomic write)."""
    path = data_dir / VAULT_RECORD_FILE
    data = json.loads(path.read_text()) if path.exists() else {"chains": {}}
    data.setdefault("chains", {})[str(chain_id)] = dict(record)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)
    return path


# --- settings ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PayoutSettings:
    rpc_url: str
    chain_id: int | None
    vault: str | None  # None: the data folder's record for chain_id
    key_file: Path
    signing_key_file: Path
    confirmations: int
    poll_seconds: float
    retry_max_seconds: float
    data_dir: Path

    @classmethod
    def from_settings(
        cls, settings: Settings, defaults: Mapping[str, str] | None = None
    ) -> PayoutSettings:
        """From the variables ``settings`` read; ``defaults``: values of unset ones."""
        env = {**(defaults or {}), **settings.payout_env, "LEDGER_DATA_DIR": str(settings.data_dir)}
        return cls.from_env(env)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> PayoutSettings:
        """From the variables in ``env`` (an environment, e.g. one made for the worker)."""
        chain_id = env.get("LEDGER_CHAIN_ID", "").strip()
        return cls(
            rpc_url=env_value(env, "LEDGER_CHAIN_RPC_URL"),
            chain_id=env_number(env, "LEDGER_CHAIN_ID", chain_id, int, 1) if chain_id else None,
            vault=env.get("LEDGER_PAYOUT_VAULT", "").strip() or None,
            key_file=Path(env_value(env, "LEDGER_PAYOUT_KEY_FILE")),
            signing_key_file=Path(env_value(env, "LEDGER_PAYOUT_SIGNING_KEY_FILE")),
            confirmations=env_number(env, "LEDGER_PAYOUT_CONFIRMATIONS", "6", int, 1),
            poll_seconds=env_number(env, "LEDGER_PAYOUT_POLL_SECONDS", "5", float, 0.01),
            retry_max_seconds=env_number(env, "LEDGER_PAYOUT_RETRY_MAX_SECONDS", "300", float, 0),
            data_dir=Path(env_value(env, "LEDGER_DATA_DIR", "data")),
        )

    def vault_address(self) -> str:
        """LEDGER_PAYOUT_VAULT, else the vault recorded for LEDGER_CHAIN_ID in the data folder."""
        if self.vault:
            return self.vault
        if self.chain_id is None:
            raise ConfigError("set LEDGER_PAYOUT_VAULT, or LEDGER_CHAIN_ID to look it up")
        record = read_vault_record(self.data_dir, self.chain_id)
        if record is None:
            raise ConfigError(
                f"no compensation vault recorded for chain {self.chain_id} in {self.data_dir}: "
                "set LEDGER_PAYOUT_VAULT"
            )
        return str(record["vault"])

    def scan_from_block(self) -> int:
        """Where to look for the vault's Paid events: its deployment block when recorded."""
        if self.chain_id is None:
            return 0
        record = read_vault_record(self.data_dir, self.chain_id) or {}
        return int(record.get("deployedAtBlock", 0))


# --- the signing key -------------------------------------------------------------------------


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    """The worker's Ed25519 signing key (PKCS#8 PEM, mode 0600). The key never appears in a
    message; only the path does."""
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the payout signing key {path}: {exc.strerror}") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"{path} is readable by others: chmod 600 it")
    try:
        key = load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise ConfigError(f"{path} does not hold a PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{path} is not an Ed25519 private key")
    return key


def ensure_signing_key(path: Path) -> Ed25519PrivateKey:
    """Load the signing key in ``path``, creating it (mode 0600) the first time."""
    if not path.exists():
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        write_secret_file(path, pem)
    return load_signing_key(path)
