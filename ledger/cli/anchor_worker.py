"""Run the anchor worker: anchor the log's checkpoints on chain, forever.

Configuration (environment):
  LEDGER_CHAIN_RPC_URL            JSON-RPC URL of the chain (required)
  LEDGER_CHAIN_ID                 expected chain id (checked against the node; required when
                                  LEDGER_ANCHOR_CONTRACT is not set)
  LEDGER_ANCHOR_CONTRACT          LogAnchor address (default: the data folder's record,
                                  written by scripts/deploy_contract.py)
  LEDGER_ANCHOR_KEY_FILE          file holding the submitter's hex private key, mode 600
  LEDGER_ANCHOR_INTERVAL_SECONDS  anchor at least this often when the log grew (default 600)
  LEDGER_ANCHOR_EVERY_ENTRIES     ... or as soon as this many entries are new (default 1000)
  LEDGER_ANCHOR_CONFIRMATIONS     blocks before an anchor counts as final (default 6)
  LEDGER_ANCHOR_POLL_SECONDS      pause between steps (default 2)
  LEDGER_ANCHOR_SOURCE            checkpoint source factory, "package.module:function"
                                  (default: the ledger's own log, read-only,
                                  ledger.anchoring.logsource:store_source)
  LEDGER_DATABASE_URL, LEDGER_DATA_DIR, LEDGER_LOG_ORIGIN   as for the rest of the ledger

The source factory is called with the SQLAlchemy engine and returns a CheckpointSource
(ledger/anchoring/source.py). Python callers can pass it to ``main(source_factory=...)``.
The default source opens the log with the verifier key stored in the database: the worker
never needs the log signing key, and checks each checkpoint's signature before anchoring it.
"""

from __future__ import annotations

import argparse
import importlib
import logging
from collections.abc import Callable

from sqlalchemy import Engine
from web3 import Web3

from ledger.anchoring.config import AnchorSettings, ConfigError, load_account, redact_url
from ledger.anchoring.contract import LogAnchorClient
from ledger.anchoring.logsource import LogNotInitialised
from ledger.anchoring.source import CheckpointSource
from ledger.anchoring.status import ensure_anchor_table
from ledger.anchoring.worker import AnchorWorker, WorkerConfig
from ledger.config import Settings
from ledger.db import make_engine
from ledger.processes import stop_on_signals

DEFAULT_SOURCE = "ledger.anchoring.logsource:store_source"

SourceFactory = Callable[[Engine], CheckpointSource]
log = logging.getLogger("anchor_worker")


def load_factory(spec: str) -> SourceFactory:
    """Import ``package.module:function``."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ConfigError(f"source factory {spec!r} is not of the form package.module:function")
    return getattr(importlib.import_module(module_name), attr)


def build_worker(
    settings: AnchorSettings, engine: Engine, source: CheckpointSource
) -> AnchorWorker:
    w3 = Web3(Web3.HTTPProvider(settings.rpc_url, request_kwargs={"timeout": 10}))
    account = load_account(settings.key_file)
    client = LogAnchorClient(w3, settings.contract_address())
    config = WorkerConfig(
        interval_seconds=settings.interval_seconds,
        every_entries=settings.every_entries,
        confirmations=settings.confirmations,
        poll_seconds=settings.poll_seconds,
        expected_chain_id=settings.chain_id,
    )
    return AnchorWorker(
        w3=w3, client=client, account=account, source=source, engine=engine, config=config
    )


def main(argv: list[str] | None = None, source_factory: SourceFactory | None = None) -> int:
    parser = argparse.ArgumentParser(description="Anchor log checkpoints on an EVM chain.")
    parser.add_argument("--source", help="checkpoint source factory, package.module:function")
    parser.add_argument("--once", action="store_true", help="run one step and exit")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        ledger_settings = Settings()
        settings = AnchorSettings.from_settings(ledger_settings)
        engine = make_engine(
            ledger_settings.database_url, connect_timeout=ledger_settings.db_connect_timeout
        )
        # The embedded default creates its own table; production runs migrations first.
        ensure_anchor_table(engine)
        if source_factory is None:
            spec = (
                args.source
                or ledger_settings.anchor_env.get("LEDGER_ANCHOR_SOURCE", "")
                or DEFAULT_SOURCE
            )
            source_factory = load_factory(spec)
        worker = build_worker(settings, engine, source_factory(engine))
    except (ConfigError, LogNotInitialised) as exc:
        log.error("%s", exc)
        return 2
    log.info(
        "anchor worker: submitter %s, contract %s, rpc %s",
        worker.account.address,
        worker.client.address,
        redact_url(settings.rpc_url),
    )
    if args.once:
        log.info("step: %s", worker.step())
        return 0
    stop = stop_on_signals()
    worker.run(stop)
    log.info("anchor worker stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
