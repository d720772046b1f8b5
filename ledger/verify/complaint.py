"""Verify a complaint proof (``GET /v1/complaints/<ref>/proof``) with no server access.

Needs only the response and the log's verifier key (obtained out of band). Checks, in
plain words, each a separate check: the checkpoint signature; every event leaf's
inclusion in that checkpoint; the reference; the per-complaint hash chain and state
machine; officer key entries' inclusion; every disclosed body against its commitment;
officer signatures (and co-signatures) and their authority at the time they signed, within
the limits their keys were registered with; a vault payout against the offer, acceptance
and payment it carries out (``ledger.verify.payouts``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ledger.complaints.errors import AuthorityError, ChainError, ComplaintError, TransitionError
from ledger.complaints.events import Envelope, parse_envelope
from ledger.complaints.officers import OfficerRegistry
from ledger.complaints.payloads import MAX_DEPTH
from ledger.complaints.reference import reference_matches
from ledger.jsondepth import text_depth, value_depth
from ledger.log import merkle
from ledger.log.checkpoint import Checkpoint, CheckpointError, open_checkpoint
from ledger.log.encoding import parse_hashes
from ledger.log.note import Verifier
from ledger.verify.owners import owner_history
from ledger.verify.payouts import Step, check_payouts, opened_body
from ledger.verify.report import Report, checked
from ledger.verify.trail import Disclosure, verify_complaint

WELL_FORMED = "the proof is well-formed"
SIGNATURE_CODES = frozenset({"SIGNATURE_INVALID", "COSIGNATURE_INVALID"})
# A signed body's context (events.check_context) is checked with its signature, here as in the
# browser: the body opened its commitment, but what it was signed for is not this step.
CONTEXT_CODES = frozenset({"CONTEXT_MISSING", "CONTEXT_MISMATCH"})
CHECKPOINT_SIGNED = "checkpoint is signed by the log"


def verify_complaint_proof(
    response: Any, log_verifier_key: str, origin: str | None = None
) -> Report:
    """Every check of a proof, as a report; never raises: input of any shape (wrong types,
    missing fields, nesting deeper than the API accepts) is a failed check naming why."""
    report = Report()
    problem = proof_input_problem(response)
    if problem is not None:
        report.add(WELL_FORMED, False, problem, "checkpoint")
        return report
    checked(
        report,
        WELL_FORMED,
        _verify,
        response,
        log_verifier_key,
        origin,
        report,
        category="checkpoint",
    )
    return report


def _included(
    report: Report, what: str, item: Mapping[str, Any], cp: Checkpoint, category: str
) -> bytes | None:
    """Check one leaf's inclusion proof; returns the leaf bytes when it holds."""
    name = f"{what} is in the log"
    try:
        leaf = item["leaf"].encode("utf-8")
        proof = parse_hashes(item["inclusion_proof"])
        merkle.verify_inclusion(item["index"], cp.size, merkle.leaf_hash(leaf), proof, cp.root)
    except (KeyError, TypeError, ValueError, merkle.ProofError) as exc:
        report.add(name, False, str(exc) or type(exc).__name__, category)
        return None
    report.add(name, True, f"index {item['index']} of {cp.size}", category)
    return bytes(leaf)


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


