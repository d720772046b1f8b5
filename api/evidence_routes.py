"""Evidence bundles: one signed ZIP per complaint that verifies offline, and bulk exports.

``GET /v1/complaints/<ref>/bundle`` (legal, admin, or the complaint's customer with its
secret) and ``POST /v1/evidence/exports`` (legal, regulator). Every export is recorded on the
log as a ``bundle_exported`` step naming the bundle's SHA-256, after the bundle is built (a
bundle cannot hold its own export event); reads of personal data by legal, admin and
regulators are recorded in the access log too. See docs/evidence.md.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Collection
from datetime import UTC
from typing import Any

import marshmallow as ma
from flask import Response, g, request
from flask.views import MethodView
from flask_smorest import Blueprint

from api import get_ledger
from api.auth import Caller, current_caller, require
from api.problems import Problem
from api.schemas import Strict
from ledger.complaints.errors import InvalidReference
from ledger.complaints.events import Actor
from ledger.complaints.proofdoc import ProofUnavailable, collect_proof
from ledger.complaints.reference import parse_reference
from ledger.complaints.service import ChainConflict
from ledger.complaints.vocab import Category, EventType, Role
from ledger.evidence.bundle import Bundle, BundleError, ExportEntry, build_bundle, build_export
from ledger.evidence.layout import FORMAT_VERSION, sha256_hex
from ledger.log.store import NotFound
from ledger.runtime import Ledger

blp = Blueprint(
    "evidence",
    __name__,
    url_prefix="/v1",
    description="Evidence bundles that verify offline, years later, without our servers",
)

MAX_EXPORT = 200  # complaints per bulk export; narrow the period or category beyond that
# Bodies customers do not see (as in the timeline): internal investigation notes.
CUSTOMER_WITHHELD = frozenset({EventType.NOTE_ADDED.value})


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _anchor_for(size: int) -> dict[str, Any] | None:
    from api.anchor_routes import coverage_for

    return coverage_for(size)  # scoped to the configured chain and contract


def export_bundle(
    ledger: Ledger,
    reference: str,
    caller: Caller,
    *,
    tree_size: int | None = None,
    disclose: bool = True,
    withhold: Collection[str] = (),
    anchor_for: Callable[[int], dict[str, Any] | None] | None = None,
) -> tuple[Bundle, int]:
    """Build the bundle, then record its export on the log; returns it and the event's index."""
    signer = ledger.store.signer
    if signer is None:
        raise Problem("unavailable", "the log signing key is not available on this server")
    try:
        proof = collect_proof(
            ledger,
            reference,
            tree_size=tree_size,
            disclose=disclose,
            withhold=withhold,
            anchor_for=anchor_for,
        )
    except ProofUnavailable as exc:
        raise Problem("bad-request", str(exc)) from exc
    try:
        bundle = build_bundle(proof, signer)
    except BundleError as exc:  # the ledger's own data does not verify: never sign it
        raise Problem("internal-error", f"the evidence does not verify: {exc}") from exc
    actor = Actor(Role(caller.role), caller.id)
    public = {
        "bundle_sha256": bundle.sha256,
        "format_version": FORMAT_VERSION,
        "tree_size": bundle.tree_size,
    }
    try:
        recorded = ledger.complaints.record(
            reference, type=EventType.BUNDLE_EXPORTED, public=public, body={}, actor=actor
        )
    except ChainConflict as exc:
        raise Problem("chain-conflict", str(exc)) from exc
    return bundle, recorded.receipt.index


# --- HTTP ------------------------------------------------------------------------------------


def _request_id() -> str:
    if "request_id" not in g:
        g.request_id = request.headers.get("X-Request-Id") or uuid.uuid4().hex
    return g.request_id


def _ref(text: str) -> str:
    try:
        return parse_reference(text)
    except InvalidReference as exc:
        raise Problem("invalid-reference", exc.message) from exc


def _zip_response(data: bytes, filename: str, digest_hex: str, headers: dict[str, str]):
    digest = _b64(bytes.fromhex(digest_hex))
    resp = Response(data, status=200, mimetype="application/zip")
    resp.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    resp.headers["Repr-Digest"] = f"sha-256=:{digest}:"  # RFC 9530
    resp.headers["Cache-Control"] = "no-store"  # personal data
    resp.headers.update(headers)
    return resp


class BundleQuery(Strict):
    tree_size = ma.fields.Integer(
        validate=ma.validate.Range(min=1),
        metadata={
            "description": "build on the signed checkpoint of this size (default: the first "
            "checkpoint holding the complaint's last step)"
        },
    )


_ZIP_CONTENT = {"application/zip": {"schema": {"type": "string", "format": "binary"}}}


def _zip_doc(description: str) -> dict[str, Any]:
    return {"responses": {"200": {"description": description, "content": _ZIP_CONTENT}}}


