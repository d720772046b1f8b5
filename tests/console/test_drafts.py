"""Decision drafts and officers' signatures through the console's pages (Flask test client):
a decision drafted, reviewed and signed; an offer above a key's dual-control threshold held
for a second officer's co-signature; wrong, foreign and malformed signatures refused with
nothing written; a signed draft going stale when the chain head moves (also when it moves
while the step is recorded), and prepared again. SQLite, or PostgreSQL with
LEDGER_DATABASE_URL."""

from __future__ import annotations

import re

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.casework.appends import ChainConflict
from ledger.casework.drafts import DraftError, DraftStatus
from ledger.casework.key_holders import link_statement
from ledger.complaints.errors import AuthorityError
from ledger.complaints.events import Actor
from ledger.complaints.officers import verify_event_signature
from ledger.complaints.vocab import Role
from ledger.verify.complaint import verify_complaint_proof
from tests.support.letters import record_letter
from tests.support.signing import (
    DECISION,
    JUNIOR_LIMITS,
    OFFER,
    SENIOR_LIMITS,
    Officer,
    decision_ready,
    link_key,
    officer,
    register_key,
    staff_member,
)

DRAFT_URL = re.compile(r"/console/complaints/[^/]+/drafts/([0-9a-f]{32})$")


def browser(app, member: Officer):
    """A test client signed in to the console as ``member``."""
    client = app.test_client()
    client.set_cookie("console_session", member.session_id, path="/console")
    return client


def log_size(ledger) -> int:
    return ledger.store.latest_checkpoint().size


def sign_form(member: Officer, draft, key: Ed25519PrivateKey | None = None) -> dict:
    """The sign form as signing.js sends it: the key id, the signature, the body's digest."""
    key = key or member.key
    sig = key.sign(draft.body_jcs.encode("utf-8")).hex()
    return {
        "csrf_token": member.csrf_token,
        "key_id": member.key_id,
        "sig": sig,
        "body_sha256": draft.body_sha256,
    }


def draft_page(client, ref: str, draft_id: str) -> str:
    resp = client.get(f"/console/complaints/{ref}/drafts/{draft_id}")
    assert resp.status_code == 200, resp.get_data(as_text=True)[:2000]
    return resp.get_data(as_text=True)


def post(client, ref: str, draft_id: str, action: str, data: dict):
    return client.post(f"/console/complaints/{ref}/drafts/{draft_id}/{action}", data=data)


@pytest.fixture
def ref(ledger) -> str:
    return decision_ready(ledger)


def test_a_decision_is_drafted_reviewed_signed_and_recorded(app, ledger, ref) -> None:
    agent = staff_member(ledger, "Rui Costa", ["agent"])
    olga = officer(ledger, "Olga Officer")
    page = browser(app, agent).get(f"/console/complaints/{ref}/draft").get_data(as_text=True)
    evidence = re.search(r'name="evidence" value="([0-9a-f]{64})"', page).group(1)
    form = {
        "csrf_token": agent.csrf_token,
        "type": "decision",
        "outcome": "partially_upheld",
        "root_cause": "product_defect",
        "finding": "Our fee estimator held the withdrawal.",
        "rules": "PSD2 Art. 89\nWithdrawal SLA 4.2",
        "evidence": evidence,
        "remedy": "We refund the network fee.",
        "offer_amount": "15.00",
        "offer_unit": "currency:EUR",
        "offer_method": "bank_transfer",
        "offer_kind": "fee_refund",
    }
    resp = browser(app, agent).post(f"/console/complaints/{ref}/drafts", data=form)
    assert resp.status_code == 303
    draft_id = DRAFT_URL.search(resp.headers["Location"]).group(1)
    before = log_size(ledger)

    # The officer's review: the decision in words and the exact bytes, with their digest.
    officer_browser = browser(app, olga)
    page = draft_page(officer_browser, ref, draft_id)
    draft = ledger.drafts.get(draft_id)
    assert (
        draft.status == DraftStatus.DRAFTED
        and draft.prev == ledger.complaints.reads.state(ref).head
    )
    assert "Our fee estimator held the withdrawal." in page
    assert "PSD2 Art. 89; Withdrawal SLA 4.2" in page and "step 2" in page
    assert draft.body_sha256 in page and 'data-testid="sign-button"' in page
    assert draft.body["evidence"] == [evidence] and draft.body["context"]["prev"] == draft.prev
    assert log_size(ledger) == before  # reviewing writes nothing to the log

    resp = post(officer_browser, ref, draft_id, "sign", sign_form(olga, draft))
    assert resp.status_code == 303 and "done=recorded" in resp.headers["Location"]
    recorded = ledger.drafts.get(draft_id)
    assert recorded.status == DraftStatus.RECORDED
    last = ledger.complaints.reads.events(ref)[-1]
    assert last.envelope.type == "decision"
    assert last.envelope.leaf_hash_hex == recorded.recorded_leaf_hash
    assert last.envelope.actor == Actor(Role.OFFICER, olga.key_id)
    assert last.body_jcs.decode("utf-8") == draft.body_jcs  # the bytes signed, as recorded
    verify_event_signature(ledger.officer_keys.registry(), last.envelope, draft.body)
    # The offer the decision named is the next draft to sign.
    offer = ledger.drafts.for_complaint(ref)[-1]
    assert (offer.type, offer.status) == ("compensation_offered", DraftStatus.DRAFTED)
    assert offer.content == {
        "amount": "15.00",
        "currency": "EUR",
        "kind": "fee_refund",
        "method": "bank_transfer",
    }
    report = verify_complaint_proof(
        officer_browser.get(f"/v1/complaints/{ref}/proof").get_json(), str(ledger.store.verifier)
    )
    assert report.ok, [c for c in report.checks if not c.ok]


