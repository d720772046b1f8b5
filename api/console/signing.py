"""Decision drafts and officers' signatures in the console (``/console/complaints/<ref>/drafts``
and ``/console/signing-key``).

An agent or officer drafts a decision (or an offer, or a payment); an officer reviews it in
words and as the exact bytes to sign, and signs those bytes in the browser with WebCrypto
Ed25519 (``static/console/signing.js``): the private key never leaves the browser, only
``{key_id, sig}`` comes back with the form's CSRF token. Above the key's dual-control threshold
a second officer co-signs the same bytes. The signatures, authority and limits are checked by
``ledger.casework.drafts`` before the step is recorded through ``api.steps.record_step``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Response, redirect, request, url_for

from api.console import csrf
from api.console.auth import caller_for, current_member, staff_required
from api.console.blueprint import not_found, page
from api.context import get_ledger
from api.portal.forms import FieldError, FormState, clean
from api.request_ids import request_id
from api.steps import record_step
from ledger.access.staff import StaffMember
from ledger.casework.appends import Hooks
from ledger.casework.drafts import (
    DRAFTABLE,
    Draft,
    DraftError,
    DraftNotFound,
    Drafts,
    DraftStatus,
)
from ledger.casework.key_holders import LINK_PURPOSE, KeyHolders
from ledger.casework.writes import Recorded
from ledger.complaints.errors import AuthorityError, ComplaintError
from ledger.complaints.officers import OfficerKey
from ledger.complaints.reference import parse_reference
from ledger.complaints.states import allowed_events
from ledger.complaints.vocab import (
    CompensationKind,
    EventType,
    Outcome,
    PaymentMethod,
    Role,
    RootCause,
)

E = EventType
DRAFTERS = ("agent", "officer")
READERS = ("agent", "officer", "supervisor")
SIGNERS = ("officer",)
TYPE_WORDS = {
    E.DECISION: "Decision",
    E.COMPENSATION_OFFERED: "Compensation offer",
    E.COMPENSATION_PAID: "Compensation payment",
}
STATUS_WORDS = {
    DraftStatus.DRAFTED: "Drafted: waiting for an officer's signature",
    DraftStatus.SIGNED: "Signed: waiting for a second officer's co-signature",
    DraftStatus.RECORDED: "Recorded on the log",
    DraftStatus.STALE: "Stale: the complaint changed after this body was prepared",
    DraftStatus.WITHDRAWN: "Withdrawn",
}
# Money units offered in the forms: (field of the body, unit).
UNITS = (
    ("currency", "EUR"),
    ("currency", "GBP"),
    ("currency", "USD"),
    ("asset", "USDC"),
    ("asset", "USDT"),
    ("asset", "BTC"),
    ("asset", "ETH"),
)
TX_HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")


def _drafts() -> Drafts:
    drafts = get_ledger().drafts
    assert drafts is not None, "the ledger is opened with its drafts (ledger.runtime)"
    return drafts


def _holders() -> KeyHolders:
    return _drafts().holders


def _member() -> StaffMember:
    member = current_member()
    assert member is not None  # staff_required ran
    return member


def _ref(reference: str) -> str:
    ref = parse_reference(reference)  # InvalidReference: the console's not-found page
    get_ledger().complaints.reads.state(ref)  # ComplaintNotFound: likewise
    return ref


def _acting_role(member: StaffMember, roles: tuple[str, ...]) -> str:
    return next(r for r in roles if member.has(r))


def _record_read(member: StaffMember, reference: str, action: str) -> None:
    """Drafts quote the complaint's evidence and letters: a read of its personal data."""
    role = _acting_role(member, READERS)
    get_ledger().access_log.record(role, member.pseudonym, reference, action, request_id())


# --- drafting ------------------------------------------------------------------------------


@staff_required(*READERS)
def drafts_list(reference: str) -> Response:
    ref = _ref(reference)
    drafts = _drafts().for_complaint(ref)
    return page(
        "sign_drafts.html",
        title=f"Decision drafts for {ref}",
        reference=ref,
        drafts=drafts,
        type_words=TYPE_WORDS,
        status_words=STATUS_WORDS,
        may_draft=any(_member().has(r) for r in DRAFTERS),
    )


