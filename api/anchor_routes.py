"""On-chain anchors of the log: the anchor list, the latest anchor, and checkpoints with coverage.

Every answer is read from the database (the anchor worker keeps the records current); the API
never calls the chain. Other endpoints add coverage to their answers with ``coverage_for``.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlencode

import marshmallow as ma
from flask import current_app, request
from flask.views import MethodView

from api.blueprints import Blueprint as ApiBlueprint
from api.context import get_ledger
from api.problems import Problem
from ledger.anchoring.models import AnchorState, as_utc
from ledger.anchoring.status import (
    MAX_PAGE_SIZE,
    AnchorScope,
    anchor_coverage,
    ensure_anchor_table,
    latest_anchor,
    list_anchors,
)

anchor_api = ApiBlueprint(
    "anchors",
    __name__,
    url_prefix="/v1",
    description="Checkpoints anchored on an EVM chain, and which checkpoint an anchor covers",
)

STATES = [s.value for s in AnchorState]


@anchor_api.record_once
def _setup(state) -> None:
    """At registration: make sure the table exists and fix which deployment counts."""
    ledger = state.app.extensions.get("ledger")
    if ledger is not None:
        ensure_anchor_table(ledger.engine)
        state.app.extensions["anchor_scope"] = AnchorScope.from_settings(ledger.settings)


def anchor_scope() -> AnchorScope | None:
    return current_app.extensions.get("anchor_scope")


def coverage_for(tree_size: int) -> dict[str, Any] | None:
    """The anchor covering the log's checkpoint of ``tree_size`` (see
    ``ledger.anchoring.status.anchor_coverage``), or None; for any endpoint serving proofs."""
    ledger = get_ledger()
    return anchor_coverage(ledger.engine, ledger.store, tree_size, anchor_scope())


# --- schemas -------------------------------------------------------------------------------


class AnchorCoverage(ma.Schema):
    checkpoint_size = ma.fields.Integer(metadata={"description": "the checkpoint asked about"})
    state = ma.fields.String(metadata={"description": "pending or confirmed"})
    confirmations = ma.fields.Integer(
        metadata={"description": "blocks on top of (and including) the anchor's block, as last "
                  "counted by the worker; confirmed once the configured number is reached"}
    )  # fmt: skip
    chain_id = ma.fields.Integer()
    contract = ma.fields.String(metadata={"description": "LogAnchor contract address"})
    tx_hash = ma.fields.String()
    block_number = ma.fields.Integer(allow_none=True)
    block_hash = ma.fields.String(allow_none=True)
    anchored_size = ma.fields.Integer()
    anchored_root = ma.fields.String(metadata={"description": "hex root hash put on chain"})
    anchored_checkpoint = ma.fields.String(
        allow_none=True, metadata={"description": "the signed checkpoint that was anchored"}
    )
    note_hash = ma.fields.String(
        metadata={"description": "SHA-256 of anchored_checkpoint, in the Anchored event"}
    )
    consistency_proof = ma.fields.List(
        ma.fields.String(),
        metadata={
            "description": "hex RFC 9162 consistency proof from checkpoint_size to "
            "anchored_size (empty when equal)"
        },
    )
    anchor_id = ma.fields.Integer()
    confirmed_at = ma.fields.String(allow_none=True)


class Anchor(ma.Schema):
    id = ma.fields.Integer()
    log_origin = ma.fields.String()
    log_id = ma.fields.String(metadata={"description": "SHA-256 of the origin, 0x-hex"})
    tree_size = ma.fields.Integer()
    root = ma.fields.String(metadata={"description": "hex root hash"})
    from_size = ma.fields.Integer(metadata={"description": "anchored size the proof started at"})
    note_hash = ma.fields.String()
    state = ma.fields.String(metadata={"description": " | ".join(STATES)})
    confirmations = ma.fields.Integer()
    chain_id = ma.fields.Integer()
    contract = ma.fields.String()
    sender = ma.fields.String()
    nonce = ma.fields.Integer()
    tx_hash = ma.fields.String()
    block_number = ma.fields.Integer(allow_none=True)
    block_hash = ma.fields.String(allow_none=True)
    gas_used = ma.fields.Integer(allow_none=True)
    broadcasts = ma.fields.Integer()
    reorgs = ma.fields.Integer()
    created_at = ma.fields.String()
    mined_at = ma.fields.String(allow_none=True)
    confirmed_at = ma.fields.String(allow_none=True)


class AnchorListQuery(ma.Schema):
    # Bounded so that the row offset fits a 64-bit integer in any database (else a 500).
    page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1, max=1_000_000))
    page_size = ma.fields.Integer(
        load_default=20, validate=ma.validate.Range(min=1, max=MAX_PAGE_SIZE)
    )
    state = ma.fields.String(validate=ma.validate.OneOf(STATES))


class PageLinks(ma.Schema):
    self = ma.fields.String()
    first = ma.fields.String()
    last = ma.fields.String()
    prev = ma.fields.String(allow_none=True)
    next = ma.fields.String(allow_none=True)


class AnchorPage(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(Anchor))
    page = ma.fields.Integer()
    page_size = ma.fields.Integer()
    total = ma.fields.Integer()
    pages = ma.fields.Integer()
    links = ma.fields.Nested(PageLinks)


class LatestQuery(ma.Schema):
    state = ma.fields.String(validate=ma.validate.OneOf(["pending", "confirmed"]))


class CheckpointQuery(ma.Schema):
    tree_size = ma.fields.Integer(validate=ma.validate.Range(min=0))


class CheckpointView(ma.Schema):
    origin = ma.fields.String()
    size = ma.fields.Integer()
    root = ma.fields.String(metadata={"description": "hex root hash"})
    checkpoint = ma.fields.String(metadata={"description": "the signed checkpoint note"})
    created_at = ma.fields.String()
    anchor = ma.fields.Nested(
        AnchorCoverage,
        allow_none=True,
        metadata={"description": "the anchor covering this checkpoint; null if none yet"},
    )


# --- routes --------------------------------------------------------------------------------


def _page_url(page: int, args: dict[str, Any]) -> str:
    query = {"page": page, "page_size": args["page_size"]}
    if args.get("state"):
        query["state"] = args["state"]
    return f"{request.path}?{urlencode(query)}"


@anchor_api.route("/anchors")
class AnchorList(MethodView):
    @anchor_api.arguments(AnchorListQuery, location="query")
    @anchor_api.response(200, AnchorPage)
    def get(self, args):
        """This log's anchors, newest first (every state unless ``state`` is given)."""
        ledger = get_ledger()
        page, size = args["page"], args["page_size"]
        items, total = list_anchors(
            ledger.engine, ledger.store.origin, page, size, args.get("state"), anchor_scope()
        )
        pages = max(1, math.ceil(total / size))
        return {
            "items": items,
            "page": page,
            "page_size": size,
            "total": total,
            "pages": pages,
            "links": {
                "self": _page_url(page, args),
                "first": _page_url(1, args),
                "last": _page_url(pages, args),
                "prev": _page_url(page - 1, args) if page > 1 else None,
                "next": _page_url(page + 1, args) if page < pages else None,
            },
        }


