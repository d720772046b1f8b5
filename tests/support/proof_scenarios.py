"""Complaint proofs built in memory, valid and subtly invalid, to compare the browser verifier
with ledger.verify.complaint.verify_complaint_proof.

Every leaf is correctly logged and proven (the log key signs the checkpoint), so what is wrong
is only what the leaves and bodies say: a step the rules do not allow, a key that had no
authority, a body that does not match its public summary, and so on. Bodies are built with
the production helpers where they accept the content, and by hand where they would refuse it.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.complaints.events import body_bytes, build_event
from ledger.complaints.officers import (
    build_key_registration,
    build_key_revocation,
    officer_key_id,
    sign_body,
)
from ledger.complaints.reference import format_reference
from ledger.complaints.timestamps import format_timestamp
from ledger.log import merkle
from ledger.log.canonical import canonical_json
from ledger.log.checkpoint import Checkpoint
from ledger.log.note import Signer

ORIGIN = "scenarios.ledger.example/log"
T0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


@dataclass
class Entry:
    leaf: bytes
    salt: bytes | None = None
    body_jcs: bytes | None = None
    complaint_step: bool = True
    erased: bool = False


@dataclass
class Builder:
    """Appends leaves to an in-memory log and assembles the proof JSON of one complaint."""

    signer: Signer
    entries: list[Entry] = field(default_factory=list)
    reference: str | None = None
    prev: bytes | None = None
    seq: int = -1
    officer_keys: dict[str, list[int]] = field(default_factory=dict)

    def _add(self, entry: Entry) -> bytes:
        self.entries.append(entry)
        return merkle.leaf_hash(entry.leaf)

    def register_key(self, key: Ed25519PrivateKey, at: datetime, roles=("officer",), **kw) -> Any:
        built = build_key_registration(
            log=ORIGIN,
            at=at,
            admin_id="admin-1",
            public_key=key,
            roles=roles,
            valid_from=kw.get("valid_from", at),
            valid_until=kw.get("valid_until"),
            name="Olga Officer",
            limits=kw.get("limits"),
        )
        self.officer_keys.setdefault(officer_key_id(key), []).append(len(self.entries))
        self._add(Entry(built.leaf, complaint_step=False))
        return built.envelope

    def revoke_key(self, key: Ed25519PrivateKey, registration, at: datetime) -> None:
        built = build_key_revocation(
            log=ORIGIN, at=at, admin_id="admin-1", registration=registration, reason="left_role"
        )
        self.officer_keys[officer_key_id(key)].append(len(self.entries))
        self._add(Entry(built.leaf, complaint_step=False))

    def step(self, type_: str, at: datetime, actor: tuple[str, str], public: dict, body: dict):
        """A step built (and payload-checked) by the production code."""
        built = build_event(
            log=ORIGIN,
            complaint=self.reference,
            seq=self.seq + 1,
            prev=self.prev,
            type=type_,
            at=at,
            actor={"role": actor[0], "id": actor[1]},
            public=public,
            body=body,
        )
        return self._link(Entry(built.leaf, built.salt, built.body_jcs))

    def raw_step(self, type_: str, at: datetime, actor: tuple[str, str], public: dict, body: dict):
        """A step encoded by hand, for content the production code would refuse to build."""
        salt = secrets.token_bytes(32)
        body_jcs = canonical_json(body)
        envelope = {
            "v": 1,
            "log": ORIGIN,
            "complaint": self.reference,
            "seq": self.seq + 1,
            "prev": None if self.prev is None else self.prev.hex(),
            "type": type_,
            "at": format_timestamp(at),
            "actor": {"role": actor[0], "id": actor[1]},
            "commitment": hashlib.sha256(salt + body_jcs).hexdigest(),
            "public": public,
        }
        return self._link(Entry(canonical_json(envelope), salt, body_jcs))

    def _link(self, entry: Entry) -> bytes:
        h = self._add(entry)
        if self.reference is None:
            self.reference = format_reference(h)
        self.prev, self.seq = h, self.seq + 1
        return h

    def context(self, type_: str) -> dict:
        return {
            "log": ORIGIN,
            "complaint": self.reference,
            "prev": self.prev.hex(),
            "type": type_,
            "nonce": secrets.token_hex(32),
        }

    def signed(
        self,
        key: Ed25519PrivateKey,
        type_: str,
        at: datetime,
        content: dict,
        public: dict,
        raw: bool = False,
        sign_with: Ed25519PrivateKey | None = None,
        cosign: Ed25519PrivateKey | None = None,
        cosign_body: dict | None = None,
        role: str = "officer",
        signed_at: bytes | None = None,
    ) -> bytes:
        """A signed step; ``cosign``: a second key's co-signature over the same body (or, to
        break it, over ``cosign_body``); ``signed_at``: the head the officer signed at, when
        not the current one."""
        context = self.context(type_)
        if signed_at is not None:
            context["prev"] = signed_at.hex()
        body = {**content, "context": context}
        sig = sign_body(sign_with or key, body_bytes(body)).hex()
        key_id = officer_key_id(key)
        public = {**public, "signature": {"key_id": key_id, "sig": sig}}
        if cosign is not None:
            cosig = sign_body(cosign, body_bytes({**body, **(cosign_body or {})})).hex()
            public["cosignature"] = {"key_id": officer_key_id(cosign), "sig": cosig}
        make = self.raw_step if raw else self.step
        return make(type_, at, (role, key_id), public, body)

    def proof(self, disclose: bool = True) -> dict:
        hashes = [merkle.leaf_hash(e.leaf) for e in self.entries]
        size = len(hashes)
        get = merkle.in_memory_getter(hashes)
        root = merkle.tree_root(size, get)
        note = Checkpoint(ORIGIN, size, root).sign(self.signer)

        def inclusion(i: int) -> list[str]:
            return [p.hex() for p in merkle.inclusion_proof(i, size, get)]

        events = []
        for i, e in enumerate(self.entries):
            if not e.complaint_step:
                continue
            item = {
                "seq": len(events),
                "type": canonical_leaf(e.leaf)["type"],
                "index": i,
                "leaf": e.leaf.decode(),
                "inclusion_proof": inclusion(i),
                "erased": e.erased,
            }
            if disclose and e.salt is not None and e.body_jcs is not None:
                item["salt"] = e.salt.hex()
                item["body"] = e.body_jcs.decode()
            events.append(item)
        keys = []
        for key_id, indexes in sorted(self.officer_keys.items()):
            entries = [
                {"index": i, "leaf": self.entries[i].leaf.decode(), "inclusion_proof": inclusion(i)}
                for i in indexes
            ]
            keys.append({"key_id": key_id, "entries": entries})
        return {
            "reference": self.reference,
            "log": ORIGIN,
            "verifier_key": str(self.signer.verifier()),
            "checkpoint": {"size": size, "root": root.hex(), "note": note},
            "events": events,
            "officer_keys": keys,
            "anchor": None,
        }


def canonical_leaf(leaf: bytes) -> dict:
    return json.loads(leaf)


def minutes(n: int) -> datetime:
    return T0 + timedelta(minutes=n)


RECEIVED = {
    "state": "received",
    "category": "refund_or_claim",
    "channel": "web_form",
    "language": "en",
    "jurisdiction": "EU-PSD2",
}
DECISION = {
    "outcome": "upheld",
    "finding": "The card was charged twice.",
    "rules": ["PSD2 Art. 73"],
    "evidence": [],
    "root_cause": "process_failure",
    "remedy": "We refund the second charge.",
}
OFFER = {"amount": "25.00", "currency": "EUR", "method": "bank_transfer"}
AGENT = ("agent", "agent-7")
CUSTOMER = ("customer", "customer")


def _decision_public(content: dict) -> dict:
    keys = ("outcome", "root_cause", "rules", "evidence")
    return {"state": "decided", **{k: content[k] for k in keys}}


def lifecycle(b: Builder, key: Ed25519PrivateKey, tweak: str = "") -> None:
    """received → acknowledged → decision → offer → accepted → paid → closed, with one tweak."""
    b.step("received", minutes(0), CUSTOMER, RECEIVED, {"description": "Charged twice."})
    ack_at = minutes(-5) if tweak == "time_backwards" else minutes(1)
    ack_state = "investigating" if tweak == "state_mismatch" else "acknowledged"
    b.step("acknowledged", ack_at, AGENT, {"state": ack_state}, {})
    if tweak == "info_not_requested":
        b.step("info_received", minutes(2), CUSTOMER, {"state": "investigating"}, {"text": "x"})
    decision = dict(DECISION)
    public = _decision_public(decision)
    raw = False
    if tweak == "public_body_mismatch":
        public["outcome"], raw = "partially_upheld", True
    if tweak == "body_missing_finding":
        del decision["finding"]
        raw = True
    if tweak == "offer_after_rejection":
        decision = {**decision, "outcome": "rejected"}
        del decision["remedy"]
        public = _decision_public(decision)
    other = Ed25519PrivateKey.generate() if tweak == "wrong_signature" else None
    b.signed(key, "decision", minutes(3), decision, public, raw=raw, sign_with=other)
    offered = {"state": "compensation_offered", **OFFER}
    b.signed(key, "compensation_offered", minutes(4), OFFER, offered)
    b.step("compensation_accepted", minutes(5), CUSTOMER, {"state": "compensation_accepted"}, {})
    paid = {**OFFER, "amount": "30.00"} if tweak == "payment_mismatch" else OFFER
    paid_body = {**paid, "payment_reference": "SEPA-1"}
    paid_public = {"state": "compensation_paid", **paid}
    b.signed(key, "compensation_paid", minutes(6), paid_body, paid_public)
    b.step("closed", minutes(7), AGENT, {"state": "closed"}, {})


def _scenario(
    tweak: str = "",
    *,
    key_kw: dict | None = None,
    revoke: bool = False,
    roles=("officer",),
    disclose: bool = True,
    after: Callable[[Builder, dict], Callable[[dict], None] | None] | None = None,
) -> Callable[[Signer], dict]:
    def build(signer: Signer) -> dict:
        b = Builder(signer)
        key = Ed25519PrivateKey.generate()
        registration = b.register_key(key, minutes(-60), roles=roles, **(key_kw or {}))
        if revoke:
            b.revoke_key(key, registration, minutes(2))
        lifecycle(b, key, tweak)
        extra = after(b, {}) if after else None
        proof = b.proof(disclose=disclose)
        if extra:
            extra(proof)
        return proof

    return build


def _erase(disclose_erased: bool):
    def after(b: Builder, _):
        received = merkle.leaf_hash(b.entries[1].leaf).hex()
        public = {"state": "closed", "erases": received, "basis": "gdpr_art17"}
        b.step("erased", minutes(8), ("admin", "admin-1"), public, {})
        if not disclose_erased:
            b.entries[1].erased = True
            b.entries[1].salt = b.entries[1].body_jcs = None
        return None

    return after


def _rate(*rates: int):
    """Ratings after the close, each naming the seq of the step it rates (0 received, 1
    acknowledged, 2 decision, 3 offer, 4 accepted, 5 paid, 6 closed)."""

    def after(b: Builder, _):
        for i, seq in enumerate(rates):
            public = {"state": "closed", "csat": 4, "rates": seq}
            b.step("rated", minutes(8 + i), CUSTOMER, public, {})
        return None

    return after


def _export_then_steps(b: Builder, _):
    """An evidence bundle export (seq 7), then a rating, a reopening and more investigation."""
    export = {
        "state": "closed",
        "bundle_sha256": hashlib.sha256(b"bundle").hexdigest(),
        "format_version": 2,
        "tree_size": len(b.entries),
    }
    b.step("bundle_exported", minutes(8), ("legal", "legal-1"), export, {})
    b.step("rated", minutes(9), CUSTOMER, {"state": "closed", "csat": 2, "rates": 6}, {})
    reopened = {"state": "reopened", "reason": "new_information"}
    b.step("reopened", minutes(10), ("supervisor", "sup-1"), reopened, {})
    asked = {"request": "Please send the bank statement."}
    b.step("info_requested", minutes(11), AGENT, {"state": "investigating"}, asked)
    return None


def _drop_decision_body(b: Builder, _):
    def change(proof: dict) -> None:
        for e in proof["events"]:
            if e["type"] == "decision":
                e.pop("body"), e.pop("salt")

    return change


def _other_reference(b: Builder, _):
    def change(proof: dict) -> None:
        proof["reference"] = format_reference(hashlib.sha256(b"another").digest())

    return change


# --- the service playbook (ledger/complaints/playbooks.py) ---------------------------------------

SYSTEM = ("system", "auto-confirm")
IDENTITY = {"method": "video_call"}
IDENTITY_BODY = {"check_reference": "IDV-2026-0107"}
INCIDENT = "INC-2026-0042"
# Three days after T0 on the minute, spelled without milliseconds: a confirmation that lapses at
# exactly this instant (spelled with them, as every event time is) has lapsed; compared as
# strings the two spellings would order the other way.
WAIT_ENDS = "2026-01-08T10:00:00Z"
AT_WAIT_END = T0 + timedelta(days=3)


def _chain(steps: Callable[[Builder, Ed25519PrivateKey], None]) -> Callable[[Signer], dict]:
    """A proof of the complaint ``steps`` records, its officer key registered beforehand."""

    def build(signer: Signer) -> dict:
        b = Builder(signer)
        key = Ed25519PrivateKey.generate()
        b.register_key(key, minutes(-60))
        steps(b, key)
        return b.proof()

    return build


def _disclosed(
    steps: Callable[[Builder, Ed25519PrivateKey], None], disclose: bool
) -> Callable[[Signer], dict]:
    """``_chain``, with the bodies disclosed or not."""

    def build(signer: Signer) -> dict:
        b = Builder(signer)
        key = Ed25519PrivateKey.generate()
        b.register_key(key, minutes(-60))
        steps(b, key)
        return b.proof(disclose=disclose)

    return build


def _open(b: Builder, category: str) -> None:
    """received (seq 0) and acknowledged (seq 1)."""
    received = {**RECEIVED, "category": category}
    b.step("received", minutes(0), CUSTOMER, received, {"description": "It does not work."})
    b.step("acknowledged", minutes(1), AGENT, {"state": "acknowledged"}, {})


def _playbook(
    b: Builder, at: datetime, state: str, step: str, actor: tuple[str, str] = AGENT, **public: Any
) -> None:
    b.step("playbook_step", at, actor, {"state": state, "step": step, **public}, {})


def _decide(b: Builder, key: Ed25519PrivateKey, at: datetime) -> None:
    b.signed(key, "decision", at, DECISION, _decision_public(DECISION))


def _compensate(
    b: Builder,
    key: Ed25519PrivateKey,
    at: datetime,
    offer: dict = OFFER,
    paid: dict | None = None,
    offer_public: dict | None = None,
) -> None:
    """offered, accepted and paid, a minute apart from ``at``."""
    public = {"state": "compensation_offered", **offer, **(offer_public or {})}
    b.signed(key, "compensation_offered", at, offer, public)
    accepted = {"state": "compensation_accepted"}
    b.step("compensation_accepted", at + timedelta(minutes=1), CUSTOMER, accepted, {})
    paid = offer if paid is None else paid
    body = {**paid, "payment_reference": "SEPA-1"}
    b.signed(
        key,
        "compensation_paid",
        at + timedelta(minutes=2),
        body,
        {"state": "compensation_paid", **paid},
    )


def _recovery_phrase(b: Builder, key: Ed25519PrivateKey) -> None:
    """The lost recovery phrase playbook: identity check, alternatives, secure reset; paid after
    the identity check; closed, a playbook step rated, reopened: the playbook starts again
    after the identity check, which stays done."""
    _open(b, "lost_recovery_phrase")
    b.step(
        "identity_verified", minutes(2), AGENT, {"state": "acknowledged", **IDENTITY}, IDENTITY_BODY
    )
    _playbook(b, minutes(3), "investigating", "recovery_alternatives_proposed")
    _playbook(b, minutes(4), "investigating", "secure_reset")
    _decide(b, key, minutes(5))
    _compensate(b, key, minutes(6))
    b.step("closed", minutes(9), AGENT, {"state": "closed", "reason": "resolved"}, {})
    b.step("rated", minutes(10), CUSTOMER, {"state": "closed", "csat": 5, "rates": 4}, {})
    b.step("reopened", minutes(11), ("supervisor", "sup-1"), {"state": "reopened"}, {})
    _playbook(b, minutes(12), "investigating", "recovery_alternatives_proposed")


def _interface_fault(b: Builder, key: Ed25519PrivateKey) -> None:
    """A fix deployed with a wait for the customer's confirmation, which lapses exactly when the
    wait ends; part of a mass incident; a discount given in kind."""
    _open(b, "interface_fault")
    incident = {"state": "acknowledged", "incident": INCIDENT}
    b.step("incident_linked", minutes(2), AGENT, incident, {"title": "Send button frozen"})
    _playbook(b, minutes(3), "investigating", "fault_reproduced")
    _playbook(b, minutes(4), "investigating", "fix_deployed", confirm_by=WAIT_ENDS)
    _playbook(b, AT_WAIT_END, "investigating", "fix_confirmed", SYSTEM, confirmation="lapsed")
    _decide(b, key, AT_WAIT_END + timedelta(minutes=1))
    discount = {"kind": "discount", "amount": "10.00", "currency": "EUR", "method": "in_kind"}
    _compensate(b, key, AT_WAIT_END + timedelta(minutes=2), discount)
    closed = {"state": "closed", "reason": "resolved"}
    b.step("closed", AT_WAIT_END + timedelta(minutes=5), AGENT, closed, {})


def _security_question(b: Builder, key: Ed25519PrivateKey) -> None:
    """An untimed category: the handler sets the target; the customer confirms in time."""
    _open(b, "security_question")
    target = {"state": "acknowledged", "target_minutes": 240, "limit_minutes": 480}
    b.step("target_set", minutes(2), AGENT, target, {})
    _playbook(b, minutes(3), "investigating", "risk_assessed")
    wait = format_timestamp(minutes(60))
    _playbook(b, minutes(4), "investigating", "guidance_given", confirm_by=wait)
    _playbook(
        b, minutes(5), "investigating", "protection_confirmed", CUSTOMER, confirmation="customer"
    )


def _reset_before_identity(b: Builder, key: Ed25519PrivateKey) -> None:
    _open(b, "lost_recovery_phrase")
    _playbook(b, minutes(2), "investigating", "secure_reset")  # seq 2: identity comes first


def _paid_without_identity(b: Builder, key: Ed25519PrivateKey) -> None:
    _open(b, "lost_recovery_phrase")
    _decide(b, key, minutes(2))
    _compensate(b, key, minutes(3))  # seq 5: the payment


def _offer_needs_identity(b: Builder, key: Ed25519PrivateKey) -> None:
    _open(b, "refund_or_claim")
    _decide(b, key, minutes(2))
    _compensate(b, key, minutes(3), offer_public={"identity_required": True})  # paid: seq 5


def _lapsed_too_early(b: Builder, key: Ed25519PrivateKey) -> None:
    _open(b, "interface_fault")
    _playbook(b, minutes(2), "investigating", "fault_reproduced")
    _playbook(b, minutes(3), "investigating", "fix_deployed", confirm_by=WAIT_ENDS)
    # seq 4: one millisecond before the wait ends
    early = AT_WAIT_END - timedelta(milliseconds=1)
    _playbook(b, early, "investigating", "fix_confirmed", SYSTEM, confirmation="lapsed")


def _lapsed_without_a_wait(b: Builder, key: Ed25519PrivateKey) -> None:
    _open(b, "interface_fault")
    _playbook(b, minutes(2), "investigating", "fault_reproduced")
    _playbook(b, minutes(3), "investigating", "fix_deployed")  # states no wait
    _playbook(b, minutes(4), "investigating", "fix_confirmed", SYSTEM, confirmation="lapsed")


def _customer_records_a_fix(b: Builder, key: Ed25519PrivateKey) -> None:
    _open(b, "interface_fault")
    _playbook(b, minutes(2), "investigating", "fault_reproduced", CUSTOMER)  # seq 2


def _system_confirms(b: Builder, key: Ed25519PrivateKey) -> None:
    _open(b, "interface_fault")
    _playbook(b, minutes(2), "investigating", "fault_reproduced")
    _playbook(b, minutes(3), "investigating", "fix_deployed")
    _playbook(b, minutes(4), "investigating", "fix_confirmed", SYSTEM, confirmation="customer")


def _confirmation_missing(b: Builder, key: Ed25519PrivateKey) -> None:
    _open(b, "interface_fault")
    _playbook(b, minutes(2), "investigating", "fault_reproduced")
    _playbook(b, minutes(3), "investigating", "fix_deployed")
    _playbook(b, minutes(4), "investigating", "fix_confirmed")  # seq 4: confirmed how?


def _step_repeated(b: Builder, key: Ed25519PrivateKey) -> None:
    _open(b, "sync_fault")
    _playbook(b, minutes(2), "investigating", "sync_diagnosed")
    _playbook(b, minutes(3), "investigating", "sync_diagnosed")  # seq 3


def _step_of_another_playbook(b: Builder, key: Ed25519PrivateKey) -> None:
    _open(b, "sync_fault")
    _playbook(b, minutes(2), "investigating", "fault_reproduced")  # seq 2: interface fault's


def _communicated_before_decision(b: Builder, key: Ed25519PrivateKey) -> None:
    _open(b, "refund_or_claim")
    _playbook(b, minutes(2), "investigating", "detailed_review")
    _playbook(b, minutes(3), "investigating", "decision_communicated")  # seq 3


def _identity_twice(b: Builder, key: Ed25519PrivateKey) -> None:
    _open(b, "lost_recovery_phrase")
    for at in (2, 3):  # seq 3: already verified
        b.step(
            "identity_verified",
            minutes(at),
            AGENT,
            {"state": "acknowledged", **IDENTITY},
            IDENTITY_BODY,
        )


def _paid_in_another_kind(b: Builder, key: Ed25519PrivateKey) -> None:
    _open(b, "refund_or_claim")
    _decide(b, key, minutes(2))
    refund = {**OFFER, "kind": "fee_refund"}
    _compensate(b, key, minutes(3), refund, paid=OFFER)  # seq 5: money, not a fee refund


def _target_on_a_timed_category(b: Builder, key: Ed25519PrivateKey) -> None:
    _open(b, "refund_or_claim")
    target = {"state": "acknowledged", "target_minutes": 60, "limit_minutes": 120}
    b.step("target_set", minutes(2), AGENT, target, {})  # seq 2


def _second_incident(b: Builder, key: Ed25519PrivateKey) -> None:
    _open(b, "interface_fault")
    b.step(
        "incident_linked", minutes(2), AGENT, {"state": "acknowledged", "incident": INCIDENT}, {}
    )
    other = {"state": "acknowledged", "incident": "INC-2026-0043"}
    b.step("incident_linked", minutes(3), AGENT, other, {})  # seq 3


def _discount_by_transfer(b: Builder, key: Ed25519PrivateKey) -> None:
    """The offer's body gives a discount by bank transfer; its public part shows neither."""
    _open(b, "refund_or_claim")
    _decide(b, key, minutes(2))
    body = {"kind": "discount", "amount": "10.00", "currency": "EUR", "method": "bank_transfer"}
    public = {"state": "compensation_offered", "method": "bank_transfer"}
    b.signed(key, "compensation_offered", minutes(3), body, public, raw=True)


