"""Write path helpers: check a step against the chain, build its leaf, return the new state.

These compose ``states.apply``, ``events.build_event`` and, for signed events, the officer
checks, so the API layer has one call per step and nothing to write when it raises.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ledger.complaints.errors import AuthorityError, TransitionError
from ledger.complaints.events import Actor, BuiltEvent, bind_body, build_event
from ledger.complaints.officers import OfficerKey, verify_event_signature
from ledger.complaints.payloads import validate_new_step
from ledger.complaints.states import ComplaintState, apply, step
from ledger.complaints.vocab import SIGNED_EVENTS, EventType


def start_complaint(
    *,
    log: str,
    at: datetime | str,
    actor: Actor,
    public: Mapping[str, Any],
    body: Mapping[str, Any],
    salt: bytes | None = None,
) -> tuple[BuiltEvent, ComplaintState]:
    """Build the received event of a new complaint; the state carries its new reference."""
    validate_new_step(EventType.RECEIVED, public, body)
    new = apply(None, EventType.RECEIVED, actor.role, public)
    built = build_event(
        log=log,
        complaint=None,
        seq=0,
        prev=None,
        type=EventType.RECEIVED,
        at=at,
        actor=actor,
        public={**public, "state": str(new.status)},
        body=body,
        salt=salt,
    )
    return built, step(None, built.envelope)


def signing_body(
    state: ComplaintState,
    event_type: EventType | str,
    content: Mapping[str, Any],
    *,
    nonce: bytes | None = None,
) -> dict[str, Any]:
    """The body an officer signs for the next event of this complaint (content + context)."""
    log, reference, head = _chain_position(state)
    return bind_body(
        content,
        log=log,
        complaint=reference,
        prev=head,
        event_type=event_type,
        nonce=nonce,
    )


def append_event(
    state: ComplaintState,
    *,
    type: EventType | str,
    at: datetime | str,
    actor: Actor,
    public: Mapping[str, Any],
    body: Mapping[str, Any],
    registry: Mapping[str, OfficerKey] | None = None,
    salt: bytes | None = None,
) -> tuple[BuiltEvent, ComplaintState]:
    """Build the next event of a complaint after checking it is allowed; nothing is stored.

    Signed events (decision, compensation offer, payment) need ``registry``: the signature,
    its context and the key's authority at ``at`` are verified before the leaf is returned,
    and so are the key's limits and, where dual control needs one or one is given, the
    co-signature (``public.cosignature``: another officer key's signature over the same body).
    A signed body's context may name the head or one only letters were recorded after
    (``ComplaintState.context_heads``): a delivered letter does not void a signature.
    """
    log, reference, head = _chain_position(state)
    event_type = EventType(type)
    validate_new_step(event_type, public, body)
    new = apply(state, event_type, actor.role, public)
    built = build_event(
        log=log,
        complaint=reference,
        seq=state.next_seq,
        prev=head,
        type=event_type,
        at=at,
        actor=actor,
        public={**public, "state": str(new.status)},
        body=body,
        salt=salt,
        heads=state.context_heads,
    )
    if event_type in SIGNED_EVENTS:
        if registry is None:
            raise AuthorityError(
                f"a {event_type} needs the officer registry to check its signature",
                "REGISTRY_REQUIRED",
            )
        verify_event_signature(registry, built.envelope, built.body, state.context_heads)
    return built, step(state, built.envelope, registry)


def _chain_position(state: ComplaintState) -> tuple[str, str, str]:
    """The log, reference and head of a started complaint; TransitionError before it starts."""
    if state is None or state.reference is None or state.head is None or state.log is None:
        raise TransitionError(
            "state has no chain position; obtain it from start_complaint or replay",
            "NOT_STARTED",
        )
    return state.log, state.reference, state.head
