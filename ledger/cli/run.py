"""Run the whole ledger: database and log, chain and contract, anchor worker, API server.

Usage: python scripts/run.py [--host 127.0.0.1] [--port 8000] [--workers 2]
                             [--chain-port 8545] [--block-time SECONDS]

Development (LEDGER_CHAIN_RPC_URL not set): everything lives in the data folder. A local anvil
(from node_modules) keeps its chain in ``chain-state.json``; LogAnchor is deployed once and its
address recorded in ``anchor_contract.json`` (redeployed only if the chain was reset); the
submitter key ``anchor.key`` (mode 0600, never printed) is created, funded and authorised.

Production (LEDGER_CHAIN_RPC_URL set): no anvil and no deployment; the worker uses the
configured contract (LEDGER_ANCHOR_CONTRACT, or the data folder's record for LEDGER_CHAIN_ID)
and key (LEDGER_ANCHOR_KEY_FILE), checked before anything starts.

On the development chain it also deploys the compensation vault with a test token, once
(``payout_vault.json``), funds and caps it, and creates the payout worker's keys (sender
``payout.key``, signing key ``payout-signing.pem``; the owner's ``vault-owner.key``); the
worker registers its signing key (role system) when it first needs it. In production the
payout worker runs when LEDGER_PAYOUT_KEY_FILE is set (docs/payouts.md).

Then it starts the anchor worker (ledger.cli.anchor_worker), the payout worker
(ledger.cli.payout_worker), the message dispatcher (ledger.cli.dispatcher; with
LEDGER_SMTP_URL unset also the local mail server, ledger.cli.mail_server, which keeps every
letter in <data>/mail) and the API (gunicorn) as child processes, prints where everything
is, and runs until SIGINT or SIGTERM, or until a child dies; either way it stops every child
(API, workers, then anvil, which writes its state). Every step is idempotent: a second run
reuses the data folder, the chain and the contracts.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from web3 import Web3

from ledger.anchoring import models as _anchor_models  # noqa: F401  (anchor_records table)
from ledger.anchoring.config import (
    AnchorSettings,
    ConfigError,
    load_account,
    redact_url,
    write_new_key,
)
from ledger.anchoring.contract import LogAnchorClient, log_id_for_origin
from ledger.anchoring.deploy import DeployError, ensure_contract, retire_records
from ledger.anchoring.deployments import read_deployment
from ledger.anchoring.devchain import DevChain, DevChainError, rpc_call
from ledger.anchoring.logsource import open_store_readonly
from ledger.complaints.officers import officer_key_id
from ledger.config import RunSettings, Settings
from ledger.db import make_engine
from ledger.demo import (
    DEMO_OFFICER,
    OFFICER_KEY,
    DemoInfo,
    VaultTerms,
    seed_demo,
    seed_vault_demo,
)
from ledger.errors import LedgerError
from ledger.log.keys import KeyFileError
from ledger.logstore.store import LogError
from ledger.messages.errors import ConfigError as MessagesConfigError
from ledger.messages.mailserver import mail_folder
from ledger.messages.smtp import parse_smtp_url
from ledger.payouts import models as _payout_models  # noqa: F401  (payout_records table)
from ledger.payouts.devvault import ensure_dev_vault
from ledger.payouts.settings import PayoutSettings, ensure_signing_key, load_signing_key
from ledger.processes import (
    WaitTimeout,
    free_port,
    port_free,
    start_process,
    stop_process,
    wait_for,
    wait_for_http,
)
from ledger.runtime import open_ledger
from ledger.secretfiles import SecretFileError, ensure_private_dir

ROOT = Path(__file__).resolve().parents[2]

DEV_CHAIN_ID = 31337
DEV_FUNDING = 10**21  # wei: thousands of anchors at dev-chain fees
# Anchor worker settings for the development chain, unless set in the environment: anchor
# each new checkpoint as soon as the previous anchor is final, final after one block.
DEV_ANCHOR_DEFAULTS = {
    "LEDGER_ANCHOR_INTERVAL_SECONDS": "10",
    "LEDGER_ANCHOR_EVERY_ENTRIES": "1",
    "LEDGER_ANCHOR_CONFIRMATIONS": "1",
    "LEDGER_ANCHOR_POLL_SECONDS": "1",
}
# Payout worker settings for the development chain, unless set in the environment.
DEV_PAYOUT_DEFAULTS = {
    "LEDGER_PAYOUT_CONFIRMATIONS": "1",
    "LEDGER_PAYOUT_POLL_SECONDS": "1",
    "LEDGER_PAYOUT_RETRY_MAX_SECONDS": "30",
}
# The admin id under which the development payout worker registers its signing key.
DEV_PAYOUT_ADMIN = "run-command"
DEV_BLOCK_TIME = 2.0  # interval mining when more than one confirmation is asked for
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0


class Shutdown(Exception):  # a signal to stop, not an error
    """SIGINT or SIGTERM arrived."""


class ChildDied(LedgerError, RuntimeError):
    """A child process exited while it should be running."""


def _on_signal(signum: int, _frame) -> None:
    raise Shutdown(signal.Signals(signum).name)


_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Runs in each child before exec: SIGTERM it when the run command dies, even by
    SIGKILL."""
    if _LIBC is not None:
        _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