@anchor_api.route("/anchors/latest")
class LatestAnchor(MethodView):
    @anchor_api.arguments(LatestQuery, location="query")
    @anchor_api.response(200, Anchor)
    def get(self, args):
        """The anchor of the largest tree size that is pending or confirmed (or in ``state``)."""
        ledger = get_ledger()
        found = latest_anchor(ledger.engine, ledger.store.origin, args.get("state"), anchor_scope())
        if found is None:
            raise Problem("not-found", "no checkpoint of this log is anchored yet")
        return found


@anchor_api.route("/log/checkpoint")
class CheckpointResource(MethodView):
    @anchor_api.arguments(CheckpointQuery, location="query")
    @anchor_api.response(200, CheckpointView)
    def get(self, args):
        """The latest checkpoint (or the one of ``tree_size``) and the anchor covering it."""
        store = get_ledger().store
        size = args.get("tree_size")
        if size is None:
            cp = store.latest_checkpoint()
        else:
            latest = store.latest_checkpoint().size
            if size > latest:
                raise Problem("tree-size-out-of-range", f"tree size {size} > log size {latest}")
            cp = store.checkpoint(size)  # NotFound (404) when no checkpoint has that size
        return {
            "origin": store.origin,
            "size": cp.size,
            "root": cp.root.hex(),
            "checkpoint": cp.note,
            "created_at": as_utc(cp.created_at).isoformat(),
            "anchor": coverage_for(cp.size),
        }
