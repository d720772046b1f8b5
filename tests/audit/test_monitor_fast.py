"""The monitor's fast replay path gives the domain's verdicts: ``parse_leaf`` against
``events.parse_envelope`` on valid and mutated leaves, ``start_chain``/``step_chain`` against
``states.replay`` on valid chains and on chains that break each kind of rule."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from ledger.complaints.errors import ComplaintError
from ledger.complaints.events import Actor, bind_body, build_event, parse_envelope
from ledger.complaints.officers import OfficerRegistry
from ledger.complaints.reference import format_reference
from ledger.complaints.states import replay
from ledger.complaints.vocab import EventType, Role
from ledger.log.merkle import leaf_hash
from ledger.monitor import ChainState, parse_leaf, start_chain, step_chain


def _outcome(fn):
    try:
        return ("ok", fn())
    except ComplaintError as exc:
        return ("error", exc.code)


def _mutations(leaf: bytes):
    yield leaf
    for pos in (1, len(leaf) // 3, len(leaf) // 2, len(leaf) - 3):
        yield leaf[:pos] + bytes([leaf[pos] ^ 0x01]) + leaf[pos + 1 :]
    yield leaf.replace(b'"v":1', b'"v":1.0')
    yield leaf.replace(b'"v":1', b'"v":2')
    yield leaf.replace(b'"seq":', b'"seq": ')
    yield leaf.replace(b'"seq":1,', b'"seq":1e0,')
    yield leaf.replace(b'"seq":1,', b'"seq":9007199254740993,')
    yield leaf.replace(b'{"actor":', b'{"zactor":')
    yield leaf.replace(b'"state":"', b'"state":"\\u0061')
    yield leaf.replace(b'"customer"', '"customér"'.encode())
    yield leaf.replace(b'.000Z"', b'Z"')
    yield leaf.replace(b"T09:", b"T24:")
    yield leaf.replace(b"2026-03-", b"2026-02-3")
    yield leaf.replace(b'"prev":"', b'"prev":"A')
    yield leaf.replace(b'"log":"', b'"log":" ')


def test_parse_leaf_agrees_with_parse_envelope(ledger, march) -> None:
    size = ledger.store.latest_checkpoint().size
    leaves = ledger.store.entries(0, size)
    known = {v: None for v in march.values()}
    checked = 0
    for leaf in leaves:
        for data in dict.fromkeys(_mutations(leaf)):
            lh = leaf_hash(data)
            assert _outcome(lambda d=data, h=lh: parse_leaf(d, h, known)) == _outcome(
                lambda d=data: parse_envelope(d)
            ), data
            checked += 1
    assert checked > 500


def _fast_replay(envelopes, registry):
    state = None
    for i, env in enumerate(envelopes):
        try:
            if state is None:
                if env.type != "received":
                    from ledger.complaints.errors import ChainError

                    raise ChainError("starts with received", "CHAIN_START")
                state = start_chain(env, format_reference(env.leaf_hash))
            else:
                state = step_chain(state, env, registry)
        except ComplaintError as exc:
            raise exc.at_index(i) from None
    return state


def _same_state(fast: ChainState, domain) -> None:
    import dataclasses

    from ledger.complaints.states import CHAIN_FIELDS

    names = [f.name for f in dataclasses.fields(domain) if f.name not in CHAIN_FIELDS]
    for name in [*names, "log", "reference", "seq", "head"]:
        assert getattr(fast, name) == getattr(domain, name), name
    assert list(fast.events.items()) == [(e.leaf_hash, e.type) for e in domain.events]


def _chains(ledger):
    size = ledger.store.latest_checkpoint().size
    envs = [parse_envelope(e) for e in ledger.store.entries(0, size)]
    registry = OfficerRegistry.fold(e for e in envs if e.type.startswith("officer_key"))
    chains: dict[str, list] = {}
    for e in envs:
        if e.type.startswith("officer_key"):
            continue
        ref = e.complaint or format_reference(e.leaf_hash)
        chains.setdefault(ref, []).append(e)
    return registry, chains


def test_fast_replay_of_valid_chains_equals_states_replay(ledger, march) -> None:
    registry, chains = _chains(ledger)
    assert len(chains) == 7
    for events in chains.values():
        _same_state(_fast_replay(events, registry), replay(events, registry=registry))
        # Saved and loaded state files keep the same state.
        state = _fast_replay(events, registry)
        assert ChainState.from_json(state.to_json()) == state


def _next(state, env_type, public, *, role=Role.AGENT, actor_id="agent-1", at=None, seq=None,
          prev=None, body=None, registry=None):  # fmt: skip
    """A leaf for the next event of ``state``, built without consulting the state machine."""
    body = body or {}
    return build_event(
        log=state.log,
        complaint=state.reference,
        seq=state.seq + 1 if seq is None else seq,
        prev=state.head if prev is None else prev,
        type=env_type,
        at=at or (datetime.fromisoformat(state.last_at.replace("Z", "+00:00"))
                  + timedelta(minutes=1)),
        actor=Actor(role, actor_id),
        public=public,
        body=body,
    ).envelope  # fmt: skip


BROKEN = {
    "not acknowledged yet": ("info_requested", {"state": "investigating"},
                             {"body": {"request": "more?"}}),
    "wrong role": ("acknowledged", {"state": "acknowledged"}, {"role": Role.CUSTOMER,
                                                                "actor_id": "customer"}),
    "state mismatch": ("acknowledged", {"state": "closed"}, {}),
    "bad seq": ("acknowledged", {"state": "acknowledged"}, {"seq": 5}),
    "broken prev": ("acknowledged", {"state": "acknowledged"}, {"prev": "00" * 32}),
    "time backwards": ("acknowledged", {"state": "acknowledged"},
                       {"at": datetime(2020, 1, 1, tzinfo=UTC)}),
    "escalate down": ("escalated", {"state": "received", "level": "agent"}, {}),
    "erase unknown": ("erased", {"state": "received", "erases": "ab" * 32,
                                  "basis": "gdpr_art17"}, {"role": Role.ADMIN}),
    "withdraw by admin": ("withdrawn", {"state": "withdrawn"}, {"role": Role.ADMIN}),
    "rate the received": ("rated", {"state": "received", "csat": 1, "rates": 0},
                          {"role": Role.CUSTOMER, "actor_id": "customer"}),
    "rate a later step": ("rated", {"state": "received", "csat": 1, "rates": 2},
                          {"role": Role.CUSTOMER, "actor_id": "customer"}),
    # D is a sync fault: its playbook is sync_diagnosed, resync_performed, balance_confirmed.
    "playbook out of order": ("playbook_step", {"state": "received",
                                                "step": "resync_performed"}, {}),
    "customer records a staff step": ("playbook_step", {"state": "received",
                                                        "step": "sync_diagnosed"},
                                      {"role": Role.CUSTOMER, "actor_id": "customer"}),
    "target on a timed category": ("target_set", {"state": "received", "target_minutes": 60,
                                                  "limit_minutes": 120}, {}),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_chains_fail_the_same_way(ledger, march, case) -> None:
    registry, chains = _chains(ledger)
    received = chains[march["D"]][0]  # D's received event, then a step that breaks a rule
    start = replay([received])
    env_type, public, kw = BROKEN[case]
    bad = _next(start, env_type, public, **kw)
    domain = _outcome(lambda: replay([received, bad], registry=registry))
    fast = _outcome(lambda: _fast_replay([received, bad], registry))
    assert domain[0] == "error"
    assert fast == domain


def test_signed_events_need_an_authorised_key(ledger, march) -> None:
    registry, chains = _chains(ledger)
    events = chains[march["D"]]  # received, acknowledged
    state = replay(events, registry=registry)
    decision = {"outcome": "rejected", "finding": "x", "rules": ["R1"], "evidence": [],
                "root_cause": "policy"}  # fmt: skip
    body = bind_body(decision, log=state.log, complaint=state.reference, prev=state.head,
                     event_type="decision")  # fmt: skip
    unknown = "0" * 32
    public = {"state": "decided", "outcome": "rejected", "root_cause": "policy",
              "rules": ["R1"], "evidence": [], "signature": {"key_id": unknown,
                                                             "sig": "00" * 64}}  # fmt: skip
    bad = _next(state, "decision", public, role=Role.OFFICER, actor_id=unknown, body=body)
    domain = _outcome(lambda: replay([*events, bad], registry=registry))
    assert domain == ("error", "KEY_UNKNOWN")
    assert _outcome(lambda: _fast_replay([*events, bad], registry)) == domain


def _limited_cases():
    """(name, chain, forced last leaf or None) for every refusal of officer limits and dual
    control, and the valid dual-signed offer and payment (tests/support/officer_limits.py)."""
    from ledger.complaints.vocab import Status
    from tests.support.complaint_chain import make_key
    from tests.support.officer_limits import (
        JUNIOR,
        LEFT,
        SENIOR,
        SMALL,
        SUPERVISOR_ONLY,
        decided,
        forced,
        forced_offer,
        money,
        offer,
    )

    yield "over_limit", (c := decided()), forced_offer(c, "100.01", cosign=SENIOR)
    yield "unit_not_allowed", (c := decided()), forced_offer(c, "5.00", "GBP")
    hidden = {"method": "on_chain"}
    yield "amount_not_public", (c := decided()), forced_offer(c, "5", "USDC", public=hidden)
    yield "cosignature_required", (c := decided()), forced_offer(c, "20.01")
    yield "cosigner_same_key", (c := decided()), forced_offer(c, "50.00", cosign=JUNIOR)
    cosigners = {
        "cosigner_role": SUPERVISOR_ONLY,
        "cosigner_over_limit": SMALL,
        "cosigner_revoked": LEFT,
        "cosigner_unknown": make_key("nobody"),
    }
    for name, key in cosigners.items():
        yield name, (c := decided()), forced_offer(c, "50.00", cosign=key)
    c = decided(SENIOR, category="refund_or_claim")
    c.key = JUNIOR
    yield "category_not_allowed", c, forced_offer(c, "5.00")
    c = decided()
    offer(c, "80.00", cosign=SENIOR)
    c.run("compensation_accepted")
    paid = {**money("80.00"), "payment_reference": "CR-80"}
    yield "dual_signed", c, forced(c, EventType.COMPENSATION_PAID, Status.COMPENSATION_PAID,
                                   paid, money("80.00"), cosign=SENIOR)  # fmt: skip


def test_officer_limits_and_dual_control_give_the_domains_verdicts() -> None:
    """``step_chain`` refuses over-limit, wrong-unit, wrong-category and single-signed steps
    above the threshold, and bad co-signers, with the domain's codes; accepts the rest."""
    from tests.support.officer_limits import REGISTRY

    verdicts = {}
    for name, chain, last in _limited_cases():
        events = [*chain.envelopes, last.envelope]
        domain = _outcome(lambda e=events: replay(e, registry=REGISTRY))
        fast = _outcome(lambda e=events: _fast_replay(e, REGISTRY))
        assert fast[0] == domain[0] and (fast[0] == "ok" or fast == domain), name
        if fast[0] == "ok":
            _same_state(fast[1], domain[1])
        verdicts[name] = domain[1] if domain[0] == "error" else "ok"
    assert verdicts == {
        "over_limit": "OVER_LIMIT",
        "unit_not_allowed": "UNIT_NOT_ALLOWED",
        "amount_not_public": "AMOUNT_NOT_PUBLIC",
        "cosignature_required": "COSIGNATURE_REQUIRED",
        "cosigner_same_key": "COSIGNER_SAME_KEY",
        "cosigner_role": "ROLE_MISSING",
        "cosigner_over_limit": "OVER_LIMIT",
        "cosigner_revoked": "KEY_REVOKED",
        "cosigner_unknown": "KEY_UNKNOWN",
        "category_not_allowed": "CATEGORY_NOT_ALLOWED",
        "dual_signed": "ok",
    }