def _kind_differs_from_body(b: Builder, key: Ed25519PrivateKey) -> None:
    """The offer's public kind says fee refund; the signed body names no kind (money)."""
    _open(b, "refund_or_claim")
    _decide(b, key, minutes(2))
    public = {"state": "compensation_offered", **OFFER, "kind": "fee_refund"}
    b.signed(key, "compensation_offered", minutes(3), OFFER, public, raw=True)


# --- officer limits and dual control (officers.check_signed_step) ---------------------------------

JUNIOR_LIMITS = {
    "amounts": {"EUR": "100.00"},
    "categories": ["refund_or_claim", "stuck_transaction"],
    "dual_control_above": {"EUR": "20.00"},
}


def _limited(
    steps: Callable[[Builder, dict[str, Ed25519PrivateKey]], None], disclose: bool = True
) -> Callable[[Signer], dict]:
    """A proof of the complaint ``steps`` records, with four officer keys registered: a junior
    (EUR 100 in two categories, co-signed above EUR 20), a senior (EUR 1000), a small one (EUR
    10) and a supervisor's (no officer role)."""

    def build(signer: Signer) -> dict:
        b = Builder(signer)
        keys = {n: Ed25519PrivateKey.generate() for n in ("junior", "senior", "small", "sup")}
        b.register_key(keys["junior"], minutes(-60), limits=JUNIOR_LIMITS)
        b.register_key(keys["senior"], minutes(-60), limits={"amounts": {"EUR": "1000.00"}})
        b.register_key(keys["small"], minutes(-60), limits={"amounts": {"EUR": "10.00"}})
        b.register_key(keys["sup"], minutes(-60), roles=("supervisor",))
        steps(b, keys)
        return b.proof(disclose=disclose)

    return build


