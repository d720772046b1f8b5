"""The evidence bundle format (version 2): which files a bundle holds and how each is derived.

Version 1 bundles have the same files; only the tree roots and proof nodes in them are base64
(a verifier reads their proof through ``proof_v1_to_v2``).

Everything a bundle holds, except the two reports and the attached files, is a pure function
of ``proof.json`` (the ``GET /v1/complaints/<ref>/proof`` format): the builder writes those
files and the verifier derives them again and compares byte for byte, so no file can say
something the proof does not. An attached file is named by its SHA-256, which a disclosed body
lists with its size (``attachment_listings``): the verifier checks its bytes against that, and
refuses a file no disclosed body lists. JSON files are RFC 8785 (JCS) bytes; notes and keys are
their exact text.

::

    manifest.json                         every other file with its SHA-256 and size
    manifest.sig                          C2SP signed note by the log key naming that SHA-256
    proof.json                            the complaint proof (leaves, proofs, bodies, anchor)
    report.html, report.pdf               the same content for people
    log/verifier-key.txt                  the log's note verifier key
    log/checkpoint.txt                    the signed checkpoint the proofs are against
    events/NNN-<type>.leaf.json           the exact leaf bytes of event NNN (its seq)
    events/NNN-<type>.inclusion.json      index, tree size, leaf hash, RFC 9162 inclusion proof
    events/NNN-<type>.body.json           the body's RFC 8785 bytes (when disclosed)
    events/NNN-<type>.salt.hex            the 32-byte salt of the commitment, hex (when disclosed)
    events/NNN-<type>.erasure.json        for an erased body: the erasure event that removed it
    events/NNN-<type>.signature.json      officer signature of a signed event
    officers/<key id>/N-<type>.leaf.json  officer key registration / revocation entries
    officers/<key id>/N-<type>.inclusion.json
    anchor/anchor.json                    chain id, contract, tx hash, block number and hash, ...
    anchor/anchored-checkpoint.txt        the signed checkpoint that was anchored
    anchor/consistency-proof.json         RFC 9162 proof: this checkpoint -> the anchored one
    attachments/<sha256>                  a file a disclosed body lists, byte for byte (none for
                                          an erased body; a bundle without files has no folder)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ledger.errors import LedgerError
from ledger.log.canonical import canonical_json
from ledger.log.merkle import leaf_hash

FORMAT = "complaint-ledger/evidence-bundle"
# 2: hashes in proof.json and the inclusion / consistency files are hex (1: base64).
FORMAT_VERSION = 2
# Versions the verifier reads: 1 is read through ``proof_v1_to_v2`` (bundles exported before
# version 2 must keep verifying for as long as anyone holds one).
READABLE_FORMAT_VERSIONS = (1, 2)
EXPORT_FORMAT = "complaint-ledger/evidence-export"
EXPORT_FORMAT_VERSION = 1

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
PROOF = "proof.json"
REPORT_HTML = "report.html"
REPORT_PDF = "report.pdf"
REPORTS = (REPORT_HTML, REPORT_PDF)
INDEX = "index.json"
ATTACHMENTS = "attachments/"
INDEX_SIGNATURE = "index.sig"

# First lines of the notes the log key signs. Their second line never is a number, so no
# bundle or export signature can be read as a tlog checkpoint (origin, size, root).
BUNDLE_NOTE_HEADER = "complaint-ledger evidence bundle v1"
EXPORT_NOTE_HEADER = "complaint-ledger evidence export v1"

_SAFE = re.compile(r"^[a-z][a-z_]{0,63}$")
_HEX = re.compile(r"^[0-9a-f]{1,128}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class LayoutError(LedgerError, ValueError):
    """The proof cannot be laid out as a bundle (a field is missing or of the wrong type)."""


def jcs(value: Any) -> bytes:
    return canonical_json(value)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _safe(name: Any) -> str:
    return name if isinstance(name, str) and _SAFE.fullmatch(name) else "unknown"


def event_stem(seq: Any, event_type: Any) -> str:
    number = seq if isinstance(seq, int) and not isinstance(seq, bool) and seq >= 0 else 0
    return f"events/{number:03d}-{_safe(event_type)}"


def _leaf_json(leaf: str) -> dict[str, Any]:
    value = json.loads(leaf)
    if not isinstance(value, dict):
        raise LayoutError("a leaf is not a JSON object")
    return value


def _leaf_hash_hex(leaf: str) -> str:
    return leaf_hash(leaf.encode("utf-8")).hex()


def erasures(proof: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Erased leaf hash (hex) -> the erasure event that removed its body (seq, hash, basis)."""
    found: dict[str, dict[str, Any]] = {}
    for item in proof.get("events", []):
        leaf = _leaf_json(item["leaf"])
        if leaf.get("type") == "erased":
            public = leaf.get("public") or {}
            found[str(public.get("erases"))] = {
                "seq": leaf.get("seq"),
                "leaf_hash": _leaf_hash_hex(item["leaf"]),
                "basis": public.get("basis"),
                "at": leaf.get("at"),
            }
    return found


