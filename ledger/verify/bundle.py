"""Offline verification of an evidence bundle (or of a multi-complaint export).

Pure: imports only the log's hashing, proofs and notes, the complaint domain and the bundle
layout; no database, no Flask, no operator server. With a chain reader (``--rpc``) it also
checks the anchor transaction and the contract's state, and each on-chain compensation
payment. Each check is a ``Result`` with a plain-words name; the bundle verifies only when
every check passes. ``notes`` say what could not be checked and why (never a failure).

What is checked:

1. the ZIP reads cleanly (CRCs, no unsafe or duplicate names);
2. ``manifest.json`` is RFC 8785 JSON of a supported format (version 2, or version 1 whose
   base64 hashes are read through ``layout.proof_v1_to_v2`` once its files are checked);
   ``manifest.sig`` is a C2SP signed note by the log key naming the SHA-256 of
   ``manifest.json``, the log, complaint and size;
3. every file matches its SHA-256 and size in the manifest, and no file is unlisted;
4. ``proof.json``: the checkpoint signature, every inclusion proof, the reference, the hash
   chain (seq, prev), every transition, every disclosed body against its commitment, officer
   signatures and their authority (``ledger.verify.complaint``);
5. every other data file is exactly what the format derives from ``proof.json``;
6. erased bodies: flagged exactly where an erasure event of the chain says so, and gone;
7. the anchor: the anchored checkpoint is signed by the log key, and the consistency proof
   leads from this checkpoint to the anchored root;
8. with a chain: the anchor transaction succeeded in the recorded block with enough
   confirmations, the contract runs the LogAnchor code, its Anchored event holds that root,
   the contract still holds it or a later (necessarily consistent) one; every on-chain
   payment's transaction moved the recorded amount to the recorded recipient.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from ledger.complaints.payloads import MAX_DEPTH
from ledger.evidence import layout
from ledger.evidence.layout import LayoutError, sha256_hex
from ledger.jsondepth import text_depth
from ledger.log import merkle
from ledger.log.canonical import CanonicalJSONError, parse_canonical
from ledger.log.checkpoint import Checkpoint, CheckpointError, open_checkpoint
from ledger.log.encoding import parse_hash, parse_hashes
from ledger.log.note import NoteError, Verifier, open_note
from ledger.verify.complaint import proof_input_problem, verify_complaint_proof
from ledger.verify.rpc import (
    ANCHORED_TOPIC,
    LATEST_SELECTOR,
    LOG_ANCHOR_CODE_SHA256,
    TRANSFER_TOPIC,
    RpcError,
)

MAX_FILES = 20_000
MAX_FILE_BYTES = 256 * 1024 * 1024
DEFAULT_CONFIRMATIONS = 6
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
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


@dataclass(frozen=True)
class Result:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class VerifyReport:
    results: list[Result] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.results) and all(r.ok for r in self.results)

    @property
    def failures(self) -> list[Result]:
        return [r for r in self.results if not r.ok]

    def add(self, name: str, ok: bool, detail: str = "") -> bool:
        self.results.append(Result(name, bool(ok), detail))
        return bool(ok)

    def note(self, text: str) -> None:
        self.notes.append(text)

    def lines(self) -> list[str]:
        out = [
            f"{'passed' if r.ok else 'FAILED'}: {r.name}" + (f" ({r.detail})" if r.detail else "")
            for r in self.results
        ]
        out += [f"note: {n}" for n in self.notes]
        failed = len(self.failures)
        if self.ok:
            out.append(f"RESULT: all {len(self.results)} checks passed")
        else:
            out.append(f"RESULT: {failed} of {len(self.results)} checks FAILED")
        return out


@dataclass(frozen=True)
class Options:
    log_key: str | None = None
    contract: str | None = None
    chain: ChainReader | None = None
    payment_chains: tuple[ChainReader, ...] = ()
    confirmations: int = DEFAULT_CONFIRMATIONS


# --- reading -----------------------------------------------------------------------------------


def read_zip(
    data: bytes, report: VerifyReport, what: str = "the bundle"
) -> dict[str, bytes] | None:
    """The files of a ZIP, each CRC-checked; None (with failed checks) when it is unreadable."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        report.add(f"{what} is a readable ZIP file", False, str(exc))
        return None
    files: dict[str, bytes] = {}
    bad: list[str] = []
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_FILES:
            report.add(f"{what} is a readable ZIP file", False, f"{len(infos)} entries")
            return None
        for info in infos:
            name = info.filename
            if info.is_dir():
                continue
            unsafe = name.startswith("/") or "\\" in name or ".." in name.split("/")
            if unsafe or name in files:
                bad.append(f"{name}: {'unsafe' if unsafe else 'duplicate'} name")
                continue
            if info.file_size > MAX_FILE_BYTES:
                bad.append(f"{name}: too large")
                continue
            try:
                files[name] = zf.read(info)
            except (
                zipfile.BadZipFile,
                OSError,
                ValueError,
                NotImplementedError,
                EOFError,
                zlib.error,
            ) as exc:  # zlib.error and EOFError: a corrupt or truncated deflate stream
                bad.append(f"{name}: {exc}")
    for problem in bad:
        report.add(f"{what}: file {problem.split(':')[0]} reads back intact", False, problem)
    if not bad:
        report.add(f"{what} is a readable ZIP file", True, f"{len(files)} files")
    return files