def _junior_offers(amount: str = "50.00", unit: str = "currency", code: str = "EUR", **kw):
    """refund_or_claim: received, acknowledged, the junior's decision (seq 2), its offer of
    ``amount`` (seq 3) signed as ``kw`` says (cosign, public)."""
    public_given = kw.pop("public", None)

    def steps(b: Builder, keys: dict[str, Ed25519PrivateKey]) -> None:
        _open(b, "refund_or_claim")
        _decide(b, keys["junior"], minutes(2))
        offer = {"amount": amount, unit: code, "method": "bank_transfer"}
        public = {"state": "compensation_offered", **(public_given or offer)}
        cosign = keys[kw["cosign"]] if "cosign" in kw else None
        b.signed(keys["junior"], "compensation_offered", minutes(3), offer, public,
                 cosign=cosign, cosign_body=kw.get("cosign_body"))  # fmt: skip

    return steps


def _dual_signed(b: Builder, keys: dict[str, Ed25519PrivateKey]) -> None:
    """Above the junior's threshold: offer and payment co-signed by the senior."""
    _open(b, "refund_or_claim")
    _decide(b, keys["junior"], minutes(2))
    offer = {"amount": "80.00", "currency": "EUR", "method": "bank_transfer"}
    b.signed(keys["junior"], "compensation_offered", minutes(3), offer,
             {"state": "compensation_offered", **offer}, cosign=keys["senior"])  # fmt: skip
    b.step("compensation_accepted", minutes(4), CUSTOMER, {"state": "compensation_accepted"}, {})
    b.signed(keys["junior"], "compensation_paid", minutes(5), {**offer, "payment_reference": "S-1"},
             {"state": "compensation_paid", **offer}, cosign=keys["senior"])  # fmt: skip