@dataclass(frozen=True)
class AttachmentListing:
    """One file as one disclosed body lists it: the step, its place in the list, the file's
    SHA-256 (hex), and its size and type and name when the body gives them."""

    seq: int
    position: int
    sha256: str
    size: int | None
    media_type: str | None
    name: str

    @property
    def path(self) -> str:
        return attachment_path(self.sha256)


def attachment_path(sha256: str) -> str:
    return f"{ATTACHMENTS}{sha256}"


def attachment_listings(proof: Mapping[str, Any]) -> list[AttachmentListing]:
    """Every file the disclosed bodies of ``proof`` list (``attachments`` of a step's body),
    in step order; erased and withheld bodies list none. Raises LayoutError for a disclosed
    body that is not JSON."""
    out: list[AttachmentListing] = []
    for item in proof.get("events", []):
        if item.get("erased") or not isinstance(item.get("body"), str):
            continue
        try:
            body = json.loads(item["body"])
        except ValueError as exc:
            raise LayoutError(f"the body of event {item.get('seq')} is not JSON") from exc
        items = body.get("attachments") if isinstance(body, dict) else None
        if not isinstance(items, list):
            continue
        seq = item["seq"]
        for position, entry in enumerate(items):
            if not isinstance(entry, dict):
                continue
            sha, size, media = entry.get("sha256"), entry.get("size"), entry.get("media_type")
            if not (isinstance(sha, str) and _SHA256.fullmatch(sha)):
                continue  # not a file reference: the body's own checks say so
            if not isinstance(size, int) or isinstance(size, bool):
                size = None
            media = media if isinstance(media, str) else None
            name = str(entry.get("name", ""))
            out.append(AttachmentListing(seq, position, sha, size, media, name))
    return out


def attachment_files(proof: Mapping[str, Any], available: Mapping[str, bytes]) -> dict[str, bytes]:
    """The ``attachments/<sha256>`` files of a bundle: each file of ``available`` (by
    SHA-256) that a disclosed body lists, whose bytes hash to its name and have the size every
    listing gives. A file missing or not matching is left out (the verifier then says it is
    not in the bundle), never put in to fail."""
    listings = attachment_listings(proof)
    files: dict[str, bytes] = {}
    for sha in sorted({listing.sha256 for listing in listings}):
        data = available.get(sha)
        if data is None or sha256_hex(data) != sha:
            continue
        if all(lst.size in (None, len(data)) for lst in listings if lst.sha256 == sha):
            files[attachment_path(sha)] = data
    return files


def data_files(proof: Mapping[str, Any]) -> dict[str, bytes]:
    """Every file derived from the proof (all but the manifest, its signature, the proof
    itself and the reports), by path."""
    try:
        return _data_files(proof)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        if isinstance(exc, LayoutError):
            raise
        raise LayoutError(f"the proof cannot be laid out: {type(exc).__name__}: {exc}") from exc