# Children get their own session, so a terminal's Ctrl-C reaches only the run command, which
# then stops them in order; and they die with it whatever happens to it.
CHILD_POPEN = {"start_new_session": True, "preexec_fn": _die_with_parent}


# --- children ------------------------------------------------------------------------------


@dataclass
class Child:
    name: str
    proc: subprocess.Popen | None = None
    chain: DevChain | None = None

    @property
    def pid(self) -> int | None:
        return self.chain.pid if self.chain is not None else self.proc.pid  # type: ignore[union-attr]

    def exit_code(self) -> int | None:
        """None while running."""
        if self.chain is not None:
            return None if self.chain.running else -1
        return self.proc.poll()  # type: ignore[union-attr]

    def stop(self) -> None:
        if self.chain is not None:
            self.chain.stop(timeout=STOP_TIMEOUT)  # SIGINT: anvil writes --state, then exits
            return
        assert self.proc is not None
        stop_process(
            self.proc,
            STOP_TIMEOUT,
            on_kill=lambda: print(
                f"{self.name} did not stop in {STOP_TIMEOUT:.0f}s: killing it", flush=True
            ),
        )


class Supervisor:
    def __init__(self) -> None:
        self.children: list[Child] = []

    def spawn(self, name: str, cmd: list[str], env: dict[str, str]) -> Child:
        child = Child(name, proc=start_process(cmd, env=env, cwd=ROOT, **CHILD_POPEN))
        self.children.append(child)
        return child

    def adopt_chain(self, chain: DevChain) -> Child:
        child = Child("anvil", chain=chain)
        self.children.append(child)
        return child

    def check(self) -> None:
        for child in self.children:
            code = child.exit_code()
            if code is not None:
                raise ChildDied(f"{child.name} exited (code {code})")

    def stop_all(self) -> None:
        """Stop in reverse start order: API, worker, chain."""
        for child in reversed(self.children):
            child.stop()
        self.children.clear()


# --- steps ---------------------------------------------------------------------------------


def prepare_database(settings: Settings) -> str:
    """Data folder, log signing key, schema (with anchor_records) and log; the verifier key."""
    ensure_private_dir(settings.data_dir)  # 0700: database, keys and credentials live here
    ledger = open_ledger(settings, create_key=True)
    try:
        return str(ledger.store.verifier)
    finally:
        ledger.close()


# Public files the run command keeps up to date in the data folder, for clients and the
# README's examples: the log's verifier key, and the chain the log is anchored on.
VERIFIER_FILE = "log.vkey"
CHAIN_FILE = "chain.json"


