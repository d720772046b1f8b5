"""A bundle's checks against the chain itself, through a ``ChainReader`` (``--rpc``).

The anchor: its transaction succeeded in the recorded block with enough confirmations, the
contract runs the LogAnchor code, its Anchored event holds the anchored root, and the
contract still holds it or a later (necessarily consistent) one. Payments: every on-chain
compensation payment's transaction moved the recorded amount to the recorded recipient; a
payment by the compensation vault (its body names the ``vault``) is checked against the
vault's ``Paid`` event, which must pay the very offer and acceptance the log holds.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any, Protocol

from ledger.complaints.payouts import (
    EVM_ADDRESS,
    ZERO_ADDRESS,
    accepted_offer,
    payout_commitment,
    terms_commitment,
)
from ledger.log import merkle
from ledger.log.checkpoint import Checkpoint
from ledger.log.encoding import parse_hashes
from ledger.verify.report import Report
from ledger.verify.rpc import (
    ANCHORED_TOPIC,
    LATEST_SELECTOR,
    LOG_ANCHOR_CODE_SHA256,
    PAID_TOPIC,
    TRANSFER_TOPIC,
    VAULT_ANCHOR_SELECTOR,
    VAULT_CODE_SHA256,
    VAULT_IMMUTABLES,
    VAULT_LOG_ID_SELECTOR,
    RpcError,
)

DEFAULT_CONFIRMATIONS = 6
_TX = re.compile(r"^0x[0-9a-fA-F]{64}$")


class ChainReader(Protocol):
    """What the verifier asks of a chain (``ledger.verify.rpc.JsonRpcChain`` does this)."""

    def chain_id(self) -> int: ...
    def block_number(self) -> int: ...
    def block_hash(self, number: int) -> str | None: ...
    def receipt(self, tx_hash: str) -> dict[str, Any] | None: ...
    def transaction(self, tx_hash: str) -> dict[str, Any] | None: ...
    def code(self, address: str) -> bytes: ...
    def eth_call(self, to: str, data: str) -> bytes: ...


def _hex_lower(value: Any) -> str:
    return str(value).lower()


def _word(data: bytes, i: int) -> bytes:
    return data[32 * i : 32 * (i + 1)]


def _confirmed(chain: ChainReader, receipt: Mapping[str, Any], need: int) -> tuple[bool, str]:
    number = int(receipt["blockNumber"], 16)
    canonical = chain.block_hash(number) == _hex_lower(receipt["blockHash"])
    confirmations = max(0, chain.block_number() - number + 1) if canonical else 0
    return canonical and confirmations >= need, f"{confirmations} confirmations (need {need})"


# --- the anchor ----------------------------------------------------------------------------------


def check_anchor_on_chain(
    report: Report,
    chain: ChainReader,
    anchor: Mapping[str, Any],
    cp: Checkpoint,
    origin: str,
    anchored: tuple[int, bytes],
    *,
    contract_given: str | None,
    confirmations: int,
) -> None:
    """The anchor ``(anchored size, anchored root)`` of ``cp``, checked on ``chain``."""
    try:
        _check_anchor(report, chain, anchor, cp, origin, anchored, contract_given, confirmations)
    except (RpcError, KeyError, TypeError, ValueError) as exc:
        report.add("the chain answers the anchor checks", False, str(exc), "chain_anchor")


def _check_anchor(
    report: Report,
    chain: ChainReader,
    anchor: Mapping[str, Any],
    cp: Checkpoint,
    origin: str,
    anchored: tuple[int, bytes],
    contract_given: str | None,
    need: int,
) -> None:
    anchored_size, anchored_root = anchored
    chain_id = chain.chain_id()
    report.add(
        "the RPC serves the anchor's chain",
        chain_id == anchor.get("chain_id"),
        f"RPC chain {chain_id}, anchor on chain {anchor.get('chain_id')}",
        "chain_anchor",
    )
    contract = str(anchor.get("contract") or "")
    if not EVM_ADDRESS.fullmatch(contract):
        report.add("the anchor names a contract address", False, repr(contract), "chain_anchor")
        return
    if contract_given:
        report.add(
            "the anchor contract is the one you gave",
            contract.lower() == contract_given.strip().lower(),
            contract,
            "chain_anchor",
        )
    else:
        report.skip(
            f"no --contract given: the anchor contract {contract} was taken from the "
            "bundle; pass the operator's published address to pin it",
            category="chain_anchor",
        )
    code_sha256 = hashlib.sha256(chain.code(contract)).hexdigest()
    report.add(
        "the anchor contract runs the LogAnchor code (consistency checked on chain)",
        code_sha256 == LOG_ANCHOR_CODE_SHA256,
        f"code sha256 {code_sha256[:16]}…",
        "chain_anchor",
    )
    tx_hash = str(anchor.get("tx_hash") or "")
    receipt = chain.receipt(tx_hash) if _TX.fullmatch(tx_hash) else None
    if receipt is None or receipt.get("blockNumber") is None:
        report.add(
            "the anchor transaction is on chain", False, f"{tx_hash} not found", "chain_anchor"
        )
        return
    block_number = int(receipt["blockNumber"], 16)
    block_hash = _hex_lower(receipt["blockHash"])
    recorded = (anchor.get("block_number"), _hex_lower(anchor.get("block_hash")))
    same_block = recorded[0] is None or recorded == (block_number, block_hash)
    report.add(
        "the anchor transaction succeeded in the block the bundle records",
        int(receipt.get("status", "0x0"), 16) == 1 and same_block,
        f"block {block_number} {block_hash}"
        + ("" if same_block else f"; the bundle says {recorded[0]} {recorded[1]}"),
        "chain_anchor",
    )
    ok, detail = _confirmed(chain, receipt, need)
    report.add(f"the anchor has at least {need} confirmations", ok, detail, "chain_anchor")
    log_id = "0x" + hashlib.sha256(origin.encode("utf-8")).hexdigest()
    events = list(_anchored_events(receipt, contract, log_id))
    matched = [
        e
        for e in events
        if e[0] == anchored_size
        and e[1] == anchored_root
        and anchor.get("note_hash") in (None, e[2])
    ]
    report.add(
        "the transaction's Anchored event holds the anchored size and root of this log",
        bool(matched),
        f"{len(events)} Anchored event(s) for log id {log_id[:18]}…",
        "chain_anchor",
    )
    if matched:
        size_on_chain, root_on_chain, _ = matched[0]
        try:
            merkle.verify_consistency(
                cp.size,
                size_on_chain,
                cp.root,
                root_on_chain,
                parse_hashes(anchor["consistency_proof"]),
            )
            ok, detail = True, f"tree size {cp.size} -> {size_on_chain} on chain"
        except merkle.ProofError as exc:
            ok, detail = False, str(exc)
        report.add(
            "the root on chain is consistent with this bundle's checkpoint",
            ok,
            detail,
            "chain_anchor",
        )
    head = chain.eth_call(contract, "0x" + LATEST_SELECTOR + log_id[2:])
    size_now = int.from_bytes(_word(head, 0), "big") if len(head) >= 96 else -1
    root_now = _word(head, 1)
    still = size_now > anchored_size or (size_now == anchored_size and root_now == anchored_root)
    report.add(
        "the contract still holds this anchor or a later, consistent one",
        still,
        f"contract holds tree size {size_now}",
        "chain_anchor",
    )


def _anchored_events(
    receipt: Mapping[str, Any], contract: str, log_id: str
) -> Iterator[tuple[int, bytes, str]]:
    """The (size, root, note hash) of every Anchored event of this log by ``contract``."""
    for entry in receipt.get("logs") or []:
        topics = [_hex_lower(t) for t in entry.get("topics") or []]
        if _hex_lower(entry.get("address")) == contract.lower() and topics[:2] == [
            ANCHORED_TOPIC,
            log_id,
        ]:
            data = bytes.fromhex(str(entry.get("data", "0x"))[2:])
            yield int.from_bytes(_word(data, 0), "big"), _word(data, 1), "0x" + _word(data, 2).hex()


# --- payments ------------------------------------------------------------------------------------


def _payments(
    proof: Mapping[str, Any],
) -> Iterator[tuple[Mapping[str, Any], dict[str, Any] | None]]:
    """Every on-chain compensation payment: its proof item and its body (None if withheld)."""
    for item in proof.get("events", []):
        if item.get("type") != "compensation_paid":
            continue
        try:
            public = json.loads(item["leaf"])["public"]
            body = json.loads(item["body"]) if item.get("body") is not None else None
        except (KeyError, TypeError, ValueError):
            continue  # a malformed leaf or body already failed the proof checks
        if public.get("method") != "on_chain" and (body or {}).get("method") != "on_chain":
            continue
        yield item, body


def check_payments(
    report: Report,
    proof: Mapping[str, Any],
    readers: Sequence[ChainReader],
    confirmations: int,
    *,
    explorers: Mapping[int, str] | None = None,
) -> None:
    """Each on-chain payment of ``proof`` on the chain it names (``readers`` empty: no --rpc).

    ``explorers``: chain id -> a block explorer's transaction page, ``{tx}`` standing for the
    hash; shown beside a vault payout's checks, for display only (nothing is fetched).
    """
    for item, body in _payments(proof):
        if body is not None and "vault" in body and readers:
            check_vault_payout(report, proof, item, body, readers, confirmations, explorers)
            continue
        seq = item.get("seq")
        if body is None:
            why = "erased" if item.get("erased") else "not disclosed in this bundle"
            report.skip(
                f"on-chain payment in event {seq}: its body is {why}, so its "
                "transaction cannot be checked",
                category="payments",
            )
            continue
        missing = [k for k in ("recipient", "amount_base_units") if k not in body]
        if not readers:
            if missing:
                report.skip(
                    f"on-chain payment in event {seq} records no {', '.join(missing)}: "
                    "it cannot be matched on chain",
                    category="payments",
                )
            else:
                report.skip(
                    f"on-chain payment in event {seq} was not checked on chain",
                    "no --rpc",
                    "payments",
                )
            continue
        name = f"on-chain payment in event {seq} ({_amount(body)}) is on chain as recorded"
        if missing:
            report.add(name, False, f"the payment records no {', '.join(missing)}", "payments")
            continue
        try:
            ok, detail = _check_one_payment(body, readers, confirmations)
        except (RpcError, KeyError, TypeError, ValueError) as exc:
            ok, detail = False, f"the chain could not be queried: {exc}"
        report.add(name, ok, detail, "payments")


def _amount(body: Mapping[str, Any]) -> str:
    return f"{body.get('amount')} {body.get('asset') or body.get('currency') or ''}".strip()


def _reader_for(chain_id: int | None, readers: Sequence[ChainReader]) -> ChainReader | None:
    if chain_id is None:
        return readers[0] if readers else None
    for reader in readers:
        if reader.chain_id() == chain_id:
            return reader
    return None


def _check_one_payment(
    body: Mapping[str, Any], readers: Sequence[ChainReader], need: int
) -> tuple[bool, str]:
    """Whether the payment ``body`` records is on its chain, and what was found."""
    chain = _reader_for(body.get("chain_id"), readers)
    if chain is None:
        return False, f"no RPC given for chain {body.get('chain_id')} (--payment-rpc)"
    tx_hash = str(body["tx_hash"])
    tx, receipt = chain.transaction(tx_hash), chain.receipt(tx_hash)
    if tx is None or receipt is None or receipt.get("blockNumber") is None:
        return False, f"transaction {tx_hash} not found on chain {chain.chain_id()}"
    if int(receipt.get("status", "0x0"), 16) != 1:
        return False, f"transaction {tx_hash} reverted"
    ok, confirmations = _confirmed(chain, receipt, need)
    if not ok:
        return False, f"transaction {tx_hash}: {confirmations}"
    recipient = str(body["recipient"]).lower()
    units = int(body["amount_base_units"])
    expected = Decimal(str(body["amount"])).scaleb(int(body.get("decimals", 0)))
    if expected != units:
        return False, "amount and amount_base_units disagree"
    token = body.get("token")
    if token is None:
        got_to = _hex_lower(tx.get("to"))
        got_value = int(tx.get("value", "0x0"), 16)
        ok = got_to == recipient and got_value == units
        detail = f"value transfer of {got_value} base units to {got_to}" + (
            "" if ok else f"; recorded {units} to {recipient}"
        )
    else:
        transfers = list(_transfers(receipt, str(token)))
        ok = ("0x" + recipient[2:].rjust(64, "0"), units) in transfers
        detail = f"{len(transfers)} Transfer event(s) of token {token}" + (
            "" if ok else f"; none of {units} base units to {recipient}"
        )
    return ok, f"{detail}; {confirmations}"


def _transfers(receipt: Mapping[str, Any], token: str) -> Iterator[tuple[str, int]]:
    """The (recipient topic, amount) of every ERC-20 Transfer event of ``token``."""
    for entry in receipt.get("logs") or []:
        topics = [_hex_lower(t) for t in entry.get("topics") or []]
        if (
            _hex_lower(entry.get("address")) == token.lower()
            and topics[:1] == [TRANSFER_TOPIC]
            and len(topics) == 3
        ):
            yield topics[2], int(str(entry.get("data", "0x0"))[2:] or "0", 16)


# --- vault payouts ----------------------------------------------------------------------------


def _leaf_hash_hex(item: Mapping[str, Any]) -> str:
    return merkle.leaf_hash(str(item["leaf"]).encode("utf-8")).hex()


def _public(item: Mapping[str, Any]) -> dict[str, Any]:
    try:
        public = json.loads(item["leaf"])["public"]
    except (KeyError, TypeError, ValueError):
        return {}
    return public if isinstance(public, dict) else {}


def _body(item: Mapping[str, Any]) -> dict[str, Any] | None:
    try:
        body = json.loads(item["body"]) if item.get("body") is not None else None
    except (TypeError, ValueError):
        return None
    return body if isinstance(body, dict) else None


def _topic_address(topic: str) -> str:
    return "0x" + topic[-40:]


def _paid_events(receipt: Mapping[str, Any], vault: str) -> Iterator[dict[str, Any]]:
    """The Paid events of ``vault`` in the receipt, decoded."""
    for entry in receipt.get("logs") or []:
        topics = [_hex_lower(t) for t in entry.get("topics") or []]
        if _hex_lower(entry.get("address")) != vault.lower() or topics[:1] != [PAID_TOPIC]:
            continue
        data = bytes.fromhex(str(entry.get("data", "0x"))[2:])
        if len(topics) != 4 or len(data) < 96:
            continue
        yield {
            "offer": topics[1][2:],
            "accept": topics[2][2:],
            "recipient": _topic_address(topics[3]),
            "token": "0x" + _word(data, 0)[12:].hex(),
            "amount": int.from_bytes(_word(data, 1), "big"),
            "tree_size": int.from_bytes(_word(data, 2), "big"),
            "log_index": int(str(entry.get("logIndex", "0x0")), 16),
        }


def _vault_code_sha256(code: bytes) -> str:
    """SHA-256 of the vault's code with its immutables zeroed (the same for every vault)."""
    zeroed = bytearray(code)
    for start, length in VAULT_IMMUTABLES:
        zeroed[start : start + length] = bytes(length)
    return hashlib.sha256(bytes(zeroed)).hexdigest()


