"""Verify a complaint proof (``GET /v1/complaints/<ref>/proof``) with no server access.

Needs only the response and the log's verifier key (obtained out of band). Checks, in
plain words, each a separate result: the checkpoint signature; every event leaf's
inclusion in that checkpoint; the reference; the per-complaint hash chain and state
machine; officer key entries' inclusion; every disclosed body against its commitment;
officer signatures and their authority at the time they signed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ledger.complaints.errors import ComplaintError
from ledger.complaints.events import Envelope, parse_envelope
from ledger.complaints.officers import OfficerRegistry
from ledger.complaints.payloads import MAX_DEPTH
from ledger.complaints.reference import reference_matches
from ledger.jsondepth import text_depth, value_depth
from ledger.log import merkle
from ledger.log.checkpoint import CheckpointError, open_checkpoint
from ledger.log.encoding import parse_hashes
from ledger.log.note import Verifier
from ledger.verify.trail import Disclosure, verify_complaint


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


def _included(report: ProofReport, what: str, item: dict, size: int, root: bytes) -> bytes | None:
    """Check one leaf's inclusion proof; returns the leaf bytes when it holds."""
    try:
        leaf = item["leaf"].encode("utf-8")
        proof = parse_hashes(item["inclusion_proof"])
        merkle.verify_inclusion(item["index"], size, merkle.leaf_hash(leaf), proof, root)
    except (KeyError, TypeError, ValueError, merkle.ProofError) as exc:
        report.add(f"{what} is in the log", False, str(exc) or type(exc).__name__)
        return None
    report.add(f"{what} is in the log", True, f"index {item['index']} of {size}")
    return leaf


def verify_complaint_proof(
    response: Any, log_verifier_key: str, origin: str | None = None
) -> ProofReport:
    """Every check of a proof, as a report; never raises: input of any shape (wrong types,
    missing fields, nesting deeper than the API accepts) is a failed check naming why."""
    problem = proof_input_problem(response)
    if problem is not None:
        report = ProofReport()
        report.add(WELL_FORMED, False, problem)
        return report
    try:
        return _verify_complaint_proof(response, log_verifier_key, origin)
    except RecursionError:
        report = ProofReport()
        report.add(WELL_FORMED, False, "nested too deeply to verify")
        return report
    except Exception as exc:  # a shape no check anticipated: still a verdict, not a crash
        report = ProofReport()
        report.add(WELL_FORMED, False, _describe(exc))
        return report


WELL_FORMED = "the proof is well-formed"


def _describe(exc: BaseException, limit: int = 200) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _embedded_json(response: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """The JSON texts inside a proof (event leaves and bodies, officer key leaves)."""
    events = response.get("events")
    for i, item in enumerate(events if isinstance(events, list) else []):
        if isinstance(item, dict):
            yield f"event {i} leaf", item.get("leaf")
            yield f"event {i} body", item.get("body")
    keys = response.get("officer_keys")
    for key in keys if isinstance(keys, list) else []:
        entries = key.get("entries") if isinstance(key, dict) else None
        for j, entry in enumerate(entries if isinstance(entries, list) else []):
            if isinstance(entry, dict):
                yield f"officer key entry {j} leaf", entry.get("leaf")


def proof_input_problem(response: Any) -> str | None:
    """Why ``response`` may not even be parsed as a proof (None when it may): not an object,
    or it or a leaf or body in it nests deeper than MAX_DEPTH (parsers recurse per level)."""
    if not isinstance(response, dict):
        return f"a proof is a JSON object, not {type(response).__name__}"
    if value_depth(response, stop_above=MAX_DEPTH) > MAX_DEPTH:
        return f"the proof nests deeper than {MAX_DEPTH} levels"
    for where, text in _embedded_json(response):
        if isinstance(text, str) and text_depth(text, stop_above=MAX_DEPTH) > MAX_DEPTH:
            return f"{where} nests deeper than {MAX_DEPTH} levels"
    return None


def _verify_complaint_proof(
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
    stated = response["checkpoint"]
    if "size" in stated or "root" in stated:
        # The unsigned copies beside the note must say what the signed note says: a reader
        # who looks at them (as the browser page does) must not be shown another tree.
        same = stated.get("size") == cp.size and stated.get("root") == cp.root.hex()
        report.add(
            "checkpoint fields match the signed note",
            same,
            "" if same else "size or root beside the note differs from the signed note",
        )

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
