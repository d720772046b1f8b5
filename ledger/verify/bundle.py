"""Offline verification of an evidence bundle (or of a multi-complaint export).

Pure: imports only the log's hashing, proofs and notes, the complaint domain and the bundle
layout; no database, no Flask, no operator server. With a chain reader (``--rpc``) it also
checks the anchor transaction and the contract's state, and each on-chain compensation
payment. Each check has a plain-words name (``ledger.verify.report``); the bundle verifies only
when every check passes. Skipped checks say what could not be checked and why (never a
failure). Reading the files is ``ledger.verify.files``; the chain checks are
``ledger.verify.onchain``.

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
   every attached file (``attachments/<sha256>``) has the SHA-256 and size the disclosed body
   listing it commits to, and no file is there that no disclosed body lists;
7. the anchor: the anchored checkpoint is signed by the log key, and the consistency proof
   leads from this checkpoint to the anchored root;
8. with a chain: the anchor transaction succeeded in the recorded block with enough
   confirmations, the contract runs the LogAnchor code, its Anchored event holds that root,
   the contract still holds it or a later (necessarily consistent) one; every on-chain
   payment's transaction moved the recorded amount to the recorded recipient.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ledger.complaints.payloads import MAX_DEPTH
from ledger.jsondepth import text_depth
from ledger.log import merkle
from ledger.log.canonical import CanonicalJSONError, parse_canonical
from ledger.log.checkpoint import Checkpoint, CheckpointError, open_checkpoint
from ledger.log.encoding import parse_hash, parse_hashes
from ledger.log.note import NoteError, Verifier, open_note
from ledger.verify import layout
from ledger.verify.complaint import proof_input_problem, verify_complaint_proof
from ledger.verify.files import is_zip_with, read_directory, read_zip
from ledger.verify.layout import LayoutError, sha256_hex
from ledger.verify.onchain import (
    DEFAULT_CONFIRMATIONS,
    ChainReader,
    check_anchor_on_chain,
    check_payments,
)
from ledger.verify.report import Report, checked

_LOG_KEY_FROM_BUNDLE = (
    "no --log-key given: the log key was taken from the bundle itself; obtain the "
    "log's key independently and pass --log-key so a bundle signed by another key fails"
)


@dataclass(frozen=True)
class Options:
    log_key: str | None = None
    contract: str | None = None
    chain: ChainReader | None = None
    payment_chains: tuple[ChainReader, ...] = ()
    confirmations: int = DEFAULT_CONFIRMATIONS
    # chain id -> a block explorer's transaction page ({tx}), named by the payout checks
    explorers: Mapping[int, str] | None = None

    def readers(self) -> tuple[ChainReader, ...]:
        """The chains to check payments on, the anchor's first (none without --rpc)."""
        return () if self.chain is None else (self.chain, *self.payment_chains)


