"""Run the payout worker: pay accepted vault offers once anchored, record them on the log.

Configuration (environment):
  LEDGER_CHAIN_RPC_URL              JSON-RPC URL of the chain (required)
  LEDGER_CHAIN_ID                   expected chain id (checked against the node; finds the
                                    vault recorded in the data folder)
  LEDGER_PAYOUT_VAULT               CompensationVault address (default: the data folder's
                                    record for LEDGER_CHAIN_ID, written by the run command)
  LEDGER_PAYOUT_KEY_FILE            the sender's hex private key (pays the gas), mode 600
  LEDGER_PAYOUT_SIGNING_KEY_FILE    the Ed25519 key (PEM, mode 600) that signs the recorded
                                    payments, registered on the log with the role system
  LEDGER_PAYOUT_CONFIRMATIONS       blocks before a payout counts as final (default 6)
  LEDGER_PAYOUT_POLL_SECONDS        pause between steps (default 5)
  LEDGER_PAYOUT_RETRY_MAX_SECONDS   longest wait before retrying a refused payout (default 300)
  LEDGER_DATABASE_URL, LEDGER_DATA_DIR, LEDGER_LOG_ORIGIN, LEDGER_LOG_KEY_FILE   as for the
                                    rest of the ledger (the worker appends to the log)

Register the signing key once, as an admin (``scripts/officer.py register KEY_FILE --roles
system --name 'Payout worker'``, then POST the printed request to /v1/officers/keys); until it
is registered the worker pays nothing and says so. ``--register-as ADMIN_ID`` (the run
command's development chain) has the worker register it itself when first needed.
"""

from __future__ import annotations

import argparse
import logging

from web3 import Web3

from ledger.anchoring.config import ConfigError, load_account, redact_url
from ledger.config import Settings
from ledger.log.keys import KeyFileError
from ledger.logstore.store import LogError
from ledger.payouts.settings import PayoutSettings, load_signing_key
from ledger.payouts.vault import CompensationVaultClient
from ledger.payouts.worker import PayoutBlocked, PayoutConfig, PayoutWorker
from ledger.processes import stop_on_signals
from ledger.runtime import Ledger, open_ledger

log = logging.getLogger("payout_worker")


def build_worker(
    settings: PayoutSettings, ledger: Ledger, register_as: str | None = None
) -> PayoutWorker:
    w3 = Web3(Web3.HTTPProvider(settings.rpc_url, request_kwargs={"timeout": 10}))
    vault = CompensationVaultClient(w3, settings.vault_address())
    config = PayoutConfig(
        confirmations=settings.confirmations,
        poll_seconds=settings.poll_seconds,
        retry_max=settings.retry_max_seconds,
        expected_chain_id=settings.chain_id,
        scan_from_block=settings.scan_from_block(),
    )
    return PayoutWorker(
        w3=w3,
        vault=vault,
        account=load_account(settings.key_file),
        signing_key=load_signing_key(settings.signing_key_file),
        reads=ledger.complaints.reads,
        writes=ledger.complaints.writes,
        engine=ledger.engine,
        config=config,
        register_as=register_as,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--once", action="store_true", help="run one step and exit")
    parser.add_argument(
        "--register-as",
        metavar="ADMIN_ID",
        help="register the signing key (role system) under this admin id when first needed "
        "(development chains only)",
    )
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        ledger_settings = Settings()
        settings = PayoutSettings.from_settings(ledger_settings)
        ledger = open_ledger(ledger_settings)
    except (ConfigError, KeyFileError, LogError) as exc:
        log.error("%s", exc)
        return 2
    try:
        try:
            worker = build_worker(settings, ledger, args.register_as)
        except ConfigError as exc:
            log.error("%s", exc)
            return 2
        log.info(
            "payout worker: vault %s, sender %s, signing key %s, rpc %s",
            worker.vault.address,
            worker.account.address,
            worker.key_id,
            redact_url(settings.rpc_url),
        )
        if not worker.check_key() and args.register_as is None:
            log.warning(
                "the signing key %s is not registered with the role system: payouts wait until "
                "an admin registers it (scripts/officer.py register %s --roles system)",
                worker.key_id,
                settings.signing_key_file,
            )
        if args.once:
            try:
                log.info("step: %s", worker.step())
            except PayoutBlocked as exc:
                log.error("%s", exc)
                return 1
            return 0
        stop = stop_on_signals()
        worker.run(stop)
        log.info("payout worker stopped")
        return 0
    finally:
        ledger.close()


if __name__ == "__main__":
    raise SystemExit(main())