@staff_required(*DRAFTERS)
def decision_form(reference: str) -> Response:
    return _draft_form(_ref(reference), E.DECISION, FormState())


@staff_required(*DRAFTERS)
def offer_form(reference: str) -> Response:
    return _draft_form(_ref(reference), E.COMPENSATION_OFFERED, FormState())


@staff_required(*DRAFTERS)
def payment_form(reference: str) -> Response:
    return _draft_form(_ref(reference), E.COMPENSATION_PAID, FormState())


@staff_required(*READERS)
def next_to_sign(reference: str) -> Response:
    """The oldest draft waiting for a first signature (else the complaint's drafts)."""
    return _next_draft(_ref(reference), DraftStatus.DRAFTED)


@staff_required(*READERS)
def next_to_cosign(reference: str) -> Response:
    """The oldest draft waiting for a co-signature (else the complaint's drafts)."""
    return _next_draft(_ref(reference), DraftStatus.SIGNED)


def _next_draft(reference: str, status: DraftStatus) -> Response:
    waiting = [d for d in _drafts().for_complaint(reference) if d.status == status]
    if not waiting:
        return redirect(url_for("console.sign_drafts", reference=reference), 303)
    target = url_for("console.sign_draft_page", reference=reference, draft_id=waiting[0].id)
    return redirect(target, 303)


def _kind(value: str | None) -> EventType:
    try:
        kind = EventType(value or E.DECISION)
    except ValueError:
        kind = E.DECISION
    return kind if kind in DRAFTABLE else E.DECISION


def _draft_form(reference: str, kind: EventType, form: FormState, status: int = 200) -> Response:
    member = _member()
    ledger = get_ledger()
    events = ledger.complaints.reads.events(reference)
    evidence = [
        {
            "seq": e.seq,
            "leaf_hash": e.envelope.leaf_hash_hex,
            "type": str(e.envelope.type),
            "text": _evidence_text(e.body_jcs),
        }
        for e in events
        if e.envelope.type in (E.EVIDENCE_ADDED, E.INFO_RECEIVED)
    ]
    _record_read(member, reference, "draft-form")
    return page(
        "sign_draft_form.html",
        status=status,
        title=f"Draft: {TYPE_WORDS[kind].lower()} for {reference}",
        reference=reference,
        kind=str(kind),
        kind_words=TYPE_WORDS[kind],
        form=form,
        evidence=evidence,
        outcomes=[str(o) for o in Outcome],
        root_causes=[str(r) for r in RootCause],
        methods=[str(m) for m in PaymentMethod],
        kinds=[str(k) for k in CompensationKind],
        units=[f"{field}:{unit}" for field, unit in UNITS],
    )


def _evidence_text(body_jcs: bytes | None) -> str:
    if body_jcs is None:
        return "(erased)"
    body = json.loads(body_jcs)
    text = body.get("description") or body.get("text") or ""
    return text if len(text) <= 160 else text[:157] + "..."


@staff_required(*DRAFTERS)
def draft_create(reference: str) -> Response:
    csrf.check_form()
    ref = _ref(reference)
    kind = _kind(request.form.get("type"))
    values = {k: clean(v) for k, v in request.form.items() if k not in ("csrf_token",)}
    evidence = request.form.getlist("evidence")
    values["evidence"] = ",".join(evidence)
    errors: list[FieldError] = []
    content: dict[str, Any] = {}
    offer: dict[str, Any] | None = None
    if kind == E.DECISION:
        content, errors = _decision_content(request.form, evidence)
        if values.get("offer_amount"):
            offer, offer_errors = _money_content(request.form, "offer_")
            errors += offer_errors
    else:
        content, errors = _money_content(request.form, "")
    if not errors:
        try:
            draft = _drafts().create(ref, kind, content, by=_member().pseudonym, offer=offer)
        except (ComplaintError, DraftError) as exc:
            errors = [_field_error(exc, offer is not None)]
        else:
            return redirect(
                url_for("console.sign_draft_page", reference=ref, draft_id=draft.id), 303
            )
    form = FormState(name="draft", errors=errors, values=values)
    return _draft_form(ref, kind, form, status=400)