def write_public_file(path: Path, text: str) -> None:
    """Replace ``path`` atomically with ``text``, mode 0644 (nothing secret in it)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.chmod(0o644)
    os.replace(tmp, path)


def record_chain(settings: Settings, chain: ChainInfo) -> Path:
    """Write ``chain.json``: chain id, contract and, for the development chain, its RPC URL
    (a production RPC URL may carry credentials: it is not written)."""
    path = settings.data_dir / CHAIN_FILE
    record = {
        "rpc_url": chain.rpc_url if chain.dev else None,
        "chain_id": chain.chain_id,
        "contract": chain.contract,
    }
    write_public_file(path, json.dumps(record, indent=2) + "\n")
    return path


def child_environment(settings: Settings) -> dict[str, str]:
    """The environment of the worker and the API: the same, absolute, resolved settings."""
    assert settings.log_key_file is not None
    return dict(os.environ) | {
        "LEDGER_DATA_DIR": str(settings.data_dir),
        "LEDGER_DATABASE_URL": settings.database_url,
        "LEDGER_LOG_ORIGIN": settings.log_origin,
        "LEDGER_LOG_KEY_FILE": str(settings.log_key_file.resolve()),
        "PYTHONUNBUFFERED": "1",
    }


@dataclass(frozen=True)
class ChainInfo:
    rpc_url: str  # redacted for printing
    chain_id: int | None
    contract: str
    submitter: str
    key_file: Path
    dev: bool
    state_file: Path | None = None


def _chain_holds_other_history(w3: Web3, settings: Settings, contract: str) -> bool:
    """True when the recorded contract anchors this log at a size or root our log does not
    have (the database was reset, the chain kept): the worker could never anchor again."""
    client = LogAnchorClient(w3, contract)
    if not client.has_code():
        return False
    head = client.latest(log_id_for_origin(settings.log_origin))
    if head.size == 0:
        return False
    engine = make_engine(settings.database_url, connect_timeout=settings.db_connect_timeout)
    try:
        store = open_store_readonly(engine, settings.log_origin)
        return head.size > store.size() or store.root_at(head.size) != head.root
    finally:
        engine.dispose()


def start_dev_chain(
    settings: Settings, args: argparse.Namespace, env: dict[str, str], sup: Supervisor
) -> ChainInfo:
    """anvil with its state in the data folder; key, funds, contract; sets the worker env."""
    data = settings.data_dir
    key_file = data / "anchor.key"
    for name, value in DEV_ANCHOR_DEFAULTS.items():
        if not env.get(name, "").strip():
            env[name] = value
    env.pop("LEDGER_ANCHOR_CONTRACT", None)
    env |= {"LEDGER_CHAIN_ID": str(DEV_CHAIN_ID), "LEDGER_ANCHOR_KEY_FILE": str(key_file)}
    # Check the worker settings now, before anything starts (the RPC URL comes later).
    worker = AnchorSettings.from_env(env | {"LEDGER_CHAIN_RPC_URL": "http://127.0.0.1:1"})
    payout_confirmations = 1
    if args.payouts:
        for name, value in DEV_PAYOUT_DEFAULTS.items():
            if not env.get(name, "").strip():
                env[name] = value
        payout_confirmations = dev_payout_settings(settings, env).confirmations
    block_time = args.block_time
    if block_time is None and max(worker.confirmations, payout_confirmations) > 1:
        block_time = DEV_BLOCK_TIME  # confirmations need blocks; automine makes one per tx
    if block_time is not None and block_time <= 0:
        block_time = None
    if not port_free("127.0.0.1", args.chain_port):
        raise ConfigError(
            f"port {args.chain_port} is in use (another anvil?): set LEDGER_DEV_CHAIN_PORT "
            "or --chain-port"
        )
    state_file = data / "chain-state.json"
    chain = DevChain(
        port=args.chain_port,
        chain_id=DEV_CHAIN_ID,
        state_file=state_file,
        block_time=block_time,
        log_file=data / "anvil.log",
        popen_kwargs=CHILD_POPEN,
    )
    sup.adopt_chain(chain)
    fresh_chain = not state_file.exists()
    chain.start()
    print(f"anvil on {chain.url} ({'new chain' if fresh_chain else 'state ' + str(state_file)})")

    if not key_file.exists():
        write_new_key(key_file)
        print(f"created submitter key file {key_file}")
    account = load_account(key_file)
    w3 = Web3(Web3.HTTPProvider(chain.url, request_kwargs={"timeout": 30}))
    if w3.eth.get_balance(account.address) < DEV_FUNDING // 10:
        chain.set_balance(account.address, DEV_FUNDING)

    record = read_deployment(data, DEV_CHAIN_ID)
    force_new = record is not None and _chain_holds_other_history(w3, settings, record["address"])
    if force_new:
        print("the dev chain anchors another history of this log (database reset?)")
    outcome = ensure_contract(w3, account, account.address, data, force_new=force_new, say=print)
    if outcome.replaced is not None:
        engine = make_engine(settings.database_url, connect_timeout=settings.db_connect_timeout)
        try:
            n = retire_records(
                engine,
                DEV_CHAIN_ID,
                outcome.replaced,
                "development chain reset or contract replaced; anchored again on the new one",
            )
        finally:
            engine.dispose()
        if n:
            print(f"{n} anchor record(s) of the previous contract marked dropped")
    env |= {
        "LEDGER_CHAIN_RPC_URL": chain.url,
        "LEDGER_ANCHOR_CONTRACT": outcome.client.address,
    }
    return ChainInfo(
        chain.url, DEV_CHAIN_ID, outcome.client.address, account.address, key_file, True, state_file
    )


@dataclass(frozen=True)
class PayoutInfo:
    vault: str
    sender: str
    key_file: Path
    signing_key_file: Path
    key_id: str
    terms: VaultTerms | None = None  # the development chain's demo vault and token
    worker_args: tuple[str, ...] = ()


def dev_payout_settings(settings: Settings, env: dict[str, str]) -> PayoutSettings:
    """The development payout worker's settings: its key files in the data folder."""
    data = settings.data_dir
    env.pop("LEDGER_PAYOUT_VAULT", None)
    env |= {
        "LEDGER_PAYOUT_KEY_FILE": str(data / "payout.key"),
        "LEDGER_PAYOUT_SIGNING_KEY_FILE": str(data / "payout-signing.pem"),
    }
    return PayoutSettings.from_env(env | {"LEDGER_CHAIN_RPC_URL": "http://127.0.0.1:1"})


