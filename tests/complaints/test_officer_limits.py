"""Officer authority limits and dual control: what a key may sign, checked from the leaves.

Every refusal is made twice: by the write path (``workflow.append_event``, which ends in
``states.step``) and by ``states.replay`` over a log where the step was forced in (built
below the checks, as a faulty or dishonest writer could), with real keys and signatures.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from ledger.complaints import payloads
from ledger.complaints.errors import AuthorityError, ComplaintError, PayloadError
from ledger.complaints.events import BuiltEvent, build_event
from ledger.complaints.officers import (
    Limits,
    OfficerRegistry,
    check_step_authority,
    officer_key_id,
    signature_field,
    verify_event_signature,
)
from ledger.complaints.states import replay, step
from ledger.complaints.vocab import Status
from ledger.verify.trail import Disclosure, verify_complaint
from tests.support.complaint_chain import (
    LOG,
    OFFICER_KEY,
    REGISTRATION,
    Chain,
    make_key,
    register_officer,
)
from tests.support.officer_limits import (
    JUNIOR,
    JUNIOR_LIMITS,
    LEFT,
    REGISTRY,
    SENIOR,
    SMALL,
    SUPERVISOR_ONLY,
    E,
    decided,
    forced,
    forced_offer,
    money,
    offer,
    officer,
)


def refused(fn) -> AuthorityError:
    with pytest.raises(AuthorityError) as exc:
        fn()
    return exc.value


def replay_refuses(c: Chain, built: BuiltEvent) -> AuthorityError:
    """``replay`` and ``step`` refuse the forced leaf, at its index; without a registry (no
    authority checked) the same chain replays."""
    exc = refused(lambda: replay([*c.leaves, built.leaf], registry=REGISTRY))
    assert exc.index == len(c.leaves)
    again = refused(lambda: step(c.state, built.envelope, REGISTRY))
    assert (again.code, again.field) == (exc.code, exc.field)
    replay([*c.leaves, built.leaf])
    return exc


# --- registration ---------------------------------------------------------------------------


def test_limits_are_public_canonical_and_parsed_into_the_key():
    built = register_officer(JUNIOR, limits={**JUNIOR_LIMITS, "categories": [
        "stuck_transaction", "lost_recovery_phrase", "stuck_transaction"]})  # fmt: skip
    assert built.envelope.public["limits"] == JUNIOR_LIMITS  # categories sorted, once each
    assert b'"limits":{"amounts":{"EUR":"100.00","USDC":"50"}' in built.leaf
    key = REGISTRY[officer_key_id(JUNIOR)]
    assert key.limits is not None
    assert key.limits.limit("EUR") == Decimal("100.00") and key.limits.limit("GBP") is None
    assert key.limits.threshold("EUR") == Decimal("20") and key.limits.threshold("USDC") is None
    assert key.limits.to_json() == JUNIOR_LIMITS
    assert Limits.from_json(key.limits.to_json()) == key.limits
    assert register_officer(JUNIOR, limits=key.limits).leaf == built.leaf
    # Keys registered without limits (all keys before the rule) have none.
    assert REGISTRY[officer_key_id(OFFICER_KEY)].limits is None
    assert "limits" not in REGISTRATION.envelope.public
    hash(key)  # a key stays hashable


@pytest.mark.parametrize(
    ("limits", "code", "field"),
    [
        ({}, "MISSING_FIELD", "public.limits.amounts"),
        ([], "NOT_AN_OBJECT", "public.limits"),
        ({"amounts": []}, "NOT_AN_OBJECT", "public.limits.amounts"),
        ({"amounts": {"eur": "1.00"}}, "INVALID_FIELD", "public.limits.amounts.eur"),
        ({"amounts": {"EUR": "0"}}, "INVALID_FIELD", "public.limits.amounts.EUR"),
        ({"amounts": {"EUR": "-5"}}, "INVALID_FIELD", "public.limits.amounts.EUR"),
        ({"amounts": {"EUR": "05.00"}}, "INVALID_FIELD", "public.limits.amounts.EUR"),
        ({"amounts": {"EUR": 100}}, "INVALID_FIELD", "public.limits.amounts.EUR"),
        (
            {"amounts": {f"T{i:03}": "1" for i in range(51)}},
            "INVALID_FIELD",
            "public.limits.amounts",
        ),
        ({"amounts": {}, "categories": []}, "INVALID_FIELD", "public.limits.categories"),
        ({"amounts": {}, "categories": ["nope"]}, "INVALID_FIELD", "public.limits.categories[0]"),
        (
            {"amounts": {}, "categories": ["stuck_transaction", "refund_or_claim"]},
            "INVALID_FIELD",
            "public.limits.categories",
        ),
        ({"amounts": {}, "max": "1"}, "UNKNOWN_FIELD", "public.limits.max"),
        (
            {"amounts": {"EUR": "10"}, "dual_control_above": {"USD": "5"}},
            "BAD_LIMITS",
            "public.limits.dual_control_above.USD",
        ),
        (
            {"amounts": {"EUR": "10"}, "dual_control_above": {}},
            "BAD_LIMITS",
            "public.limits.dual_control_above",
        ),
        (
            {"amounts": {"EUR": "10"}, "dual_control_above": {"EUR": "x"}},
            "INVALID_FIELD",
            "public.limits.dual_control_above.EUR",
        ),
    ],
)
def test_malformed_limits_are_refused(limits, code, field):
    public = {**REGISTRATION.envelope.public, "limits": limits}
    with pytest.raises(PayloadError) as exc:
        payloads.validate_public(E.OFFICER_KEY_REGISTERED, public)
    assert (exc.value.code, exc.value.field) == (code, field)


def test_a_key_may_be_limited_to_deciding():
    """Empty amounts: it may decide (in its categories) but offer or pay nothing."""
    deciding = make_key("deciding-only")
    registry = OfficerRegistry.fold([register_officer(deciding, limits={"amounts": {}}).leaf])
    c = Chain(key=deciding, registry=registry).run("acknowledged")
    c.add(E.DECISION, actor=officer(deciding))
    assert refused(lambda: offer(c, "1.00")).code == "UNIT_NOT_ALLOWED"


# --- the signer's limits ----------------------------------------------------------------------


def test_keys_without_limits_sign_as_before():
    c = decided(OFFICER_KEY)
    offer(c, "90000.00")
    c.run("compensation_accepted")
    c.add(E.COMPENSATION_PAID, actor=officer(OFFICER_KEY),
          public=money("90000.00"), body=money("90000.00", payment_reference="CR-1"))  # fmt: skip
    assert replay(c.leaves, registry=REGISTRY).status == Status.COMPENSATION_PAID


def test_over_the_limit_is_refused():
    c = decided()
    exc = refused(lambda: offer(c, "100.01", cosign=SENIOR))
    assert (exc.code, exc.field) == ("OVER_LIMIT", "public.signature.key_id")
    assert "100.01 EUR" in exc.message
    assert replay_refuses(c, forced_offer(c, "100.01", cosign=SENIOR)).code == "OVER_LIMIT"
    # By value, not by spelling: 50 USDC is the limit, however many decimals.
    offer(c, "50.000000", "USDC")
    c2 = decided()
    assert refused(lambda: offer(c2, "50.000001", "USDC")).code == "OVER_LIMIT"


def test_the_limit_itself_is_allowed():
    c = decided()
    offer(c, "100.00", cosign=SENIOR)
    assert c.state.status == Status.COMPENSATION_OFFERED


def test_a_unit_not_listed_is_refused():
    c = decided()
    assert refused(lambda: offer(c, "5.00", "GBP")).code == "UNIT_NOT_ALLOWED"
    assert replay_refuses(c, forced_offer(c, "5.00", "GBP")).code == "UNIT_NOT_ALLOWED"


def test_a_category_the_key_may_not_decide_is_refused():
    c = Chain(key=JUNIOR, registry=REGISTRY, category="refund_or_claim").run("acknowledged")
    exc = refused(lambda: c.add(E.DECISION, actor=officer(JUNIOR)))
    assert exc.code == "CATEGORY_NOT_ALLOWED" and "refund_or_claim" in exc.message
    content = {"outcome": "rejected", "finding": "No fault.", "rules": ["T&C 1"],
               "evidence": [], "root_cause": "no_fault_found"}  # fmt: skip
    public = {k: content[k] for k in ("outcome", "root_cause", "rules", "evidence")}
    built = forced(c, E.DECISION, Status.DECIDED, content, public)
    assert replay_refuses(c, built).code == "CATEGORY_NOT_ALLOWED"
    # Offers and payments too: another key decided, the limited key may not offer.
    other = decided(OFFICER_KEY, category="refund_or_claim")
    other.key = JUNIOR
    assert refused(lambda: offer(other, "5.00")).code == "CATEGORY_NOT_ALLOWED"


def test_an_amount_withheld_from_the_leaf_cannot_be_checked():
    c = decided()
    hidden = {"method": "account_credit"}
    exc = refused(lambda: offer(c, "5.00", public=hidden))
    assert exc.code == "AMOUNT_NOT_PUBLIC"
    built = forced_offer(c, "5.00", public=hidden)
    assert replay_refuses(c, built).code == "AMOUNT_NOT_PUBLIC"
    # A key without limits may still withhold it.
    free = decided(OFFICER_KEY)
    offer(free, "5.00", public=hidden)
    # A co-signer with limits cannot check it either.
    free2 = decided(OFFICER_KEY)
    exc = refused(lambda: offer(free2, "5.00", public=hidden, cosign=SENIOR))
    assert (exc.code, exc.field) == ("AMOUNT_NOT_PUBLIC", "public.cosignature.key_id")


# --- dual control -----------------------------------------------------------------------------


def test_above_the_threshold_a_single_signature_is_refused():
    c = decided()
    offer(c, "20.00")  # at the threshold: one signature is enough
    c2 = decided()
    exc = refused(lambda: offer(c2, "20.01"))
    assert (exc.code, exc.field) == ("COSIGNATURE_REQUIRED", "public.cosignature")
    assert replay_refuses(c2, forced_offer(c2, "20.01")).code == "COSIGNATURE_REQUIRED"
    # No threshold in USDC: up to the limit alone.
    c3 = decided()
    offer(c3, "50", "USDC")


def test_a_cosignature_by_the_signing_key_is_refused():
    c = decided()
    exc = refused(lambda: offer(c, "50.00", cosign=JUNIOR))
    assert (exc.code, exc.field) == ("COSIGNER_SAME_KEY", "public.cosignature.key_id")
    assert replay_refuses(c, forced_offer(c, "50.00", cosign=JUNIOR)).code == "COSIGNER_SAME_KEY"


@pytest.mark.parametrize(
    ("cosigner", "code"),
    [
        (SUPERVISOR_ONLY, "ROLE_MISSING"),
        (SMALL, "OVER_LIMIT"),
        (LEFT, "KEY_REVOKED"),
        (make_key("never-registered"), "KEY_UNKNOWN"),
    ],
)
def test_the_cosigner_needs_authority_for_the_amount(cosigner, code):
    c = decided()
    exc = refused(lambda: offer(c, "50.00", cosign=cosigner))
    assert (exc.code, exc.field) == (code, "public.cosignature.key_id")
    assert exc.message.startswith("as co-signer, ") or code == "OVER_LIMIT"
    exc = replay_refuses(c, forced_offer(c, "50.00", cosign=cosigner))
    assert (exc.code, exc.field) == (code, "public.cosignature.key_id")


def test_the_cosigner_needs_the_category():
    c = decided(OFFICER_KEY, category="refund_or_claim")
    built = forced_offer(c, "50.00", cosign=JUNIOR)  # JUNIOR may not act on refunds
    exc = replay_refuses(c, built)
    assert (exc.code, exc.field) == ("CATEGORY_NOT_ALLOWED", "public.cosignature.key_id")


def test_a_cosignature_that_does_not_verify_is_refused_where_the_body_is_known():
    c = decided()
    built = forced_offer(c, "50.00", cosign=SENIOR)
    other = {**built.envelope.public}
    wrong = signature_field(SENIOR, {**built.body, "amount": "49.00"})
    other["cosignature"] = wrong
    bad = build_event(
        log=LOG, complaint=c.state.reference, seq=c.state.next_seq, prev=c.state.head,
        type=E.COMPENSATION_OFFERED, at=built.envelope.at, actor=officer(JUNIOR),
        public=other, body=built.body,
    )  # fmt: skip
    exc = refused(lambda: verify_event_signature(REGISTRY, bad.envelope, bad.body))
    assert (exc.code, exc.field) == ("COSIGNATURE_INVALID", "public.cosignature.sig")
    verify_event_signature(REGISTRY, built.envelope, built.body)
    # From the leaf alone the co-signature's bytes cannot be checked: replay accepts it.
    replay([*c.leaves, bad.leaf], registry=REGISTRY)
    # The write path checks them.
    exc = refused(lambda: c.add(E.COMPENSATION_OFFERED, actor=officer(JUNIOR),
                                public={**money("50.00"), "cosignature": wrong},
                                body=money("50.00")))  # fmt: skip
    assert exc.code == "COSIGNATURE_INVALID"
    # And so does the verifier of a disclosed trail.
    disclosures = {bad.envelope.leaf_hash_hex: Disclosure(bad.salt, bad.body)}
    with pytest.raises(AuthorityError) as trail:
        verify_complaint([*c.leaves, bad.leaf], disclosures=disclosures, registry=REGISTRY)
    assert trail.value.code == "COSIGNATURE_INVALID"


def test_dual_signed_offer_and_payment_verify_everywhere():
    c = decided()
    offer(c, "80.00", cosign=SENIOR)
    c.run("compensation_accepted")
    c.add(E.COMPENSATION_PAID, actor=officer(JUNIOR), public=money("80.00"),
          body=money("80.00", payment_reference="CR-80"), cosign=SENIOR)  # fmt: skip
    assert c.state.status == Status.COMPENSATION_PAID
    state = replay(c.leaves, registry=REGISTRY)
    assert state.payments[-1].amount == Decimal("80.00")
    disclosures = {b.envelope.leaf_hash_hex: Disclosure(b.salt, b.body) for b in c.built}
    trail = verify_complaint(c.leaves, disclosures=disclosures, registry=REGISTRY)
    assert len(trail.signatures_verified) == 3 and not trail.signatures_unchecked
    # A co-signature below the threshold is allowed, and checked all the same.
    c2 = decided()
    offer(c2, "5.00", cosign=SENIOR)
    assert c2.built[-1].envelope.public["cosignature"]["key_id"] == officer_key_id(SENIOR)


def test_a_decision_may_be_cosigned():
    c = Chain(key=JUNIOR, registry=REGISTRY).run("acknowledged")
    c.add(E.DECISION, actor=officer(JUNIOR), cosign=SENIOR)
    replay(c.leaves, registry=REGISTRY)
    c2 = Chain(key=JUNIOR, registry=REGISTRY).run("acknowledged")
    exc = refused(lambda: c2.add(E.DECISION, actor=officer(JUNIOR), cosign=SUPERVISOR_ONLY))
    assert exc.code == "ROLE_MISSING"


def test_check_step_authority_reads_only_the_leaf():
    c = decided()
    built = forced_offer(c, "50.00", cosign=SENIOR)
    env = built.envelope
    check_step_authority(REGISTRY, env.type, env.actor.role, env.public, env.at,
                         "stuck_transaction")  # fmt: skip
    with pytest.raises(ComplaintError) as exc:
        check_step_authority(REGISTRY, env.type, env.actor.role, env.public, env.at,
                             "refund_or_claim")  # fmt: skip
    assert exc.value.code == "CATEGORY_NOT_ALLOWED"
    # The limits apply at the key's whole validity: the revoked key's revocation still wins.
    left = Chain(key=LEFT, registry=REGISTRY).run("acknowledged")
    assert refused(lambda: left.add(E.DECISION, actor=officer(LEFT))).code == "KEY_REVOKED"
