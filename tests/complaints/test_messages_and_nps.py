"""Customer messages (message_sent), the Net Promoter Score (nps_given), the customer's contact
and the named responsible person: every field rule, every state rule and its code, the clocks
they leave alone, and the verifier's check of a message's text against its hash."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from ledger.complaints.deadlines import ClockName, ClockStatus, due_report
from ledger.complaints.errors import PayloadError, TransitionError
from ledger.complaints.events import Actor
from ledger.complaints.payloads import (
    check_consistency,
    message_text_sha256,
    validate_body,
    validate_event,
    validate_new_step,
    validate_public,
)
from ledger.complaints.states import (
    TRACE_EVENTS,
    TRANSITIONS,
    ChainEntry,
    ComplaintState,
    allowed_events,
    apply,
    replay,
)
from ledger.complaints.vocab import (
    RATEABLE_EVENTS,
    Category,
    Channel,
    DeliveryChannel,
    DeliveryOutcome,
    EventType,
    Language,
    Role,
    Status,
)
from ledger.complaints.workflow import start_complaint
from ledger.log.note import Signer
from ledger.verify.complaint import verify_complaint_proof
from ledger.verify.trail import Disclosure, verify_complaint
from tests.support.complaint_chain import CUSTOMER, DISPATCHER, LOG, Chain
from tests.support.proof_scenarios import MESSAGE_BREAKS, SCENARIOS

E, S = EventType, Status
TEXT = "Dear Ana Silva,\n\nWe have received your complaint — 谢谢. Ačiū! 😊"
MESSAGE = {
    "state": "acknowledged",
    "channel": "email",
    "template": "acknowledgement",
    "language": "en",
    "for_seq": 1,
    "text_sha256": hashlib.sha256(TEXT.encode("utf-8")).hexdigest(),
    "outcome": "delivered",
    "message_id": "msg_" + "0123456789abcdef" * 2,
    "attempts": 1,
}
BODY = {"to": "ana@example.org", "subject": "We have your complaint", "text": TEXT}


def code_of(fn, *args) -> str:
    with pytest.raises((PayloadError, TransitionError)) as exc:
        fn(*args)
    return exc.value.code


def state(status: Status = S.CLOSED, **changes) -> ComplaintState:
    """A complaint of three steps (received, acknowledged, closed) in ``status``."""
    events = (
        ChainEntry("aa" * 32, E.RECEIVED),
        ChainEntry("bb" * 32, E.ACKNOWLEDGED),
        ChainEntry("cc" * 32, E.CLOSED),
    )
    return ComplaintState(
        status=status,
        category=Category.SYNC_FAULT,
        channel=Channel.EMAIL,
        language=Language.EN,
        jurisdiction="EU-PSD2",
        events=events,
        **changes,
    )


# --- vocabulary ---------------------------------------------------------------------------------


def test_the_new_vocabulary() -> None:
    assert E.MESSAGE_SENT == "message_sent" and E.NPS_GIVEN == "nps_given"
    assert [c.value for c in DeliveryChannel] == ["email", "webhook"]
    assert [o.value for o in DeliveryOutcome] == ["delivered", "failed"]
    # Neither is an interaction of the firm a customer rates: a message delivers a step's
    # letter (the step is rated), a score is the customer's own answer.
    assert E.MESSAGE_SENT not in RATEABLE_EVENTS and E.NPS_GIVEN not in RATEABLE_EVENTS
    # The dispatcher records a message once it left; nobody chooses it as a next step.
    assert E.MESSAGE_SENT in TRACE_EVENTS and E.NPS_GIVEN not in TRACE_EVENTS


# --- message_sent: fields -----------------------------------------------------------------------


def test_a_message_record_is_valid() -> None:
    validate_event(E.MESSAGE_SENT, MESSAGE, BODY)
    failed = {**MESSAGE, "outcome": "failed", "attempts": 8, "channel": "webhook"}
    validate_event(E.MESSAGE_SENT, failed, {**BODY, "to": "https://hooks.example.org/c"})
    # A template the log has not heard of yet is still a valid name.
    validate_public(E.MESSAGE_SENT, {**MESSAGE, "template": "payment_confirmation"})
    validate_public(E.MESSAGE_SENT, {**MESSAGE, "for_seq": 0})


@pytest.mark.parametrize(
    ("name", "value", "code"),
    [
        ("channel", "sms", "INVALID_FIELD"),
        ("template", "Decision", "INVALID_FIELD"),
        ("template", "a" * 65, "INVALID_FIELD"),
        ("template", "", "INVALID_FIELD"),
        ("language", "de", "INVALID_FIELD"),
        ("for_seq", -1, "INVALID_FIELD"),
        ("for_seq", True, "INVALID_FIELD"),
        ("for_seq", "1", "INVALID_FIELD"),
        ("text_sha256", "AB" * 32, "INVALID_FIELD"),
        ("text_sha256", "ab" * 31, "INVALID_FIELD"),
        ("outcome", "bounced", "INVALID_FIELD"),
        ("message_id", "msg_" + "0" * 31, "INVALID_FIELD"),
        ("message_id", "MSG_" + "0" * 32, "INVALID_FIELD"),
        ("message_id", "0" * 36, "INVALID_FIELD"),
        ("attempts", 0, "INVALID_FIELD"),
        ("attempts", 1.0, "INVALID_FIELD"),
        # Personal data and free text stay out of the leaf.
        ("to", "ana@example.org", "UNKNOWN_FIELD"),
        ("subject", "Hello", "UNKNOWN_FIELD"),
    ],
)
def test_message_public_fields(name, value, code) -> None:
    assert code_of(validate_public, E.MESSAGE_SENT, {**MESSAGE, name: value}) == code


@pytest.mark.parametrize("missing", sorted(set(MESSAGE) - {"state"}))
def test_every_message_field_is_required(missing) -> None:
    public = {k: v for k, v in MESSAGE.items() if k != missing}
    assert code_of(validate_public, E.MESSAGE_SENT, public) == "MISSING_FIELD"


@pytest.mark.parametrize("missing", ["to", "subject", "text"])
def test_the_message_body_holds_what_was_delivered(missing) -> None:
    body = {k: v for k, v in BODY.items() if k != missing}
    assert code_of(validate_body, E.MESSAGE_SENT, body) == "MISSING_FIELD"
    assert code_of(validate_body, E.MESSAGE_SENT, {**BODY, missing: "  "}) == "INVALID_FIELD"


def test_the_text_must_be_the_one_hashed() -> None:
    assert message_text_sha256(TEXT) == MESSAGE["text_sha256"]
    # The hash is of the UTF-8 bytes exactly as delivered: one changed character, an extra
    # newline, another normalisation of the same words: all refused.
    for other in (TEXT.replace("Ana", "Ann"), TEXT + "\n", TEXT.replace("\n", "\r\n")):
        body = {**BODY, "text": other}
        assert code_of(check_consistency, E.MESSAGE_SENT, MESSAGE, body) == "MESSAGE_TEXT_MISMATCH"
        assert code_of(validate_event, E.MESSAGE_SENT, MESSAGE, body) == "MESSAGE_TEXT_MISMATCH"
    check_consistency(E.MESSAGE_SENT, MESSAGE, BODY)
    # check_consistency on its own (as the verifiers call it after validate_body): no text.
    assert code_of(check_consistency, E.MESSAGE_SENT, MESSAGE, {}) == "MESSAGE_TEXT_MISMATCH"
    lone = {**BODY, "text": "\ud800"}  # no UTF-8 bytes exist for it: nothing was delivered
    assert code_of(check_consistency, E.MESSAGE_SENT, MESSAGE, lone) == "MESSAGE_TEXT_MISMATCH"


# --- nps_given: fields --------------------------------------------------------------------------


@pytest.mark.parametrize("score", range(11))
def test_every_score_from_0_to_10(score) -> None:
    validate_public(E.NPS_GIVEN, {"state": "closed", "nps": score})


@pytest.mark.parametrize("score", [-1, 11, 9.5, True, "9", None])
def test_other_scores_are_refused(score) -> None:
    assert code_of(validate_public, E.NPS_GIVEN, {"state": "closed", "nps": score}) == (
        "INVALID_FIELD"
    )
    assert code_of(validate_public, E.NPS_GIVEN, {"state": "closed"}) == "MISSING_FIELD"
    public = {"state": "closed", "nps": 9, "comment": "great"}
    assert code_of(validate_public, E.NPS_GIVEN, public) == "UNKNOWN_FIELD"


# --- the contact and the responsible person -------------------------------------------------------

CONTACT = {"name": "Ana Silva", "email": "ana@example.org", "consent": True, "channel": "email"}


def received_body(**contact) -> dict:
    return {"description": "Charged twice.", "contact": contact}


def test_a_contact_is_valid() -> None:
    validate_body(E.RECEIVED, received_body(**CONTACT))
    validate_body(E.RECEIVED, received_body(consent=False))  # no address: nothing is sent
    validate_body(E.RECEIVED, {"description": "No contact at all."})
    validate_body(E.RECEIVED, received_body(email="ana.silva+complaints@mail.example.org"))
    # Contacts filed before the consent rule (and their phone numbers) still verify.
    validate_body(E.RECEIVED, received_body(name="Ana", email="ana@example.org", phone="+351"))


@pytest.mark.parametrize(
    ("contact", "field"),
    [
        ({"email": "not-an-address"}, "body.contact.email"),
        ({"email": "ana@"}, "body.contact.email"),
        ({"email": "ana silva@example.org"}, "body.contact.email"),
        ({"email": "a" * 309 + "@example.org"}, "body.contact.email"),  # 321 characters
        ({"email": 42}, "body.contact.email"),
        ({"name": "x" * 201}, "body.contact.name"),
        ({"name": " "}, "body.contact.name"),
        ({"consent": "yes"}, "body.contact.consent"),
        ({"consent": 1}, "body.contact.consent"),
        ({"channel": "sms"}, "body.contact.channel"),
    ],
)
def test_a_bad_contact_is_refused(contact, field) -> None:
    with pytest.raises(PayloadError) as exc:
        validate_body(E.RECEIVED, received_body(**{"consent": True, **contact}))
    assert exc.value.code == "INVALID_FIELD" and exc.value.field == field


def test_an_address_of_320_characters_is_the_longest() -> None:
    local = "a" * 64
    domain = ".".join(["b" * 63] * 4)[: 320 - 65]
    domain = domain.rstrip(".") + "c" * (320 - 65 - len(domain.rstrip(".")))
    address = f"{local}@{domain}"
    assert len(address) == 320
    validate_body(E.RECEIVED, received_body(email=address, consent=True))
    with pytest.raises(PayloadError):
        validate_body(E.RECEIVED, received_body(email=address + "c", consent=True))


def test_a_contact_is_an_object() -> None:
    body = {"description": "x", "contact": "ana@example.org"}
    assert code_of(validate_body, E.RECEIVED, body) == "NOT_AN_OBJECT"


def test_a_new_contact_states_the_customers_consent() -> None:
    public = {"category": "sync_fault", "channel": "email", "language": "en",
              "jurisdiction": "EU-PSD2"}  # fmt: skip
    without = received_body(name="Ana", email="ana@example.org")
    with pytest.raises(PayloadError) as exc:
        validate_new_step(E.RECEIVED, public, without)
    assert (exc.value.code, exc.value.field) == ("MISSING_FIELD", "body.contact.consent")
    validate_new_step(E.RECEIVED, public, received_body(**CONTACT))
    validate_new_step(E.RECEIVED, public, {"description": "no contact"})
    validate_new_step(E.RECEIVED, public)  # the public fields alone, as before


def test_the_write_path_refuses_a_contact_without_consent() -> None:
    public = {"category": "sync_fault", "channel": "email", "language": "en",
              "jurisdiction": "EU-PSD2"}  # fmt: skip

    def file(body: dict):
        return start_complaint(log=LOG, at="2026-03-02T10:00:00Z", actor=CUSTOMER,
                               public=public, body=body)  # fmt: skip

    with pytest.raises(PayloadError) as exc:
        file(received_body(email="ana@example.org"))
    assert exc.value.code == "MISSING_FIELD"
    built, new_state = file(received_body(**CONTACT))
    assert replay([built.leaf]) == new_state


def test_the_responsible_person_is_named_in_the_acknowledgement() -> None:
    validate_body(E.ACKNOWLEDGED, {"responsible": "Rui Costa"})
    validate_body(E.ACKNOWLEDGED, {})
    for bad in ("", " ", "x" * 201, 7):
        assert code_of(validate_body, E.ACKNOWLEDGED, {"responsible": bad}) == "INVALID_FIELD"
    # A name is personal: never a public field.
    public = {"state": "acknowledged", "responsible": "Rui Costa"}
    assert code_of(validate_public, E.ACKNOWLEDGED, public) == "UNKNOWN_FIELD"


# --- message_sent: the state machine --------------------------------------------------------------


@pytest.mark.parametrize("status", list(Status))
def test_a_message_is_recorded_in_any_status_and_changes_nothing(status) -> None:
    before = state(status)
    after = apply(before, E.MESSAGE_SENT, Role.SYSTEM, {**MESSAGE, "state": str(status)})
    assert after == before  # the status and every other field as they were


@pytest.mark.parametrize("role", [r for r in Role if r != Role.SYSTEM])
def test_only_the_system_records_a_message(role) -> None:
    public = {**MESSAGE, "state": "closed"}
    assert code_of(apply, state(), E.MESSAGE_SENT, role, public) == "ROLE_NOT_ALLOWED"


def test_a_message_is_for_an_earlier_step() -> None:
    s = state()  # three steps: the message is seq 3
    for seq in (0, 1, 2):
        apply(s, E.MESSAGE_SENT, Role.SYSTEM, {**MESSAGE, "state": "closed", "for_seq": seq})
    for seq in (3, 4, 10**6):
        public = {**MESSAGE, "state": "closed", "for_seq": seq}
        assert code_of(apply, s, E.MESSAGE_SENT, Role.SYSTEM, public) == "MESSAGE_FOR_SEQ"


def test_a_message_is_never_offered_as_a_next_step() -> None:
    for status in Status:
        assert E.MESSAGE_SENT not in allowed_events(state(status), Role.SYSTEM)


# --- nps_given: the state machine ---------------------------------------------------------------


def test_a_score_is_given_once_the_complaint_is_closed() -> None:
    s = apply(state(), E.NPS_GIVEN, Role.CUSTOMER, {"nps": 10})
    assert s.nps_given and s.status == S.CLOSED
    assert dataclasses.replace(s, nps_given=False) == state()  # nothing else changes


@pytest.mark.parametrize("status", [s for s in Status if s != S.CLOSED])
def test_no_score_before_the_closure(status) -> None:
    public = {"nps": 7, "state": str(status)}
    assert code_of(apply, state(status), E.NPS_GIVEN, Role.CUSTOMER, public) == (
        "NPS_BEFORE_CLOSURE"
    )
    assert TRANSITIONS[E.NPS_GIVEN].refused == "NPS_BEFORE_CLOSURE"


@pytest.mark.parametrize("role", [r for r in Role if r != Role.CUSTOMER])
def test_only_the_customer_gives_a_score(role) -> None:
    assert code_of(apply, state(), E.NPS_GIVEN, role, {"nps": 9}) == "ROLE_NOT_ALLOWED"


def test_one_score_per_complaint_even_after_a_reopening() -> None:
    c = Chain(category="general_question")
    c.run("acknowledged", "decision", "closed")
    c.add("nps_given", public={"nps": 6})
    with pytest.raises(TransitionError) as exc:
        c.add("nps_given", public={"nps": 9})
    assert exc.value.code == "NPS_ALREADY_GIVEN"
    c.run("reopened", "decision", "closed")
    assert E.NPS_GIVEN not in allowed_events(c.state, Role.CUSTOMER)
    with pytest.raises(TransitionError) as exc:
        c.add("nps_given", public={"nps": 9})
    assert exc.value.code == "NPS_ALREADY_GIVEN"
    assert replay(c.leaves) == c.state and c.state.nps_given


def test_the_customer_is_offered_a_score_only_when_it_can_be_given() -> None:
    assert E.NPS_GIVEN in allowed_events(state(), Role.CUSTOMER)
    assert E.NPS_GIVEN not in allowed_events(state(nps_given=True), Role.CUSTOMER)
    assert E.NPS_GIVEN not in allowed_events(state(S.DECIDED), Role.CUSTOMER)
    assert E.NPS_GIVEN not in allowed_events(state(), Role.AGENT)


def test_neither_can_be_rated() -> None:
    c = Chain(category="general_question")
    c.run("acknowledged", "message_sent", "decision", "closed", "nps_given")
    message = next(i for i, b in enumerate(c.built) if b.envelope.type == E.MESSAGE_SENT)
    score = len(c.built) - 1
    for target in (message, score):
        with pytest.raises(TransitionError) as exc:
            c.add("rated", public={"csat": 5, "rates": target})
        assert exc.value.code == "RATING_TARGET"
    c.add("rated", public={"csat": 5, "rates": message - 1})  # the acknowledgement itself


# --- real chains: replay, the clocks, the verifiers -----------------------------------------------


def test_a_chain_with_messages_and_a_score_replays() -> None:
    c = Chain(category="general_question")
    c.run("acknowledged", "message_sent", "decision", "message_sent", "closed", "message_sent",
          "nps_given")  # fmt: skip
    assert c.state.status == S.CLOSED and c.state.nps_given
    assert replay(c.leaves, registry=c.registry) == c.state
    report = verify_complaint(
        c.envelopes,
        disclosures={b.leaf_hash.hex(): Disclosure(b.salt, b.body_jcs) for b in c.built},
        registry=c.registry,
    )
    assert len(report.opened) == len(c.built)


def test_a_message_does_not_answer_the_customer() -> None:
    """The first-response clock stops at the step that answers (the acknowledgement), not at
    a message: a letter about the receipt sent at once leaves the clock running."""
    start = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    c = Chain(category="general_question", start=start)
    receipt = {**MESSAGE, "state": "received", "for_seq": 0}
    c.add("message_sent", actor=DISPATCHER, public=receipt, body=BODY, after=timedelta(minutes=1))
    first = next(x for x in due_report(c.envelopes, start + timedelta(minutes=30)).clocks
                 if x.name == ClockName.FIRST_RESPONSE)  # fmt: skip
    assert first.status == ClockStatus.RUNNING and first.completed_at is None
    c.add("acknowledged", after=timedelta(minutes=10))
    first = next(x for x in due_report(c.envelopes, start + timedelta(hours=1)).clocks
                 if x.name == ClockName.FIRST_RESPONSE)  # fmt: skip
    assert first.status == ClockStatus.MET and first.completed_at == start + timedelta(minutes=11)


def test_a_score_does_not_reopen_or_move_the_clocks() -> None:
    start = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    c = Chain(category="general_question", start=start)
    c.run("acknowledged", "decision", "closed")
    now = start + timedelta(days=40)
    before = due_report(c.envelopes, now).clocks
    c.add("nps_given", actor=CUSTOMER, public={"nps": 2}, at=start + timedelta(days=39))
    assert due_report(c.envelopes, now).clocks == before


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer.generate("scenarios.ledger.example/log")


def _failures(report) -> list[tuple[str, str]]:
    return [(c.category, c.detail) for c in report.checks if not c.ok]


def test_the_proof_verifier_compares_each_text_with_its_hash(signer) -> None:
    vkey = str(signer.verifier())
    assert verify_complaint_proof(SCENARIOS["messages_and_nps"](signer), vkey).ok
    broken = verify_complaint_proof(SCENARIOS["message_text_differs_from_its_hash"](signer), vkey)
    [(category, detail)] = _failures(broken)
    assert category == "commitments" and detail.startswith("MESSAGE_TEXT_MISMATCH at event 7:")
    # Without the bodies (no secret) there is no text to compare: nothing to find.
    assert verify_complaint_proof(SCENARIOS["message_text_hash_without_bodies"](signer), vkey).ok


@pytest.mark.parametrize("name", sorted(MESSAGE_BREAKS))
def test_the_proof_verifier_breaks_where_the_rules_do(signer, name) -> None:
    seq, code, _ = MESSAGE_BREAKS[name]
    report = verify_complaint_proof(SCENARIOS[name](signer), str(signer.verifier()))
    [(category, detail)] = _failures(report)
    assert category == "rules" and detail.startswith(f"{code} at event {seq}:"), detail


def test_a_message_leaf_names_the_system_as_its_author() -> None:
    c = Chain(category="general_question")
    c.run("acknowledged", "message_sent")
    assert c.built[-1].envelope.actor == Actor(Role.SYSTEM, "dispatcher")
    assert c.built[-1].envelope.public["outcome"] == DeliveryOutcome.DELIVERED