def _verify(
    response: dict[str, Any], log_verifier_key: str, origin: str | None, report: Report
) -> None:
    try:
        verifier = Verifier.from_string(log_verifier_key)
    except (TypeError, ValueError) as exc:  # NoteError is a ValueError
        report.add(CHECKPOINT_SIGNED, False, str(exc), "key")
        return
    try:
        cp = open_checkpoint(response["checkpoint"]["note"], verifier, origin)
    except (KeyError, TypeError, ValueError, CheckpointError) as exc:
        report.add(CHECKPOINT_SIGNED, False, str(exc), "checkpoint")
        return
    report.add(CHECKPOINT_SIGNED, True, f"tree size {cp.size}", "checkpoint")
    stated = response["checkpoint"]
    if "size" in stated or "root" in stated:
        # The unsigned copies beside the note must say what the signed note says: a reader
        # who looks at them (as the browser page does) must not be shown another tree.
        same = stated.get("size") == cp.size and stated.get("root") == cp.root.hex()
        report.add(
            "checkpoint fields match the signed note",
            same,
            "" if same else "size or root beside the note differs from the signed note",
            "checkpoint",
        )

    envelopes: list[Envelope] = []
    disclosures: dict[str, Disclosure] = {}
    steps: list[Step] = []
    for item in response.get("events", []):
        what = f"event {item.get('seq')} ({item.get('type')})"
        leaf = _included(report, what, item, cp, "inclusion")
        if leaf is None:
            continue
        try:
            env = parse_envelope(leaf)
        except ComplaintError as exc:
            report.add(f"{what} is a well-formed event", False, exc.message, "chain")
            continue
        envelopes.append(env)
        steps.append(Step(env, opened_body(env, item.get("salt"), item.get("body"))))
        if item.get("salt") is not None and item.get("body") is not None:
            try:
                salt = bytes.fromhex(item["salt"])
            except ValueError:
                report.add(
                    f"{what} body opens its commitment", False, "salt is not hex", "commitments"
                )
                continue
            disclosures[env.leaf_hash_hex] = Disclosure(salt, item["body"].encode("utf-8"))
    if not envelopes or len(envelopes) != len(response.get("events", [])):
        report.add(
            "every event verified", False, "some events are missing or unproven", "inclusion"
        )
        return
    if _verify_steps(response, cp, envelopes, disclosures, report):
        owners = owner_history((s.env, s.body) for s in steps)
        if owners:  # who was responsible, when: what the record says, for an auditor
            report.add("who was responsible, step by step", True, "; ".join(owners), "rules")
    # Checked from the steps themselves, also when the chain's rules or bodies failed above:
    # a payout that the texts contradict is reported as such, as the browser does.
    check_payouts(report, steps)


def _verify_steps(
    response: dict[str, Any],
    cp: Checkpoint,
    envelopes: list[Envelope],
    disclosures: dict[str, Disclosure],
    report: Report,
) -> bool:
    """The reference, the officer keys, then the chain, its rules, bodies and signatures;
    whether the chain and its rules verified."""
    reference = response.get("reference", "")
    report.add(
        "reference is derived from the first event",
        reference_matches(reference, envelopes[0].leaf_hash),
        reference,
        "reference",
    )

    officer_leaves: list[tuple[int, bytes]] = []
    for key in response.get("officer_keys", []):
        for entry in key.get("entries", []):
            what = f"officer key {key.get('key_id')} entry"
            leaf = _included(report, what, entry, cp, "officer_keys")
            if leaf is not None:
                officer_leaves.append((entry["index"], leaf))
    try:
        registry = OfficerRegistry.fold([leaf for _, leaf in sorted(officer_leaves)])
    except ComplaintError as exc:
        report.add("officer key entries are consistent", False, str(exc), "officer_keys")
        return False

    try:
        audit = verify_complaint(envelopes, disclosures=disclosures, registry=registry)
    except ComplaintError as exc:
        where = f" at event {exc.index}" if exc.index is not None else ""
        report.add(
            "chain, bodies and signatures verify",
            False,
            f"{exc.code}{where}: {exc.message}",
            _category(exc),
        )
        return False
    report.add(
        "hash chain links every event to the previous one",
        True,
        f"{len(envelopes)} events",
        "chain",
    )
    report.add(
        "every step was allowed by the complaint rules", True, str(audit.state.status), "rules"
    )
    report.add(
        "disclosed bodies open their commitments",
        True,
        f"{len(audit.opened)} of {len(envelopes)} bodies disclosed",
        "commitments",
    )
    # Without bodies (no secret) signatures cannot be checked; an erased body never can.
    unchecked = audit.signatures_unchecked - audit.state.erased
    report.add(
        "officer signatures verify, by keys authorised at the time",
        not (disclosures and unchecked),
        f"{len(audit.signatures_verified)} verified, {len(unchecked)} not disclosed",
        "signatures",
    )
    if audit.erased_but_disclosed:
        report.add(
            "erased bodies are gone",
            False,
            ", ".join(sorted(audit.erased_but_disclosed)),
            "commitments",
        )
    return True


def _category(exc: ComplaintError) -> str:
    """Which part of the proof a chain error is about (the browser verifier's categories)."""
    if isinstance(exc, ChainError):
        return "chain"
    if isinstance(exc, AuthorityError):
        # The bytes of a signature or co-signature; everything else (the keys' validity,
        # roles, limits, dual control) is about authority, checked from the leaves.
        return "signatures" if exc.code in SIGNATURE_CODES else "authority"
    if isinstance(exc, TransitionError):
        return "rules"
    if exc.code in CONTEXT_CODES:
        return "signatures"
    return "commitments"  # a disclosed body that does not open or fit its leaf