def read_directory(path: Path) -> dict[str, bytes]:
    """The files of an unpacked bundle (relative POSIX paths)."""
    return {
        p.relative_to(path).as_posix(): p.read_bytes()
        for p in sorted(path.rglob("*"))
        if p.is_file()
    }


def _json(data: bytes | None, what: str, report: VerifyReport, canonical: bool = True):
    if data is None:
        report.add(f"{what} is present", False, "missing")
        return None
    # Parsers recurse per level: deeper than the API ever accepts is refused unparsed.
    if text_depth(data, stop_above=MAX_DEPTH) > MAX_DEPTH:
        report.add(f"{what} is well-formed RFC 8785 JSON", False, f"nests deeper than {MAX_DEPTH}")
        return None
    try:
        value = parse_canonical(data) if canonical else json.loads(data)
    except (CanonicalJSONError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        report.add(f"{what} is well-formed RFC 8785 JSON", False, str(exc))
        return None
    if not isinstance(value, dict):
        report.add(f"{what} is well-formed RFC 8785 JSON", False, "not a JSON object")
        return None
    return value


# --- the bundle -----------------------------------------------------------------------------


def verify_bundle(
    source: bytes | Mapping[str, bytes], options: Options | None = None, **kwargs: Any
) -> VerifyReport:
    """Verify one evidence bundle (ZIP bytes, or its files by path)."""
    opts = options or Options(**kwargs)
    report = VerifyReport()
    files = read_zip(source, report) if isinstance(source, bytes) else dict(source)
    if files is None:
        return report
    _guarded(report, "the bundle", _verify_bundle_files, files, opts, report)
    return report


def _guarded(report: VerifyReport, what: str, check, *args: Any) -> None:
    """Run ``check``; input of a shape no check anticipated (wrong types, absurd values) is
    a failed check naming the problem, never an exception: a verifier always gives a verdict."""
    try:
        check(*args)
    except RecursionError:
        report.add(f"{what} could be checked", False, "nested too deeply to verify")
    except Exception as exc:
        detail = f"{type(exc).__name__}: {exc}"
        report.add(f"{what} could be checked", False, detail[:200])


def _verify_bundle_files(files: dict[str, bytes], opts: Options, report: VerifyReport) -> None:
    manifest_bytes = files.get(layout.MANIFEST)
    manifest = _json(manifest_bytes, "manifest.json", report)
    if manifest is None:
        return
    fmt, version = manifest.get("format"), manifest.get("format_version")
    readable = type(version) is int and version in layout.READABLE_FORMAT_VERSIONS
    if not report.add(
        "manifest.json is a supported evidence bundle manifest",
        fmt == layout.FORMAT and readable,
        f"format {fmt!r} version {version!r}",
    ):
        return
    try:
        origin = manifest["log"]["origin"]
        reference = manifest["reference"]
        size = manifest["checkpoint"]["size"]
        bundle_key = manifest["log"]["verifier_key"]
        listed = {f["path"]: f for f in manifest["files"]}
    except (KeyError, TypeError) as exc:
        report.add("manifest.json has every required field", False, f"missing {exc}")
        return

    verifier = _log_verifier(bundle_key, opts, report)
    if verifier is None:
        return
    _check_signature(files, manifest_bytes, origin, reference, size, verifier, report)
    _check_files(files, listed, report)

    proof = _json(files.get(layout.PROOF), "proof.json", report)
    if proof is None:
        return
    if (problem := proof_input_problem(proof)) is not None:
        report.add("proof.json is a complaint proof", False, problem)
        return
    report.add(
        "proof.json is for the complaint, log and checkpoint the manifest names",
        proof.get("reference") == reference
        and proof.get("log") == origin
        and proof.get("verifier_key") == bundle_key
        and isinstance(proof.get("checkpoint"), dict)
        and proof["checkpoint"].get("size") == size
        and proof["checkpoint"].get("root") == manifest["checkpoint"].get("root"),
        f"{reference}, tree size {size}",
    )
    # The files are checked against the proof as it is (format 1's bytes are the signed ones);
    # the proof and anchor checks read a format-1 proof's base64 hashes through the upgrade.
    proof_now = _proof_in_current_format(proof, version, report)
    if proof_now is None:
        return
    for check in verify_complaint_proof(proof_now, str(verifier), origin).checks:
        report.add(check.name, check.ok, check.detail)
    _check_derived(files, proof, report)
    _check_summary(manifest, proof, report)
    _check_erasures(proof, report)
    cp = _checkpoint(proof_now, verifier, origin)
    _check_anchor(proof_now, cp, verifier, origin, opts, report)
    _check_payments(proof, opts, report)


def _proof_in_current_format(
    proof: dict[str, Any], version: int, report: VerifyReport
) -> dict[str, Any] | None:
    """``proof`` as the proof checks read it: a format-1 proof through ``proof_v1_to_v2``."""
    if version == layout.FORMAT_VERSION:
        return proof
    name = f"proof.json's format-{version} hashes read as format {layout.FORMAT_VERSION}"
    try:
        upgraded = layout.proof_v1_to_v2(proof)
    except LayoutError as exc:
        report.add(name, False, str(exc))
        return None
    report.add(name, True, "tree roots and proof nodes: base64 in the bundle, hex once read")
    return upgraded


def _log_verifier(bundle_key: Any, opts: Options, report: VerifyReport) -> Verifier | None:
    key = bundle_key
    if opts.log_key:
        report.add(
            "the bundle names the log key you gave",
            bundle_key == opts.log_key.strip(),
            f"the bundle names {bundle_key}",
        )
        key = opts.log_key.strip()
    else:
        report.note(
            "no --log-key given: the log key was taken from the bundle itself; obtain the "
            "log's key independently and pass --log-key so a bundle signed by another key fails"
        )
    try:
        return Verifier.from_string(str(key))
    except NoteError as exc:
        report.add("the log key is a valid Ed25519 note verifier key", False, str(exc))
        return None


def _check_signature(files, manifest_bytes, origin, reference, size, verifier, report) -> None:
    name = "manifest.sig is the log key's signature over this manifest"
    raw = files.get(layout.SIGNATURE)
    if raw is None:
        report.add(name, False, "manifest.sig is missing")
        return
    try:
        opened = open_note(raw.decode("utf-8"), [verifier])
        fields = layout.parse_note_fields(opened.text, layout.BUNDLE_NOTE_HEADER)
    except (NoteError, LayoutError, UnicodeDecodeError) as exc:
        report.add(name, False, str(exc))
        return
    expected = {
        "log": origin,
        "complaint": reference,
        "tree-size": str(size),
        "manifest-sha256": sha256_hex(manifest_bytes),
    }
    wrong = [k for k, v in expected.items() if fields.get(k) != v]
    if "manifest-sha256" in wrong:
        report.add(name, False, "manifest.json is not the signed manifest (its SHA-256 differs)")
        return
    report.add(
        name,
        not wrong,
        f"signed fields differ: {', '.join(wrong)}"
        if wrong
        else f"manifest sha256 {expected['manifest-sha256']}",
    )


def _check_files(files: Mapping[str, bytes], listed: Mapping[str, Any], report) -> None:
    bad = 0
    for path in sorted(listed):
        entry = listed[path]
        data = files.get(path)
        if data is None:
            bad += 1
            report.add(f"file {path} is in the bundle", False, "listed but missing")
            continue
        ok = sha256_hex(data) == entry.get("sha256") and len(data) == entry.get("size")
        if not ok:
            bad += 1
            report.add(
                f"file {path} matches its SHA-256 in the manifest",
                False,
                f"sha256 {sha256_hex(data)}, manifest says {entry.get('sha256')}",
            )
    if bad == 0:
        report.add("every file matches its SHA-256 in the manifest", True, f"{len(listed)} files")
    extra = sorted(set(files) - set(listed) - {layout.MANIFEST, layout.SIGNATURE})
    report.add(
        "the bundle holds no file the manifest does not list",
        not extra,
        ", ".join(extra[:5]) + (" ..." if len(extra) > 5 else ""),
    )
    for required in (layout.PROOF, *layout.REPORTS):
        if required not in listed:
            report.add(f"the manifest lists {required}", False, "not listed")


def _check_derived(files: Mapping[str, bytes], proof: Mapping[str, Any], report) -> None:
    try:
        expected = layout.data_files(proof)
    except LayoutError as exc:
        report.add("every data file agrees with proof.json", False, str(exc))
        return
    fixed = {layout.MANIFEST, layout.SIGNATURE, layout.PROOF, *layout.REPORTS}
    actual = {p for p in files if p not in fixed}
    bad = 0
    for path in sorted(actual | set(expected)):
        if path not in expected:
            bad += 1
            report.add(f"file {path} agrees with proof.json", False, "proof.json has no such data")
        elif files.get(path) != expected[path]:
            bad += 1
            why = "missing" if path not in files else "content differs from proof.json"
            report.add(f"file {path} agrees with proof.json", False, why)
    if not bad:
        report.add("every data file agrees with proof.json", True, f"{len(expected)} files")


def _check_summary(manifest: Mapping[str, Any], proof: Mapping[str, Any], report) -> None:
    try:
        events = proof.get("events") or []
        status = json.loads(events[-1]["leaf"])["public"].get("state") if events else None
        ok = manifest.get("contents") == layout.contents_summary(proof, status) and manifest.get(
            "anchor"
        ) == layout.anchor_summary(proof.get("anchor"))
    except (LayoutError, KeyError, TypeError, ValueError) as exc:
        report.add("the manifest's summary matches proof.json", False, str(exc))
        return
    report.add("the manifest's summary matches proof.json", ok, "" if ok else "summary differs")


def _check_erasures(proof: Mapping[str, Any], report) -> None:
    try:
        by_chain = layout.erasures(proof)
        flagged = {}
        for item in proof.get("events", []):
            if item.get("erased"):
                flagged[merkle.leaf_hash(item["leaf"].encode("utf-8")).hex()] = item
    except (LayoutError, KeyError, TypeError, ValueError) as exc:
        report.add("erased bodies are exactly those erased on the log", False, str(exc))
        return
    if not flagged and not by_chain:
        return
    leftover = [i["seq"] for i in flagged.values() if "body" in i or "salt" in i]
    ok = set(flagged) == set(by_chain) and not leftover
    seqs = sorted(str(i.get("seq")) for i in flagged.values())
    detail = f"event(s) {', '.join(seqs)} erased by an erasure event; their leaves still verify"
    if set(flagged) != set(by_chain):
        detail = "the erased flags and the chain's erasure events disagree"
    elif leftover:
        detail = f"event(s) {leftover} are flagged erased but carry a body or salt"
    report.add("erased bodies are exactly those erased on the log, and gone", ok, detail)


def _checkpoint(proof: Mapping[str, Any], verifier: Verifier, origin: str) -> Checkpoint | None:
    try:
        return open_checkpoint(proof["checkpoint"]["note"], verifier, origin)
    except (KeyError, TypeError, CheckpointError):
        return None  # already reported by the complaint proof checks


# --- anchor --------------------------------------------------------------------------------------


def _check_anchor(proof, cp: Checkpoint | None, verifier, origin, opts: Options, report) -> None:
    anchor = proof.get("anchor")
    if anchor is None:
        report.note(
            "the checkpoint was not anchored on chain when the bundle was exported; its "
            "integrity rests on the log's signature alone (export again later for an anchor)"
        )
        if opts.chain is not None:
            report.add("the bundle's checkpoint is anchored on chain", False, "no anchor")
        return
    if cp is None:
        report.add("the anchor can be checked", False, "the bundle's checkpoint does not verify")
        return
    try:
        anchored_size = int(anchor["anchored_size"])
        anchored_root = parse_hash(anchor["anchored_root"])
        consistency = parse_hashes(anchor["consistency_proof"])
    except (KeyError, TypeError, ValueError) as exc:
        report.add("the anchor record is well-formed", False, str(exc))
        return
    note = anchor.get("anchored_checkpoint")
    if note is None:
        report.note("the anchored checkpoint's signed note is not in the bundle")
    else:
        try:
            acp = open_checkpoint(note, verifier, origin)
            note_hash = "0x" + hashlib.sha256(note.encode("utf-8")).hexdigest()
            ok = (acp.size, acp.root) == (anchored_size, anchored_root) and (
                anchor.get("note_hash") in (None, note_hash)
            )
            detail = f"tree size {acp.size}" if ok else "size, root or note hash differ"
        except (CheckpointError, AttributeError) as exc:
            ok, detail = False, str(exc)
        report.add(
            "the anchored checkpoint is signed by the log key and matches the anchor", ok, detail
        )
    covers = anchor.get("checkpoint_size") == cp.size and anchored_size >= cp.size
    report.add(
        "the anchor covers this bundle's checkpoint",
        covers,
        f"checkpoint {cp.size}, anchored {anchored_size}",
    )
    try:
        merkle.verify_consistency(cp.size, anchored_size, cp.root, anchored_root, consistency)
        ok, detail = True, f"size {cp.size} -> {anchored_size}, {len(consistency)} nodes"
    except merkle.ProofError as exc:
        ok, detail = False, str(exc)
    report.add("this checkpoint is a prefix of the anchored tree (consistency proof)", ok, detail)
    if anchor.get("state") != "confirmed":
        report.note(
            f"at export the anchor was {anchor.get('state')} "
            f"({anchor.get('confirmations')} confirmations); check it with --rpc"
        )
    if opts.chain is not None:
        _check_anchor_on_chain(anchor, cp, origin, anchored_size, anchored_root, opts, report)
    else:
        report.note("the anchor was not checked against the chain (no --rpc)")


def _hex_lower(value: Any) -> str:
    return str(value).lower()


def _word(data: bytes, i: int) -> bytes:
    return data[32 * i : 32 * (i + 1)]


def _confirmed(chain: ChainReader, receipt: Mapping[str, Any], need: int) -> tuple[bool, str]:
    number = int(receipt["blockNumber"], 16)
    canonical = chain.block_hash(number) == _hex_lower(receipt["blockHash"])
    confirmations = max(0, chain.block_number() - number + 1) if canonical else 0
    return canonical and confirmations >= need, f"{confirmations} confirmations (need {need})"


def _check_anchor_on_chain(anchor, cp, origin, anchored_size, anchored_root, opts, report):
    chain: ChainReader = opts.chain  # type: ignore[assignment]
    try:
        chain_id = chain.chain_id()
        report.add(
            "the RPC serves the anchor's chain",
            chain_id == anchor.get("chain_id"),
            f"RPC chain {chain_id}, anchor on chain {anchor.get('chain_id')}",
        )
        contract = str(anchor.get("contract") or "")
        if not _ADDRESS.fullmatch(contract):
            report.add("the anchor names a contract address", False, repr(contract))
            return
        if opts.contract:
            report.add(
                "the anchor contract is the one you gave",
                contract.lower() == opts.contract.strip().lower(),
                contract,
            )
        else:
            report.note(
                f"no --contract given: the anchor contract {contract} was taken from the "
                "bundle; pass the operator's published address to pin it"
            )
        code = chain.code(contract)
        report.add(
            "the anchor contract runs the LogAnchor code (consistency checked on chain)",
            hashlib.sha256(code).hexdigest() == LOG_ANCHOR_CODE_SHA256,
            f"code sha256 {hashlib.sha256(code).hexdigest()[:16]}…",
        )
        tx_hash = str(anchor.get("tx_hash") or "")
        receipt = chain.receipt(tx_hash) if _TX.fullmatch(tx_hash) else None
        if receipt is None or receipt.get("blockNumber") is None:
            report.add("the anchor transaction is on chain", False, f"{tx_hash} not found")
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
        )
        ok, detail = _confirmed(chain, receipt, opts.confirmations)
        report.add(f"the anchor has at least {opts.confirmations} confirmations", ok, detail)
        log_id = "0x" + hashlib.sha256(origin.encode("utf-8")).hexdigest()
        events = []
        for entry in receipt.get("logs") or []:
            topics = [_hex_lower(t) for t in entry.get("topics") or []]
            if _hex_lower(entry.get("address")) == contract.lower() and topics[:2] == [
                ANCHORED_TOPIC,
                log_id,
            ]:
                data = bytes.fromhex(str(entry.get("data", "0x"))[2:])
                events.append(
                    (
                        int.from_bytes(_word(data, 0), "big"),
                        _word(data, 1),
                        "0x" + _word(data, 2).hex(),
                    )
                )
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
        )
        if matched:
            try:
                merkle.verify_consistency(
                    cp.size,
                    matched[0][0],
                    cp.root,
                    matched[0][1],
                    parse_hashes(anchor["consistency_proof"]),
                )
                ok, detail = True, f"tree size {cp.size} -> {matched[0][0]} on chain"
            except merkle.ProofError as exc:
                ok, detail = False, str(exc)
            report.add("the root on chain is consistent with this bundle's checkpoint", ok, detail)
        head = chain.eth_call(contract, "0x" + LATEST_SELECTOR + log_id[2:])
        size_now = int.from_bytes(_word(head, 0), "big") if len(head) >= 96 else -1
        root_now = _word(head, 1)
        still = size_now > anchored_size or (
            size_now == anchored_size and root_now == anchored_root
        )
        report.add(
            "the contract still holds this anchor or a later, consistent one",
            still,
            f"contract holds tree size {size_now}",
        )
    except (RpcError, KeyError, TypeError, ValueError) as exc:
        report.add("the chain answers the anchor checks", False, str(exc))


