"""Officer keys: who may sign decisions, offers and payments, registered on the log."""

from __future__ import annotations

from collections.abc import Callable

from flask.views import MethodView

from api.auth import current_caller, require
from api.blueprints import Blueprint
from api.complaints_routes import receipt_json
from api.context import get_ledger
from api.idempotency import AlreadyDone, plan_for, previous_outcome
from api.problems import Problem
from api.schemas import OfficerKeyList, OfficerKeyRecorded, OfficerKeyRequest, RevocationRequest
from ledger.casework.appends import ChainConflict, Hooks
from ledger.casework.officer_keys import OfficerKeyNotFound
from ledger.complaints.errors import AuthorityError
from ledger.complaints.officers import OfficerKey, officer_key_id
from ledger.logstore.store import Receipt

blp = Blueprint("officers", __name__, url_prefix="/v1/officers", description="Officer signing keys")


def _registry_problem(exc: AuthorityError) -> Problem:
    """The key registry's refusals: a conflict with the registered state, or a bad request
    (the default mapping, 403 officer-not-authorised, is for signatures on complaint steps)."""
    if exc.code in ("KEY_REGISTERED", "KEY_REVOKED"):
        return Problem("conflict", exc.message, code=exc.code)
    return Problem("invalid-payload", exc.message, code=exc.code)


def _iso(value) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def _key_json(key: OfficerKey) -> dict:
    entries = get_ledger().officer_keys.entries(key.key_id)
    return {
        "key_id": key.key_id,
        "public_key": key.public_key.hex(),
        "roles": sorted(str(r) for r in key.roles),
        "valid_from": _iso(key.valid_from),
        "valid_until": _iso(key.valid_until),
        "revoked_at": _iso(key.revoked_at),
        "limits": None if key.limits is None else key.limits.to_json(),
        "log_indexes": [index for index, _ in entries],
    }


def _answer(key_id: str, log_index: int) -> dict:
    key = get_ledger().officer_keys.registry()[key_id]
    return {"key": _key_json(key), "receipt": receipt_json(log_index)}


def _recorded(key_id: str, append: Callable[[Hooks | None], tuple[object, Receipt]]) -> dict:
    """Append an officer-key entry (idempotently with an Idempotency-Key) and answer with it."""
    plan = plan_for(current_caller().id)
    if (done := previous_outcome(get_ledger().engine, plan)) is not None:
        return _answer(done["key_id"], done["log_index"])
    hooks = None if plan is None else Hooks(plan.check, plan.writer({"key_id": key_id}))
    try:
        _, receipt = append(hooks)
    except OfficerKeyNotFound as exc:
        raise Problem("not-found", f"no officer key {key_id}") from exc
    except AlreadyDone:
        done = previous_outcome(get_ledger().engine, plan)
        return _answer(done["key_id"], done["log_index"])
    except ChainConflict as exc:
        raise Problem("conflict", str(exc)) from exc
    except AuthorityError as exc:
        raise _registry_problem(exc) from exc
    return _answer(key_id, receipt.index)


@blp.route("/keys")
class OfficerKeysResource(MethodView):
    @blp.response(200, OfficerKeyList)
    def get(self):
        """Every registered officer key, its roles, validity and log entries (public)."""
        registry = get_ledger().officer_keys.registry()
        return {"keys": [_key_json(registry[k]) for k in sorted(registry)]}

    @blp.arguments(OfficerKeyRequest)
    @blp.response(201, OfficerKeyRecorded)
    def post(self, args):
        """Register an officer's Ed25519 public key (admin). The entry goes on the log.

        ``limits`` (optional, public in the entry): the largest amount per unit the key may
        offer or pay, the categories it may act in, and the amount per unit above which a
        second officer co-signs. Invalid limits are a 422 ``invalid-payload`` naming the field.
        """
        caller = require("admin")
        public_key = bytes.fromhex(args["public_key"])
        return _recorded(
            officer_key_id(public_key),
            lambda hooks: get_ledger().officer_keys.register(
                admin_id=caller.id,
                public_key=public_key,
                roles=args["roles"],
                valid_from=args["valid_from"],
                valid_until=args["valid_until"],
                name=args["name"],
                limits=args["limits"],
                hooks=hooks,
            ),
        )


@blp.route("/keys/<key_id>/revocation")
class RevocationResource(MethodView):
    @blp.arguments(RevocationRequest)
    @blp.response(201, OfficerKeyRecorded)
    def post(self, args, key_id: str):
        """Revoke an officer key from now on (admin). The revocation goes on the log."""
        caller = require("admin")
        return _recorded(
            key_id,
            lambda hooks: get_ledger().officer_keys.revoke(
                admin_id=caller.id, key_id=key_id, reason=args["reason"], hooks=hooks
            ),
        )