def _decision_content(
    form: Mapping[str, str], evidence: list[str]
) -> tuple[dict[str, Any], list[FieldError]]:
    errors = []
    content: dict[str, Any] = {
        "outcome": clean(form.get("outcome")),
        "root_cause": clean(form.get("root_cause")),
        "finding": clean(form.get("finding")),
        "rules": [r.strip() for r in clean(form.get("rules")).splitlines() if r.strip()],
        "evidence": evidence,
    }
    remedy = clean(form.get("remedy"))
    if remedy:
        content["remedy"] = remedy
    required = (
        ("outcome", "Choose the outcome."),
        ("root_cause", "Choose the root cause."),
        ("finding", "Write the findings."),
        ("rules", "Name at least one rule or policy, one per line."),
    )
    for name, message in required:
        if not content[name]:
            errors.append(FieldError(name, message=message))
    return content, errors


def _money_content(form: Mapping[str, str], prefix: str) -> tuple[dict[str, Any], list[FieldError]]:
    errors = []
    amount = clean(form.get(prefix + "amount"))
    unit_field, _, unit = clean(form.get(prefix + "unit")).partition(":")
    method = clean(form.get(prefix + "method"))
    content: dict[str, Any] = {"amount": amount, "method": method}
    if unit_field in ("currency", "asset") and unit:
        content[unit_field] = unit
    else:
        errors.append(FieldError(prefix + "unit", message="Choose the currency or asset."))
    kind = clean(form.get(prefix + "kind"))
    if kind and kind != CompensationKind.MONEY:
        content["kind"] = kind
    if not amount:
        errors.append(FieldError(prefix + "amount", message="Enter the amount, e.g. 25.00."))
    if not method:
        errors.append(FieldError(prefix + "method", message="Choose how it is paid."))
    trace = clean(form.get(prefix + "payment_reference"))
    if trace:  # a payment's trace: a transaction hash on chain, else the bank's reference
        content["tx_hash" if TX_HASH.fullmatch(trace) else "payment_reference"] = trace
    return content, errors


def _field_error(exc: ComplaintError | DraftError, with_offer: bool) -> FieldError:
    """The domain's refusal, next to the field it names (``content.rules[0]`` -> rules)."""
    path = getattr(exc, "field", None) or ""
    name = re.sub(r"\[.*$", "", path.split(".", 1)[1]) if "." in path else ""
    if name == "currency" or name == "asset":
        name = "unit"
    field_id = name if name else "form"
    if with_offer and name in ("amount", "unit", "method", "kind"):
        field_id = "offer_" + name
    return FieldError(field_id, message=exc.message)


# --- review, sign, co-sign ---------------------------------------------------------------


@staff_required(*READERS)
def draft_review(reference: str, draft_id: str) -> Response:
    ref = _ref(reference)
    member = _member()
    try:
        draft = _drafts().prepare(draft_id, ref)
        problem = None
    except ComplaintError as exc:  # e.g. a letter missing a fact: shown, nothing signed
        draft, problem = _drafts().get(draft_id, ref), exc.message
    _record_read(member, ref, "draft-review")
    return _review_page(member, draft, problem=problem)


def _draft_not_found(exc: Exception) -> Response:
    return not_found(exc)


def _review_page(
    member: StaffMember, draft: Draft, *, problem: str | None = None, status: int = 200
) -> Response:
    ledger = get_ledger()
    state = ledger.complaints.reads.state(draft.reference)
    registry = ledger.officer_keys.registry()
    signer = registry.get(draft.signature["key_id"]) if draft.signature else None
    held = _holders().keys_of(member.id) if member.has("officer") else []
    cosigning = draft.status == DraftStatus.SIGNED
    may_sign = (
        member.has("officer")
        and draft.status in (DraftStatus.DRAFTED, DraftStatus.SIGNED)
        and draft.body_jcs is not None
        and not (cosigning and draft.signed_by == member.id)
    )
    title = ("Co-sign: " if cosigning else "Review and sign: ") + TYPE_WORDS[draft.type].lower()
    return page(
        "sign_review.html",
        status=status,
        title=title,
        draft=draft,
        body=draft.body,
        words=_in_words(draft),
        type_words=TYPE_WORDS,
        status_words=STATUS_WORDS,
        complaint_status=str(state.status),
        allowed=draft.type in allowed_events(state, Role.OFFICER),
        problem=problem,
        held=[_key_json(h.key, h.usable, h.why_not) for h in held],
        signer=None if signer is None else _key_json(signer, True, None),
        cosigning=cosigning,
        may_sign=may_sign,
        own_signature=cosigning and draft.signed_by == member.id,
        action=url_for(
            "console.sign_cosign_submit" if cosigning else "console.sign_submit",
            reference=draft.reference,
            draft_id=draft.id,
        ),
        dual_control=_dual_control(draft, signer),
    )


