"""Outbound messages: webhook endpoints (admin) and the outbox with its dead letters (staff).

An endpoint's ``whsec_`` signing secret is in the answer to its creation and never again;
the outbox listing names the complaint, template and kind of receiver, never an address,
an endpoint URL or a text.
"""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView
from marshmallow import validate

from api.auth import require
from api.blueprints import Blueprint
from api.context import get_ledger
from api.problems import Problem
from ledger.messages.endpoints import ALL_EVENTS, Endpoint, EndpointError
from ledger.messages.listing import outbox_entries
from ledger.messages.models import OutboxState

blp = Blueprint(
    "messages",
    __name__,
    url_prefix="/v1",
    description="Outbound messages: webhook endpoints and the outbox",
)

# Who may see the outbox (its dead letters are work for a supervisor).
OUTBOX_READERS = ("supervisor", "admin")


class Strict(ma.Schema):
    class Meta:
        unknown = ma.RAISE


class EndpointRequest(Strict):
    url = ma.fields.Url(
        required=True,
        schemes={"http", "https"},
        require_tld=False,
        validate=validate.Length(max=2000),
        metadata={"description": "http(s) URL that receives the signed POSTs"},
    )
    event_types = ma.fields.List(
        ma.fields.String(),
        load_default=None,
        validate=validate.Length(min=1, max=64),
        metadata={
            "description": f"complaint step types to receive; omitted or ['{ALL_EVENTS}']: all"
        },
    )


class EndpointSchema(ma.Schema):
    id = ma.fields.String()
    url = ma.fields.String()
    event_types = ma.fields.List(ma.fields.String())
    created_by = ma.fields.String(metadata={"description": "the admin API key id"})
    created_at = ma.fields.DateTime()
    disabled_at = ma.fields.DateTime(allow_none=True)
    active = ma.fields.Boolean()


class CreatedEndpoint(EndpointSchema):
    secret = ma.fields.String(
        metadata={
            "description": "the Standard Webhooks signing secret (whsec_…): shown only now; "
            "verify each delivery's webhook-signature with it"
        }
    )


class EndpointList(ma.Schema):
    endpoints = ma.fields.List(ma.fields.Nested(EndpointSchema))


class OutboxQuery(Strict):
    state = ma.fields.String(validate=validate.OneOf([s.value for s in OutboxState]))
    page = ma.fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    page_size = ma.fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class OutboxEntrySchema(ma.Schema):
    message_id = ma.fields.String()
    reference = ma.fields.String()
    for_seq = ma.fields.Integer(metadata={"description": "the step whose message this is"})
    event_type = ma.fields.String()
    template = ma.fields.String()
    receiver = ma.fields.String(metadata={"description": "email or webhook"})
    state = ma.fields.String()
    attempts = ma.fields.Integer()
    last_error = ma.fields.String(allow_none=True)
    created_at = ma.fields.DateTime()
    due_at = ma.fields.DateTime()
    next_attempt_at = ma.fields.DateTime()
    sent_at = ma.fields.DateTime(allow_none=True)
    recorded_seq = ma.fields.Integer(
        allow_none=True, metadata={"description": "seq of its message_sent step"}
    )


class OutboxList(ma.Schema):
    total = ma.fields.Integer()
    page = ma.fields.Integer()
    page_size = ma.fields.Integer()
    messages = ma.fields.List(ma.fields.Nested(OutboxEntrySchema))


def _endpoint_json(endpoint: Endpoint) -> dict:
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "event_types": list(endpoint.event_types),
        "created_by": endpoint.created_by,
        "created_at": endpoint.created_at,
        "disabled_at": endpoint.disabled_at,
        "active": endpoint.active,
    }


def _endpoints():
    messages = get_ledger().messages
    assert messages is not None
    return messages.endpoints


@blp.route("/webhook-endpoints")
class WebhookEndpointsResource(MethodView):
    @blp.response(200, EndpointList)
    @blp.alt_response(401, description="No or wrong credentials")
    @blp.alt_response(403, description="Not an admin")
    def get(self):
        """Every registered webhook endpoint, removed ones included (admin); no secrets."""
        require("admin")
        return {"endpoints": [_endpoint_json(e) for e in _endpoints().list()]}

    @blp.arguments(EndpointRequest)
    @blp.response(201, CreatedEndpoint)
    @blp.alt_response(401, description="No or wrong credentials")
    @blp.alt_response(403, description="Not an admin")
    @blp.alt_response(422, description="Not an http(s) URL, or unknown step types")
    def post(self, args):
        """Register a webhook endpoint (admin). Every later step of the subscribed types is
        POSTed to it per the Standard Webhooks specification, signed with the secret in this
        answer (shown once)."""
        caller = require("admin")
        try:
            endpoint, secret = _endpoints().create(args["url"], args["event_types"], caller.id)
        except EndpointError as exc:
            raise Problem(
                "validation-error",
                "The request did not pass validation; see errors",
                errors={"json": {exc.field: [exc.message]}},
            ) from exc
        return {**_endpoint_json(endpoint), "secret": secret}


@blp.route("/webhook-endpoints/<endpoint_id>")
class WebhookEndpointResource(MethodView):
    @blp.response(204)
    @blp.alt_response(401, description="No or wrong credentials")
    @blp.alt_response(403, description="Not an admin")
    @blp.alt_response(404, description="No such endpoint")
    def delete(self, endpoint_id: str):
        """Remove a webhook endpoint (admin): nothing more is sent to it, and what was
        queued for it is skipped. Removing it again is a no-op."""
        require("admin")
        if _endpoints().disable(endpoint_id) is None:
            raise Problem("not-found", f"no webhook endpoint {endpoint_id}")
        return None


@blp.route("/outbox")
class OutboxResource(MethodView):
    @blp.arguments(OutboxQuery, location="query")
    @blp.response(200, OutboxList)
    @blp.alt_response(401, description="No or wrong credentials")
    @blp.alt_response(403, description="Not a supervisor or admin")
    def get(self, args):
        """Messages in the outbox (supervisor, admin), oldest due first; ``state=dead``: the
        dead letters, with why the last attempt failed. No addresses, URLs or texts."""
        require(*OUTBOX_READERS)
        state = OutboxState(args["state"]) if "state" in args else None
        size = args["page_size"]
        total, entries = outbox_entries(
            get_ledger().reader, state, limit=size, offset=(args["page"] - 1) * size
        )
        return {
            "total": total,
            "page": args["page"],
            "page_size": size,
            "messages": [vars(e) for e in entries],
        }