def test_remembered_public_verdicts_keep_types_apart() -> None:
    from ledger.monitor import _validate_public

    _validate_public(EventType.RATED, {"csat": 1, "rates": 2, "state": "closed"})  # remembered
    for bad in (True, 1.0):
        with pytest.raises(ComplaintError):
            _validate_public(EventType.RATED, {"csat": bad, "rates": 2, "state": "closed"})
    _validate_public(EventType.RATED, {"csat": 1, "rates": 1, "state": "closed"})
    for bad in (True, 1.0):
        with pytest.raises(ComplaintError):
            _validate_public(EventType.RATED, {"csat": 1, "rates": bad, "state": "closed"})
    with pytest.raises(ComplaintError):  # nested values are checked every time
        _validate_public(EventType.ESCALATED, {"level": ["specialist"], "state": "received"})


def test_a_second_rating_of_a_step_fails_the_same_way(ledger, march) -> None:
    """A's chain ends with a rating of its decision: rating it again, with any score, is
    refused by both replays; rating its closure instead is accepted by both, same state."""
    registry, chains = _chains(ledger)
    events = chains[march["A"]]
    state = replay(events, registry=registry)
    rated = events[-1].public["rates"]
    assert events[-1].type == "rated" and state.rated == {rated}
    customer = {"role": Role.CUSTOMER, "actor_id": "customer"}
    for csat in (1, 5):
        again = _next(state, "rated", {"state": "closed", "csat": csat, "rates": rated},
                      **customer)  # fmt: skip
        domain = _outcome(lambda a=again: replay([*events, a], registry=registry))
        assert domain == ("error", "RATING_DUPLICATE")
        assert _outcome(lambda a=again: _fast_replay([*events, a], registry)) == domain
    closed = max(i for i, e in enumerate(events) if e.type == "closed")
    other = _next(state, "rated", {"state": "closed", "csat": 1, "rates": closed}, **customer)
    fast = _fast_replay([*events, other], registry)
    _same_state(fast, replay([*events, other], registry=registry))
    assert fast.rated == {rated, closed} and fast.ratings == (5, 1)


