"""Complaints: filing, steps, status, timeline, proofs, erasure (customers and staff)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import orjson
from flask import Response, request
from flask.views import MethodView

from api.anchor_routes import coverage_for
from api.auth import RECORDED_READERS, STAFF, Caller, current_caller, require
from api.blueprints import Blueprint
from api.context import get_ledger
from api.idempotency import AlreadyDone, Plan, plan_for, previous_outcome
from api.problems import Problem, path_reference
from api.request_ids import request_id
from api.schemas import (
    AccessLog,
    ComplaintList,
    ComplaintListQuery,
    ComplaintStatus,
    ErasureRequest,
    EventRequest,
    FileComplaint,
    FiledComplaint,
    LangQuery,
    ProofResponse,
    RecordedEvent,
    SigningBodyRequest,
    SigningBodyResponse,
    Timeline,
)
from api.status_answer import StatusAnswer
from api.steps import prepare_step
from ledger.casework.appends import ChainConflict, Hooks
from ledger.casework.proof_document import collect_proof
from ledger.casework.reads import IDENTITY_NOT_VERIFIED, StoredEvent, withheld_from_customer
from ledger.casework.writes import Recorded, new_capability_secret
from ledger.complaints.events import Actor, body_bytes
from ledger.complaints.payloads import (
    validate_body,
    validate_letter_facts,
)
from ledger.complaints.reference import format_reference
from ledger.complaints.texts import (
    negotiate_language,
    status_text,
)
from ledger.complaints.vocab import Role
from ledger.complaints.workflow import signing_body
from ledger.log.encoding import hashes_hex
from ledger.log.merkle import leaf_hash
from ledger.logstore.store import Receipt

blp = Blueprint(
    "complaints",
    __name__,
    url_prefix="/v1/complaints",
    description="File, follow, handle and verify complaints",
)


def _lang() -> str:
    return str(negotiate_language(request.headers.get("Accept-Language"), request.args.get("lang")))


def _actor(caller: Caller) -> Actor:
    return Actor(Role(caller.role), caller.id)


def receipt_json(index: int, receipt: Receipt | None = None) -> dict[str, Any]:
    """The signed promise for the entry at ``index``: the first checkpoint covering it.

    ``receipt``, when the entry was just appended, is that promise already (its batch's
    checkpoint is the first covering it): nothing is read back from the database.
    """
    store = get_ledger().store
    if receipt is not None:
        cp, lh = receipt.checkpoint, receipt.leaf_hash
    else:
        cp, lh = store.checkpoint_covering(index), leaf_hash(store.entry(index))
    return {
        "log_index": index,
        "leaf_hash": lh.hex(),
        "checkpoint": cp.note,
        "inclusion_proof": hashes_hex(store.inclusion_proof(index, cp.size)),
        "integrated_at": cp.created_at.astimezone(UTC).isoformat(),
    }


def _event_json(envelope, index: int) -> dict[str, Any]:
    return {
        "seq": envelope.seq,
        "type": str(envelope.type),
        "at": envelope.at,
        "actor": envelope.actor.to_json(),
        "public": envelope.public,
        "leaf_hash": envelope.leaf_hash_hex,
        "log_index": index,
    }


def _recorded_response(
    reference: str,
    log_index: int,
    lang: str,
    secret: str | None = None,
    recorded: Recorded | None = None,
) -> Response:
    """The answer to a recorded step: from ``recorded`` when it was just appended, else (an
    idempotent replay) read back from the log."""
    ledger = get_ledger()
    if recorded is not None:
        env, state, receipt = recorded.envelope, recorded.state, recorded.receipt
    else:
        from ledger.complaints.events import parse_envelope

        env = parse_envelope(ledger.store.entry(log_index))
        state, receipt = ledger.complaints.reads.state(reference), None
    out = {
        "reference": reference,
        "status": str(state.status),
        "status_text": status_text(state.status, lang, info_pending=state.info_pending),
        "event": _event_json(env, log_index),
        "receipt": receipt_json(log_index, receipt),
    }
    if secret is not None:
        out["secret"] = secret
    # Encoded as built: the schemas (RecordedEvent, FiledComplaint) document this shape, and
    # the tests check answers against them, so it needs no dump through them.
    return Response(orjson.dumps(out), status=201, mimetype="application/json")


def _idempotent(plan: Plan | None, outcome: dict[str, Any]) -> Hooks | None:
    if plan is None:
        return None
    return Hooks(check=plan.check, write=plan.writer(outcome))


def _replay(plan: Plan | None, lang: str):
    """The response of an earlier request with the same Idempotency-Key, if any."""
    previous = previous_outcome(get_ledger().engine, plan)
    if previous is None:
        return None
    return _recorded_response(
        previous["reference"], previous["log_index"], lang, previous.get("secret")
    )


@blp.route("")
class ComplaintsResource(MethodView):
    @blp.arguments(FileComplaint)
    @blp.response(201, FiledComplaint)
    @blp.alt_response(422, description="Invalid fields")
    def post(self, args):
        """File a complaint (customers, or staff on a customer's behalf).

        Returns the reference, the capability secret (shown once: keep it) and the log's
        signed receipt for the received event.
        """
        caller = current_caller()
        if caller.role not in ("anonymous", "agent"):  # the roles the domain lets file
            raise Problem("forbidden", f"role {caller.role!r} does not file complaints")
        lang = _lang()
        plan = plan_for(caller.id if caller.role != "anonymous" else "anonymous")
        if (done := _replay(plan, lang)) is not None:
            return done
        ledger = get_ledger()
        jurisdiction = args.get("jurisdiction") or ledger.settings.jurisdiction
        # The deadlines promised at intake are added by the write path, from the step's time.
        public = {
            "category": args["category"],
            "channel": args["channel"],
            "language": args.get("language") or lang,
            "jurisdiction": jurisdiction,
        }
        body = {"description": args["description"]}
        if args.get("contact"):
            body["contact"] = args["contact"]
        if args.get("transaction"):
            body["transaction"] = args["transaction"]
        actor = Actor(Role.CUSTOMER, "customer") if caller.role == "anonymous" else _actor(caller)
        secret = new_capability_secret()
        hooks = None
        if plan is not None:
            plan_write = plan.writer({"secret": secret})

            def write(conn, index: int, leaf_hash: bytes) -> None:
                plan_write(conn, index, leaf_hash, {"reference": format_reference(leaf_hash)})

            hooks = Hooks(check=plan.check, write=write)
        try:
            recorded, _ = get_ledger().complaints.writes.file(
                public, body, actor, secret=secret, hooks=hooks
            )
        except AlreadyDone:
            return _replay(plan, lang)
        return _recorded_response(
            recorded.state.reference, recorded.receipt.index, lang, secret, recorded
        )

    @blp.arguments(ComplaintListQuery, location="query")
    @blp.response(200, ComplaintList)
    def get(self, args):
        """List complaints (staff, legal, regulator), newest first, with filters."""
        require(*STAFF, "regulator")
        page, size = args["page"], args["page_size"]
        total, rows = get_ledger().complaints.reads.list(
            status=args.get("status"),
            category=args.get("category"),
            received_from=args.get("received_from"),
            received_to=args.get("received_to"),
            offset=(page - 1) * size,
            limit=size,
        )
        return {
            "total": total,
            "page": page,
            "page_size": size,
            "items": [
                {
                    "reference": r.reference,
                    "status": r.status,
                    "category": r.category,
                    "channel": r.channel,
                    "language": r.language,
                    "jurisdiction": r.jurisdiction,
                    "received_at": r.received_at,
                    "updated_at": r.updated_at,
                    "events": r.seq + 1,
                }
                for r in rows
            ],
        }


def _reader(reference: str) -> Caller:
    """A caller allowed to read this complaint: its customer, staff, or a regulator."""
    caller = current_caller(reference)
    if caller.role == "customer" and caller.reference == reference:
        return caller
    if caller.role in RECORDED_READERS:
        return caller
    if caller.role == "anonymous":
        raise Problem("unauthorized", "the complaint's secret or an API key is required",
                      headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
    raise Problem("forbidden", "these credentials do not open this complaint")


def _record_read(caller: Caller, reference: str, action: str) -> None:
    if caller.role in RECORDED_READERS:
        get_ledger().access_log.record(caller.role, caller.id, reference, action, request_id())


@blp.route("/<reference>")
class ComplaintResource(MethodView):
    @blp.arguments(LangQuery, location="query")
    @blp.response(200, ComplaintStatus)
    @blp.alt_response(304, description="Not Modified: the status whose ETag was sent in "
                      "If-None-Match is the one this request would get", success=True)  # fmt: skip
    def get(self, _args, reference: str):
        """Status, what is due when and what is overdue, the playbook's progress, and the
        next steps allowed.

        The answer has an ``ETag``; send it back as ``If-None-Match`` and an unchanged status
        is a ``304 Not Modified`` without a body. The tag changes when a step is recorded,
        when a clock falls due, and with the language and the caller's role."""
        ref = path_reference(reference)
        caller = _reader(ref)
        stored = get_ledger().complaints.status_views.get(ref)
        answer = StatusAnswer(ref, stored, _lang(), _role_for_steps(caller), datetime.now(UTC))
        if request.if_none_match.contains(answer.tag):
            return answer.not_modified()
        return answer.response()


def _role_for_steps(caller: Caller) -> str:
    return caller.role if caller.role != "anonymous" else "customer"


@blp.route("/<reference>/timeline")
class TimelineResource(MethodView):
    @blp.arguments(LangQuery, location="query")
    @blp.response(200, Timeline)
    def get(self, _args, reference: str):
        """Every step with its public fields and, for its customer or staff, the bodies.

        For a category whose bodies wait for the customer's identity (the service rules'
        ``disclose_after_identity``), the secret gets the bodies of steps it did not record
        only once the identity was verified: until then ``body`` is null and ``withheld`` is
        ``identity_not_verified``.
        """
        ref = path_reference(reference)
        caller = _reader(ref)
        ledger = get_ledger()
        with_bodies = caller.role == "customer" or caller.role in STAFF
        if with_bodies:
            _record_read(caller, ref, "timeline")
        events = ledger.complaints.reads.events(ref)
        withheld = _withheld(caller, events)
        items = []
        for e in events:
            item = _event_json(e.envelope, e.log_index)
            # Investigation notes are internal: staff see them, customers do not.
            if caller.is_staff or (with_bodies and e.envelope.type != "note_added"):
                if e.seq in withheld and e.body_jcs is not None:
                    item["body"], item["withheld"] = None, IDENTITY_NOT_VERIFIED
                else:
                    item["body"] = None if e.body_jcs is None else json.loads(e.body_jcs)
            item["erased"] = e.erased_by is not None
            items.append(item)
        return {"reference": ref, "events": items}


def _withheld(caller: Caller, events: list[StoredEvent]) -> frozenset[int]:
    """The seqs whose bodies this caller may not read yet (only a complaint's secret has
    any: staff read every body, and their reads are recorded)."""
    if caller.role != "customer":
        return frozenset()
    return withheld_from_customer(events, get_ledger().service_rules)


def _check_step_role(caller: Caller, reference: str) -> None:
    if caller.role == "customer":
        if caller.reference != reference:
            raise Problem("forbidden", "this secret opens another complaint")
        return
    if caller.role == "anonymous":
        raise Problem("unauthorized", "the complaint's secret or an API key is required",
                      headers={"WWW-Authenticate": "Bearer"})  # fmt: skip


def _record_step(ref: str, plan: Plan | None, lang: str, **step: Any):
    """Record a step (idempotently when ``plan``) and answer with it, or with the first answer."""
    try:
        recorded: Recorded = get_ledger().complaints.writes.record(
            ref, hooks=_idempotent(plan, {"reference": ref}), **step
        )
    except AlreadyDone:
        return _replay(plan, lang)
    except ChainConflict as exc:
        raise Problem("chain-conflict", str(exc)) from exc
    return _recorded_response(ref, recorded.receipt.index, lang, recorded=recorded)


@blp.route("/<reference>/events")
class EventsResource(MethodView):
    @blp.arguments(EventRequest)
    @blp.response(201, RecordedEvent)
    def post(self, args, reference: str):
        """Record the next step. The role comes from the credentials; decisions,
        compensation offers and payments need an officer signature over the body
        (get the body to sign from ``/signing-body``), within the signing key's limits;
        above its dual-control threshold also ``public.cosignature``, a second officer
        key's signature over the same body. A step outside a key's authority is a 403
        ``officer-not-authorised`` whose ``code`` says why (e.g. ``OVER_LIMIT``,
        ``COSIGNATURE_REQUIRED``); nothing is written.

        Accepting an offer the compensation vault pays (its ``public.payout_terms``): the
        customer gives the address to be paid as ``body.recipient`` (0x + 40 hex) and the
        service adds ``public.payout``, the commitment to the offer's terms, that address and
        that offer, which the vault checks before paying (a ``payout`` sent by the client is
        replaced). Without an address the step is refused (409 ``PAYOUT_ADDRESS_REQUIRED``);
        a malformed one is a 422 naming ``body.recipient``.

        Steps with a customer letter get it in ``body.message``, rendered in the complaint's
        language; a fact it needs that is missing is a 422 ``MISSING_FACT``. The
        acknowledgement's letter names the person responsible for the complaint,
        ``body.responsible``: without one, the name of the API key recording it."""
        ref = path_reference(reference)
        caller = current_caller(ref)
        _check_step_role(caller, ref)
        lang = _lang()
        plan = plan_for(caller.id if caller.role != "customer" else f"customer:{ref}")
        if (done := _replay(plan, lang)) is not None:
            return done
        public, body = args.get("public") or {}, args.get("body") or {}
        step = prepare_step(caller, ref, args["type"], public, body)
        return _record_step(ref, plan, lang, type=step.type, public=step.public,
                            body=step.body, actor=step.actor)  # fmt: skip


@blp.route("/<reference>/signing-body")
class SigningBodyResource(MethodView):
    @blp.arguments(SigningBodyRequest)
    @blp.response(200, SigningBodyResponse)
    def post(self, args, reference: str):
        """The exact body an officer signs for the next step (content, letter, context).

        Sign the UTF-8 bytes of the returned ``body_jcs`` (the body's RFC 8785 text) with the
        officer's Ed25519 key and send ``body`` back with ``public.signature`` to ``/events``.
        Nothing is written.
        """
        ref = path_reference(reference)
        require("officer", reference=ref)
        event_type = args["type"]
        validate_letter_facts({}, args["content"], "content")
        content = get_ledger().complaints.writes.with_letter(
            ref, event_type, args["content"], args["content"]
        )
        state = get_ledger().complaints.reads.state(ref)
        body = signing_body(state, event_type, content)
        validate_body(event_type, body)  # never hand out a body /events would refuse
        return {"body": body, "body_jcs": body_bytes(body).decode("utf-8"), "prev": state.head}


@blp.route("/<reference>/proof")
class ProofResource(MethodView):
    @blp.response(200, ProofResponse)
    def get(self, reference: str):
        """Everything needed to verify this complaint offline against the log's key.

        Anyone holding the reference gets the leaves and proofs (no personal data); with
        the complaint's secret (or a staff key) also the salts and bodies, but the secret
        gets those the timeline withholds (``withheld``) only once they are shown there.
        """
        ref = path_reference(reference)
        caller = current_caller(ref)
        disclose = (caller.role == "customer" and caller.reference == ref) or caller.is_staff
        if disclose and caller.role != "customer":
            _record_read(caller, ref, "proof")
        ledger = get_ledger()
        withheld = _withheld(caller, ledger.complaints.reads.events(ref)) if disclose else ()
        proof = collect_proof(
            ledger.store,
            ledger.complaints.reads,
            ledger.officer_keys,
            ref,
            tree_size=ledger.store.latest_checkpoint().size,
            disclose=disclose,
            # Internal investigation notes are not shown to customers (as in the timeline).
            withhold=("note_added",) if caller.role == "customer" else (),
            withhold_seqs=withheld,
            anchor_for=coverage_for,
        )
        for item in proof["events"]:
            if item["seq"] in withheld and not item["erased"]:
                item["withheld"] = IDENTITY_NOT_VERIFIED
        return proof


@blp.route("/<reference>/erasures")
class ErasureResource(MethodView):
    @blp.arguments(ErasureRequest)
    @blp.response(201, RecordedEvent)
    def post(self, args, reference: str):
        """Erase the personal body of one event (GDPR). The leaf stays and still verifies;
        the erasure is itself a step on the log."""
        ref = path_reference(reference)
        caller = require("admin", "legal")
        lang = _lang()
        plan = plan_for(caller.id)
        if (done := _replay(plan, lang)) is not None:
            return done
        public = {"erases": args["target"], "basis": args["basis"]}
        return _record_step(ref, plan, lang, type="erased", public=public, body={},
                            actor=_actor(caller))  # fmt: skip


@blp.route("/<reference>/access-log")
class AccessLogResource(MethodView):
    @blp.response(200, AccessLog)
    def get(self, reference: str):
        """Who read this complaint's personal data, when (admin, legal, regulator)."""
        ref = path_reference(reference)
        require("admin", "legal", "regulator")
        records = get_ledger().access_log.records(ref)
        return {
            "reference": ref,
            "reads": [
                {"at": r.at.isoformat(), "role": r.role, "principal": r.principal,
                 "action": r.action, "request_id": r.request_id}
                for r in records
            ],
        }  # fmt: skip