@blp.route("/complaints/<reference>/bundle")
class BundleResource(MethodView):
    @blp.arguments(BundleQuery, location="query")
    @blp.response(200, content_type="application/zip", description="the evidence bundle")
    @blp.doc(**_zip_doc("the evidence bundle"))
    @blp.alt_response(401, description="No or wrong credentials")
    @blp.alt_response(403, description="These credentials do not open this complaint")
    def get(self, args, reference: str):
        """The complaint's evidence bundle: a signed, deterministic ZIP that verifies offline.

        For legal and admin API keys, and for the complaint's customer (with its secret;
        internal investigation notes are withheld). The export is recorded on the log as a
        ``bundle_exported`` step; reads by legal and admin are recorded in the access log.
        """
        ref = _ref(reference)
        caller = current_caller(ref)
        withhold: frozenset[str] = frozenset()
        if caller.role == "customer" and caller.reference == ref:
            withhold = CUSTOMER_WITHHELD
        elif caller.role in ("legal", "admin"):
            pass
        elif caller.role == "anonymous":
            raise Problem(
                "unauthorized",
                "the complaint's secret or an API key is required",
                headers={"WWW-Authenticate": "Bearer"},
            )
        else:
            raise Problem("forbidden", f"role {caller.role!r} does not export evidence bundles")
        ledger = get_ledger()
        ledger.complaints.complaint(ref)  # 404 before anything is recorded
        if caller.role != "customer":
            ledger.complaints.record_access(caller.role, caller.id, ref, "bundle", _request_id())
        try:
            bundle, index = export_bundle(
                ledger,
                ref,
                caller,
                tree_size=args.get("tree_size"),
                withhold=withhold,
                anchor_for=_anchor_for,
            )
        except NotFound as exc:
            raise Problem("not-found", f"no signed checkpoint of that size: {exc}") from exc
        return _zip_response(
            bundle.data,
            bundle.filename,
            bundle.sha256,
            {"X-Bundle-SHA256": bundle.sha256, "X-Export-Log-Index": str(index)},
        )


class ExportRequest(Strict):
    received_from = ma.fields.AwareDateTime(
        metadata={"description": "complaints received at or after this instant"}
    )
    received_to = ma.fields.AwareDateTime(
        metadata={"description": "complaints received before this instant"}
    )
    category = ma.fields.String(validate=ma.validate.OneOf([c.value for c in Category]))
    include_bodies = ma.fields.Boolean(
        load_default=True,
        metadata={
            "description": "include bodies and salts (personal data); false: public "
            "parts and proofs only"
        },
    )

    @ma.validates_schema
    def _filters(self, data, **_kwargs):
        if not {"received_from", "received_to", "category"} & set(data):
            raise ma.ValidationError("give a period (received_from/received_to) and/or a category")
        start, end = data.get("received_from"), data.get("received_to")
        if start and end and end <= start:
            raise ma.ValidationError("received_to must be after received_from", "received_to")


@blp.route("/evidence/exports")
class ExportsResource(MethodView):
    @blp.arguments(ExportRequest)
    @blp.response(
        200,
        content_type="application/zip",
        description="one ZIP: index.json, index.sig, bundles/<reference>.zip",
    )
    @blp.alt_response(422, description="No filter, or too many complaints match")
    @blp.doc(**_zip_doc("one ZIP: index.json, index.sig, bundles/<reference>.zip"))
    def post(self, args):
        """Export the evidence bundles of many complaints at once (legal, regulator).

        Filters: a received period and/or a category. Returns one ZIP holding every
        complaint's bundle and a signed index. Each export is recorded on the log, each read
        of personal data in the access log.
        """
        caller = require("legal", "regulator")
        ledger = get_ledger()
        total, rows = ledger.complaints.list(
            category=args.get("category"),
            received_from=args.get("received_from"),
            received_to=args.get("received_to"),
            limit=MAX_EXPORT + 1,
        )
        if total > MAX_EXPORT:
            raise Problem(
                "validation-error",
                f"{total} complaints match; at most {MAX_EXPORT} "
                "per export: narrow the period or the category",
                matched=total,
            )
        disclose = args["include_bodies"]
        entries = []
        for row in sorted(rows, key=lambda r: r.reference):
            if disclose:
                ledger.complaints.record_access(
                    caller.role, caller.id, row.reference, "bulk-export", _request_id()
                )
            bundle, _ = export_bundle(
                ledger, row.reference, caller, disclose=disclose, anchor_for=_anchor_for
            )
            received = row.received_at
            received = received.replace(tzinfo=UTC) if received.tzinfo is None else received
            entries.append(ExportEntry(bundle, row.category, received.astimezone(UTC).isoformat()))
        filters = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in args.items()}
        data = build_export(
            entries,
            ledger.store.signer,
            origin=ledger.store.origin,
            filters=filters,
            requested_by={"role": caller.role, "id": caller.id},
        )
        digest = sha256_hex(data)
        return _zip_response(
            data,
            f"evidence-export-{digest[:12]}.zip",
            digest,
            {"X-Export-Count": str(len(entries))},
        )