def test_a_draft_form_with_mistakes_is_shown_again_and_nothing_is_kept(app, ledger, ref) -> None:
    agent = staff_member(ledger, "Rui Costa", ["agent"])
    client = browser(app, agent)
    form = {"csrf_token": agent.csrf_token, "type": "decision", "outcome": "upheld"}
    resp = client.post(f"/console/complaints/{ref}/drafts", data=form)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400 and 'data-testid="error-summary"' in page
    assert 'href="#finding"' in page and 'href="#rules"' in page and 'href="#root_cause"' in page
    # A rule the domain refuses is named next to its field, in the domain's words.
    form.update(root_cause="process_failure", finding="Charged twice.", rules="<script>")
    resp = client.post(f"/console/complaints/{ref}/drafts", data=form)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400 and 'id="rules-error"' in page and "rule or policy" in page
    assert "<script>" not in page  # typed text is shown escaped
    assert ledger.drafts.for_complaint(ref) == []


def test_an_offer_above_the_threshold_waits_for_a_second_officer(app, ledger, ref) -> None:
    junior = officer(ledger, "Jun Officer", JUNIOR_LIMITS)
    senior = officer(ledger, "Sen Officer", SENIOR_LIMITS)
    decision = ledger.drafts.create(ref, "decision", DECISION, by=junior.pseudonym)
    decision = ledger.drafts.prepare(decision.id)
    ledger.drafts.sign(
        decision.id,
        _sig(junior, decision),
        account_id=junior.account_id,
        body_sha256=decision.body_sha256,
    )
    draft = ledger.drafts.create(ref, "compensation_offered", OFFER, by=junior.pseudonym)
    draft = ledger.drafts.prepare(draft.id)
    before = log_size(ledger)

    resp = post(browser(app, junior), ref, draft.id, "sign", sign_form(junior, draft))
    assert resp.status_code == 303 and "done=signed" in resp.headers["Location"]
    held = ledger.drafts.get(draft.id)
    assert held.status == DraftStatus.SIGNED and held.signature["key_id"] == junior.key_id
    assert log_size(ledger) == before  # nothing recorded on one signature

    # The first signer cannot also co-sign (same officer), even with another key of theirs.
    page = draft_page(browser(app, junior), ref, draft.id)
    assert 'data-testid="own-signature"' in page and 'data-testid="sign-button"' not in page
    resp = post(browser(app, junior), ref, draft.id, "cosign", sign_form(junior, held))
    assert resp.status_code == 409 and "SAME_OFFICER" in resp.get_data(as_text=True)

    page = draft_page(browser(app, senior), ref, draft.id)
    assert "Co-sign" in page and "above 20.00 EUR" in page
    resp = post(browser(app, senior), ref, draft.id, "cosign", sign_form(senior, held))
    assert resp.status_code == 303 and "done=recorded" in resp.headers["Location"]
    assert ledger.drafts.get(draft.id).status == DraftStatus.RECORDED
    last = ledger.complaints.reads.events(ref)[-1].envelope
    assert last.type == "compensation_offered" and log_size(ledger) == before + 1
    assert last.public["signature"]["key_id"] == junior.key_id
    assert last.public["cosignature"]["key_id"] == senior.key_id
    verify_event_signature(ledger.officer_keys.registry(), last, held.body)


