"""Decision drafts: a signed step (decision, compensation offer, payment) prepared for officers
to sign in their browser, and recorded once its signatures are complete.

An agent or officer drafts the content (a decision's outcome, findings, rules, evidence cited
and root cause; an offer's or payment's amount). Preparing binds it to the complaint's chain
head: the exact body an officer signs (content, customer letter and signing context with a
fresh nonce, ``workflow.signing_body``), stored as its JCS text. States::

    drafted --sign--> signed (first signature held: the key's dual control needs a second
       |                |     officer's co-signature over the same bytes)
       |                +--cosign--> recorded
       +--sign (no co-signature needed)--> recorded
    drafted/signed --a step other than a letter recorded--> stale --reprepare--> drafted
    drafted/signed/stale --withdraw--> withdrawn

A letter delivered meanwhile (``message_sent``, recorded by the dispatcher) moves the chain
head but leaves the draft as it was: the signed context may name a head only letters were
recorded after (``ComplaintState.context_heads``), so a first signature waiting for its
co-signature survives it. A signature is checked (key held by the signer's account, Ed25519
over the stored bytes, authority and limits) before anything is kept; a refused one changes
nothing. The draft holds only public data about signing (key ids and signatures), never a
private key. Recording goes through the complaint write path, and the draft becomes
``recorded`` in the same transaction as the step.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Engine, Index, String, Text, insert, select, update
from sqlalchemy.orm import Mapped, mapped_column

from ledger.casework.appends import ChainConflict, Hooks
from ledger.casework.clock import Clock, utc_now
from ledger.casework.key_holders import KeyHolders
from ledger.casework.service import ComplaintService
from ledger.casework.writes import Recorded
from ledger.complaints.errors import AuthorityError, ComplaintError
from ledger.complaints.events import Actor, Envelope, body_bytes
from ledger.complaints.officers import (
    COSIGNER_ROLE,
    check_authority,
    check_signed_step,
    verify_officer_signature,
)
from ledger.complaints.payloads import (
    MIRRORED,
    validate_body,
    validate_letter_facts,
)
from ledger.complaints.states import ComplaintState
from ledger.complaints.vocab import EventType, Role
from ledger.complaints.workflow import signing_body
from ledger.db import Base, UTCDateTime
from ledger.errors import LedgerError
from ledger.logstore.store import Rejected

DRAFTABLE = (EventType.DECISION, EventType.COMPENSATION_OFFERED, EventType.COMPENSATION_PAID)


class DraftStatus(StrEnum):
    DRAFTED = "drafted"
    SIGNED = "signed"  # first signature held, waiting for a co-signature
    RECORDED = "recorded"
    STALE = "stale"
    WITHDRAWN = "withdrawn"


OPEN = (DraftStatus.DRAFTED, DraftStatus.SIGNED)
HEX_KEY_ID = re.compile(r"^[0-9a-f]{32}$")
HEX_SIG = re.compile(r"^[0-9a-f]{128}$")


class DraftError(LedgerError, ValueError):
    """A draft request that cannot be done; ``code`` is stable, the message is for people."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class DraftNotFound(LedgerError, LookupError):
    """No draft with this id (for this complaint)."""


class DraftChanged(Rejected):
    """The draft changed while its step was being recorded (another officer got there)."""


class DecisionDraft(Base):
    """One draft of a signed step, with the body prepared for signing and its signatures."""

    __tablename__ = "decision_drafts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    reference: Mapped[str] = mapped_column(String(40))
    type: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    content_json: Mapped[str] = mapped_column(Text)  # what is decided, before letter and context
    offer_json: Mapped[str | None] = mapped_column(Text, nullable=True)  # a decision's offer
    created_by: Mapped[str] = mapped_column(String(64))  # pseudonym
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The body officers sign (JCS text) and the chain head it is bound to.
    body_jcs: Mapped[str | None] = mapped_column(Text, nullable=True)
    prev: Mapped[str | None] = mapped_column(String(64), nullable=True)
    signature_json: Mapped[str | None] = mapped_column(Text, nullable=True)  # {key_id, sig}
    signed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)  # account id
    cosignature_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    cosigned_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    recorded_leaf_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)  # why stale or withdrawn

    __table_args__ = (Index("ix_decision_drafts_reference", "reference"),)