def _call_or_nothing(chain: ChainReader, to: str, selector: str) -> bytes:
    """A view call's answer; nothing when the contract refuses it (it is not a vault)."""
    try:
        return chain.eth_call(to, "0x" + selector)
    except RpcError:
        return b""


def check_vault_payout(
    report: Report,
    proof: Mapping[str, Any],
    item: Mapping[str, Any],
    body: Mapping[str, Any],
    readers: Sequence[ChainReader],
    need: int,
    explorers: Mapping[int, str] | None = None,
) -> None:
    """A payment the compensation vault made, checked on chain against the log's steps.

    Named checks (category ``payments``): the transaction succeeded with enough
    confirmations; the vault runs the CompensationVault code, reads this bundle's LogAnchor
    and pays this log; its ``Paid`` event pays the offer and the acceptance the log holds
    before this payment, against an anchored tree that contains them; and it pays the
    recipient, token and amount the payment records, the acceptance's address and the offer's
    terms, whose commitments recompute from the event's values.
    """
    seq = item.get("seq")
    prefix = f"vault payout in event {seq} ({_amount(body)})"
    try:
        _check_vault_payout(report, proof, item, body, readers, need, explorers, prefix)
    except (RpcError, KeyError, TypeError, ValueError) as exc:
        report.add(f"{prefix}: the chain answers the payout checks", False, str(exc), "payments")