def _sig(member: Officer, draft) -> dict:
    return {"key_id": member.key_id, "sig": member.key.sign(draft.body_jcs.encode()).hex()}


def _decided(ledger, ref: str, member: Officer) -> None:
    draft = ledger.drafts.prepare(ledger.drafts.create(ref, "decision", DECISION, by="x").id)
    ledger.drafts.sign(
        draft.id, _sig(member, draft), account_id=member.account_id, body_sha256=draft.body_sha256
    )


def test_wrong_signatures_are_refused_and_nothing_is_written(app, ledger, ref) -> None:
    olga = officer(ledger, "Olga Officer")
    other = officer(ledger, "Otto Officer")
    draft = ledger.drafts.prepare(ledger.drafts.create(ref, "decision", DECISION, by="a").id)
    client = browser(app, olga)
    before = log_size(ledger)
    refusals = {
        # Signed by another key than the one named.
        "SIGNATURE_INVALID": sign_form(olga, draft, key=Ed25519PrivateKey.generate()),
        # Another officer's key: registered, but not linked to this account.
        "KEY_NOT_YOURS": {**sign_form(other, draft), "csrf_token": olga.csrf_token},
        "BAD_SIGNATURE": {**sign_form(olga, draft), "sig": "zz" * 64},
        # A signature over other bytes than the body prepared (a page loaded earlier).
        "BODY_CHANGED": {**sign_form(olga, draft), "body_sha256": "00" * 32},
    }
    for code, form in refusals.items():
        resp = post(client, ref, draft.id, "sign", form)
        assert resp.status_code == 409, code
        assert code in resp.get_data(as_text=True)
        assert 'data-testid="sign-problem"' in resp.get_data(as_text=True)
    # Without the form's CSRF token: refused before anything is read.
    resp = post(client, ref, draft.id, "sign", {**sign_form(olga, draft), "csrf_token": ""})
    assert resp.status_code == 403
    assert log_size(ledger) == before
    assert ledger.drafts.get(draft.id) == draft  # the draft is as it was

    # An agent may draft and read, not sign.
    agent = staff_member(ledger, "Rui Costa", ["agent"])
    resp = post(browser(app, agent), ref, draft.id, "sign", sign_form(olga, draft))
    assert resp.status_code == 403 and log_size(ledger) == before


def test_over_the_limit_is_refused_not_held(app, ledger, ref) -> None:
    junior = officer(ledger, "Jun Officer", JUNIOR_LIMITS)
    _decided(ledger, ref, junior)
    draft = ledger.drafts.create(ref, "compensation_offered", {**OFFER, "amount": "150.00"}, by="a")
    draft = ledger.drafts.prepare(draft.id)
    resp = post(browser(app, junior), ref, draft.id, "sign", sign_form(junior, draft))
    assert resp.status_code == 409 and "OVER_LIMIT" in resp.get_data(as_text=True)
    assert ledger.drafts.get(draft.id).status == DraftStatus.DRAFTED