def start_dev_vault(settings: Settings, env: dict[str, str], chain: ChainInfo) -> PayoutInfo:
    """The demo vault and its token on the development chain (deployed once, funded,
    capped), the payout worker's keys (created once, the sender funded); sets the worker env."""
    data = settings.data_dir
    payout = dev_payout_settings(settings, env)
    owner_file = data / "vault-owner.key"
    for key_file in (owner_file, payout.key_file):
        if not key_file.exists():
            write_new_key(key_file)
            print(f"created key file {key_file}")
    owner, sender = load_account(owner_file), load_account(payout.key_file)
    signing = ensure_signing_key(payout.signing_key_file)
    w3 = Web3(Web3.HTTPProvider(env["LEDGER_CHAIN_RPC_URL"], request_kwargs={"timeout": 30}))
    for account in (owner, sender):
        if w3.eth.get_balance(account.address) < DEV_FUNDING // 10:
            rpc_call(chain.rpc_url, "anvil_setBalance", [account.address, hex(DEV_FUNDING)])
    vault = ensure_dev_vault(
        w3, owner, chain.contract, log_id_for_origin(settings.log_origin), data, say=print
    )
    env["LEDGER_PAYOUT_VAULT"] = vault.vault
    terms = VaultTerms(vault.chain_id, vault.vault, vault.token, vault.symbol, vault.decimals)
    return PayoutInfo(
        vault.vault,
        sender.address,
        payout.key_file,
        payout.signing_key_file,
        officer_key_id(signing),
        terms,
        ("--register-as", DEV_PAYOUT_ADMIN),
    )


def production_payouts(env: dict[str, str]) -> PayoutInfo | None:
    """The configured vault and keys, checked (no RPC call); None without a sender key."""
    if not env.get("LEDGER_PAYOUT_KEY_FILE", "").strip():
        return None
    payout = PayoutSettings.from_env(env)
    sender = load_account(payout.key_file)
    signing = load_signing_key(payout.signing_key_file)
    vault = payout.vault_address()
    env["LEDGER_PAYOUT_VAULT"] = vault
    return PayoutInfo(
        vault, sender.address, payout.key_file, payout.signing_key_file, officer_key_id(signing)
    )


def production_chain(env: dict[str, str]) -> ChainInfo:
    """Check the configured chain, contract and key (no RPC call: the worker retries)."""
    settings = AnchorSettings.from_env(env)
    account = load_account(settings.key_file)
    contract = settings.contract_address()
    env["LEDGER_ANCHOR_CONTRACT"] = contract  # the API counts this contract's anchors only
    return ChainInfo(
        redact_url(settings.rpc_url),
        settings.chain_id,
        contract,
        account.address,
        settings.key_file,
        False,
    )


def gunicorn_command(args: argparse.Namespace) -> list[str]:
    """gunicorn with the production settings module (JSON, redacted error and access logs:
    an access line has the route template, never the path with a complaint reference or the
    query string), on this host, port and worker count, with the access log on."""
    return [
        sys.executable, "-m", "gunicorn",
        "--config", str(ROOT / "scripts" / "gunicorn.conf.py"),
        "--chdir", str(ROOT),
        "--bind", f"{args.host}:{args.port}",
        "--workers", str(args.workers),
        "--access-logfile", "-",
        "wsgi:app",
    ]  # fmt: skip