def _data_files(proof: Mapping[str, Any]) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    size = proof["checkpoint"]["size"]
    files["log/verifier-key.txt"] = (proof["verifier_key"] + "\n").encode("utf-8")
    files["log/checkpoint.txt"] = proof["checkpoint"]["note"].encode("utf-8")
    erased_by = erasures(proof)
    for item in proof["events"]:
        stem = event_stem(item["seq"], item["type"])
        leaf_hash_hex = _leaf_hash_hex(item["leaf"])
        files[f"{stem}.leaf.json"] = item["leaf"].encode("utf-8")
        files[f"{stem}.inclusion.json"] = jcs(
            {
                "index": item["index"],
                "tree_size": size,
                "leaf_hash": leaf_hash_hex,
                "proof": list(item["inclusion_proof"]),
            }
        )
        disclosed = item.get("body") is not None and item.get("salt") is not None
        if disclosed:
            files[f"{stem}.body.json"] = item["body"].encode("utf-8")
            files[f"{stem}.salt.hex"] = item["salt"].encode("utf-8")
        if item.get("erased"):
            files[f"{stem}.erasure.json"] = jcs(
                {
                    "erased": True,
                    "leaf_hash": leaf_hash_hex,
                    "erased_by": erased_by.get(leaf_hash_hex),
                }
            )
        signature = (_leaf_json(item["leaf"]).get("public") or {}).get("signature")
        if isinstance(signature, dict):
            files[f"{stem}.signature.json"] = jcs(
                {
                    "algorithm": "Ed25519",
                    "key_id": signature.get("key_id"),
                    "signature": signature.get("sig"),
                    "signed_message": f"{stem}.body.json" if disclosed else None,
                    "message_format": "RFC 8785 bytes of the event body",
                }
            )
    for key in proof.get("officer_keys", []):
        key_id = key["key_id"]
        folder = f"officers/{key_id if isinstance(key_id, str) and _HEX.fullmatch(key_id) else 'x'}"
        for n, entry in enumerate(key["entries"]):
            entry_type = _leaf_json(entry["leaf"]).get("type")
            stem = f"{folder}/{n}-{_safe(entry_type)}"
            files[f"{stem}.leaf.json"] = entry["leaf"].encode("utf-8")
            files[f"{stem}.inclusion.json"] = jcs(
                {
                    "index": entry["index"],
                    "tree_size": size,
                    "leaf_hash": _leaf_hash_hex(entry["leaf"]),
                    "proof": list(entry["inclusion_proof"]),
                }
            )
    anchor = proof.get("anchor")
    if anchor is not None:
        skip = ("anchored_checkpoint", "consistency_proof")
        files["anchor/anchor.json"] = jcs(
            {
                **{k: v for k, v in anchor.items() if k not in skip},
                "log_id": "0x" + hashlib.sha256(proof["log"].encode("utf-8")).hexdigest(),
            }
        )
        if anchor.get("anchored_checkpoint") is not None:
            files["anchor/anchored-checkpoint.txt"] = anchor["anchored_checkpoint"].encode("utf-8")
        files["anchor/consistency-proof.json"] = jcs(
            {
                "from_size": size,
                "from_root": proof["checkpoint"]["root"],
                "to_size": anchor["anchored_size"],
                "to_root": anchor["anchored_root"],
                "proof": list(anchor["consistency_proof"]),
            }
        )
    return files


def contents_summary(proof: Mapping[str, Any], status: str | None) -> dict[str, Any]:
    """What is inside, in numbers (for the manifest)."""
    events = proof["events"]
    disclosed = sum(1 for e in events if e.get("body") is not None and e.get("salt") is not None)
    erased = sum(1 for e in events if e.get("erased"))
    types: dict[str, int] = {}
    on_chain = 0
    signed = 0
    for e in events:
        types[str(e["type"])] = types.get(str(e["type"]), 0) + 1
        public = _leaf_json(e["leaf"]).get("public") or {}
        signed += "signature" in public
        on_chain += e["type"] == "compensation_paid" and public.get("method") == "on_chain"
    return {
        "status": status,
        "events": len(events),
        "event_types": dict(sorted(types.items())),
        "bodies": {
            "disclosed": disclosed,
            "erased": erased,
            "not_disclosed": len(events) - disclosed - erased,
        },
        "signed_events": signed,
        "officer_keys": len(proof.get("officer_keys", [])),
        "on_chain_payments": on_chain,
        "anchored": proof.get("anchor") is not None,
        "reports": list(REPORTS),
    }


