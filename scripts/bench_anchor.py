#!/usr/bin/env python3
"""Gas per anchor at tree sizes 10, 1,000 and 1,000,000, against a plain store-the-root baseline.

Runs both contracts on a local anvil (started from node_modules), builds the trees' leaf hashes
in memory (1M leaves: a few seconds), and for each case anchors the old size first, then
measures the receipt's gasUsed for the extension with its RFC 9162 consistency proof. The same
(old, new) steps are done with PlainRootStore, which stores and emits the same data without
any check. Prints a table and writes bench/anchor.json.

    python scripts/bench_anchor.py [--out bench/anchor.json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

from eth_account import Account
from hexbytes import HexBytes
from web3 import Web3

from ledger.anchoring import txn
from ledger.anchoring.contract import LogAnchorClient, load_artifact
from ledger.anchoring.devchain import DevChain
from ledger.log.merkle import consistency_proof, in_memory_getter, leaf_hash, tree_root

ROOT = Path(__file__).resolve().parent.parent
TARGET_GAS_AT_1M = 60_000
# (label, old size, new size): a typical small step and a long proof at each scale.
CASES = [
    ("10: 9 -> 10", 9, 10),
    ("10: 6 -> 10", 6, 10),
    ("1,000: 990 -> 1,000", 990, 1_000),
    ("1,000: 513 -> 1,000", 513, 1_000),
    ("1M: 999,000 -> 1,000,000 (typical)", 999_000, 1_000_000),
    ("1M: 524,289 -> 1,000,000 (long proof)", 524_289, 1_000_000),
    ("1M: 524,288 -> 1,000,000 (power of two)", 524_288, 1_000_000),
]


def calldata_gas(data: bytes) -> int:
    """Intrinsic calldata cost (EIP-2028): 16 per non-zero byte, 4 per zero byte."""
    return sum(16 if b else 4 for b in data)


def deploy_plain(w3: Web3, deployer) -> str:
    art = load_artifact("PlainRootStore")
    receipt = txn.send_and_wait(w3, deployer, {"data": art.bytecode})
    return receipt["contractAddress"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "anchor.json")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    n = max(new for _, _, new in CASES)
    get = in_memory_getter([leaf_hash(b"entry %d" % i) for i in range(n)])
    build_seconds = time.perf_counter() - t0

    rows = []
    with DevChain() as node:
        w3 = Web3(Web3.HTTPProvider(node.url))
        info = node.rpc("anvil_nodeInfo")
        account = Account.create()
        node.set_balance(account.address, 10**22)
        anchor = LogAnchorClient.deploy(w3, account)
        anchor.add_submitter(account, account.address)
        plain_address = deploy_plain(w3, account)
        plain = w3.eth.contract(address=plain_address, abi=load_artifact("PlainRootStore").abi)

        def plain_store(log_id: bytes, size: int, root: bytes, note: bytes) -> int:
            data = plain.encode_abi("store", args=[log_id, size, root, note])
            tx = {"to": plain_address, "data": HexBytes(data)}
            return int(txn.send_and_wait(w3, account, tx)["gasUsed"])

        note = hashlib.sha256(b"signed checkpoint note").digest()
        for label, old, new in CASES:
            log_id = hashlib.sha256(label.encode()).digest()
            old_root, new_root = tree_root(old, get), tree_root(new, get)
            proof = consistency_proof(old, new, get)
            first = anchor.anchor(account, log_id, old, old_root, note, [])
            receipt = anchor.anchor(account, log_id, new, new_root, note, proof)
            assert receipt["status"] == 1 and anchor.latest(log_id).size == new
            data = anchor.anchor_calldata(log_id, new, new_root, note, proof)
            plain_store(log_id, old, old_root, note)
            plain_gas = plain_store(log_id, new, new_root, note)
            gas = int(receipt["gasUsed"])
            rows.append(
                {
                    "case": label,
                    "old_size": old,
                    "new_size": new,
                    "proof_nodes": len(proof),
                    "calldata_bytes": len(data),
                    "intrinsic_gas": 21_000 + calldata_gas(data),
                    "anchor_gas": gas,
                    "first_anchor_gas": int(first["gasUsed"]),
                    "plain_store_gas": plain_gas,
                    "proof_check_overhead_gas": gas - plain_gas,
                }
            )

    at_1m = [r["anchor_gas"] for r in rows if r["new_size"] == 1_000_000]
    result = {
        "node": f"anvil (hardfork {info['hardFork']})",
        "compiler": json.loads((ROOT / "contracts" / "build" / "LogAnchor.json").read_text())[
            "compiler"
        ]["version"],
        "target_gas_at_1M": TARGET_GAS_AT_1M,
        "max_anchor_gas_at_1M": max(at_1m),
        "meets_target": max(at_1m) <= TARGET_GAS_AT_1M,
        "tree_build_seconds": round(build_seconds, 2),
        "cases": rows,
    }

    header = f"{'case':42} {'proof':>5} {'anchor':>8} {'plain':>8} {'extra':>7} {'first':>8}"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['case']:42} {r['proof_nodes']:5d} {r['anchor_gas']:8,d} "
            f"{r['plain_store_gas']:8,d} {r['proof_check_overhead_gas']:7,d} "
            f"{r['first_anchor_gas']:8,d}"
        )
    verdict = "meets" if result["meets_target"] else "MISSES"
    print(
        f"max gas per anchor at 1M entries: {max(at_1m):,} "
        f"({verdict} the {TARGET_GAS_AT_1M:,} target); {result['node']}"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0 if result["meets_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
