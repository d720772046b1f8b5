"""Third-party verification of one complaint: its chain, disclosed bodies and signatures.

Pure: give it the complaint's leaves (in chain order), the bodies and salts you were shown,
and an officer registry folded from the log; it recomputes everything and raises on the
first inconsistency. Inclusion of the leaves in a signed checkpoint is checked elsewhere
(``ledger/log``); this module checks what the leaves say.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ledger.complaints import payloads
from ledger.complaints.errors import ComplaintError, EnvelopeError
from ledger.complaints.events import (
    Envelope,
    context_heads,
    parse_envelope,
    verify_commitment,
)
from ledger.complaints.officers import OfficerKey, verify_event_signature
from ledger.complaints.states import ComplaintState, replay
from ledger.complaints.vocab import SIGNED_EVENTS
from ledger.log.canonical import CanonicalJSONError, parse_canonical


@dataclass(frozen=True)
class Disclosure:
    """A body and its salt, as stored beside the log (the body as a dict or its JCS bytes)."""

    salt: bytes
    body: Mapping[str, Any] | bytes


@dataclass(frozen=True)
class TrailReport:
    state: ComplaintState
    envelopes: tuple[Envelope, ...]
    opened: frozenset[str]  # leaf hashes (hex) whose disclosed body matches its commitment
    # signed events whose signature (and co-signature, if any) and authority hold
    signatures_verified: frozenset[str]
    signatures_unchecked: frozenset[str]  # signed events without a disclosed body or registry
    erased_but_disclosed: frozenset[str]  # an erasure was logged but the body still exists


def verify_complaint(
    leaves: Iterable[bytes | Envelope],
    *,
    disclosures: Mapping[str, Disclosure] | None = None,
    registry: Mapping[str, OfficerKey] | None = None,
) -> TrailReport:
    """Verify a complaint chain; ``disclosures`` is keyed by hex leaf hash."""
    envelopes = tuple(e if isinstance(e, Envelope) else parse_envelope(e) for e in leaves)
    state = replay(envelopes, registry=registry)
    by_hash = {e.leaf_hash_hex: (i, e) for i, e in enumerate(envelopes)}
    chain = [(e.leaf_hash_hex, str(e.type)) for e in envelopes]
    opened: set[str] = set()
    verified: set[str] = set()
    for leaf_hash, disclosure in (disclosures or {}).items():
        if leaf_hash not in by_hash:
            raise EnvelopeError(
                f"disclosed body for {leaf_hash}, which is not in this chain", "DISCLOSURE_UNKNOWN"
            )
        index, env = by_hash[leaf_hash]
        try:
            body = _body_dict(disclosure.body)
            if not verify_commitment(env, disclosure.salt, disclosure.body):
                raise EnvelopeError(
                    "the disclosed body and salt do not open the leaf's commitment",
                    "COMMITMENT_MISMATCH",
                )
            payloads.validate_body(env.type, body)
            payloads.check_consistency(env.type, env.public, body)
            if env.type in SIGNED_EVENTS and registry is not None:
                # The chain is known: a letter recorded after the signing is no mismatch.
                verify_event_signature(registry, env, body, context_heads(chain[:index]))
                verified.add(leaf_hash)
        except ComplaintError as exc:
            raise exc.at_index(index) from None
        opened.add(leaf_hash)
    signed = {e.leaf_hash_hex for e in envelopes if e.type in SIGNED_EVENTS}
    return TrailReport(
        state=state,
        envelopes=envelopes,
        opened=frozenset(opened),
        signatures_verified=frozenset(verified),
        signatures_unchecked=frozenset(signed - verified),
        erased_but_disclosed=frozenset(opened & state.erased),
    )


def _body_dict(body: Mapping[str, Any] | bytes) -> dict[str, Any]:
    if isinstance(body, bytes | bytearray):
        try:
            value = parse_canonical(bytes(body))
        except CanonicalJSONError as exc:
            raise EnvelopeError(f"disclosed body is not canonical JSON: {exc}", "BODY") from None
        if not isinstance(value, dict):
            raise EnvelopeError("disclosed body is not a JSON object", "BODY")
        return value
    return dict(body)
