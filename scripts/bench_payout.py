#!/usr/bin/env python3
"""Gas per vault payout at log sizes 1,000 and 1,000,000, beside a plain ERC-20 transfer.

Runs on a local anvil (started from node_modules). For each log size it deploys a vault,
builds the log's leaf hashes in memory (1M leaves: a few seconds) with real offer and
acceptance leaves (canonical JSON envelopes, the offer signed and co-signed) near its end,
anchors the root in LogAnchor and pays, in the native coin and in TestToken, two offers each
to fresh recipients: the first payout of the day in that asset (it opens the day's total)
and a second one. The baseline is a plain `transfer` of the same token to a fresh address in
the same run. Prints a table and writes bench/payout.json.

    python scripts/bench_payout.py [--out bench/payout.json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

from eth_account import Account
from web3 import Web3

from ledger.anchoring import txn
from ledger.anchoring.contract import LogAnchorClient
from ledger.anchoring.devchain import DevChain
from ledger.complaints import payouts
from ledger.log.canonical import canonical_json
from ledger.log.merkle import in_memory_getter, inclusion_proof, leaf_hash, tree_root
from ledger.payouts.claims import build_claim
from ledger.payouts.vault import CompensationVaultClient, deploy_test_token

ROOT = Path(__file__).resolve().parent.parent
TARGET_GAS_AT_1M = 180_000
LOG_SIZES = (1_000, 1_000_000)
DAY = 86_400
NATIVE = payouts.ZERO_ADDRESS


def calldata_gas(data: bytes) -> int:
    """Intrinsic calldata cost (EIP-2028): 16 per non-zero byte, 4 per zero byte."""
    return sum(16 if b else 4 for b in data)


def envelope(event_type: str, seq: int, prev: bytes, public: dict, role: str, actor: str) -> bytes:
    """A leaf shaped as the ledger writes it (ledger.complaints.events)."""
    return canonical_json(
        {
            "v": 1,
            "log": "example.org/complaints",
            "complaint": "CMP-2025-004217",
            "seq": seq,
            "prev": prev.hex(),
            "type": event_type,
            "at": "2025-03-01T10:00:00.000Z",
            "actor": {"role": role, "id": actor},
            "commitment": hashlib.sha256(event_type.encode() + prev).hexdigest(),
            "public": public,
        }
    )


def offer_leaf(terms: str, prev: bytes) -> bytes:
    public = {
        "kind": "money",
        "amount": "250.00",
        "currency": "EUR",
        "method": "on_chain",
        "payout_terms": terms,
        "signature": {"key_id": "3f" * 16, "sig": "a5" * 64},
        "cosignature": {"key_id": "7c" * 16, "sig": "5b" * 64},
    }
    return envelope("compensation_offered", 7, prev, public, "officer", "3f" * 16)


def accept_leaf(payout: str, prev: bytes) -> bytes:
    return envelope("compensation_accepted", 8, prev, {"payout": payout}, "customer", "customer")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "payout.json")
    args = parser.parse_args(argv)

    rows = []
    build_seconds = {}
    with DevChain() as node:
        w3 = Web3(Web3.HTTPProvider(node.url))
        info = node.rpc("anvil_nodeInfo")
        chain_id = int(w3.eth.chain_id)
        account = Account.create()
        node.set_balance(account.address, 10**24)
        anchor = LogAnchorClient.deploy(w3, account)
        anchor.add_submitter(account, account.address)
        token = deploy_test_token(w3, account)

        def send(to: str, data: str = "0x", value: int = 0) -> dict:
            receipt = txn.send_and_wait(w3, account, {"to": to, "data": data, "value": value})
            assert receipt["status"] == 1
            return receipt

        # The baseline: a holder's plain transfer to a fresh address, as a payout makes.
        send(token.address, token.encode_abi("mint", args=[account.address, 10**15]))
        fresh = Account.create().address
        plain = send(token.address, token.encode_abi("transfer", args=[fresh, 2_500_000]))
        plain_gas = int(plain["gasUsed"])

        for n in LOG_SIZES:
            log_id = hashlib.sha256(b"bench payout log %d" % n).digest()
            vault = CompensationVaultClient.deploy(w3, account, anchor.address, log_id)
            send(vault.address, value=10**21)
            send(token.address, token.encode_abi("mint", args=[vault.address, 10**15]))
            for asset in (NATIVE, token.address):
                vault.set_caps(account, asset, 10**20, 10**21)

            t0 = time.perf_counter()
            hashes = [leaf_hash(b"entry %d" % i) for i in range(n)]
            cases = []  # (label, asset, amount, recipient, offer index, accept index)
            for k, (label, asset) in enumerate(
                [
                    ("erc20, first of the day", token.address),
                    ("erc20, second", token.address),
                    ("native, first of the day", NATIVE),
                    ("native, second", NATIVE),
                ]
            ):
                amount = 2_500_000 + k if asset != NATIVE else 10**17 + k
                recipient = Account.create().address
                # In the tree's left half, where inclusion proofs are longest (20 nodes at
                # 1M entries), the acceptance a few thousand entries after its offer.
                o, a = n * 40 // 100 + 10 * k, n * 45 // 100 + 10 * k
                terms = payouts.terms_commitment(chain_id, vault.address, asset, amount)
                offer = offer_leaf(terms, hashlib.sha256(b"decision %d" % k).digest())
                payout = payouts.payout_commitment(
                    chain_id, vault.address, asset, amount, recipient, leaf_hash(offer)
                )
                accept = accept_leaf(payout, leaf_hash(offer))
                hashes[o], hashes[a] = leaf_hash(offer), leaf_hash(accept)
                cases.append((label, asset, amount, recipient, o, offer, a, accept))
            get = in_memory_getter(hashes)
            root = tree_root(n, get)
            build_seconds[n] = round(time.perf_counter() - t0, 2)
            anchor.anchor(account, log_id, n, root, b"\x00" * 32, [])

            day = int(w3.eth.get_block("latest")["timestamp"]) // DAY + 1
            node.rpc("evm_setNextBlockTimestamp", hex(day * DAY + 60))
            node.mine()
            for label, asset, amount, recipient, o, offer, a, accept in cases:
                claim = build_claim(
                    offer,
                    o,
                    inclusion_proof(o, n, get),
                    accept,
                    a,
                    inclusion_proof(a, n, get),
                    n,
                    asset,
                    recipient,
                    amount,
                )
                receipt = vault.payout(account, claim)
                assert receipt["status"] == 1 and vault.paid(claim.offer_leaf_hash)
                data = vault.payout_calldata(claim)
                rows.append(
                    {
                        "case": f"{n:,}: {label}",
                        "log_size": n,
                        "asset": "native" if asset == NATIVE else "erc20",
                        "first_of_day": "first" in label,
                        "offer_proof_nodes": len(claim.offer_proof),
                        "accept_proof_nodes": len(claim.accept_proof),
                        "offer_leaf_bytes": len(offer),
                        "accept_leaf_bytes": len(accept),
                        "calldata_bytes": len(data),
                        "intrinsic_gas": 21_000 + calldata_gas(data),
                        "payout_gas": int(receipt["gasUsed"]),
                    }
                )

    at_1m = [r["payout_gas"] for r in rows if r["log_size"] == 1_000_000]
    result = {
        "node": f"anvil (hardfork {info['hardFork']})",
        "compiler": json.loads(
            (ROOT / "contracts" / "build" / "CompensationVault.json").read_text()
        )["compiler"]["version"],
        "target_gas_at_1M": TARGET_GAS_AT_1M,
        "max_payout_gas_at_1M": max(at_1m),
        "meets_target": max(at_1m) <= TARGET_GAS_AT_1M,
        "plain_erc20_transfer_gas": plain_gas,
        "max_erc20_payout_over_plain_transfer_gas": max(
            r["payout_gas"] - plain_gas for r in rows if r["asset"] == "erc20"
        ),
        "tree_build_seconds": {f"{n}": s for n, s in build_seconds.items()},
        "cases": rows,
    }

    header = f"{'case':36} {'proofs':>7} {'leaves':>9} {'calldata':>8} {'intrinsic':>9} {'gas':>8}"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['case']:36} {r['offer_proof_nodes']:3d}+{r['accept_proof_nodes']:<3d} "
            f"{r['offer_leaf_bytes']:4d}+{r['accept_leaf_bytes']:<4d} {r['calldata_bytes']:8,d} "
            f"{r['intrinsic_gas']:9,d} {r['payout_gas']:8,d}"
        )
    verdict = "meets" if result["meets_target"] else "MISSES"
    print(f"plain ERC-20 transfer to a fresh address: {plain_gas:,} gas")
    print(
        f"max gas per payout at 1M entries: {max(at_1m):,} "
        f"({verdict} the {TARGET_GAS_AT_1M:,} target); {result['node']}"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0 if result["meets_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