def start_messages(settings: Settings, env: dict[str, str], sup: Supervisor) -> str:
    """The message dispatcher, and the local mail server when no SMTP server is configured
    (its letters kept in <data>/mail); returns where mail goes, for the summary."""
    if settings.smtp_url is not None:
        where = f"{parse_smtp_url(settings.smtp_url).redacted()} (LEDGER_SMTP_URL)"
    else:
        port = settings.mail_port or free_port()
        if not port_free("127.0.0.1", port):
            raise ConfigError(f"port {port} is in use: set LEDGER_MAIL_PORT")
        cmd = [sys.executable, "-m", "ledger.cli.mail_server", "--port", str(port)]
        sup.spawn("mail server", cmd, env)
        wait_for(
            lambda: sup.check() or not port_free("127.0.0.1", port),
            READY_TIMEOUT,
            what=f"the mail server on port {port}",
        )
        env["LEDGER_SMTP_URL"] = f"smtp://127.0.0.1:{port}"
        where = f"smtp://127.0.0.1:{port}, letters kept in {mail_folder(settings.data_dir)}"
    sup.spawn("dispatcher", [sys.executable, "-m", "ledger.cli.dispatcher"], env)
    return where


def print_summary(
    args: argparse.Namespace,
    settings: Settings,
    verifier: str,
    chain: ChainInfo,
    sup: Supervisor,
    payouts: PayoutInfo | None = None,
    mail: str | None = None,
) -> None:
    host = "127.0.0.1" if args.host in ("0.0.0.0", "") else args.host
    where = (
        f"local anvil, chain {chain.chain_id}, state {chain.state_file}"
        if chain.dev
        else f"chain {chain.chain_id if chain.chain_id is not None else '(any)'}"
    )
    lines = [
        "",
        "ledger is running",
        f"  API          : http://{host}:{args.port}/  (OpenAPI at /openapi.json)",
        f"  anchors      : http://{host}:{args.port}/v1/anchors",
        f"  chain RPC    : {chain.rpc_url}  ({where})",
        f"  contract     : LogAnchor at {chain.contract}",
        f"  submitter    : {chain.submitter}  (key file {chain.key_file})",
        f"  data folder  : {settings.data_dir}",
        f"  database     : {settings.database_url}",
        f"  log          : {settings.log_origin}",
        f"  verifier key : {verifier}",
        f"                 (also in {settings.data_dir / VERIFIER_FILE}: keep a copy you trust)",
        f"  chain record : {settings.data_dir / CHAIN_FILE}",
    ]
    if payouts is not None:
        token = (
            f", pays {payouts.terms.symbol} (TestToken {payouts.terms.token}) and the native coin"
            if payouts.terms is not None
            else ""
        )
        lines += [
            f"  vault        : CompensationVault at {payouts.vault}{token}",
            f"  payouts      : sender {payouts.sender} (key file {payouts.key_file}), signing "
            f"key {payouts.key_id} ({payouts.signing_key_file})",
        ]
    if mail is not None:
        lines.append(f"  mail         : {mail}")
    lines += [f"  {c.name:<13}: pid {c.pid}" for c in sup.children]
    lines.append("Ctrl-C (SIGINT) or SIGTERM stops everything.")
    print("\n".join(lines), flush=True)


def seed_demo_once(settings: Settings) -> DemoInfo:
    """Seed the demo complaints the first time the data folder is used."""
    ledger = open_ledger(settings)
    try:
        return seed_demo(ledger, settings.data_dir)
    finally:
        ledger.close()


def seed_vault_demo_once(settings: Settings, payouts: PayoutInfo | None) -> str | None:
    """The demo's complaint paid by the vault, once, on the development chain."""
    if payouts is None or payouts.terms is None:
        return None
    ledger = open_ledger(settings)
    try:
        return seed_vault_demo(ledger, settings.data_dir, payouts.terms)
    finally:
        ledger.close()