def _json(data: bytes | None, what: str, report: Report, category: str) -> dict[str, Any] | None:
    """``data`` as a JSON object (RFC 8785), or None with a failed check saying why."""
    if data is None:
        report.add(f"{what} is present", False, "missing", category)
        return None
    name = f"{what} is well-formed RFC 8785 JSON"
    # Parsers recurse per level: deeper than the API ever accepts is refused unparsed.
    if text_depth(data, stop_above=MAX_DEPTH) > MAX_DEPTH:
        report.add(name, False, f"nests deeper than {MAX_DEPTH}", category)
        return None
    try:
        value = parse_canonical(data)
    except (CanonicalJSONError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        report.add(name, False, str(exc), category)
        return None
    if not isinstance(value, dict):
        report.add(name, False, "not a JSON object", category)
        return None
    return value


# --- the bundle -----------------------------------------------------------------------------


def verify_bundle(
    source: bytes | Mapping[str, bytes], options: Options | None = None, **kwargs: Any
) -> Report:
    """Verify one evidence bundle (ZIP bytes, or its files by path)."""
    opts = options or Options(**kwargs)
    report = Report()
    files = read_zip(source, report) if isinstance(source, bytes) else dict(source)
    if files is not None:
        _check_bundle(files, opts, report)
    return report


def _check_bundle(files: dict[str, bytes], opts: Options, report: Report) -> None:
    checked(
        report,
        "the bundle could be checked",
        _verify_bundle_files,
        files,
        opts,
        report,
        category="files",
    )


def _verify_bundle_files(files: dict[str, bytes], opts: Options, report: Report) -> None:
    manifest_bytes = files.get(layout.MANIFEST)
    manifest = _json(manifest_bytes, "manifest.json", report, "manifest")
    if manifest_bytes is None or manifest is None:
        return
    fmt, version = manifest.get("format"), manifest.get("format_version")
    readable = type(version) is int and version in layout.READABLE_FORMAT_VERSIONS
    if not report.add(
        "manifest.json is a supported evidence bundle manifest",
        fmt == layout.FORMAT and readable,
        f"format {fmt!r} version {version!r}",
        "manifest",
    ):
        return
    try:
        origin = manifest["log"]["origin"]
        reference = manifest["reference"]
        size = manifest["checkpoint"]["size"]
        bundle_key = manifest["log"]["verifier_key"]
        listed = {f["path"]: f for f in manifest["files"]}
    except (KeyError, TypeError) as exc:
        report.add("manifest.json has every required field", False, f"missing {exc}", "manifest")
        return

    verifier = _log_verifier(bundle_key, opts, report)
    if verifier is None:
        return
    signed = {"log": origin, "complaint": reference, "tree-size": str(size)}
    _check_signature(files, manifest_bytes, signed, verifier, report)
    _check_files(files, listed, report)

    proof = _json(files.get(layout.PROOF), "proof.json", report, "files")
    if proof is None:
        return
    if (problem := proof_input_problem(proof)) is not None:
        report.add("proof.json is a complaint proof", False, problem, "files")
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
        "files",
    )
    # The files are checked against the proof as it is (format 1's bytes are the signed ones);
    # the proof and anchor checks read a format-1 proof's base64 hashes through the upgrade.
    proof_now = _proof_in_current_format(proof, version, report)
    if proof_now is None:
        return
    report.checks.extend(verify_complaint_proof(proof_now, str(verifier), origin).checks)
    _check_derived(files, proof, report)
    _check_summary(manifest, proof, report)
    _check_erasures(proof, report)
    _check_attachments(files, proof, report)
    cp = _checkpoint(proof_now, verifier, origin)
    _check_anchor(proof_now, cp, verifier, origin, opts, report)
    check_payments(report, proof, opts.readers(), opts.confirmations, explorers=opts.explorers)


def _proof_in_current_format(
    proof: dict[str, Any], version: object, report: Report
) -> dict[str, Any] | None:
    """``proof`` as the proof checks read it: a format-1 proof through ``proof_v1_to_v2``."""
    if version == layout.FORMAT_VERSION:
        return proof
    name = f"proof.json's format-{version} hashes read as format {layout.FORMAT_VERSION}"
    try:
        upgraded = layout.proof_v1_to_v2(proof)
    except LayoutError as exc:
        report.add(name, False, str(exc), "files")
        return None
    report.add(
        name, True, "tree roots and proof nodes: base64 in the bundle, hex once read", "files"
    )
    return upgraded


def _log_verifier(bundle_key: Any, opts: Options, report: Report) -> Verifier | None:
    key = bundle_key
    if opts.log_key:
        report.add(
            "the bundle names the log key you gave",
            bundle_key == opts.log_key.strip(),
            f"the bundle names {bundle_key}",
            "key",
        )
        key = opts.log_key.strip()
    else:
        report.skip(_LOG_KEY_FROM_BUNDLE, category="key")
    try:
        return Verifier.from_string(str(key))
    except NoteError as exc:
        report.add("the log key is a valid Ed25519 note verifier key", False, str(exc), "key")
        return None