def test_chain_state_is_the_domains_fields_and_survives_the_state_file() -> None:
    """``ChainState`` has ``ComplaintState``'s own fields (no copy to drift), each saved and
    loaded exactly; a state saved before a field existed loads with its default."""
    import dataclasses
    from decimal import Decimal

    from ledger.complaints import states
    from ledger.complaints.payloads import Money

    case = [f.name for f in dataclasses.fields(states.ComplaintState)
            if f.name not in states.CHAIN_FIELDS]  # fmt: skip
    assert [f.name for f in dataclasses.fields(ChainState)][: len(case)] == case
    from ledger.complaints.vocab import (
        Category,
        Channel,
        EscalationLevel,
        Language,
        Outcome,
        Specialism,
        Status,
    )  # fmt: skip

    full = ChainState(
        status=Status.COMPENSATION_PAID, category=Category.SYNC_FAULT, channel=Channel.EMAIL,
        language=Language.EN, jurisdiction="EU-PSD2", level=EscalationLevel.SPECIALIST,
        specialism=Specialism.TECHNICAL, info_pending=True, holding_reply_sent=True,
        outcome=Outcome.UPHELD, offer=Money(Decimal("5.00"), "EUR", False),
        payments=(Money(Decimal("1"), "USDC", True),), reopen_count=1, ratings=(4, 2),
        rated=frozenset({3, 7}), erased=frozenset({"ab" * 32, "cd" * 32}), log="l",
        reference="CMP-X", seq=8, head="ef" * 32, last_at="2026-03-02T09:00:00.000Z",
        events={"ab" * 32: EventType.RECEIVED},
    )  # fmt: skip
    data = json.loads(json.dumps(full.to_json()))
    back = ChainState.from_json(data)
    assert back == full
    for name in case:
        assert getattr(back, name) == getattr(full, name), name
        assert type(getattr(back, name)) is type(getattr(full, name)), name
    del data["rated"]  # a state file from before ratings named their step
    assert ChainState.from_json(data).rated == frozenset()