# --- payments -----------------------------------------------------------------------------------


def _payments(proof: Mapping[str, Any]):
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
        yield item, public, body


def _check_payments(proof: Mapping[str, Any], opts: Options, report: VerifyReport) -> None:
    for item, _public, body in _payments(proof):
        seq = item.get("seq")
        if body is None:
            why = "erased" if item.get("erased") else "not disclosed in this bundle"
            report.note(
                f"on-chain payment in event {seq}: its body is {why}, so its "
                "transaction cannot be checked"
            )
            continue
        missing = [k for k in ("recipient", "amount_base_units") if k not in body]
        if opts.chain is None:
            if missing:
                report.note(
                    f"on-chain payment in event {seq} records no {', '.join(missing)}: "
                    "it cannot be matched on chain"
                )
            else:
                report.note(f"on-chain payment in event {seq} was not checked on chain (no --rpc)")
            continue
        name = f"on-chain payment in event {seq} ({_amount(body)}) is on chain as recorded"
        if missing:
            report.add(name, False, f"the payment records no {', '.join(missing)}")
            continue
        try:
            _check_one_payment(name, body, opts, report)
        except (RpcError, KeyError, TypeError, ValueError) as exc:
            report.add(name, False, f"the chain could not be queried: {exc}")


def _amount(body: Mapping[str, Any]) -> str:
    return f"{body.get('amount')} {body.get('asset') or body.get('currency') or ''}".strip()


