"""The chains this service names: where a transaction on each can be looked at.

The /verify page links a payout's transaction to the block explorer configured for its chain
(``LEDGER_EXPLORER_TX_URLS``); it only links, it never fetches from an explorer. Public: the
templates are configuration, not data about anyone.
"""

from __future__ import annotations

import marshmallow as ma
from flask import Response, jsonify
from flask.views import MethodView
from flask_smorest import Blueprint

from api.context import get_ledger

blp = Blueprint(
    "chains",
    __name__,
    url_prefix="/v1",
    description="The chains this service names, with their block explorers",
)

# Configuration changes only with a restart: a client may keep it a while.
CHAINS_CACHE = "public, max-age=300"


class Chain(ma.Schema):
    chain_id = ma.fields.Integer(metadata={"description": "EIP-155 chain id"})
    explorer_tx_url = ma.fields.String(
        metadata={
            "description": "a transaction's page on this chain's block explorer, {tx} standing "
            "for the transaction hash (0x + 64 hex)"
        }
    )


class ChainList(ma.Schema):
    chains = ma.fields.List(ma.fields.Nested(Chain), metadata={"description": "by chain id"})


@blp.route("/chains")
class ChainsResource(MethodView):
    @blp.response(200, ChainList)
    def get(self) -> Response:
        """The chains with a block explorer configured (``LEDGER_EXPLORER_TX_URLS``), for
        links to on-chain transactions such as a compensation payout. Public and cacheable."""
        urls = get_ledger().settings.explorer_tx_urls
        chains = [{"chain_id": cid, "explorer_tx_url": urls[cid]} for cid in sorted(urls)]
        resp = jsonify({"chains": chains})
        resp.headers["Cache-Control"] = CHAINS_CACHE
        return resp