def _decided_outside_its_categories(b: Builder, keys: dict[str, Ed25519PrivateKey]) -> None:
    _open(b, "hacked_account")
    _decide(b, keys["junior"], minutes(2))  # seq 2: not one of the junior's categories


# --- vault payouts (ledger/complaints/payouts.py) --------------------------------------------

VAULT = "0x" + "5a" * 20
TOKEN = "0x" + "70" * 20
RECIPIENT = "0x" + "c1" * 20
VAULT_MONEY = {"amount": "25.50", "asset": "USDC", "method": "on_chain"}
VAULT_TERMS = {**VAULT_MONEY, "chain_id": 31337, "vault": VAULT, "token": TOKEN,
               "amount_base_units": "25500000", "decimals": 6}  # fmt: skip


def _vault(tweak: str = "") -> Callable[[Signer], dict]:
    """A vault offer accepted with the customer's address and paid by the payout worker (its
    own key, role system), with one tweak that breaks a rule."""

    def build(signer: Signer) -> dict:
        from ledger.complaints.payouts import payout_commitment, terms_commitment

        b = Builder(signer)
        officer, worker = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
        b.register_key(officer, minutes(-60))
        b.register_key(worker, minutes(-60), roles=("system",))
        b.step("received", minutes(0), CUSTOMER, RECEIVED, {"description": "Charged twice."})
        b.step("acknowledged", minutes(1), AGENT, {"state": "acknowledged"}, {})
        b.signed(officer, "decision", minutes(2), DECISION, _decision_public(DECISION))
        vault = tweak != "not_a_vault_offer"
        terms = dict(VAULT_TERMS) if vault else dict(OFFER)
        offered = {"state": "compensation_offered", **(VAULT_MONEY if vault else OFFER)}
        if vault:
            offered["payout_terms"] = terms_commitment(31337, VAULT, TOKEN, 25_500_000)
        offer = b.signed(officer, "compensation_offered", minutes(3), terms, offered)
        payout = payout_commitment(31337, VAULT, TOKEN, 25_500_000, RECIPIENT, offer)
        accepted: dict = {"state": "compensation_accepted"}
        accepted_body: dict = {}
        if vault and tweak != "accepted_without_address":
            accepted, accepted_body = {**accepted, "payout": payout}, {"recipient": RECIPIENT}
        b.step("compensation_accepted", minutes(4), CUSTOMER, accepted, accepted_body)
        if tweak == "accepted_without_address":
            return b.proof()  # the chain ends where it breaks
        paid_public = {"state": "compensation_paid", **(VAULT_MONEY if vault else OFFER)}
        if vault and tweak != "paid_without_payout":
            paid_public["payout"] = payout
        paid_body = (
            {**VAULT_TERMS, "recipient": RECIPIENT, "tx_hash": "0x" + "ab" * 32}
            if vault
            else {**OFFER, "payment_reference": "SEPA-1"}
        )
        b.signed(worker, "compensation_paid", minutes(5), paid_body, paid_public, role="system")
        if not tweak:
            b.step("closed", minutes(6), AGENT, {"state": "closed", "reason": "resolved"}, {})
        return b.proof()

    return build