def _reader_for(chain_id: int | None, opts: Options) -> ChainReader | None:
    readers = [r for r in (opts.chain, *opts.payment_chains) if r is not None]
    if chain_id is None:
        return readers[0] if readers else None
    for reader in readers:
        if reader.chain_id() == chain_id:
            return reader
    return None


def _check_one_payment(name: str, body: Mapping[str, Any], opts: Options, report) -> None:
    chain = _reader_for(body.get("chain_id"), opts)
    if chain is None:
        report.add(name, False, f"no RPC given for chain {body.get('chain_id')} (--payment-rpc)")
        return
    tx_hash = str(body["tx_hash"])
    tx, receipt = chain.transaction(tx_hash), chain.receipt(tx_hash)
    if tx is None or receipt is None or receipt.get("blockNumber") is None:
        report.add(name, False, f"transaction {tx_hash} not found on chain {chain.chain_id()}")
        return
    if int(receipt.get("status", "0x0"), 16) != 1:
        report.add(name, False, f"transaction {tx_hash} reverted")
        return
    ok, confirmations = _confirmed(chain, receipt, opts.confirmations)
    if not ok:
        report.add(name, False, f"transaction {tx_hash}: {confirmations}")
        return
    recipient = str(body["recipient"]).lower()
    units = int(body["amount_base_units"])
    expected = Decimal(str(body["amount"])).scaleb(int(body.get("decimals", 0)))
    if expected != units:
        report.add(name, False, "amount and amount_base_units disagree")
        return
    token = body.get("token")
    if token is None:
        got_to = _hex_lower(tx.get("to"))
        got_value = int(tx.get("value", "0x0"), 16)
        ok = got_to == recipient and got_value == units
        detail = f"value transfer of {got_value} base units to {got_to}" + (
            "" if ok else f"; recorded {units} to {recipient}"
        )
    else:
        padded = "0x" + recipient[2:].rjust(64, "0")
        transfers = []
        for entry in receipt.get("logs") or []:
            topics = [_hex_lower(t) for t in entry.get("topics") or []]
            if (
                _hex_lower(entry.get("address")) == str(token).lower()
                and topics[:1] == [TRANSFER_TOPIC]
                and len(topics) == 3
            ):
                value = int(str(entry.get("data", "0x0"))[2:] or "0", 16)
                transfers.append((topics[2], value))
        ok = (padded, units) in transfers
        detail = f"{len(transfers)} Transfer event(s) of token {token}" + (
            "" if ok else f"; none of {units} base units to {recipient}"
        )
    report.add(name, ok, f"{detail}; {confirmations}")