def _dual_control(draft: Draft, signer: OfficerKey | None) -> str | None:
    """Why a co-signature is needed, in words (the key's threshold for the amount's unit)."""
    if signer is None or signer.limits is None:
        return None
    unit = draft.content.get("currency") or draft.content.get("asset")
    threshold = signer.limits.threshold(unit) if unit else None
    if threshold is None:
        return None
    return (
        f"{draft.content.get('amount')} {unit} is above {threshold} {unit}, the amount officer "
        f"key {signer.key_id} may sign alone: a second officer co-signs the same body."
    )


def _key_json(key: OfficerKey, usable: bool, why_not: str | None) -> dict[str, Any]:
    return {
        "key_id": key.key_id,
        "public_key": key.public_key.hex(),
        "usable": usable,
        "why_not": why_not,
        "limits": None if key.limits is None else key.limits.to_json(),
    }


def _in_words(draft: Draft) -> list[tuple[str, str]]:
    """The draft's content as label/value pairs, as the review page shows it."""
    c = draft.content
    if draft.type == E.DECISION:
        pairs = [
            ("Outcome", str(c.get("outcome", "")).replace("_", " ")),
            ("Root cause", str(c.get("root_cause", "")).replace("_", " ")),
            ("Findings", c.get("finding", "")),
            ("Rules applied", "; ".join(c.get("rules", []))),
            ("Evidence cited", _evidence_words(draft)),
        ]
        if "remedy" in c:
            pairs.append(("Remedy", c["remedy"]))
        if draft.offer:
            pairs.append(("Compensation to offer next", _money_words(draft.offer)))
        return pairs
    pairs = [("Amount", _money_words(c)), ("Method", str(c.get("method", "")).replace("_", " "))]
    if "kind" in c:
        pairs.append(("Kind", str(c["kind"]).replace("_", " ")))
    for name, label in (("payment_reference", "Payment reference"), ("tx_hash", "Transaction")):
        if name in c:
            pairs.append((label, c[name]))
    return pairs


def _evidence_words(draft: Draft) -> str:
    cited = draft.content.get("evidence", [])
    if not cited:
        return "none"
    events = get_ledger().complaints.reads.events(draft.reference)
    seqs = {e.envelope.leaf_hash_hex: e.seq for e in events}
    return ", ".join(f"step {seqs[h]}" if h in seqs else h[:16] for h in cited)


def _money_words(money: Mapping[str, Any]) -> str:
    return f"{money.get('amount')} {money.get('currency') or money.get('asset')}"


def _signature_form() -> tuple[dict[str, str], str]:
    return (
        {"key_id": request.form.get("key_id", ""), "sig": request.form.get("sig", "")},
        request.form.get("body_sha256", ""),
    )


def _recorder(member: StaffMember):
    """Record through the API's step path, as the member acting as officer."""
    caller = caller_for(member, "officer")

    def record(reference: str, *, type, public, body, actor, hooks: Hooks) -> Recorded:
        return record_step(caller, reference, str(type), public, body, hooks=hooks)

    return record


@staff_required(*SIGNERS)
def draft_sign(reference: str, draft_id: str) -> Response:
    return _signed(reference, draft_id, cosign=False)


@staff_required(*SIGNERS)
def draft_cosign(reference: str, draft_id: str) -> Response:
    return _signed(reference, draft_id, cosign=True)


def _signed(reference: str, draft_id: str, *, cosign: bool) -> Response:
    csrf.check_form()
    ref = _ref(reference)
    member = _member()
    signature, digest = _signature_form()
    drafts = _drafts()
    act = drafts.cosign if cosign else drafts.sign
    try:
        draft = act(
            draft_id,
            signature,
            account_id=member.id,
            body_sha256=digest,
            reference=ref,
            record=_recorder(member),
        )
    except (DraftError, AuthorityError, ComplaintError) as exc:
        code = getattr(exc, "code", "REFUSED")
        problem = f"Nothing was signed or recorded: {exc.message} ({code})"
        return _review_page(member, drafts.get(draft_id, ref), problem=problem, status=409)
    done = "recorded" if draft.status == DraftStatus.RECORDED else "signed"
    return redirect(
        url_for("console.sign_draft_page", reference=ref, draft_id=draft.id, done=done), 303
    )


