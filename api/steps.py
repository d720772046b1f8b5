"""One way to record a staff or customer step: what ``POST /v1/complaints/<ref>/events`` and
the staff console both do with a step before it reaches the write service.

The fields are checked before anything reads them (a malformed field is refused naming it);
the acknowledgement names the person responsible (the caller's name, in the body only); a
step with a customer letter gets it rendered in the complaint's language; the actor on the
log is the caller's non-personal id (an API key id, a staff pseudonym) or, for a signed
step, the signing key's id. The domain then checks everything again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from api.auth import Caller
from api.context import get_ledger
from ledger.casework.appends import Hooks
from ledger.casework.letters import LETTERS
from ledger.casework.writes import Recorded
from ledger.complaints.events import Actor
from ledger.complaints.payloads import validate_body, validate_letter_facts, validate_public
from ledger.complaints.vocab import SIGNED_EVENTS, EventType, Role


@dataclass(frozen=True)
class PreparedStep:
    """A step as it goes to ``complaints.writes.record``."""

    type: str
    public: dict[str, Any]
    body: dict[str, Any]
    actor: Actor


def prepare_step(
    caller: Caller,
    reference: str,
    event_type: str,
    public: Mapping[str, Any],
    body: Mapping[str, Any],
) -> PreparedStep:
    """Check ``public`` (and what the letter reads), add the responsible person and the
    letter, and choose the actor; raises the domain's errors (nothing is written)."""
    public, body = dict(public), dict(body)
    validate_public(event_type, public, state_optional=True)
    if event_type in LETTERS:
        validate_letter_facts(public, body)
    if event_type == EventType.COMPENSATION_ACCEPTED:
        # The payout address is read to build public.payout: a malformed one is named
        # here rather than refused later as a missing address.
        validate_body(event_type, body)
    if event_type == EventType.ACKNOWLEDGED and caller.is_staff and caller.name:
        # The letter names the person responsible: without one given, the staff member
        # acknowledging, by their name (in the body only, never the leaf).
        body = {"responsible": caller.name, **body}
    if event_type not in SIGNED_EVENTS:
        body = get_ledger().complaints.writes.with_letter(
            reference, event_type, public, body, role=caller.role
        )
    actor = Actor(Role(caller.role), caller.id)
    if event_type in SIGNED_EVENTS:
        sig = public.get("signature") or {}
        actor = Actor(Role(caller.role), str(sig.get("key_id", caller.id)))
    return PreparedStep(event_type, public, body, actor)


def record_step(
    caller: Caller,
    reference: str,
    event_type: str,
    public: Mapping[str, Any],
    body: Mapping[str, Any],
    *,
    hooks: Hooks | None = None,
) -> Recorded:
    """Prepare and record the step; raises the domain's errors, ChainConflict, or the
    hooks' AlreadyDone (a twin of this request recorded it)."""
    step = prepare_step(caller, reference, event_type, public, body)
    return get_ledger().complaints.writes.record(
        reference, type=step.type, public=step.public, body=step.body, actor=step.actor,
        hooks=hooks,
    )  # fmt: skip
