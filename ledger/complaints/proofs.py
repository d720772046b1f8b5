"""Verify a complaint proof (``GET /v1/complaints/<ref>/proof``) with no server access.

Needs only the response and the log's verifier key (obtained out of band). Checks, in
plain words, each a separate result: the checkpoint signature; every event leaf's
inclusion in that checkpoint; the reference; the per-complaint hash chain and state
machine; officer key entries' inclusion; every disclosed body against its commitment;
officer signatures and their authority at the time they signed.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

from ledger.complaints.audit import Disclosure, verify_complaint
from ledger.complaints.errors import ComplaintError
from ledger.complaints.events import Envelope, parse_envelope
from ledger.complaints.officers import OfficerRegistry
from ledger.complaints.reference import reference_matches
from ledger.log import merkle
from ledger.log.checkpoint import CheckpointError, open_checkpoint
from ledger.log.note import Verifier


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class ProofReport:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def add(self, name: str, ok: bool, detail: str = "") -> bool:
        self.checks.append(Check(name, ok, detail))
        return ok


def _b64(value: str) -> bytes:
    return base64.b64decode(value, validate=True)


def _included(report: ProofReport, what: str, item: dict, size: int, root: bytes) -> bytes | None:
    """Check one leaf's inclusion proof; returns the leaf bytes when it holds."""
    try:
        leaf = item["leaf"].encode("utf-8")
        proof = [_b64(p) for p in item["inclusion_proof"]]
        merkle.verify_inclusion(item["index"], size, merkle.leaf_hash(leaf), proof, root)
    except (KeyError, TypeError, ValueError, binascii.Error, merkle.ProofError) as exc:
        report.add(f"{what} is in the log", False, str(exc) or type(exc).__name__)
        return None
    report.add(f"{what} is in the log", True, f"index {item['index']} of {size}")
    return leaf


def verify_complaint_proof(
    response: dict[str, Any], log_verifier_key: str, origin: str | None = None
) -> ProofReport:
    report = ProofReport()
    try:
        verifier = Verifier.from_string(log_verifier_key)
        cp = open_checkpoint(response["checkpoint"]["note"], verifier, origin)
    except (KeyError, TypeError, ValueError, CheckpointError) as exc:
        report.add("checkpoint is signed by the log", False, str(exc))
        return report
    report.add("checkpoint is signed by the log", True, f"tree size {cp.size}")

    envelopes: list[Envelope] = []
    disclosures: dict[str, Disclosure] = {}
    for item in response.get("events", []):
        what = f"event {item.get('seq')} ({item.get('type')})"
        leaf = _included(report, what, item, cp.size, cp.root)
        if leaf is None:
            continue
        try:
            env = parse_envelope(leaf)
        except ComplaintError as exc:
            report.add(f"{what} is a well-formed event", False, exc.message)
            continue
        envelopes.append(env)
        if item.get("salt") is not None and item.get("body") is not None:
            try:
                salt = bytes.fromhex(item["salt"])
            except ValueError:
                report.add(f"{what} body opens its commitment", False, "salt is not hex")
                continue
            disclosures[env.leaf_hash_hex] = Disclosure(salt, item["body"].encode("utf-8"))
    if not envelopes or len(envelopes) != len(response.get("events", [])):
        report.add("every event verified", False, "some events are missing or unproven")
        return report

    reference = response.get("reference", "")
    report.add(
        "reference is derived from the first event",
        reference_matches(reference, envelopes[0].leaf_hash),
        reference,
    )

    officer_leaves: list[tuple[int, bytes]] = []
    for key in response.get("officer_keys", []):
        for entry in key.get("entries", []):
            leaf = _included(
                report, f"officer key {key.get('key_id')} entry", entry, cp.size, cp.root
            )
            if leaf is not None:
                officer_leaves.append((entry["index"], leaf))
    try:
        registry = OfficerRegistry.fold([leaf for _, leaf in sorted(officer_leaves)])
    except ComplaintError as exc:
        report.add("officer key entries are consistent", False, str(exc))
        return report

    try:
        audit = verify_complaint(envelopes, disclosures=disclosures, registry=registry)
    except ComplaintError as exc:
        where = f" at event {exc.index}" if exc.index is not None else ""
        report.add(
            "chain, bodies and signatures verify", False, f"{exc.code}{where}: {exc.message}"
        )
        return report
    report.add("hash chain links every event to the previous one", True, f"{len(envelopes)} events")
    report.add("every step was allowed by the complaint rules", True, str(audit.state.status))
    report.add(
        "disclosed bodies open their commitments",
        True,
        f"{len(audit.opened)} of {len(envelopes)} bodies disclosed",
    )
    # Without bodies (no secret) signatures cannot be checked; an erased body never can.
    unchecked = audit.signatures_unchecked - audit.state.erased
    report.add(
        "officer signatures verify, by keys authorised at the time",
        not (disclosures and unchecked),
        f"{len(audit.signatures_verified)} verified, {len(unchecked)} not disclosed",
    )
    if audit.erased_but_disclosed:
        report.add("erased bodies are gone", False, ", ".join(sorted(audit.erased_but_disclosed)))
    return report