# --- customer messages and the Net Promoter Score (message_sent, nps_given) ----------------------

DISPATCHER = ("system", "dispatcher")
# The closure letter's text, and another: a leaf that commits to one while its body holds the
# other states a text the customer was never sent.
CLOSURE_TEXT = "Dear Ana Silva,\n\nWe have closed your complaint. Ελπίζουμε 😊 — thank you."
OTHER_TEXT = "Dear Ana Silva,\n\nWe have closed your complaint."


def _message(for_seq: int, text: str = CLOSURE_TEXT, **public: Any) -> tuple[dict, dict]:
    """The public fields and the body of a message_sent step for step ``for_seq``."""
    fields = {
        "state": "closed",
        "channel": "email",
        "template": "closure",
        "language": "en",
        "for_seq": for_seq,
        "text_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "outcome": "delivered",
        "message_id": "msg_" + hashlib.sha256(f"m{for_seq}".encode()).hexdigest()[:32],
        "attempts": 1,
        **public,
    }
    body = {"to": "ana@example.org", "subject": "Your complaint is closed", "text": text}
    return fields, body


def _messages(tweak: str = ""):
    """After the lifecycle's closure (seq 6): the closure letter delivered (seq 7), the
    acknowledgement's letter delivered late, after two failed attempts (seq 8), a webhook that
    failed for good (seq 9), then the customer's score (seq 10); or one step broken."""

    def after(b: Builder, _):
        public, body = _message(6)
        if tweak == "text_mismatch":
            # The leaf commits to the closure text; the body holds another one.
            b.raw_step("message_sent", minutes(8), DISPATCHER, public, {**body, "text": OTHER_TEXT})
            return None
        if tweak == "by_customer":
            b.step("message_sent", minutes(8), CUSTOMER, public, body)
            return None
        if tweak == "for_itself":
            public, body = _message(7)
            b.step("message_sent", minutes(8), DISPATCHER, public, body)
            return None
        b.step("message_sent", minutes(8), DISPATCHER, public, body)
        public, body = _message(1, "We have received your complaint.", attempts=3,
                                template="acknowledgement")  # fmt: skip
        b.step("message_sent", minutes(9), DISPATCHER, public, body)
        public, body = _message(6, outcome="failed", channel="webhook", attempts=8)
        b.step("message_sent", minutes(10), DISPATCHER, public,
               {**body, "to": "https://hooks.example.org/complaints"})  # fmt: skip
        b.step("nps_given", minutes(11), CUSTOMER, {"state": "closed", "nps": 9}, {})
        if tweak == "nps_twice":
            b.step("nps_given", minutes(12), CUSTOMER, {"state": "closed", "nps": 10}, {})
        return None

    return after