def test_a_signed_draft_goes_stale_when_the_head_moves(app, ledger, ref) -> None:
    junior = officer(ledger, "Jun Officer", JUNIOR_LIMITS)
    senior = officer(ledger, "Sen Officer", SENIOR_LIMITS)
    _decided(ledger, ref, junior)
    draft = ledger.drafts.prepare(
        ledger.drafts.create(ref, "compensation_offered", OFFER, by="a").id
    )
    ledger.drafts.sign(
        draft.id, _sig(junior, draft), account_id=junior.account_id, body_sha256=draft.body_sha256
    )
    held = ledger.drafts.get(draft.id)
    _note(ledger, ref)  # the chain head moves on
    before = log_size(ledger)

    resp = post(browser(app, senior), ref, draft.id, "cosign", sign_form(senior, held))
    assert resp.status_code == 409 and "STALE" in resp.get_data(as_text=True)
    stale = ledger.drafts.get(draft.id)
    assert stale.status == DraftStatus.STALE and "chain head moved" in stale.note
    assert log_size(ledger) == before
    page = draft_page(browser(app, senior), ref, draft.id)
    assert 'data-testid="stale-notice"' in page and 'data-testid="sign-button"' not in page

    # Prepared again: a new body on the new head, every signature dropped; signed again.
    form = {"csrf_token": junior.csrf_token}
    assert post(browser(app, junior), ref, draft.id, "reprepare", form).status_code == 303
    fresh = ledger.drafts.get(draft.id)
    assert fresh.status == DraftStatus.DRAFTED and fresh.signature is None
    assert fresh.prev == ledger.complaints.reads.state(ref).head != held.prev
    assert fresh.body["context"]["nonce"] != held.body["context"]["nonce"]
    # The old signature is for other bytes: refused.
    resp = post(
        browser(app, junior),
        ref,
        draft.id,
        "sign",
        {**sign_form(junior, held), "body_sha256": fresh.body_sha256},
    )
    assert resp.status_code == 409 and "SIGNATURE_INVALID" in resp.get_data(as_text=True)
    post(browser(app, junior), ref, draft.id, "sign", sign_form(junior, fresh))
    resp = post(browser(app, senior), ref, draft.id, "cosign", sign_form(senior, fresh))
    assert resp.status_code == 303
    assert ledger.drafts.get(draft.id).status == DraftStatus.RECORDED


def test_an_unsigned_draft_follows_the_head(ledger, ref) -> None:
    draft = ledger.drafts.prepare(ledger.drafts.create(ref, "decision", DECISION, by="a").id)
    _note(ledger, ref)
    again = ledger.drafts.prepare(draft.id)
    assert again.status == DraftStatus.DRAFTED and again.prev != draft.prev
    assert again.body_sha256 != draft.body_sha256


@pytest.mark.parametrize("race", ["head_moved", "chain_conflict"])
def test_a_head_moving_while_recording_marks_the_draft_stale(ledger, ref, race) -> None:
    """Another writer moves the head after the draft's checks: the signed step no longer fits
    it (the write path refuses its context, or its append is a ChainConflict) and the draft
    goes stale, with nothing of it written."""
    olga = officer(ledger, "Olga Officer")
    draft = ledger.drafts.prepare(ledger.drafts.create(ref, "decision", DECISION, by="a").id)
    writes = ledger.complaints.writes

    def racing_record(reference, **step):
        _note(ledger, reference)
        if race == "chain_conflict":  # as the head check in the append transaction says
            raise ChainConflict("the complaint changed while this step was prepared")
        return writes.record(reference, **step)

    before = log_size(ledger)
    with pytest.raises(DraftError) as refused:
        ledger.drafts.sign(
            draft.id,
            _sig(olga, draft),
            account_id=olga.account_id,
            body_sha256=draft.body_sha256,
            record=racing_record,
        )
    assert refused.value.code == "STALE"
    assert ledger.drafts.get(draft.id).status == DraftStatus.STALE
    assert log_size(ledger) == before + 1  # the note only


def test_linking_a_key_needs_its_signature(app, ledger) -> None:
    member = staff_member(ledger, "Olga Officer", ["officer"])
    key = Ed25519PrivateKey.generate()
    member.key = key
    register_key(ledger, key, "Olga Officer")
    client = browser(app, member)
    # Signed by another key: refused; nothing linked.
    wrong = Ed25519PrivateKey.generate().sign(link_statement(member.account_id, member.key_id))
    form = {"csrf_token": member.csrf_token, "key_id": member.key_id, "sig": wrong.hex()}
    resp = client.post("/console/signing-key/link", data=form)
    assert resp.status_code == 409 and "SIGNATURE_INVALID" not in resp.get_data(as_text=True)
    assert ledger.drafts.holders.keys_of(member.account_id) == []
    good = key.sign(link_statement(member.account_id, member.key_id)).hex()
    resp = client.post("/console/signing-key/link", data={**form, "sig": good})
    assert resp.status_code == 303
    assert [h.key.key_id for h in ledger.drafts.holders.keys_of(member.account_id)] == [
        member.key_id
    ]
    page = client.get("/console/signing-key").get_data(as_text=True)
    assert f'data-testid="held-key-{member.key_id}"' in page
    # One key, one account.
    thief = staff_member(ledger, "Otto Officer", ["officer"])
    thief.key = key
    with pytest.raises(AuthorityError) as refused:
        link_key(ledger, thief)
    assert refused.value.code == "KEY_HELD_BY_OTHER"