def _check_signature(
    files: Mapping[str, bytes],
    manifest_bytes: bytes,
    signed: Mapping[str, str],
    verifier: Verifier,
    report: Report,
) -> None:
    """manifest.sig: the log key's note naming the manifest's SHA-256 and the ``signed``
    fields (log, complaint, tree size)."""
    name = "manifest.sig is the log key's signature over this manifest"
    raw = files.get(layout.SIGNATURE)
    if raw is None:
        report.add(name, False, "manifest.sig is missing", "manifest")
        return
    try:
        opened = open_note(raw.decode("utf-8"), [verifier])
        fields = layout.parse_note_fields(opened.text, layout.BUNDLE_NOTE_HEADER)
    except (NoteError, LayoutError, UnicodeDecodeError) as exc:
        report.add(name, False, str(exc), "manifest")
        return
    expected = {**signed, "manifest-sha256": sha256_hex(manifest_bytes)}
    wrong = [k for k, v in expected.items() if fields.get(k) != v]
    if "manifest-sha256" in wrong:
        detail = "manifest.json is not the signed manifest (its SHA-256 differs)"
        report.add(name, False, detail, "manifest")
        return
    report.add(
        name,
        not wrong,
        f"signed fields differ: {', '.join(wrong)}"
        if wrong
        else f"manifest sha256 {expected['manifest-sha256']}",
        "manifest",
    )


def _check_files(files: Mapping[str, bytes], listed: Mapping[str, Any], report: Report) -> None:
    bad = 0
    for path in sorted(listed):
        entry = listed[path]
        data = files.get(path)
        if data is None:
            bad += 1
            report.add(f"file {path} is in the bundle", False, "listed but missing", "files")
            continue
        ok = sha256_hex(data) == entry.get("sha256") and len(data) == entry.get("size")
        if not ok:
            bad += 1
            report.add(
                f"file {path} matches its SHA-256 in the manifest",
                False,
                f"sha256 {sha256_hex(data)}, manifest says {entry.get('sha256')}",
                "files",
            )
    if bad == 0:
        report.add(
            "every file matches its SHA-256 in the manifest", True, f"{len(listed)} files", "files"
        )
    extra = sorted(set(files) - set(listed) - {layout.MANIFEST, layout.SIGNATURE})
    report.add(
        "the bundle holds no file the manifest does not list",
        not extra,
        ", ".join(extra[:5]) + (" ..." if len(extra) > 5 else ""),
        "files",
    )
    for required in (layout.PROOF, *layout.REPORTS):
        if required not in listed:
            report.add(f"the manifest lists {required}", False, "not listed", "files")


def _check_derived(files: Mapping[str, bytes], proof: Mapping[str, Any], report: Report) -> None:
    try:
        expected = layout.data_files(proof)
    except LayoutError as exc:
        report.add("every data file agrees with proof.json", False, str(exc), "derived")
        return
    fixed = {layout.MANIFEST, layout.SIGNATURE, layout.PROOF, *layout.REPORTS}
    # Attached files are not derived from the proof: _check_attachments checks them.
    actual = {p for p in files if p not in fixed and not p.startswith(layout.ATTACHMENTS)}
    bad = 0
    for path in sorted(actual | set(expected)):
        name = f"file {path} agrees with proof.json"
        if path not in expected:
            bad += 1
            report.add(name, False, "proof.json has no such data", "derived")
        elif files.get(path) != expected[path]:
            bad += 1
            why = "missing" if path not in files else "content differs from proof.json"
            report.add(name, False, why, "derived")
    if not bad:
        report.add(
            "every data file agrees with proof.json", True, f"{len(expected)} files", "derived"
        )


def _check_summary(manifest: Mapping[str, Any], proof: Mapping[str, Any], report: Report) -> None:
    name = "the manifest's summary matches proof.json"
    try:
        events = proof.get("events") or []
        status = json.loads(events[-1]["leaf"])["public"].get("state") if events else None
        ok = manifest.get("contents") == layout.contents_summary(proof, status) and manifest.get(
            "anchor"
        ) == layout.anchor_summary(proof.get("anchor"))
    except (LayoutError, KeyError, TypeError, ValueError) as exc:
        report.add(name, False, str(exc), "derived")
        return
    report.add(name, ok, "" if ok else "summary differs", "derived")


