"""The staff access record (``ledger.access.staff``): sign-ins, failures, lockouts and
account changes, for admins and regulators. Never a password, code or secret; a sign-in
under a username no account has is listed without that username."""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView
from marshmallow import validate

from api.auth import require
from api.blueprints import Blueprint
from api.context import get_ledger
from ledger.access.staff_record import EVENT_KINDS, REFUSAL_REASONS

blp = Blueprint(
    "staff_access",
    __name__,
    url_prefix="/v1",
    description="The staff access record: sign-ins, failures, lockouts, account changes",
)

# Who may read the access record: the admin who manages accounts, and the regulator.
READERS = ("admin", "regulator")


class AccessQuery(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    account = ma.fields.String(
        validate=validate.Regexp(r"^[0-9a-f]{16}$"),
        metadata={"description": "one staff account's id"},
    )
    kind = ma.fields.String(validate=validate.OneOf(EVENT_KINDS))
    page = ma.fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    page_size = ma.fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class AccessEventSchema(ma.Schema):
    id = ma.fields.Integer()
    at = ma.fields.DateTime()
    account_id = ma.fields.String(
        allow_none=True, metadata={"description": "null: a username no account has"}
    )
    username = ma.fields.String(allow_none=True)
    kind = ma.fields.String(metadata={"description": " | ".join(EVENT_KINDS)})
    reason = ma.fields.String(
        allow_none=True,
        metadata={"description": "why a sign-in was refused: " + " | ".join(REFUSAL_REASONS)},
    )
    detail = ma.fields.Dict(allow_none=True, metadata={"description": "e.g. old and new roles"})
    by = ma.fields.String(metadata={"description": "the admin's pseudonym, or system"})
    client = ma.fields.String(metadata={"description": "the client's address"})


class AccessList(ma.Schema):
    total = ma.fields.Integer()
    page = ma.fields.Integer()
    page_size = ma.fields.Integer()
    events = ma.fields.List(ma.fields.Nested(AccessEventSchema))


@blp.route("/staff-access-events")
class StaffAccessEvents(MethodView):
    @blp.arguments(AccessQuery, location="query")
    @blp.response(200, AccessList)
    @blp.alt_response(401, description="No or wrong credentials")
    @blp.alt_response(403, description="Not an admin or regulator")
    def get(self, args):
        """The staff access record, newest first (admin, regulator); filter by account or
        kind of event."""
        require(*READERS)
        staff = get_ledger().staff
        assert staff is not None
        size = args["page_size"]
        total, events = staff.events(
            account_id=args.get("account"),
            kind=args.get("kind"),
            limit=size,
            offset=(args["page"] - 1) * size,
        )
        return {
            "total": total,
            "page": args["page"],
            "page_size": size,
            "events": [vars(e) for e in events],
        }