def print_demo(
    args: argparse.Namespace, demo: DemoInfo, vault_reference: str | None = None
) -> None:
    host = "127.0.0.1" if args.host in ("0.0.0.0", "") else args.host
    base = f"http://{host}:{args.port}"
    lines = ["", "try it"]
    if demo.created:
        lines += [
            f"  demo customer reference: {demo.customer_reference}",
            f"  demo customer secret   : {demo.customer_secret}  (shown once)",
            f"  curl -s -H 'Authorization: Bearer {demo.customer_secret}' "
            f"{base}/v1/complaints/{demo.customer_reference}?lang=en",
        ]
    if vault_reference is not None:
        lines.append(
            f"  paid on chain by the vault, once anchored: {vault_reference} "
            f"(curl -s {base}/v1/complaints/{vault_reference}/proof with its secret)"
        )
    if demo.staff_usernames:
        lines += [
            f"  staff console: {base}/console/sign-in  (password + TOTP code)",
            f"    demo staff: {', '.join(demo.staff_usernames)}",
            f'    their passwords and TOTP secrets: {demo.credentials_file}, key "staff"',
            f"    officer {DEMO_OFFICER} signs in the browser with the key file "
            f"{demo.credentials_file.parent / OFFICER_KEY}",
        ]
    lines += [
        f"  demo API keys and customers: {demo.credentials_file} (mode 0600)",
        f"  customers file and follow complaints in the browser: {base}/portal/",
        f"  verify a complaint in the browser: {base}/verify",
        f"  curl -s {base}/log/checkpoint",
    ]
    print("\n".join(lines), flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    defaults = RunSettings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=defaults.host)
    parser.add_argument("--port", type=int, default=defaults.port)
    parser.add_argument("--workers", type=int, default=defaults.workers)
    parser.add_argument(
        "--chain-port",
        type=int,
        default=defaults.dev_chain_port,
        help="port of the development anvil (ignored with LEDGER_CHAIN_RPC_URL)",
    )
    parser.add_argument(
        "--block-time",
        type=float,
        default=defaults.dev_chain_block_time,
        help="anvil interval mining in seconds (default: a block per transaction, or "
        f"{DEV_BLOCK_TIME:g}s when LEDGER_ANCHOR_CONFIRMATIONS > 1; 0: per transaction)",
    )
    parser.add_argument(
        "--no-demo",
        dest="demo",
        action="store_false",
        default=defaults.demo,
        help="do not seed demo complaints on first run (or LEDGER_DEMO=0)",
    )
    parser.add_argument(
        "--no-payouts",
        dest="payouts",
        action="store_false",
        default=defaults.payouts,
        help="no compensation vault or payout worker on the development chain "
        "(or LEDGER_PAYOUTS=0)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    settings = Settings()
    production = settings.chain_rpc_url is not None
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _on_signal)
    sup = Supervisor()
    code = 0
    try:
        # 1. Database: data folder, log key, schema, empty signed log (idempotent).
        verifier = prepare_database(settings)
        write_public_file(settings.data_dir / VERIFIER_FILE, verifier + "\n")
        # 2. The schema is ready and nothing runs or serves yet: one-time setup steps on the
        #    database belong here (before the chain, the worker and the API start).
        demo = seed_demo_once(settings) if args.demo else None

        # 3. Chain and contract, then the anchor worker.
        if not port_free(args.host, args.port):
            raise ConfigError(f"port {args.port} is in use: set LEDGER_PORT or --port")
        env = child_environment(settings)
        chain = production_chain(env) if production else start_dev_chain(settings, args, env, sup)
        record_chain(settings, chain)
        if production:
            payouts = production_payouts(env)
        else:
            payouts = start_dev_vault(settings, env, chain) if args.payouts else None
        vault_reference = seed_vault_demo_once(settings, payouts) if args.demo else None
        sup.spawn("anchor worker", [sys.executable, "-m", "ledger.cli.anchor_worker"], env)
        if payouts is not None:
            worker = [sys.executable, "-m", "ledger.cli.payout_worker", *payouts.worker_args]
            sup.spawn("payout worker", worker, env)
        mail = start_messages(settings, env, sup)
        # 4. Serve.
        sup.spawn("API", gunicorn_command(args), env)
        probe = "127.0.0.1" if args.host in ("0.0.0.0", "") else args.host
        url = f"http://{probe}:{args.port}/v1/log/keys"
        wait_for_http(url, READY_TIMEOUT, check=sup.check, what=f"the API on {url}")
        print_summary(args, settings, verifier, chain, sup, payouts, mail)
        if demo is not None:
            print_demo(args, demo, vault_reference)
        while True:
            time.sleep(0.5)
            sup.check()
    except Shutdown as stop:
        print(f"\n{stop}: stopping", flush=True)
    except (ChildDied, WaitTimeout) as exc:
        print(f"error: {exc}; stopping", file=sys.stderr, flush=True)
        code = 1
    except (
        ConfigError,
        MessagesConfigError,
        KeyFileError,
        SecretFileError,
        LogError,
        DeployError,
        DevChainError,
    ) as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        code = 2
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)  # stopping is bounded; let it finish
        sup.stop_all()
    print("stopped", flush=True)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