def _check_vault_payout(
    report: Report,
    proof: Mapping[str, Any],
    item: Mapping[str, Any],
    body: Mapping[str, Any],
    readers: Sequence[ChainReader],
    need: int,
    explorers: Mapping[int, str] | None,
    prefix: str,
) -> None:
    chain_id = body.get("chain_id")
    chain = _reader_for(chain_id if isinstance(chain_id, int) else None, readers)
    tx_hash = str(body.get("tx_hash") or "")
    name = f"{prefix}: the transaction succeeded with at least {need} confirmations"
    if chain is None:
        report.add(name, False, f"no RPC given for chain {chain_id} (--payment-rpc)", "payments")
        return
    receipt = chain.receipt(tx_hash) if _TX.fullmatch(tx_hash) else None
    if receipt is None or receipt.get("blockNumber") is None:
        report.add(name, False, f"transaction {tx_hash} not found on chain {chain_id}", "payments")
        return
    succeeded = int(receipt.get("status", "0x0"), 16) == 1
    ok, confirmations = _confirmed(chain, receipt, need)
    link = explorers.get(int(chain_id)) if explorers and isinstance(chain_id, int) else None
    detail = f"{tx_hash}: {confirmations}" + ("" if succeeded else "; reverted")
    if link:
        detail += f"; {link.replace('{tx}', tx_hash)}"
    if not report.add(name, ok and succeeded, detail, "payments"):
        return

    # The vault: its code, the LogAnchor it reads and the log it pays.
    vault = str(body["vault"])
    if not EVM_ADDRESS.fullmatch(vault):
        report.add(f"{prefix}: the payment names the vault", False, repr(vault), "payments")
        return
    code_ok = _vault_code_sha256(chain.code(vault)) == VAULT_CODE_SHA256
    anchor_word = _call_or_nothing(chain, vault, VAULT_ANCHOR_SELECTOR)
    log_id_word = _call_or_nothing(chain, vault, VAULT_LOG_ID_SELECTOR)
    vault_anchor = "0x" + anchor_word[12:32].hex() if len(anchor_word) >= 32 else ""
    origin = str(proof.get("log", ""))
    log_id = hashlib.sha256(origin.encode("utf-8")).digest()
    anchor = proof.get("anchor")
    anchor_contract = str(anchor.get("contract") or "") if isinstance(anchor, Mapping) else ""
    same_anchor = not anchor_contract or vault_anchor == anchor_contract.lower()
    report.add(
        f"{prefix}: the vault runs the CompensationVault code, paying this log as anchored in "
        "its LogAnchor",
        code_ok and log_id_word[:32] == log_id and same_anchor,
        f"vault {vault} reads LogAnchor {vault_anchor or '?'}"
        + ("" if code_ok else "; not the CompensationVault code")
        + ("" if log_id_word[:32] == log_id else f"; pays another log than {origin}")
        + ("" if same_anchor else f"; the bundle's anchor is {anchor_contract}"),
        "payments",
    )

    # The Paid event: the offer and acceptance the log holds before this payment.
    events = proof.get("events") or []
    position = next((i for i, e in enumerate(events) if e is item), len(events))
    o, a = accepted_offer([str(e.get("type")) for e in events], position)
    name = f"{prefix}: the vault's Paid event pays the offer and the acceptance on the log"
    if o is None or a is None:
        report.add(name, False, "no accepted offer precedes this payment", "payments")
        return
    offered, accepted = events[o], events[a]
    offer_hash, accept_hash = _leaf_hash_hex(offered), _leaf_hash_hex(accepted)
    paid = [e for e in _paid_events(receipt, vault) if e["offer"] == offer_hash]
    if not paid:
        report.add(name, False, f"no Paid event of vault {vault} for the offer", "payments")
        return
    event = paid[0]
    recorded_index = body.get("paid_event_log_index")
    accept_index = accepted.get("index")
    problems = []
    if event["accept"] != accept_hash:
        problems.append("it pays another acceptance")
    if isinstance(accept_index, int) and event["tree_size"] <= accept_index:
        problems.append(f"tree size {event['tree_size']} does not contain the acceptance")
    if isinstance(recorded_index, int) and recorded_index != event["log_index"]:
        problems.append(f"the payment records event index {recorded_index}")
    report.add(
        name,
        not problems,
        f"offer {offer_hash[:16]}…, acceptance {accept_hash[:16]}…, paid against tree size "
        f"{event['tree_size']} (log index {event['log_index']})"
        + ("" if not problems else "; " + "; ".join(problems)),
        "payments",
    )

    # What it paid: the recorded recipient, token and amount, which the leaves commit to.
    token = str(body.get("token") or ZERO_ADDRESS).lower()
    units = int(body["amount_base_units"])
    recipient = str(body["recipient"]).lower()
    problems = []
    if (event["recipient"], event["token"], event["amount"]) != (recipient, token, units):
        problems.append(
            f"recorded {units} of {token} to {recipient}, the event pays {event['amount']} "
            f"of {event['token']} to {event['recipient']}"
        )
    accept_body, offer_body = _body(accepted), _body(offered)
    if accept_body is not None and str(accept_body.get("recipient", "")).lower() != recipient:
        problems.append("the acceptance gives another address")
    if offer_body is not None and (
        str(offer_body.get("token") or ZERO_ADDRESS).lower() != event["token"]
        or str(offer_body.get("amount_base_units")) != str(event["amount"])
    ):
        problems.append("the offer states other terms")
    terms = terms_commitment(chain.chain_id(), vault, event["token"], event["amount"])
    if _public(offered).get("payout_terms") != terms:
        problems.append("the offer's payout_terms are not the event's terms")
    payout = payout_commitment(
        chain.chain_id(), vault, event["token"], event["amount"], event["recipient"], offer_hash
    )
    if _public(accepted).get("payout") != payout:
        problems.append("the acceptance's payout commitment is not the event's payout")
    if token != ZERO_ADDRESS:
        moved = ("0x" + recipient[2:].rjust(64, "0"), units) in list(_transfers(receipt, token))
        if not moved:
            problems.append(f"no Transfer of {units} base units of {token} to {recipient}")
    report.add(
        f"{prefix}: the vault paid the recipient, token and amount the log authorises",
        not problems,
        f"{event['amount']} base units of "
        + ("the native coin" if event["token"] == ZERO_ADDRESS else event["token"])
        + f" to {event['recipient']}"
        + ("" if not problems else "; " + "; ".join(problems)),
        "payments",
    )