def test_public_verdicts_from_leaf_bytes_are_exact(ledger, march) -> None:
    size = ledger.store.latest_checkpoint().size
    known = {v: None for v in march.values()}
    for leaf in ledger.store.entries(0, size):
        if b'"public":{}' in leaf:
            continue
        for data in (
            leaf.replace(b'"public":{', b'"public":{"public":1,'),
            leaf.replace(b'"public":{', b'"public":{"a":{"public":{}},'),
            leaf.replace(b'"actor":{', b'"actor":{"public":{},'),
            leaf.replace(b'"state":"', b'"state": "'),
        ):
            lh = leaf_hash(data)
            assert _outcome(lambda d=data, h=lh: parse_leaf(d, h, known)) == _outcome(
                lambda d=data: parse_envelope(d)
            ), data


def test_authority_in_milliseconds_gives_the_domains_verdict() -> None:
    """``chains._check_authority`` (ms comparisons, remembered bounds) against
    ``officers.check_authority`` at and around every bound of keys with and without an end,
    including bounds with sub-millisecond digits."""
    from types import SimpleNamespace

    from ledger.complaints.officers import OfficerKey, check_authority
    from ledger.complaints.timestamps import format_timestamp
    from ledger.complaints.vocab import RevocationReason
    from ledger.monitor.chains import _check_authority

    ms = timedelta(milliseconds=1)
    t = datetime(2026, 3, 2, 9, 0, 0, 250_000, tzinfo=UTC)
    keys = {
        "open": OfficerKey("open", b"k", frozenset({Role.OFFICER}), t, None, t, b"r"),
        "later-registration": OfficerKey(
            "later-registration", b"k", frozenset({Role.OFFICER}), t, None, t + 5 * ms, b"r"
        ),
        "expires": OfficerKey(
            "expires", b"k", frozenset({Role.OFFICER}), t, t + 10 * ms, t, b"r"
        ),
        "revoked": OfficerKey(
            "revoked", b"k", frozenset({Role.OFFICER, Role.ADMIN}), t, t + 20 * ms, t, b"r",
            revoked_at=t + 7 * ms, revocation_reason=RevocationReason.COMPROMISED,
        ),
        "sub-ms": OfficerKey(
            "sub-ms", b"k", frozenset({Role.OFFICER}), t + timedelta(microseconds=400),
            t + timedelta(microseconds=9_600), t, b"r",
        ),
    }  # fmt: skip
    registry = OfficerRegistry(keys)
    seen = set()
    for key_id in [*keys, "unknown"]:
        for step in range(-3, 25):
            at = format_timestamp(t + step * ms)
            for role in (Role.OFFICER, Role.ADMIN, "officer"):
                env = SimpleNamespace(at=at)
                expected = _outcome(lambda k=key_id, r=role, a=at: check_authority(
                    registry, k, r, a))  # fmt: skip
                got = _outcome(lambda k=key_id, r=role, e=env: _check_authority(
                    registry, k, r, e))  # fmt: skip
                assert got == expected, (key_id, at, role)
                seen.add(got[1] if got[0] == "error" else "ok")
    assert seen == {"ok", "KEY_UNKNOWN", "KEY_NOT_YET_VALID", "KEY_EXPIRED", "KEY_REVOKED",
                    "ROLE_MISSING"}  # fmt: skip


