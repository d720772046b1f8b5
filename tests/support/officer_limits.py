"""Officer keys with authority limits, and complaint steps signed (and co-signed) by them:
built by the write path, or forced into a chain below every check (as a faulty or dishonest
writer could). Shared by the domain tests and the monitor's agreement tests."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.complaints.events import Actor, BuiltEvent, build_event
from ledger.complaints.officers import (
    OfficerRegistry,
    build_key_revocation,
    officer_key_id,
    signature_field,
)
from ledger.complaints.vocab import EventType, Role, Status
from ledger.complaints.workflow import signing_body
from tests.support.complaint_chain import (
    LOG,
    REGISTRATION,
    SECOND_OFFICER_KEY,
    Chain,
    make_key,
    register_officer,
)

E = EventType
JUNIOR = make_key("junior-officer")  # limited: EUR 100 (co-signed above EUR 20), USDC 50
SENIOR = SECOND_OFFICER_KEY  # limited: EUR 1000, any category
SMALL = make_key("small-officer")  # limited: EUR 15, so it cannot co-sign EUR 50
SUPERVISOR_ONLY = make_key("supervisor-only")  # no officer role
LEFT = make_key("left-officer")  # revoked before the complaint
JUNIOR_LIMITS = {
    "amounts": {"EUR": "100.00", "USDC": "50"},
    "categories": ["lost_recovery_phrase", "stuck_transaction"],
    "dual_control_above": {"EUR": "20.00"},
}
REGISTRATIONS = [
    REGISTRATION,  # OFFICER_KEY, registered before limits existed: none
    register_officer(JUNIOR, limits=JUNIOR_LIMITS),
    register_officer(SENIOR, limits={"amounts": {"EUR": "1000.00", "USDC": "5000"}}),
    register_officer(SMALL, limits={"amounts": {"EUR": "15.00"}}),
    register_officer(SUPERVISOR_ONLY, roles=(Role.SUPERVISOR,)),
]
LEFT_REGISTRATION = register_officer(LEFT)
REVOCATION = build_key_revocation(
    log=LOG,
    at="2025-06-01T00:00:00Z",
    admin_id="admin-1",
    registration=LEFT_REGISTRATION.envelope,
    reason="left_role",
)
REGISTRY = OfficerRegistry.fold(
    [r.leaf for r in REGISTRATIONS] + [LEFT_REGISTRATION.leaf, REVOCATION.leaf]
)


def officer(key: Ed25519PrivateKey) -> Actor:
    return Actor(Role.OFFICER, officer_key_id(key))


def money(amount: str, unit: str = "EUR", **extra: Any) -> dict[str, Any]:
    field = "currency" if unit in ("EUR", "GBP") else "asset"
    method = "account_credit" if field == "currency" else "on_chain"
    return {"amount": amount, field: unit, "method": method, **extra}


def decided(key: Ed25519PrivateKey = JUNIOR, category: str = "stuck_transaction") -> Chain:
    """A complaint decided by ``key`` (which signs its later steps too)."""
    c = Chain(key=key, registry=REGISTRY, category=category).run("acknowledged")
    c.add(E.DECISION, actor=officer(key))
    return c


def offer(c: Chain, amount: str, unit: str = "EUR", *, public: dict | None = None, **kw) -> None:
    body = money(amount, unit)
    c.add(E.COMPENSATION_OFFERED, actor=officer(c.key), public=public or body, body=body, **kw)


def forced(
    c: Chain,
    et: EventType,
    status: Status,
    content: dict[str, Any],
    public: dict[str, Any],
    *,
    cosign: Ed25519PrivateKey | None = None,
) -> BuiltEvent:
    """The next leaf of ``c``, signed by its key (and ``cosign``) but built without the state
    machine or any authority check: what a writer that skipped them would log."""
    body = signing_body(c.state, et, content)
    public = {**public, "state": str(status), "signature": signature_field(c.key, body)}
    if cosign is not None:
        public["cosignature"] = signature_field(cosign, body)
    return build_event(
        log=LOG,
        complaint=c.state.reference,
        seq=c.state.next_seq,
        prev=c.state.head,
        type=et,
        at=c.clock + timedelta(minutes=5),
        actor=officer(c.key),
        public=public,
        body=body,
    )


def forced_offer(
    c: Chain, amount: str, unit: str = "EUR", *, public: dict | None = None, **kw
) -> BuiltEvent:
    body = money(amount, unit)
    return forced(c, E.COMPENSATION_OFFERED, Status.COMPENSATION_OFFERED, body,
                  body if public is None else public, **kw)  # fmt: skip
