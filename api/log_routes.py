"""Read-only HTTP face of the log: checkpoint and C2SP tiles, proofs and keys as JSON."""

from __future__ import annotations

import marshmallow as ma
from flask import Blueprint, Response
from flask.views import MethodView

from api.anchor_routes import AnchorCoverage, coverage_for
from api.blueprints import Blueprint as ApiBlueprint
from api.context import get_ledger
from api.problems import Problem
from ledger.log import merkle
from ledger.log.encoding import hashes_hex
from ledger.log.tiles import TilePathError, parse_tile_path
from ledger.logstore.store import NotFound

IMMUTABLE = "public, max-age=31536000, immutable"

tiles = Blueprint("tiles", __name__, url_prefix="/log")
log_api = ApiBlueprint(
    "log", __name__, url_prefix="/v1/log", description="Proofs and keys of the transparency log"
)


@tiles.get("/checkpoint")
def checkpoint() -> Response:
    cp = get_ledger().store.latest_checkpoint()
    resp = Response(cp.note, mimetype="text/plain")
    resp.headers["Cache-Control"] = "no-cache"
    return resp


@tiles.get("/tile/<path:rest>")
def tile(rest: str) -> Response:
    try:
        coord = parse_tile_path("tile/" + rest)
    except TilePathError as exc:
        raise Problem("not-found", str(exc)) from exc
    store = get_ledger().store
    try:
        if coord.is_entries:
            blob = store.entry_bundle(coord.index, coord.width)
        else:
            blob = store.hash_tile(coord.level, coord.index, coord.width)
    except NotFound as exc:
        raise Problem("not-found", str(exc)) from exc
    resp = Response(blob, mimetype="application/octet-stream")
    resp.headers["Cache-Control"] = IMMUTABLE if coord.is_full else "public, max-age=5"
    return resp


class InclusionQuery(ma.Schema):
    index = ma.fields.Integer(required=True, validate=ma.validate.Range(min=0))
    tree_size = ma.fields.Integer(validate=ma.validate.Range(min=1))


class InclusionProof(ma.Schema):
    index = ma.fields.Integer()
    tree_size = ma.fields.Integer()
    leaf_hash = ma.fields.String(metadata={"description": "hex RFC 6962 leaf hash"})
    proof = ma.fields.List(
        ma.fields.String(), metadata={"description": "hex hashes, RFC 9162 inclusion proof"}
    )
    checkpoint = ma.fields.String(
        allow_none=True, metadata={"description": "signed checkpoint of this tree size, if any"}
    )
    anchor = ma.fields.Nested(
        AnchorCoverage,
        allow_none=True,
        metadata={"description": "the anchor covering this tree size; null if none yet"},
    )


class ConsistencyQuery(ma.Schema):
    from_ = ma.fields.Integer(data_key="from", required=True, validate=ma.validate.Range(min=1))
    to = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1))


class ConsistencyProof(ma.Schema):
    from_ = ma.fields.Integer(data_key="from")
    to = ma.fields.Integer()
    proof = ma.fields.List(
        ma.fields.String(), metadata={"description": "hex hashes, RFC 9162 consistency proof"}
    )


class LogKeys(ma.Schema):
    origin = ma.fields.String()
    verifier_key = ma.fields.String(metadata={"description": "C2SP signed-note verifier key"})
    algorithm = ma.fields.String()
    public_key = ma.fields.String(metadata={"description": "hex Ed25519 public key (32 bytes)"})
    key_id = ma.fields.String(metadata={"description": "hex C2SP key id (4 bytes)"})


def _size_or_latest(tree_size: int | None) -> int:
    store = get_ledger().store
    latest = store.latest_checkpoint().size
    if tree_size is None:
        return latest
    if tree_size > latest:
        raise Problem("tree-size-out-of-range", f"tree size {tree_size} > log size {latest}")
    return tree_size


def _checkpoint_note(size: int) -> str | None:
    try:
        return get_ledger().store.checkpoint(size).note
    except NotFound:
        return None


@log_api.route("/proof/inclusion")
class InclusionResource(MethodView):
    @log_api.arguments(InclusionQuery, location="query")
    @log_api.response(200, InclusionProof)
    def get(self, args):
        """Inclusion proof of the entry at ``index`` in the tree of ``tree_size`` (RFC 9162)."""
        size = _size_or_latest(args.get("tree_size"))
        index = args["index"]
        if index >= size:
            raise Problem("bad-request", f"index {index} is not below tree size {size}")
        store = get_ledger().store
        proof = store.inclusion_proof(index, size)
        # The leaf hash is recomputed from the stored bytes, so a tampered entry shows.
        leaf = merkle.leaf_hash(store.entry(index))
        return {
            "index": index,
            "tree_size": size,
            "leaf_hash": leaf.hex(),
            "proof": hashes_hex(proof),
            "checkpoint": _checkpoint_note(size),
            "anchor": coverage_for(size),
        }


@log_api.route("/proof/consistency")
class ConsistencyResource(MethodView):
    @log_api.arguments(ConsistencyQuery, location="query")
    @log_api.response(200, ConsistencyProof)
    def get(self, args):
        """Consistency proof between two tree sizes (RFC 9162)."""
        size1, size2 = args["from_"], _size_or_latest(args["to"])
        if size1 > size2:
            raise Problem("bad-request", "'from' must not exceed 'to'")
        proof = get_ledger().store.consistency_proof(size1, size2)
        return {"from_": size1, "to": size2, "proof": hashes_hex(proof)}


@log_api.route("/keys")
class KeysResource(MethodView):
    @log_api.response(200, LogKeys)
    def get(self):
        """The log's verifier key (C2SP signed-note form)."""
        store = get_ledger().store
        v = store.verifier
        return {
            "origin": store.origin,
            "verifier_key": str(v),
            "algorithm": "Ed25519",
            "public_key": v.public_key.hex(),
            "key_id": f"{v.key_id:08x}",
        }