@dataclass(frozen=True)
class Draft:
    id: str
    reference: str
    type: EventType
    status: DraftStatus
    content: dict[str, Any]
    offer: dict[str, Any] | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    body_jcs: str | None
    prev: str | None
    signature: dict[str, str] | None
    signed_by: str | None
    cosignature: dict[str, str] | None
    cosigned_by: str | None
    recorded_leaf_hash: str | None
    note: str | None

    @property
    def body_sha256(self) -> str | None:
        """SHA-256 (hex) of the bytes to sign: names the exact body a signature is for."""
        return None if self.body_jcs is None else body_digest(self.body_jcs)

    @property
    def body(self) -> dict[str, Any] | None:
        return None if self.body_jcs is None else json.loads(self.body_jcs)

    def public(self) -> dict[str, Any]:
        """The step's public fields: the body's mirrored fields and the signatures so far."""
        public = {k: self.content[k] for k in MIRRORED[self.type] if k in self.content}
        if self.signature is not None:
            public["signature"] = dict(self.signature)
        if self.cosignature is not None:
            public["cosignature"] = dict(self.cosignature)
        return public


def forget_on_erasure(
    conn: Connection, reference: str, envelope: Envelope, body: Mapping[str, Any], index: int
) -> None:
    """A step listener: an erasure in a complaint also forgets what its drafts copied of its
    bodies (findings, the letter naming the customer); they keep who signed what, and when.
    Open drafts are withdrawn (there is nothing left to sign)."""
    if envelope.type != EventType.ERASED:
        return
    forgotten = {"content_json": "{}", "offer_json": None, "body_jcs": None}
    table = DecisionDraft
    conn.execute(
        update(table)
        .where(table.reference == reference, table.status.in_([str(s) for s in OPEN]))
        .values(**forgotten, status=str(DraftStatus.WITHDRAWN), note="withdrawn at an erasure")
    )
    conn.execute(update(table).where(table.reference == reference).values(**forgotten))


def body_digest(body_jcs: str) -> str:
    return hashlib.sha256(body_jcs.encode("utf-8")).hexdigest()


# How a complete step is recorded: ComplaintWrites.record's signature (the default).
Recorder = Callable[..., Recorded]