@staff_required(*DRAFTERS)
def draft_reprepare(reference: str, draft_id: str) -> Response:
    csrf.check_form()
    ref = _ref(reference)
    try:
        _drafts().reprepare(draft_id, ref)
    except (DraftError, ComplaintError) as exc:
        problem = f"Nothing was changed: {exc.message}"
        return _review_page(_member(), _drafts().get(draft_id, ref), problem=problem, status=409)
    return redirect(url_for("console.sign_draft_page", reference=ref, draft_id=draft_id), 303)


@staff_required(*DRAFTERS)
def draft_withdraw(reference: str, draft_id: str) -> Response:
    csrf.check_form()
    ref = _ref(reference)
    try:
        _drafts().withdraw(draft_id, by=_member().pseudonym, reference=ref)
    except DraftError as exc:
        problem = f"Nothing was changed: {exc.message}"
        return _review_page(_member(), _drafts().get(draft_id, ref), problem=problem, status=409)
    return redirect(url_for("console.sign_drafts", reference=ref), 303)


# --- the officer's signing key -------------------------------------------------------------


@staff_required(*SIGNERS)
def signing_key() -> Response:
    return _key_page()


def _key_page(problem: str | None = None, status: int = 200) -> Response:
    member = _member()
    held = _holders().keys_of(member.id)
    return page(
        "sign_key.html",
        status=status,
        title="Your signing key",
        held=[_key_json(h.key, h.usable, h.why_not) for h in held],
        account_id=member.id,
        link_purpose=LINK_PURPOSE,
        problem=problem,
        linked=request.args.get("linked"),
    )


@staff_required(*SIGNERS)
def signing_key_link() -> Response:
    csrf.check_form()
    member = _member()
    signature, _ = _signature_form()
    try:
        key_id = signature["key_id"]
        sig = bytes.fromhex(signature["sig"])
        _holders().link(member.id, key_id, sig)
    except ValueError as exc:  # AuthorityError is a ValueError too
        message = getattr(exc, "message", "the signature is not hex")
        return _key_page(f"The key was not linked: {message}", status=409)
    return redirect(url_for("console.sign_key", linked=key_id), 303)


DRAFT = "/complaints/<reference>/drafts/<draft_id>"
ROUTES = (
    # (rule under /console, endpoint, view, methods)
    ("/complaints/<reference>/drafts", "sign_drafts", drafts_list, ["GET"]),
    ("/complaints/<reference>/drafts", "sign_create", draft_create, ["POST"]),
    ("/complaints/<reference>/draft", "sign_draft", decision_form, ["GET"]),
    ("/complaints/<reference>/offer", "sign_offer", offer_form, ["GET"]),
    ("/complaints/<reference>/payment", "sign_payment", payment_form, ["GET"]),
    ("/complaints/<reference>/sign", "sign_review", next_to_sign, ["GET"]),
    ("/complaints/<reference>/cosign", "sign_cosign", next_to_cosign, ["GET"]),
    (f"{DRAFT}", "sign_draft_page", draft_review, ["GET"]),
    (f"{DRAFT}/sign", "sign_submit", draft_sign, ["POST"]),
    (f"{DRAFT}/cosign", "sign_cosign_submit", draft_cosign, ["POST"]),
    (f"{DRAFT}/reprepare", "sign_reprepare", draft_reprepare, ["POST"]),
    (f"{DRAFT}/withdraw", "sign_withdraw", draft_withdraw, ["POST"]),
    ("/signing-key", "sign_key", signing_key, ["GET"]),
    ("/signing-key/link", "sign_key_link", signing_key_link, ["POST"]),
)


def register(bp: Blueprint) -> None:
    """Add the signing pages to the console's blueprint (``api.console.views`` calls this)."""
    for rule, endpoint, view, methods in ROUTES:
        bp.add_url_rule(rule, endpoint, view, methods=methods)
    bp.register_error_handler(DraftNotFound, _draft_not_found)