def _nps_before_closure(b: Builder, key: Ed25519PrivateKey) -> None:
    """A score while the complaint is only acknowledged (seq 2)."""
    _open(b, "refund_or_claim")
    b.step("nps_given", minutes(2), CUSTOMER, {"state": "acknowledged", "nps": 3}, {})


# --- a decision signed before letters were recorded (events.context_heads) ----------------------


def _signed_before(*between: str) -> Callable[[Builder, Ed25519PrivateKey], None]:
    """After the acknowledgement (seq 1) the officer signs a decision; ``between`` steps are
    recorded (``letter``: the acknowledgement's letter delivered; ``note``: a note), then the
    decision at the head it was signed at. Valid only when every step between is a letter."""

    def steps(b: Builder, key: Ed25519PrivateKey) -> None:
        _open(b, "refund_or_claim")
        signed_at = b.prev
        state = "acknowledged"
        for i, what in enumerate(between):
            at = minutes(2 + i)
            if what == "note":
                state = "investigating"
                b.step("note_added", at, AGENT, {"state": state}, {"text": "Checked the logs."})
                continue
            public, body = _message(
                1, "We have received your complaint.", state=state, template="acknowledgement",
                message_id=f"msg_{i:032x}",
            )  # fmt: skip
            b.step("message_sent", at, DISPATCHER, public, body)
        # Encoded by hand: the production builder checks the context strictly (no chain).
        b.signed(key, "decision", minutes(9), DECISION, _decision_public(DECISION), raw=True,
                 signed_at=signed_at)  # fmt: skip

    return steps


# --- owners: claimed, reassigned, cleared by an escalation, assigned again (assigned) -----------

SUPERVISOR = ("supervisor", "sup-1")
ESCALATOR = ("system", "auto-escalation")
OWNER_NAMES = {"agent-7": "Ana Silva", "staff-3f9a2b1c": "Rui Costa", "staff-5e0d": "Sara Lima"}


def _assigned(
    b: Builder, at: datetime, actor: tuple[str, str], owner: str, how: str, state: str
) -> None:
    public = {"state": state, "owner": owner, "how": how}
    b.step("assigned", at, actor, public, {"owner_name": OWNER_NAMES.get(owner, "Eva Mota")})


def _owners(tweak: str = "") -> Callable[[Builder, Ed25519PrivateKey], None]:
    """After the acknowledgement (seq 1): the agent claims it (seq 2), a supervisor reassigns
    it (seq 3), an escalation to a specialist clears the owner (seq 4) and the automatic
    escalation assigns the specialist queue's handler (seq 5); or one step broken at seq 2/3."""

    def steps(b: Builder, key: Ed25519PrivateKey) -> None:
        _open(b, "hacked_account")
        ack = "acknowledged"
        if tweak == "reassign_unowned":
            _assigned(b, minutes(2), SUPERVISOR, "agent-7", "reassign", ack)
            return
        if tweak == "claim_for_another":
            _assigned(b, minutes(2), AGENT, "staff-3f9a2b1c", "claim", ack)
            return
        if tweak == "assigned_by_an_agent":
            _assigned(b, minutes(2), AGENT, "staff-3f9a2b1c", "assign", ack)
            return
        _assigned(b, minutes(2), AGENT, "agent-7", "claim", ack)
        if tweak == "claim_when_owned":
            _assigned(b, minutes(3), ("agent", "staff-3f9a2b1c"), "staff-3f9a2b1c", "claim", ack)
            return
        if tweak == "same_owner":
            _assigned(b, minutes(3), SUPERVISOR, "agent-7", "reassign", ack)
            return
        _assigned(b, minutes(3), SUPERVISOR, "staff-3f9a2b1c", "reassign", ack)
        escalated = {"state": "investigating", "level": "specialist", "specialism": "security"}
        b.step("escalated", minutes(4), AGENT, escalated, {})
        _assigned(b, minutes(5), ESCALATOR, "staff-5e0d", "assign", "investigating")

    return steps