def anchor_summary(anchor: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if anchor is None:
        return None
    keys = ("chain_id", "contract", "tx_hash", "block_number", "block_hash", "anchored_size")
    return {k: anchor.get(k) for k in keys}


def manifest(
    proof: Mapping[str, Any], files: Mapping[str, bytes], status: str | None
) -> dict[str, Any]:
    """The manifest: what the bundle is about, what is inside, every file's SHA-256."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "reference": proof["reference"],
        "log": {"origin": proof["log"], "verifier_key": proof["verifier_key"]},
        "checkpoint": {"size": proof["checkpoint"]["size"], "root": proof["checkpoint"]["root"]},
        "anchor": anchor_summary(proof.get("anchor")),
        "contents": contents_summary(proof, status),
        "files": [
            {"path": path, "sha256": sha256_hex(files[path]), "size": len(files[path])}
            for path in sorted(files)
        ],
        "signature": {"path": SIGNATURE, "format": "C2SP signed-note", "signer": "log key"},
    }


def bundle_note_text(origin: str, reference: str, tree_size: int, manifest_sha256: str) -> str:
    """The text the log key signs for a bundle (a C2SP signed note body)."""
    return (
        f"{BUNDLE_NOTE_HEADER}\n"
        f"log {origin}\n"
        f"complaint {reference}\n"
        f"tree-size {tree_size}\n"
        f"manifest-sha256 {manifest_sha256}\n"
    )


def export_note_text(origin: str, count: int, index_sha256: str) -> str:
    """The text the log key signs for a multi-complaint export."""
    return f"{EXPORT_NOTE_HEADER}\nlog {origin}\nbundles {count}\nindex-sha256 {index_sha256}\n"


def parse_note_fields(text: str, header: str) -> dict[str, str]:
    """``key value`` lines after ``header``; raises LayoutError on anything else."""
    lines = text.split("\n")
    if not text.endswith("\n") or lines[0] != header:
        raise LayoutError(f"the signed text does not start with {header!r}")
    fields: dict[str, str] = {}
    for line in lines[1:-1]:
        name, sep, value = line.partition(" ")
        if not sep or not value or name in fields:
            raise LayoutError(f"malformed line in the signed text: {line!r}")
        fields[name] = value
    return fields


def _b64_hash_to_hex(value: Any, what: str) -> str:
    """A format-1 hash (standard base64 of 32 bytes) as format 2 has it (lowercase hex)."""
    try:
        raw = base64.b64decode(value, validate=True) if isinstance(value, str) else b""
    except (binascii.Error, ValueError) as exc:
        raise LayoutError(f"{what} is not base64: {value!r}") from exc
    # Only the one canonical spelling of 32 bytes, so no two texts stand for the same hash.
    if len(raw) != 32 or base64.b64encode(raw).decode() != value:
        raise LayoutError(f"{what} is not the base64 of a 32-byte hash: {value!r}")
    return raw.hex()


def _b64_hashes_to_hex(values: Any, what: str) -> list[str]:
    if not isinstance(values, list):
        raise LayoutError(f"{what} is not a list of hashes")
    return [_b64_hash_to_hex(v, what) for v in values]


def _converted(record: Any, what: str, fields: Mapping[str, bool]) -> Any:
    """``record`` with each field present in ``fields`` (name -> is a list) made hex."""
    if not isinstance(record, Mapping):
        return record  # a malformed proof: left for the proof checks to name
    out = dict(record)
    for name, is_list in fields.items():
        if name in record:
            convert = _b64_hashes_to_hex if is_list else _b64_hash_to_hex
            out[name] = convert(record[name], f"{what} {name}")
    return out


def proof_v1_to_v2(proof: Mapping[str, Any]) -> dict[str, Any]:
    """The ``proof.json`` of a format-1 bundle as format 2 has it (the input is not changed).

    Format 1 differs only in encoding: the checkpoint root, every inclusion proof (events and
    officer key entries), the anchored root and the anchor's consistency proof are standard
    base64 instead of lowercase hex. Leaves, bodies, salts, notes, signatures and the file
    layout are the same. Raises LayoutError when one of those hashes is not the strict base64
    of 32 bytes. The verifier checks a format-1 bundle's files and signature on its bytes as
    they are, and reads its proof through this only for the proof and anchor checks.
    """
    out = dict(proof)
    if "checkpoint" in proof:
        out["checkpoint"] = _converted(proof["checkpoint"], "the checkpoint", {"root": False})
    inclusion = {"inclusion_proof": True}
    if isinstance(proof.get("events"), list):
        out["events"] = [
            _converted(item, f"event {n}", inclusion) for n, item in enumerate(proof["events"])
        ]
    if isinstance(proof.get("officer_keys"), list):
        keys = []
        for key in proof["officer_keys"]:
            if isinstance(key, Mapping) and isinstance(key.get("entries"), list):
                what = f"officer key {key.get('key_id')} entry"
                key = {**key, "entries": [_converted(e, what, inclusion) for e in key["entries"]]}
            keys.append(key)
        out["officer_keys"] = keys
    if proof.get("anchor") is not None:
        fields = {"anchored_root": False, "consistency_proof": True}
        out["anchor"] = _converted(proof["anchor"], "the anchor", fields)
    return out