def test_leaf_times_in_milliseconds_agree_with_the_domain() -> None:
    """``leaves._at_ms`` (remembered hours) accepts what ``parse_timestamp`` accepts, with the
    same instant, and refuses the rest; it also refuses a trailing newline, which the domain's
    pattern lets through (the leaf then goes to ``parse_envelope``: refusing is always safe)."""
    import random

    from ledger.complaints.figures import to_ms
    from ledger.complaints.timestamps import parse_timestamp
    from ledger.monitor.leaves import _at_ms

    rng = random.Random(5)
    texts = ["2026-03-02T09:00:00Z", "2024-02-29T23:59:59.999Z", "2025-02-29T10:00:00Z",
             "2026-03-02T24:00:00Z", "2026-03-02T09:60:00Z", "2026-03-02T09:00:60Z",
             "2026-13-02T09:00:00Z", "2026-03-02T09:00:00.5Z", "2026-03-02 09:00:00Z",
             "2026-03-02T09:00:00+00:00", "2026-03-02T09:00:00.000Z\n",
             "0001-01-01T00:00:00Z"]  # fmt: skip
    for _ in range(3000):
        texts.append(
            f"{rng.choice(['2025', '2026', '2028', '1999'])}-{rng.randint(0, 13):02d}-"
            f"{rng.randint(0, 32):02d}T{rng.randint(0, 25):02d}:{rng.randint(0, 61):02d}:"
            f"{rng.randint(0, 61):02d}{rng.choice(['Z', '.000Z', f'.{rng.randint(0, 999):03d}Z'])}"
        )
    accepted = 0
    for text in texts:
        try:
            expected = to_ms(parse_timestamp(text))
        except ValueError:
            expected = None
        try:
            got = _at_ms(text)
        except Exception:
            got = None
        if text.endswith("\n"):
            expected = None
        assert got == expected, text
        accepted += got is not None
    assert 0 < accepted < len(texts)