SCENARIOS: dict[str, Callable[[Signer], dict]] = {
    "valid": _scenario(),
    "valid_without_bodies": _scenario(disclose=False),
    "erased_body_gone": _scenario(after=_erase(disclose_erased=False)),
    "erased_body_still_disclosed": _scenario(after=_erase(disclose_erased=True)),
    "key_not_yet_valid": _scenario(key_kw={"valid_from": minutes(3) + timedelta(seconds=30)}),
    "key_expired": _scenario(key_kw={"valid_until": minutes(2)}),
    "key_revoked": _scenario(revoke=True),
    "key_without_officer_role": _scenario(roles=("supervisor",)),
    "wrong_signature": _scenario("wrong_signature"),
    "payment_differs_from_offer": _scenario("payment_mismatch"),
    "info_not_requested": _scenario("info_not_requested"),
    "public_differs_from_body": _scenario("public_body_mismatch"),
    "body_missing_finding": _scenario("body_missing_finding"),
    "time_goes_backwards": _scenario("time_backwards"),
    "state_mismatch": _scenario("state_mismatch"),
    "offer_after_rejection": _scenario("offer_after_rejection"),
    "signed_body_withheld": _scenario(after=_drop_decision_body),
    "reference_of_another_complaint": _scenario(after=_other_reference),
    "export_then_more_steps": _scenario(after=_export_then_steps),
    "rated_once_each": _scenario(after=_rate(2, 6)),
    "rating_duplicate": _scenario(after=_rate(2, 6, 2)),
    "rating_of_an_unrateable_step": _scenario(after=_rate(4)),
    "rating_of_itself": _scenario(after=_rate(7)),
    "playbook_recovery_phrase": _chain(_recovery_phrase),
    "playbook_interface_fault_lapsed": _chain(_interface_fault),
    "playbook_security_question": _chain(_security_question),
    "playbook_reset_before_identity": _chain(_reset_before_identity),
    "playbook_paid_without_identity": _chain(_paid_without_identity),
    "playbook_offer_needs_identity": _chain(_offer_needs_identity),
    "playbook_lapsed_too_early": _chain(_lapsed_too_early),
    "playbook_lapsed_without_a_wait": _chain(_lapsed_without_a_wait),
    "playbook_customer_records_a_fix": _chain(_customer_records_a_fix),
    "playbook_system_confirms": _chain(_system_confirms),
    "playbook_confirmation_missing": _chain(_confirmation_missing),
    "playbook_step_repeated": _chain(_step_repeated),
    "playbook_step_of_another_playbook": _chain(_step_of_another_playbook),
    "playbook_communicated_before_decision": _chain(_communicated_before_decision),
    "playbook_identity_twice": _chain(_identity_twice),
    "playbook_paid_in_another_kind": _chain(_paid_in_another_kind),
    "playbook_target_on_a_timed_category": _chain(_target_on_a_timed_category),
    "playbook_second_incident": _chain(_second_incident),
    "playbook_discount_by_transfer": _chain(_discount_by_transfer),
    "playbook_kind_differs_from_body": _chain(_kind_differs_from_body),
    "limits_dual_signed": _limited(_dual_signed),
    "limits_dual_signed_without_bodies": _limited(_dual_signed, disclose=False),
    "limits_at_the_threshold_alone": _limited(_junior_offers("20.00")),
    "limits_over_the_limit": _limited(_junior_offers("150.00", cosign="senior")),
    "limits_over_the_limit_without_bodies": _limited(
        _junior_offers("150.00", cosign="senior"), disclose=False
    ),
    "limits_unit_not_allowed": _limited(_junior_offers("5.00", code="GBP")),
    "limits_amount_not_public": _limited(_junior_offers(public={"method": "bank_transfer"})),
    "limits_category_not_allowed": _limited(_decided_outside_its_categories),
    "limits_alone_above_threshold": _limited(_junior_offers("50.00")),
    "limits_cosigned_by_the_same_key": _limited(_junior_offers(cosign="junior")),
    "limits_cosigner_without_officer_role": _limited(_junior_offers(cosign="sup")),
    "limits_cosigner_over_its_limit": _limited(_junior_offers(cosign="small")),
    "limits_cosignature_invalid": _limited(
        _junior_offers(cosign="senior", cosign_body={"amount": "5.00"})
    ),
    "vault_paid_by_the_worker": _vault(),
    "vault_accepted_without_address": _vault("accepted_without_address"),
    "vault_paid_without_payout": _vault("paid_without_payout"),
    "vault_worker_pays_another_offer": _vault("not_a_vault_offer"),
    "messages_and_nps": _scenario(after=_messages()),
    "messages_and_nps_without_bodies": _scenario(after=_messages(), disclose=False),
    "message_text_differs_from_its_hash": _scenario(after=_messages("text_mismatch")),
    "message_text_hash_without_bodies": _scenario(after=_messages("text_mismatch"), disclose=False),
    "message_sent_by_the_customer": _scenario(after=_messages("by_customer")),
    "message_for_itself": _scenario(after=_messages("for_itself")),
    "nps_before_closure": _chain(_nps_before_closure),
    "nps_twice": _scenario(after=_messages("nps_twice")),
    "owners_claimed_reassigned_escalated": _chain(_owners()),
    "owners_without_bodies": _disclosed(_owners(), False),
    "owner_reassigned_when_unowned": _chain(_owners("reassign_unowned")),
    "owner_claimed_for_another": _chain(_owners("claim_for_another")),
    "owner_assigned_by_an_agent": _chain(_owners("assigned_by_an_agent")),
    "owner_claimed_when_owned": _chain(_owners("claim_when_owned")),
    "owner_reassigned_to_the_same": _chain(_owners("same_owner")),
    "signed_before_letters": _chain(_signed_before("letter", "letter")),
    "signed_before_a_note": _chain(_signed_before("note", "letter")),
}
VALID = {
    "valid",
    "valid_without_bodies",
    "erased_body_gone",
    "export_then_more_steps",
    "rated_once_each",
    "playbook_recovery_phrase",
    "playbook_interface_fault_lapsed",
    "playbook_security_question",
    "limits_dual_signed",
    "limits_dual_signed_without_bodies",
    "limits_at_the_threshold_alone",
    "vault_paid_by_the_worker",
    "messages_and_nps",
    "messages_and_nps_without_bodies",
    # Without the bodies the text cannot be compared with its hash: nothing is wrong to see.
    "message_text_hash_without_bodies",
    "owners_claimed_reassigned_escalated",
    "owners_without_bodies",
    "signed_before_letters",
}
# Where each broken playbook chain breaks: (seq, the Python error code, the browser's message
# key); the chain ends there, so nothing else fails.
PLAYBOOK_BREAKS: dict[str, tuple[int, str, str]] = {
    "playbook_reset_before_identity": (2, "PLAYBOOK_ORDER", "rule_playbook_order"),
    "playbook_paid_without_identity": (5, "IDENTITY_NOT_VERIFIED", "rule_identity_not_verified"),
    "playbook_offer_needs_identity": (5, "IDENTITY_NOT_VERIFIED", "rule_identity_not_verified"),
    "playbook_lapsed_too_early": (4, "CONFIRMATION_NOT_LAPSED", "rule_confirmation_not_lapsed"),
    "playbook_lapsed_without_a_wait": (4, "CONFIRMATION_NOT_LAPSED", "rule_confirmation_no_wait"),
    "playbook_customer_records_a_fix": (2, "ROLE_NOT_ALLOWED", "rule_customer_confirms_only"),
    "playbook_system_confirms": (4, "ROLE_NOT_ALLOWED", "rule_system_confirms"),
    "playbook_confirmation_missing": (
        4,
        "PLAYBOOK_CONFIRMATION",
        "rule_playbook_needs_confirmation",
    ),
    "playbook_step_repeated": (3, "PLAYBOOK_REPEATED", "rule_playbook_repeated"),
    "playbook_step_of_another_playbook": (2, "PLAYBOOK_STEP_UNKNOWN", "rule_playbook_step_unknown"),
    "playbook_communicated_before_decision": (
        3,
        "PLAYBOOK_NEEDS_DECISION",
        "rule_playbook_needs_decision",
    ),
    "playbook_identity_twice": (3, "IDENTITY_VERIFIED", "rule_identity_twice"),
    "playbook_paid_in_another_kind": (5, "PAYMENT_MISMATCH", "rule_payment_kind"),
    "playbook_target_on_a_timed_category": (2, "TARGET_FIXED", "rule_target_fixed"),
    "playbook_second_incident": (3, "INCIDENT_ALREADY_LINKED", "rule_incident_twice"),
    # Vault payouts: the customer's address, the accepted commitment, the worker's scope.
    "vault_accepted_without_address": (
        4,
        "PAYOUT_ADDRESS_REQUIRED",
        "rule_payout_address_required",
    ),
    "vault_paid_without_payout": (5, "PAYOUT_MISMATCH", "rule_payout_mismatch"),
    "vault_worker_pays_another_offer": (5, "ROLE_NOT_ALLOWED", "rule_system_pays_vault_only"),
}
# Where each chain outside an officer key's authority breaks: (seq, the Python error code, the
# browser's message key of the failed authority check); the chain ends there.
LIMIT_BREAKS: dict[str, tuple[int, str, str]] = {
    "limits_over_the_limit": (3, "OVER_LIMIT", "auth_over_limit"),
    "limits_over_the_limit_without_bodies": (3, "OVER_LIMIT", "auth_over_limit"),
    "limits_unit_not_allowed": (3, "UNIT_NOT_ALLOWED", "auth_unit_not_allowed"),
    "limits_amount_not_public": (3, "AMOUNT_NOT_PUBLIC", "auth_amount_not_public"),
    "limits_category_not_allowed": (2, "CATEGORY_NOT_ALLOWED", "auth_category"),
    "limits_alone_above_threshold": (3, "COSIGNATURE_REQUIRED", "auth_cosignature_required"),
    "limits_cosigned_by_the_same_key": (3, "COSIGNER_SAME_KEY", "auth_cosigner_same_key"),
    "limits_cosigner_without_officer_role": (3, "ROLE_MISSING", "cosigner_role"),
    "limits_cosigner_over_its_limit": (3, "OVER_LIMIT", "auth_over_limit"),
}
# Where each broken message or score chain breaks: (seq, the Python error code, the browser's
# message key); the chain ends there. A message whose text is not the one its leaf commits to
# fails its body's check instead (commitments), in both.
MESSAGE_BREAKS: dict[str, tuple[int, str, str]] = {
    "message_sent_by_the_customer": (7, "ROLE_NOT_ALLOWED", "rule_role"),
    "message_for_itself": (7, "MESSAGE_FOR_SEQ", "rule_message_for_seq"),
    "nps_before_closure": (2, "NPS_BEFORE_CLOSURE", "rule_nps_before_closure"),
    "nps_twice": (11, "NPS_ALREADY_GIVEN", "rule_nps_already_given"),
}
# A signed body whose context names a head another step than a letter followed: (seq, the
# Python error code); the signature check fails there, in both verifiers.
CONTEXT_BREAKS: dict[str, tuple[int, str]] = {"signed_before_a_note": (4, "CONTEXT_MISMATCH")}
# Where each broken assignment chain breaks: (seq, the Python error code, the browser's message
# key); the chain ends there.
ASSIGNMENT_BREAKS: dict[str, tuple[int, str, str]] = {
    "owner_reassigned_when_unowned": (2, "NOT_OWNED", "rule_not_owned"),
    "owner_claimed_for_another": (2, "CLAIM_FOR_ANOTHER", "rule_claim_for_another"),
    "owner_assigned_by_an_agent": (2, "ROLE_NOT_ALLOWED", "rule_assigner_role"),
    "owner_claimed_when_owned": (3, "ALREADY_OWNED", "rule_already_owned"),
    "owner_reassigned_to_the_same": (3, "SAME_OWNER", "rule_same_owner"),
}