@pytest.mark.parametrize("between", [("letter",), ("letter", "letter"), ("letter", "note")])
def test_a_held_signature_survives_letters_being_recorded(app, ledger, ref, between) -> None:
    """The dispatcher records a letter (message_sent) while an offer waits for its
    co-signature: the draft stays signed and the co-signature records it, its context naming
    the head the first officer signed at; a note among them still makes it stale."""
    junior = officer(ledger, "Jun Officer", JUNIOR_LIMITS)
    senior = officer(ledger, "Sen Officer", SENIOR_LIMITS)
    _decided(ledger, ref, junior)
    draft = ledger.drafts.prepare(
        ledger.drafts.create(ref, "compensation_offered", OFFER, by="a").id
    )
    ledger.drafts.sign(
        draft.id, _sig(junior, draft), account_id=junior.account_id, body_sha256=draft.body_sha256
    )
    held = ledger.drafts.get(draft.id)
    for step in between:
        if step == "letter":
            record_letter(ledger, ref)
        else:
            _note(ledger, ref)
    head = ledger.complaints.reads.state(ref).head
    assert head != held.prev
    assert ledger.drafts.prepare(draft.id) == held or "note" in between
    before = log_size(ledger)

    resp = post(browser(app, senior), ref, draft.id, "cosign", sign_form(senior, held))
    if "note" in between:
        assert resp.status_code == 409 and "STALE" in resp.get_data(as_text=True)
        assert ledger.drafts.get(draft.id).status == DraftStatus.STALE
        assert log_size(ledger) == before
        return
    assert resp.status_code == 303 and "done=recorded" in resp.headers["Location"]
    assert ledger.drafts.get(draft.id).status == DraftStatus.RECORDED
    last = ledger.complaints.reads.events(ref)[-1].envelope
    assert last.type == "compensation_offered" and last.prev == head
    assert held.body["context"]["prev"] == held.prev != head
    assert log_size(ledger) == before + 1
    # The proof verifies it: the context names a head only letters were recorded after.
    proof = browser(app, senior).get(f"/v1/complaints/{ref}/proof").get_json()
    report = verify_complaint_proof(proof, str(ledger.store.verifier))
    assert report.ok, [c for c in report.checks if not c.ok]


def test_an_unsigned_draft_is_not_rebound_for_a_letter(ledger, ref) -> None:
    draft = ledger.drafts.prepare(ledger.drafts.create(ref, "decision", DECISION, by="a").id)
    record_letter(ledger, ref)
    assert ledger.drafts.prepare(draft.id) == draft  # the body already shown stays signable


def _note(ledger, ref: str) -> None:
    ledger.complaints.writes.record(
        ref,
        type="note_added",
        public={},
        body={"text": "Called the customer."},
        actor=Actor(Role.AGENT, "agent-1"),
    )


def test_an_erasure_forgets_what_drafts_copied_and_withdraws_open_ones(app, ledger, ref) -> None:
    olga = officer(ledger, "Olga Officer")
    writes = ledger.complaints.writes
    kept = ledger.drafts.create(ref, "decision", DECISION, by=olga.pseudonym)
    kept = ledger.drafts.prepare(kept.id)
    assert "Ana Silva" in kept.body_jcs  # the letter quotes the customer by name

    received = ledger.complaints.reads.events(ref)[0].envelope.leaf_hash_hex
    erasure = {"erases": received, "basis": "gdpr_art17"}
    writes.record(ref, type="erased", public=erasure, body={}, actor=Actor(Role.ADMIN, "a-1"))

    forgotten = ledger.drafts.get(kept.id)
    assert forgotten.status == DraftStatus.WITHDRAWN
    assert forgotten.body_jcs is None and forgotten.content == {} and forgotten.offer is None
    with ledger.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT * FROM decision_drafts").all()
    assert "Ana Silva" not in repr(rows)