def test_signed_publics_share_verdicts_only_through_their_signatures(ledger, march) -> None:
    """A signed event's remembered verdict (its ``public`` less the signature) is never given
    to a leaf whose ``public`` differs elsewhere, and its signature is checked every time:
    re-encoded variants of each signed leaf get ``parse_envelope``'s verdict."""
    import rfc8785

    from ledger.complaints.events import parse_envelope
    from ledger.complaints.vocab import SIGNED_EVENTS

    size = ledger.store.latest_checkpoint().size
    signed = [leaf for leaf in ledger.store.entries(0, size)
              if parse_envelope(leaf).type in SIGNED_EVENTS]  # fmt: skip
    assert len(signed) >= 3
    known = {v: None for v in march.values()}

    def variants(obj):
        public = obj["public"]
        sig = public["signature"]
        yield {**public, "signature": {**sig, "sig": "AB" * 64}}
        yield {**public, "signature": {**sig, "sig": sig["sig"][:-2]}}
        yield {**public, "signature": {**sig, "extra": 1}}
        yield {**public, "signature": {"key_id": sig["key_id"]}}
        yield {**public, "signature": {**sig, "sig": "0" * 128}}  # valid form: shares the verdict
        yield {**public, "signature": "not an object"}
        yield {**public, "signature": {**sig, "signature": {**sig}}}
        yield {k: v for k, v in public.items() if k != "signature"}
        yield {**public, "zz": {"signature": sig}}
        yield {**public, "state": "closed", "signature": {**sig, "sig": "1" * 128}}
        yield {**public, "a": 1, "signature": {**sig, "sig": "2" * 128}}

    outcomes = set()
    for leaf in signed:
        parse_leaf(leaf, leaf_hash(leaf), known)  # its verdict is remembered
        obj = json.loads(leaf)
        for public in variants(obj):
            data = rfc8785.dumps({**obj, "public": public})
            expected = _outcome(lambda d=data: parse_envelope(d))
            assert _outcome(lambda d=data: parse_leaf(d, leaf_hash(d), known)) == expected, data
            outcomes.add(expected[0])
    assert outcomes == {"ok", "error"}