class Drafts:
    """Create, prepare, sign, co-sign, record and withdraw decision drafts."""

    def __init__(
        self,
        engine: Engine,
        complaints: ComplaintService,
        holders: KeyHolders,
        clock: Clock = utc_now,
    ) -> None:
        self.engine = engine
        self.complaints = complaints
        self.holders = holders
        self.officer_keys = holders.officer_keys
        self.clock = clock

    # --- reading ---------------------------------------------------------------------------

    def get(self, draft_id: str, reference: str | None = None) -> Draft:
        with self.engine.connect() as conn:
            row = conn.execute(_SELECT.where(DecisionDraft.id == draft_id)).first()
        if row is None or (reference is not None and row.reference != reference):
            raise DraftNotFound(draft_id)
        return _draft(row._mapping)

    def for_complaint(self, reference: str) -> list[Draft]:
        """The complaint's drafts, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                _SELECT.where(DecisionDraft.reference == reference).order_by(
                    DecisionDraft.created_at, DecisionDraft.id
                )
            ).all()
        return [_draft(r._mapping) for r in rows]

    # --- drafting --------------------------------------------------------------------------

    def create(
        self,
        reference: str,
        type: EventType | str,
        content: Mapping[str, Any],
        *,
        by: str,
        offer: Mapping[str, Any] | None = None,
    ) -> Draft:
        """A new draft; the content (and a decision's offer) is checked as the body would be.

        Raises DraftError (NOT_DRAFTABLE) or PayloadError (the field at fault).
        """
        et = _draftable(type)
        state = self.complaints.reads.state(reference)
        self._check_content(state, et, content)
        if offer is not None:
            if et != EventType.DECISION:
                raise DraftError("only a decision carries an offer to make", "OFFER_NOT_ALLOWED")
            self._check_content(state, EventType.COMPENSATION_OFFERED, offer)
        now = self.clock()
        draft_id = secrets.token_hex(16)
        with self.engine.begin() as conn:
            conn.execute(
                insert(DecisionDraft).values(
                    id=draft_id,
                    reference=reference,
                    type=str(et),
                    status=str(DraftStatus.DRAFTED),
                    content_json=json.dumps(dict(content), sort_keys=True),
                    offer_json=None if offer is None else json.dumps(dict(offer), sort_keys=True),
                    created_by=by,
                    created_at=now,
                    updated_at=now,
                )
            )
        return self.get(draft_id)

    def _check_content(
        self, state: ComplaintState, et: EventType, content: Mapping[str, Any]
    ) -> None:
        validate_letter_facts({}, content, "content")
        if "context" in content:
            raise DraftError("the signing context is added when the body is prepared", "CONTEXT")
        validate_body(et, signing_body(state, et, content))

    def prepare(self, draft_id: str, reference: str | None = None) -> Draft:
        """The draft, with its body bound to the complaint's current head.

        A draft nobody signed yet is simply re-bound when a step other than a letter was
        recorded since; a signed one goes stale (its signature covers the old head). Recorded,
        stale and withdrawn drafts are returned as they are.
        """
        draft = self.get(draft_id, reference)
        if draft.status not in OPEN:
            return draft
        state = self.complaints.reads.state(draft.reference)
        if draft.body_jcs is not None and _still_fits(draft, state):
            return draft
        if draft.status == DraftStatus.SIGNED:
            return self._mark_stale(draft)
        content = self.complaints.writes.with_letter(
            draft.reference, str(draft.type), draft.content, draft.content
        )
        body = signing_body(state, draft.type, content)
        validate_body(draft.type, body)
        body_jcs = _jcs_text(body)
        self._update(draft, DraftStatus.DRAFTED, body_jcs=body_jcs, prev=state.head)
        return self.get(draft.id)

    def reprepare(self, draft_id: str, reference: str | None = None) -> Draft:
        """A stale draft back to ``drafted`` on the current head: every signature is dropped."""
        draft = self.get(draft_id, reference)
        if draft.status != DraftStatus.STALE:
            raise DraftError(f"the draft is {draft.status}, not stale", "NOT_STALE")
        self._update(draft, DraftStatus.DRAFTED, **_UNSIGNED)
        return self.prepare(draft.id)

    def withdraw(self, draft_id: str, *, by: str, reference: str | None = None) -> Draft:
        draft = self.get(draft_id, reference)
        if draft.status not in (*OPEN, DraftStatus.STALE):
            raise DraftError(f"a {draft.status} draft cannot be withdrawn", "NOT_OPEN")
        self._update(draft, DraftStatus.WITHDRAWN, note=f"withdrawn by {by}")
        return self.get(draft.id)

    # --- signing ---------------------------------------------------------------------------

    def sign(
        self,
        draft_id: str,
        signature: Mapping[str, str],
        *,
        account_id: str,
        body_sha256: str,
        reference: str | None = None,
        record: Recorder | None = None,
    ) -> Draft:
        """The first officer's signature: recorded at once, or held for a co-signature when
        the key's dual control needs one.

        Raises DraftError (NOT_READY, BODY_CHANGED, STALE, KEY_NOT_YOURS, BAD_SIGNATURE) or
        AuthorityError (SIGNATURE_INVALID and the authority and limit codes); nothing is kept.
        """
        draft = self._ready(draft_id, reference, DraftStatus.DRAFTED, body_sha256)
        key_id, sig = _signature(signature)
        self._check_key(draft, key_id, sig, account_id)
        public = {**draft.public(), "signature": {"key_id": key_id, "sig": sig.hex()}}
        registry = self.officer_keys.registry()
        category = self.complaints.reads.state(draft.reference).category
        try:
            check_signed_step(
                registry, registry[key_id], draft.type, public, self.clock(), category
            )
        except AuthorityError as exc:
            if exc.code != "COSIGNATURE_REQUIRED":
                raise
            self._update(
                draft,
                DraftStatus.SIGNED,
                signature_json=json.dumps(public["signature"]),
                signed_by=account_id,
            )
            return self.get(draft.id)
        return self._record(draft, public, key_id, record, signed_by=account_id)

    def cosign(
        self,
        draft_id: str,
        cosignature: Mapping[str, str],
        *,
        account_id: str,
        body_sha256: str,
        reference: str | None = None,
        record: Recorder | None = None,
    ) -> Draft:
        """A second officer's signature over the same bytes; the step is then recorded.

        Raises DraftError (also SAME_OFFICER: the first signer cannot co-sign) or
        AuthorityError (COSIGNER_SAME_KEY, the co-signer's authority and limits).
        """
        draft = self._ready(draft_id, reference, DraftStatus.SIGNED, body_sha256)
        if account_id == draft.signed_by:
            raise DraftError(
                "dual control needs a second officer: you signed this draft already",
                "SAME_OFFICER",
            )
        key_id, sig = _signature(cosignature)
        self._check_key(draft, key_id, sig, account_id)
        public = {**draft.public(), "cosignature": {"key_id": key_id, "sig": sig.hex()}}
        assert draft.signature is not None
        registry = self.officer_keys.registry()
        category = self.complaints.reads.state(draft.reference).category
        signer = registry[draft.signature["key_id"]]
        check_signed_step(registry, signer, draft.type, public, self.clock(), category)
        return self._record(
            draft, public, draft.signature["key_id"], record, cosigned_by=account_id
        )

    def _ready(
        self, draft_id: str, reference: str | None, status: DraftStatus, body_sha256: str
    ) -> Draft:
        draft = self.get(draft_id, reference)
        if draft.status == DraftStatus.STALE:
            raise _stale()
        if draft.status != status or draft.body_jcs is None:
            raise DraftError(f"the draft is {draft.status}: it cannot take this signature",
                             "NOT_READY")  # fmt: skip
        if body_sha256 != draft.body_sha256:
            raise DraftError(
                "the body was prepared again since this page was loaded: reload it and sign "
                "the new body",
                "BODY_CHANGED",
            )
        if not _still_fits(draft, self.complaints.reads.state(draft.reference)):
            self._mark_stale(draft)
            raise _stale()
        return draft

    def _check_key(self, draft: Draft, key_id: str, sig: bytes, account_id: str) -> None:
        """The key is the signer's, could act as an officer now, and signed these bytes."""
        if self.holders.holder_of(key_id) != account_id:
            raise DraftError(f"officer key {key_id} is not linked to your account", "KEY_NOT_YOURS")
        registry = self.officer_keys.registry()
        check_authority(registry, key_id, COSIGNER_ROLE, self.clock())
        assert draft.body_jcs is not None
        if not verify_officer_signature(
            registry[key_id].public_key, draft.body_jcs.encode("utf-8"), sig
        ):
            raise AuthorityError(
                f"the signature does not verify with officer key {key_id} over this body",
                "SIGNATURE_INVALID",
            )

    def _record(
        self,
        draft: Draft,
        public: dict[str, Any],
        signer_key_id: str,
        record: Recorder | None,
        **who: str,
    ) -> Draft:
        """Record the step; the draft becomes ``recorded`` in the same transaction."""
        expected = draft.status
        fields = {
            "status": str(DraftStatus.RECORDED),
            "signature_json": json.dumps(public["signature"]),
            "cosignature_json": json.dumps(public["cosignature"])
            if "cosignature" in public
            else None,
            **who,
        }

        def check(conn: Connection) -> None:
            status = conn.execute(
                select(DecisionDraft.status).where(DecisionDraft.id == draft.id)
            ).scalar_one()
            if status != expected:
                raise DraftChanged(f"the draft is {status} now")

        def write(conn: Connection, index: int, leaf_hash: bytes) -> None:
            conn.execute(
                update(DecisionDraft)
                .where(DecisionDraft.id == draft.id)
                .values(**fields, recorded_leaf_hash=leaf_hash.hex(), updated_at=self.clock())
            )

        recorder = record or self.complaints.writes.record
        assert draft.body is not None
        try:
            recorder(
                draft.reference,
                type=draft.type,
                public=public,
                body=draft.body,
                actor=Actor(Role.OFFICER, signer_key_id),
                hooks=Hooks(check=check, write=write),
            )
        except DraftChanged:
            return self.get(draft.id)  # another officer's request recorded it (or withdrew)
        except ChainConflict:
            now = self.get(draft.id)
            if now.status == DraftStatus.RECORDED:
                return now
            self._mark_stale(now)
            raise _stale() from None
        except ComplaintError:
            # Another step got in after the checks above: the signed context no longer fits
            # the head (CONTEXT_MISMATCH). Any other refusal leaves the draft as it was.
            if not _still_fits(draft, self.complaints.reads.state(draft.reference)):
                self._mark_stale(draft)
                raise _stale() from None
            raise
        recorded = self.get(draft.id)
        if recorded.type == EventType.DECISION and recorded.offer is not None:
            self._follow_up_offer(recorded)
        return recorded

    def _follow_up_offer(self, decision: Draft) -> None:
        """The offer the decision's draft named, as the next draft to sign."""
        assert decision.offer is not None
        # Refused (it cannot be checked against the new state): the decision stands and
        # the offer is drafted by hand.
        with contextlib.suppress(ComplaintError, DraftError):
            self.create(
                decision.reference,
                EventType.COMPENSATION_OFFERED,
                decision.offer,
                by=decision.created_by,
            )

    # --- storage ---------------------------------------------------------------------------

    def _mark_stale(self, draft: Draft) -> Draft:
        self._update(
            draft,
            DraftStatus.STALE,
            note="the complaint changed after this body was prepared (its chain head moved by "
            "a step other than a letter): prepare it again and sign the new body",
        )
        return self.get(draft.id)

    def _update(self, draft: Draft, status: DraftStatus, **values: Any) -> None:
        """Move the draft from the status it was read in; DraftError if it moved meanwhile."""
        with self.engine.begin() as conn:
            moved = conn.execute(
                update(DecisionDraft)
                .where(DecisionDraft.id == draft.id, DecisionDraft.status == str(draft.status))
                .values(status=str(status), updated_at=self.clock(), **values)
            )
        if moved.rowcount != 1:
            raise DraftError("the draft changed meanwhile: reload it", "DRAFT_CHANGED")


_UNSIGNED = {
    "body_jcs": None,
    "prev": None,
    "signature_json": None,
    "signed_by": None,
    "cosignature_json": None,
    "cosigned_by": None,
    "note": None,
}


def _still_fits(draft: Draft, state: ComplaintState) -> bool:
    """Whether the draft's body may still be signed and recorded: its head is the chain's, or
    only letters (``message_sent``) were recorded after it."""
    return draft.prev is not None and draft.prev in state.context_heads


def _stale() -> DraftError:
    return DraftError(
        "the complaint changed after this body was prepared, so the signature no longer "
        "fits it: prepare the draft again and sign the new body",
        "STALE",
    )


def _draftable(value: EventType | str) -> EventType:
    try:
        et = EventType(value)
    except ValueError:
        et = None
    if et not in DRAFTABLE:
        raise DraftError(f"{value!r} is not a signed step that can be drafted", "NOT_DRAFTABLE")
    return et


def _signature(value: Mapping[str, str]) -> tuple[str, bytes]:
    """``{key_id, sig}`` as sent: 32 and 128 lower-case hex digits (one spelling each)."""
    key_id, sig = value.get("key_id"), value.get("sig")
    if not (isinstance(key_id, str) and HEX_KEY_ID.fullmatch(key_id)):
        raise _bad_signature()
    if not (isinstance(sig, str) and HEX_SIG.fullmatch(sig)):
        raise _bad_signature()
    return key_id, bytes.fromhex(sig)


def _bad_signature() -> DraftError:
    return DraftError(
        "a signature is {key_id, sig}: 32 and 128 lower-case hex digits", "BAD_SIGNATURE"
    )


def _jcs_text(body: Mapping[str, Any]) -> str:
    return body_bytes(body).decode("utf-8")


_SELECT = select(DecisionDraft.__table__)


def _draft(row: Mapping[str, Any]) -> Draft:
    def loads(text: str | None) -> Any:
        return None if text is None else json.loads(text)

    return Draft(
        id=row["id"],
        reference=row["reference"],
        type=EventType(row["type"]),
        status=DraftStatus(row["status"]),
        content=json.loads(row["content_json"]),
        offer=loads(row["offer_json"]),
        created_by=row["created_by"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        body_jcs=row["body_jcs"],
        prev=row["prev"],
        signature=loads(row["signature_json"]),
        signed_by=row["signed_by"],
        cosignature=loads(row["cosignature_json"]),
        cosigned_by=row["cosigned_by"],
        recorded_leaf_hash=row["recorded_leaf_hash"],
        note=row["note"],
    )