def _check_erasures(proof: Mapping[str, Any], report: Report) -> None:
    try:
        by_chain = layout.erasures(proof)
        flagged = {}
        for item in proof.get("events", []):
            if item.get("erased"):
                flagged[merkle.leaf_hash(item["leaf"].encode("utf-8")).hex()] = item
    except (LayoutError, KeyError, TypeError, ValueError) as exc:
        report.add("erased bodies are exactly those erased on the log", False, str(exc), "erasures")
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
    report.add(
        "erased bodies are exactly those erased on the log, and gone", ok, detail, "erasures"
    )


def _check_attachments(
    files: Mapping[str, bytes], proof: Mapping[str, Any], report: Report
) -> None:
    """Each attached file against the body listing it (SHA-256 and size), and no stray file.

    A listed file that is not in the bundle is a skip, not a failure: its body (and so its
    SHA-256) still verifies against the leaf, only the bytes were not exported."""
    try:
        listings = layout.attachment_listings(proof)
    except LayoutError as exc:
        report.add("attached files agree with their bodies", False, str(exc), "attachments")
        return
    listed = {listing.path for listing in listings}
    for path in sorted(p for p in files if p.startswith(layout.ATTACHMENTS)):
        if path not in listed:
            report.add(
                f"file {path} is listed by a disclosed body",
                False,
                "no disclosed body lists this file",
                "attachments",
            )
    for listing in listings:
        what = f"attachment {listing.name!r} of event {listing.seq}"
        data = files.get(listing.path)
        if data is None:
            report.skip(
                f"{what} is not in the bundle",
                f"its SHA-256 {listing.sha256} is committed in the body; the file was not exported",
                "attachments",
            )
            continue
        actual = sha256_hex(data)
        ok = actual == listing.sha256 and listing.size in (None, len(data))
        detail = f"{len(data)} bytes, sha256 {actual}"
        if not ok:
            size = "no size" if listing.size is None else f"{listing.size} bytes"
            detail = f"the file has {detail}; the body commits to {size}, sha256 {listing.sha256}"
        report.add(
            f"{what} has the SHA-256 and size its body commits to", ok, detail, "attachments"
        )


def _checkpoint(proof: Mapping[str, Any], verifier: Verifier, origin: str) -> Checkpoint | None:
    try:
        return open_checkpoint(proof["checkpoint"]["note"], verifier, origin)
    except (KeyError, TypeError, CheckpointError):
        return None  # already reported by the complaint proof checks


# --- anchor --------------------------------------------------------------------------------------


def _check_anchor(
    proof: Mapping[str, Any],
    cp: Checkpoint | None,
    verifier: Verifier,
    origin: str,
    opts: Options,
    report: Report,
) -> None:
    anchor = proof.get("anchor")
    if anchor is None:
        report.skip(
            "the checkpoint was not anchored on chain when the bundle was exported; its "
            "integrity rests on the log's signature alone",
            "export again later for an anchor",
            "anchor",
        )
        if opts.chain is not None:
            report.add(
                "the bundle's checkpoint is anchored on chain", False, "no anchor", "chain_anchor"
            )
        return
    if cp is None:
        report.add(
            "the anchor can be checked", False, "the bundle's checkpoint does not verify", "anchor"
        )
        return
    try:
        anchored_size = int(anchor["anchored_size"])
        anchored_root = parse_hash(anchor["anchored_root"])
        consistency = parse_hashes(anchor["consistency_proof"])
    except (KeyError, TypeError, ValueError) as exc:
        report.add("the anchor record is well-formed", False, str(exc), "anchor")
        return
    note = anchor.get("anchored_checkpoint")
    if note is None:
        report.skip("the anchored checkpoint's signed note is not in the bundle", category="anchor")
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
            "the anchored checkpoint is signed by the log key and matches the anchor",
            ok,
            detail,
            "anchor",
        )
    covers = anchor.get("checkpoint_size") == cp.size and anchored_size >= cp.size
    report.add(
        "the anchor covers this bundle's checkpoint",
        covers,
        f"checkpoint {cp.size}, anchored {anchored_size}",
        "anchor",
    )
    try:
        merkle.verify_consistency(cp.size, anchored_size, cp.root, anchored_root, consistency)
        ok, detail = True, f"size {cp.size} -> {anchored_size}, {len(consistency)} nodes"
    except merkle.ProofError as exc:
        ok, detail = False, str(exc)
    report.add(
        "this checkpoint is a prefix of the anchored tree (consistency proof)",
        ok,
        detail,
        "anchor",
    )
    if anchor.get("state") != "confirmed":
        report.skip(
            f"at export the anchor was {anchor.get('state')} "
            f"({anchor.get('confirmations')} confirmations); check it with --rpc",
            category="chain_anchor",
        )
    if opts.chain is not None:
        check_anchor_on_chain(
            report,
            opts.chain,
            anchor,
            cp,
            origin,
            (anchored_size, anchored_root),
            contract_given=opts.contract,
            confirmations=opts.confirmations,
        )
    else:
        report.skip("the anchor was not checked against the chain", "no --rpc", "chain_anchor")


