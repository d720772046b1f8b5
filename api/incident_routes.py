"""The service's own rules and mass incidents: the service rules in force, the complaints
linked to an incident, and one holding reply to all of them."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from flask import Response, request
from flask.views import MethodView

from api.auth import STAFF, Caller, require
from api.blueprints import Blueprint
from api.context import get_ledger
from api.idempotency import Plan, plan_for, previous_outcome
from api.problems import Problem
from api.schemas import (
    IncidentHoldingReplyRequest,
    IncidentHoldingReplyResult,
    IncidentView,
    ServiceRulesDocument,
)
from ledger.casework.appends import Hooks
from ledger.casework.reads import IncidentLink
from ledger.casework.writes import IncidentReply
from ledger.complaints.events import Actor
from ledger.complaints.payloads import INCIDENT
from ledger.complaints.service_rules import rules_to_json
from ledger.complaints.vocab import Role

blp = Blueprint(
    "service",
    __name__,
    url_prefix="/v1",
    description="The service rules in force, and mass incidents",
)

# The rules change only with a restart: a client may keep them a while, and revalidate.
RULES_CACHE = "public, max-age=300"


@blp.route("/service-rules")
class ServiceRulesResource(MethodView):
    @blp.response(200, ServiceRulesDocument)
    def get(self):
        """The service rules in force: first-response and resolution times per category,
        each category's playbook, the payout threshold that needs a verified identity, and
        the categories whose bodies wait for it. Public and cacheable (ETag).

        The instants a complaint was promised are on its received event
        (``public.deadlines``), computed from the rules in force when it was filed.
        """
        doc = rules_to_json(get_ledger().service_rules)
        text = json.dumps(doc, sort_keys=True)
        resp = Response(text, mimetype="application/json")
        resp.set_etag(hashlib.sha256(text.encode("utf-8")).hexdigest()[:32])
        resp.headers["Cache-Control"] = RULES_CACHE
        return resp.make_conditional(request)


def _incident(text: str) -> str:
    if not INCIDENT.fullmatch(text):
        raise Problem(
            "not-found",
            "not an incident id: give one such as INC-2026-0042",
            code="INVALID_INCIDENT",
        )
    return text


def _links(incident: str) -> list[IncidentLink]:
    links = get_ledger().complaints.reads.incident_links(incident)
    if not links:
        raise Problem("not-found", f"no complaint is linked to incident {incident}")
    return links


@blp.route("/incidents/<incident>")
class IncidentResource(MethodView):
    @blp.response(200, IncidentView)
    @blp.alt_response(404, description="Not an incident id, or no complaint is linked to it")
    def get(self, incident: str):
        """The complaints linked to a mass incident (by an ``incident_linked`` step), in the
        order they were linked, with their status now (staff, regulator)."""
        require(*STAFF, "regulator")
        incident = _incident(incident)
        return {
            "incident": incident,
            "complaints": [
                {
                    "reference": link.reference,
                    "status": link.status,
                    "category": link.category,
                    "linked_at": link.linked_at,
                }
                for link in _links(incident)
            ],
        }


def _plans(caller: Caller, links: list[IncidentLink]) -> dict[str, Plan]:
    """One idempotency record per complaint, under the request's Idempotency-Key: a retry
    answers for the complaints already done and tries the others again."""
    plan = plan_for(caller.id)  # checks the header; the request's own record is not used
    if plan is None:
        return {}
    key = request.headers["Idempotency-Key"]
    request_hash = hashlib.sha256(
        request.method.encode() + b" " + request.path.encode() + b"\n" + request.get_data()
    ).digest()
    return {
        link.reference: Plan(
            plan.records,
            plan.records.keys_for(
                caller.id, f"{key}\n{link.reference}", request_hash, bind_request=False
            ),
        )
        for link in links
    }


def _recorded(link: IncidentLink, log_index: int, leaf_hash: str, status: str) -> dict[str, Any]:
    return {
        "reference": link.reference,
        "outcome": "recorded",
        "status": status,
        "log_index": log_index,
        "leaf_hash": leaf_hash,
    }


def _answer(reply: IncidentReply, plans: dict[str, Plan]) -> dict[str, Any]:
    link = reply.link
    if reply.recorded is not None:
        env = reply.recorded.envelope
        status = str(reply.recorded.state.status)
        return _recorded(link, reply.recorded.receipt.index, env.leaf_hash_hex, status)
    if reply.code is not None:
        return {
            "reference": link.reference,
            "outcome": "skipped",
            "status": link.status,
            "code": reply.code,
            "detail": reply.detail,
        }
    # A twin request (same Idempotency-Key) recorded it meanwhile: its answer.
    done = previous_outcome(get_ledger().engine, plans.get(link.reference))
    if done is None:
        raise Problem("conflict", f"{link.reference} changed meanwhile; send the request again")
    return _recorded(link, done["log_index"], done["leaf_hash"], link.status)


@blp.route("/incidents/<incident>/holding-reply")
class IncidentHoldingReplyResource(MethodView):
    @blp.arguments(IncidentHoldingReplyRequest)
    @blp.response(200, IncidentHoldingReplyResult)
    @blp.alt_response(404, description="Not an incident id, or no complaint is linked to it")
    @blp.alt_response(422, description="Invalid fields, or an Idempotency-Key reused")
    def post(self, args, incident: str):
        """One holding reply on every complaint linked to the incident (agent, supervisor).

        Each complaint gets a ``holding_reply`` step with the reason and the incident's
        letter (in its language, naming the incident, the extended final-response date and
        the right to refer), where its state allows one. A complaint the domain refuses
        (e.g. ``HOLDING_REPLY_ALREADY_SENT``, ``INVALID_TRANSITION``) is ``skipped`` with
        the refusal's code, and nothing is written for it. With an Idempotency-Key, a retry
        answers for the complaints already done and tries the others again.
        """
        caller = require("agent", "supervisor")
        incident = _incident(incident)
        ledger = get_ledger()
        links = _links(incident)
        plans = _plans(caller, links)
        # Every earlier answer first: a key reused for another request is refused (422)
        # before anything is written.
        earlier = {ref: previous_outcome(ledger.engine, plan) for ref, plan in plans.items()}
        done = {ref: outcome for ref, outcome in earlier.items() if outcome is not None}

        def hooks_for(link: IncidentLink) -> Hooks | None:
            plan = plans.get(link.reference)
            if plan is None:
                return None
            return Hooks(check=plan.check, write=plan.writer({"reference": link.reference}))

        actor = Actor(Role(caller.role), caller.id)
        replies = ledger.complaints.writes.incident_holding_reply(
            incident,
            args["reason"],
            actor,
            hooks_for=hooks_for,
            skip=lambda link: link.reference in done,
        )
        answers = {r.link.reference: _answer(r, plans) for r in replies}
        for link in links:
            if link.reference in done:
                outcome = done[link.reference]
                answers[link.reference] = _recorded(
                    link, outcome["log_index"], outcome["leaf_hash"], link.status
                )
        items = [answers[link.reference] for link in links if link.reference in answers]
        return {
            "incident": incident,
            "recorded": sum(1 for i in items if i["outcome"] == "recorded"),
            "skipped": sum(1 for i in items if i["outcome"] == "skipped"),
            "complaints": items,
        }