# --- multi-complaint exports -------------------------------------------------------------------


def verify_export(data: bytes, options: Options | None = None, **kwargs: Any) -> VerifyReport:
    """Verify an export ZIP: its signed index, then every bundle in it."""
    opts = options or Options(**kwargs)
    report = VerifyReport()
    files = read_zip(data, report, "the export")
    if files is None:
        return report
    _guarded(report, "the export", _verify_export_files, files, opts, report)
    return report


def _verify_export_files(files: dict[str, bytes], opts: Options, report: VerifyReport) -> None:
    index_bytes = files.get(layout.INDEX)
    index = _json(index_bytes, "index.json", report)
    if index is None:
        return
    if not report.add(
        "index.json is a supported evidence export index",
        index.get("format") == layout.EXPORT_FORMAT
        and index.get("format_version") == layout.EXPORT_FORMAT_VERSION,
        f"format {index.get('format')!r} version {index.get('format_version')!r}",
    ):
        return
    try:
        origin = index["log"]["origin"]
        rows = list(index["bundles"])
        verifier = _log_verifier(index["log"]["verifier_key"], opts, report)
    except (KeyError, TypeError) as exc:
        report.add("index.json has every required field", False, f"missing {exc}")
        return
    if verifier is None:
        return
    try:
        raw = files.get(layout.INDEX_SIGNATURE, b"").decode("utf-8")
        fields = layout.parse_note_fields(
            open_note(raw, [verifier]).text, layout.EXPORT_NOTE_HEADER
        )
        expected = {
            "log": origin,
            "bundles": str(len(rows)),
            "index-sha256": sha256_hex(index_bytes),
        }
        ok = all(fields.get(k) == v for k, v in expected.items())
        detail = f"index sha256 {expected['index-sha256']}" if ok else "signed fields differ"
    except (NoteError, LayoutError, UnicodeDecodeError) as exc:
        ok, detail = False, str(exc)
    report.add("index.sig is the log key's signature over this index", ok, detail)
    listed = {r.get("path") for r in rows}
    extra = sorted(set(files) - listed - {layout.INDEX, layout.INDEX_SIGNATURE, "README.txt"})
    report.add("the export holds no file the index does not list", not extra, ", ".join(extra))
    for row in rows:
        ref = row.get("reference")
        data = files.get(str(row.get("path")))
        if data is None:
            report.add(f"[{ref}] bundle is in the export", False, "missing")
            continue
        report.add(
            f"[{ref}] bundle matches its SHA-256 in the index",
            sha256_hex(data) == row.get("sha256"),
            sha256_hex(data),
        )
        inner = verify_bundle(data, opts)
        for r in inner.results:
            report.results.append(Result(f"[{ref}] {r.name}", r.ok, r.detail))
        for n in inner.notes:
            if not n.startswith("no --log-key"):
                report.note(f"[{ref}] {n}")


def verify_path(path: Path, options: Options | None = None, **kwargs: Any) -> VerifyReport:
    """A bundle or export: a ZIP file, or a directory holding an unpacked one."""
    opts = options or Options(**kwargs)
    report = VerifyReport()
    try:
        files = read_directory(path) if path.is_dir() else None
        data = b"" if files is not None else path.read_bytes()
    except OSError as exc:
        report.add(f"{path} can be read", False, exc.strerror or type(exc).__name__)
        return report
    if files is not None:
        if layout.INDEX in files:
            _guarded(report, "the export", _verify_export_files, files, opts, report)
        else:
            _guarded(report, "the bundle", _verify_bundle_files, files, opts, report)
        return report
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            is_export = layout.INDEX in zf.namelist()
    except zipfile.BadZipFile:
        is_export = False
    return verify_export(data, opts) if is_export else verify_bundle(data, opts)