# --- multi-complaint exports -------------------------------------------------------------------


def verify_export(data: bytes, options: Options | None = None, **kwargs: Any) -> Report:
    """Verify an export ZIP: its signed index, then every bundle in it."""
    opts = options or Options(**kwargs)
    report = Report()
    files = read_zip(data, report, "the export")
    if files is not None:
        _check_export(files, opts, report)
    return report


def _check_export(files: dict[str, bytes], opts: Options, report: Report) -> None:
    checked(
        report,
        "the export could be checked",
        _verify_export_files,
        files,
        opts,
        report,
        category="files",
    )


def _verify_export_files(files: dict[str, bytes], opts: Options, report: Report) -> None:
    index_bytes = files.get(layout.INDEX)
    index = _json(index_bytes, "index.json", report, "manifest")
    if index_bytes is None or index is None:
        return
    if not report.add(
        "index.json is a supported evidence export index",
        index.get("format") == layout.EXPORT_FORMAT
        and index.get("format_version") == layout.EXPORT_FORMAT_VERSION,
        f"format {index.get('format')!r} version {index.get('format_version')!r}",
        "manifest",
    ):
        return
    try:
        origin = index["log"]["origin"]
        rows = list(index["bundles"])
        verifier = _log_verifier(index["log"]["verifier_key"], opts, report)
    except (KeyError, TypeError) as exc:
        report.add("index.json has every required field", False, f"missing {exc}", "manifest")
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
    report.add("index.sig is the log key's signature over this index", ok, detail, "manifest")
    listed = {r.get("path") for r in rows}
    extra = sorted(set(files) - listed - {layout.INDEX, layout.INDEX_SIGNATURE, "README.txt"})
    report.add(
        "the export holds no file the index does not list", not extra, ", ".join(extra), "files"
    )
    for row in rows:
        ref = row.get("reference")
        data = files.get(str(row.get("path")))
        if data is None:
            report.add(f"[{ref}] bundle is in the export", False, "missing", "files")
            continue
        report.add(
            f"[{ref}] bundle matches its SHA-256 in the index",
            sha256_hex(data) == row.get("sha256"),
            sha256_hex(data),
            "files",
        )
        # The export's own checks already say whether the log key was given.
        report.checks.extend(
            replace(c, name=f"[{ref}] {c.name}")
            for c in verify_bundle(data, opts).checks
            if c.name != _LOG_KEY_FROM_BUNDLE
        )


def verify_path(path: Path, options: Options | None = None, **kwargs: Any) -> Report:
    """A bundle or export: a ZIP file, or a directory holding an unpacked one."""
    opts = options or Options(**kwargs)
    report = Report()
    try:
        files = read_directory(path) if path.is_dir() else None
        data = b"" if files is not None else path.read_bytes()
    except OSError as exc:
        report.add(f"{path} can be read", False, exc.strerror or type(exc).__name__, "files")
        return report
    if files is None:
        is_export = is_zip_with(data, layout.INDEX)
        return verify_export(data, opts) if is_export else verify_bundle(data, opts)
    if layout.INDEX in files:
        _check_export(files, opts, report)
    else:
        _check_bundle(files, opts, report)
    return report
