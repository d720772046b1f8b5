"""A local anvil node from node_modules, for development and tests.

anvil comes from the npm package ``@foundry-rs/anvil``, whose per-platform optional dependency
(``@foundry-rs/anvil-linux-amd64`` here) ships the binary at ``bin/anvil``. We run that binary
directly instead of the package's ``bin.mjs`` wrapper, so stopping the node signals anvil itself
(with ``--state`` it writes the chain to the file on a clean stop).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import signal
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from ledger.errors import LedgerError
from ledger.processes import WaitTimeout, free_port, start_process, stop_process, wait_for

ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = ROOT / "node_modules"

_PLATFORM_PACKAGES = {
    ("Linux", "x86_64"): "anvil-linux-amd64",
    ("Linux", "aarch64"): "anvil-linux-arm64",
    ("Darwin", "x86_64"): "anvil-darwin-amd64",
    ("Darwin", "arm64"): "anvil-darwin-arm64",
}


class DevChainError(LedgerError, RuntimeError):
    """anvil is missing, did not start, or died."""


def anvil_binary(node_modules: Path = NODE_MODULES) -> Path:
    """Path of the anvil binary installed by ``npm ci``; raises DevChainError when absent."""
    package = _PLATFORM_PACKAGES.get((platform.system(), platform.machine()))
    if package is None:
        raise DevChainError(f"no anvil npm package for {platform.system()} {platform.machine()}")
    path = node_modules / "@foundry-rs" / package / "bin" / "anvil"
    if not os.access(path, os.X_OK):
        raise DevChainError(f"{path} is missing: run `npm ci` at the repository root")
    return path


def rpc_call(url: str, method: str, params: list | None = None, timeout: float = 5) -> object:
    """One raw JSON-RPC call (used before web3 is set up, and for anvil-only methods)."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []})
    req = urllib.request.Request(
        url, data=body.encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        reply = json.loads(resp.read())
    if "error" in reply:
        raise DevChainError(f"{method}: {reply['error']}")
    return reply["result"]


class DevChain:
    """An anvil process on 127.0.0.1.

    ``state_file`` persists the chain across stop/start (anvil ``--state``); ``automine=False``
    starts with ``--no-mining`` so transactions wait in the pool until ``mine()``.
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        chain_id: int = 31337,
        state_file: Path | None = None,
        automine: bool = True,
        block_time: float | None = None,
        log_file: Path | None = None,
        startup_timeout: float = 30,
        popen_kwargs: dict | None = None,
    ) -> None:
        self.port = port or free_port()
        self.chain_id = chain_id
        self.state_file = state_file
        self.automine = automine
        self.block_time = block_time
        self.log_file = log_file
        self.startup_timeout = startup_timeout
        # Extra subprocess.Popen arguments (the run command: own session, die with the parent).
        self.popen_kwargs = dict(popen_kwargs or {})
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        cmd = [
            str(anvil_binary()),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--chain-id",
            str(self.chain_id),
        ]
        if self.state_file is not None:
            cmd += ["--state", str(self.state_file)]
        if not self.automine:
            cmd.append("--no-mining")
        if self.block_time is not None:
            cmd += ["--block-time", str(self.block_time)]
        return cmd

    def start(self) -> DevChain:
        if self.running:
            return self
        proc = start_process(
            self.command(), log=self.log_file or Path(os.devnull), **self.popen_kwargs
        )
        self._proc = proc

        def answering() -> bool:
            if proc.poll() is not None:
                self._proc = None
                raise DevChainError(
                    f"anvil exited with {proc.returncode} on startup: {self.log_file}"
                )
            try:
                return int(str(rpc_call(self.url, "eth_chainId", timeout=1)), 16) == self.chain_id
            except (OSError, urllib.error.URLError, DevChainError, ValueError):
                return False

        try:
            wait_for(answering, self.startup_timeout, interval=0.05, what=f"anvil on {self.url}")
        except WaitTimeout as exc:
            self.stop()
            raise DevChainError(f"anvil did not answer on {self.url}") from exc
        return self

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stop(self, timeout: float = 15) -> None:
        """Stop cleanly (SIGINT: anvil dumps ``--state`` then exits); kill if it hangs."""
        proc, self._proc = self._proc, None
        if proc is not None:
            stop_process(proc, timeout, sig=signal.SIGINT)

    # --- anvil-specific controls (dev and tests) ---------------------------------------

    def rpc(self, method: str, *params: object) -> object:
        return rpc_call(self.url, method, list(params))

    def mine(self, blocks: int = 1) -> None:
        self.rpc("anvil_mine", hex(blocks))

    def set_automine(self, enabled: bool) -> None:
        self.rpc("evm_setAutomine", enabled)

    def snapshot(self) -> str:
        return str(self.rpc("evm_snapshot"))

    def revert(self, snapshot_id: str) -> bool:
        return bool(self.rpc("evm_revert", snapshot_id))

    def set_balance(self, address: str, wei: int) -> None:
        self.rpc("anvil_setBalance", address, hex(wei))

    def __enter__(self) -> DevChain:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with contextlib.suppress(Exception):
            self.stop()