def test_assignments_give_the_domains_verdicts(ledger, march) -> None:
    """Claims, assignments and reassignments: both replays accept the same steps with the same
    owner, and refuse the same broken ones for the same reason (a claim that looks like an
    accepted one but names another owner included: nothing about it is remembered)."""
    registry, chains = _chains(ledger)
    received = chains[march["D"]][0]
    start = replay([received])
    name = {"body": {"owner_name": "Ana Silva"}}
    claim = _next(start, "assigned", {"state": "received", "owner": "agent-1", "how": "claim"},
                  **name)  # fmt: skip
    events = [received, claim]
    state = replay(events, registry=registry)
    assert state.owner == "agent-1"
    _same_state(_fast_replay(events, registry), state)
    supervisor = {"role": Role.SUPERVISOR, "actor_id": "sup-1", **name}
    cases = {
        "ALREADY_OWNED": _next(state, "assigned", {"state": "received", "owner": "agent-2",
                                                    "how": "claim"}, actor_id="agent-2", **name),
        "SAME_OWNER": _next(state, "assigned", {"state": "received", "owner": "agent-1",
                                                 "how": "reassign"}, **supervisor),
        "ROLE_NOT_ALLOWED": _next(state, "assigned", {"state": "received", "owner": "agent-2",
                                                       "how": "reassign"}, **name),
    }  # fmt: skip
    for code, bad in cases.items():
        domain = _outcome(lambda b=bad: replay([*events, b], registry=registry))
        assert domain == ("error", code)
        assert _outcome(lambda b=bad: _fast_replay([*events, b], registry)) == domain
    other = _next(start, "assigned", {"state": "received", "owner": "agent-2", "how": "claim"},
                  **name)  # fmt: skip
    domain = _outcome(lambda: replay([received, other], registry=registry))
    assert domain == ("error", "CLAIM_FOR_ANOTHER")
    assert _outcome(lambda: _fast_replay([received, other], registry)) == domain
    reassigned = _next(state, "assigned", {"state": "received", "owner": "agent-2",
                                           "how": "reassign"}, **supervisor)  # fmt: skip
    fast = _fast_replay([*events, reassigned], registry)
    _same_state(fast, replay([*events, reassigned], registry=registry))
    assert fast.owner == "agent-2"


def _decision_after(*between: str):
    """A decision signed at the acknowledgement's head, appended after ``between`` steps; its
    leaf is built past the write path's check (the chain-aware context rule) either way."""
    from ledger.complaints.officers import signature_field
    from ledger.complaints.workflow import signing_body
    from tests.support.complaint_chain import OFFICER, OFFICER_KEY, Chain, default_step

    c = Chain().run("acknowledged")
    _, public, content = default_step(c.state, EventType.DECISION)
    body = signing_body(c.state, EventType.DECISION, content)
    public = {**public, "state": "decided", "signature": signature_field(OFFICER_KEY, body)}
    c.run(*between)
    decision = build_event(
        log=c.state.log,
        complaint=c.state.reference,
        seq=c.state.next_seq,
        prev=c.state.head,
        type="decision",
        at=c.clock + timedelta(minutes=5),
        actor=OFFICER,
        public=public,
        body=body,
        heads={body["context"]["prev"]},
    )
    return [*c.built, decision]


@pytest.mark.parametrize("between", [("message_sent", "message_sent"), ("note_added",)])
def test_a_decision_signed_before_letters_gets_the_domains_verdict(between) -> None:
    """The monitor replays leaves: a decision signed before letters were recorded is a valid
    chain to it, as to ``states.replay``. The signing context is in the (erasable) body, so a
    context from before another step is refused where the body is disclosed: by the trail
    verifier (and the proof verifiers on it), which the monitor never sees."""
    from ledger.verify.trail import Disclosure, verify_complaint
    from tests.support.complaint_chain import REGISTRY

    built = _decision_after(*between)
    events = [b.envelope for b in built]
    domain = _outcome(lambda: replay(events, registry=REGISTRY))
    fast = _outcome(lambda: _fast_replay(events, REGISTRY))
    assert domain[0] == fast[0] == "ok"
    _same_state(fast[1], domain[1])
    disclosures = {b.envelope.leaf_hash_hex: Disclosure(b.salt, b.body_jcs) for b in built}
    verify = _outcome(lambda: verify_complaint(events, disclosures=disclosures, registry=REGISTRY))
    expected = "ok" if between[0] == "message_sent" else "CONTEXT_MISMATCH"
    assert (verify[0] if verify[0] == "ok" else verify[1]) == expected
