"""Evidence bundles: one signed ZIP per complaint that verifies offline, and bulk exports.

``POST /v1/complaints/<ref>/bundle`` exports a complaint's bundle (legal, admin, or the
complaint's customer with its secret) and answers with it and its ``Location``;
``GET /v1/complaints/<ref>/bundles/<sha256>`` fetches that export again (a read: no build, no
log entry). ``POST /v1/evidence/exports`` exports many (legal with bodies, regulators never).

Every distinct bundle given out is recorded once on the log as a ``bundle_exported`` step
naming its SHA-256, after it is built (a bundle cannot hold its own export event) and in the
same transaction as its row in ``evidence_exports``; reads of personal data by legal and admin
are recorded in the access log. Exports are limited per caller. See docs/evidence.md.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import zipfile
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import marshmallow as ma
from flask import Response
from flask.views import MethodView

from api.anchor_routes import coverage_for
from api.auth import Caller, current_caller, require
from api.blueprints import Blueprint
from api.context import get_ledger
from api.guards import principal_limit
from api.problems import Problem, path_reference
from api.request_ids import request_id
from api.schemas import Strict
from ledger.attachments.errors import AttachmentCorrupt, StorageError
from ledger.casework import exports
from ledger.casework.appends import ChainConflict, Hooks
from ledger.casework.proof_document import AnchorFor, ProofUnavailable, collect_proof
from ledger.casework.reads import withheld_from_customer
from ledger.complaints.events import Actor
from ledger.complaints.vocab import Category, EventType, Role
from ledger.evidence.bundle import Bundle, BundleError, ExportEntry, build_bundle, build_export
from ledger.evidence.report import pdf_fonts
from ledger.logstore.store import NotFound
from ledger.runtime import Ledger
from ledger.verify.layout import FORMAT_VERSION, attachment_listings, jcs, sha256_hex

log = logging.getLogger(__name__)

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


def _now() -> datetime:
    return datetime.now(UTC)


def _anchor_for(size: int) -> dict[str, Any] | None:
    return coverage_for(size)  # scoped to the configured chain and contract


# --- exporting: build (no side effect), then record --------------------------------------


@dataclass(frozen=True)
class Prepared:
    """A bundle ready to hand out, not yet recorded."""

    bundle: Bundle
    proof_sha256: str
    customer_safe: bool
    stored: bool  # its bytes are already stored (reused, not rebuilt)


@dataclass(frozen=True)
class Recorded:
    log_index: int  # of the bundle's bundle_exported record (the first, if exported before)
    new: bool  # False: this bundle had been exported before; nothing new on the log


def _customer_safe(proof: Mapping[str, Any]) -> bool:
    return not any(e["type"] in CUSTOMER_WITHHELD and "body" in e for e in proof.get("events", []))


def prepare_bundle(
    ledger: Ledger,
    reference: str,
    *,
    tree_size: int | None = None,
    disclose: bool = True,
    withhold: Collection[str] = (),
    withhold_seqs: Collection[int] = (),
    anchor_for: AnchorFor = _anchor_for,
) -> Prepared:
    """The complaint's bundle, built (or, for a proof exported before, read back from the
    stored export: the bundle is a pure function of the proof). Writes nothing."""
    signer = ledger.store.signer
    if signer is None:
        raise Problem("unavailable", "the log signing key is not available on this server")
    try:
        proof = collect_proof(
            ledger.store,
            ledger.complaints.reads,
            ledger.officer_keys,
            reference,
            tree_size=tree_size,
            disclose=disclose,
            withhold=withhold,
            withhold_seqs=withhold_seqs,
            anchor_for=anchor_for,
        )
    except ProofUnavailable as exc:
        raise Problem("bad-request", str(exc)) from exc
    except NotFound as exc:
        raise Problem("not-found", f"no signed checkpoint of that size: {exc}") from exc
    proof_sha256 = hashlib.sha256(jcs(proof)).hexdigest()
    safe = _customer_safe(proof)
    known = exports.find_by_proof(ledger.engine, reference, proof_sha256, _now())
    if known is not None and known.data is not None:
        try:
            return Prepared(Bundle.from_bytes(known.data), proof_sha256, safe, True)
        except BundleError:
            log.warning("stored export of %s unreadable; building it again", reference)
    files = _attached_files(ledger, reference, proof)
    try:
        fonts = pdf_fonts(ledger.settings.pdf_font, ledger.settings.pdf_font_bold)
        bundle = build_bundle(proof, signer, fonts=fonts, attachments=files)
    except BundleError as exc:  # the ledger's own data does not verify: never sign it
        raise Problem("internal-error", f"the evidence does not verify: {exc}") from exc
    return Prepared(bundle, proof_sha256, safe, False)


def _attached_files(ledger: Ledger, reference: str, proof: Mapping[str, Any]) -> dict[str, bytes]:
    """The files the proof's disclosed bodies list, from the attachment store (erased ones and
    files never uploaded are not there: the bundle then says so for each)."""
    if ledger.attachments is None:
        return {}
    try:
        return ledger.attachments.files(
            reference, {listing.sha256 for listing in attachment_listings(proof)}
        )
    except StorageError as exc:
        raise Problem("unavailable", "the file storage is unavailable; retry later") from exc
    except AttachmentCorrupt as exc:  # never export (and sign) bytes that are not the file
        log.error("evidence bundle of %s: %s", reference, exc)
        raise Problem("internal-error", f"an attached file is damaged: {exc}") from exc


def record_export(
    ledger: Ledger, prepared: Prepared, caller: Caller, access_action: str | None
) -> Recorded:
    """Record the bundle's export on the log, once per distinct bundle, and (``access_action``)
    the read of personal data in the access log, in the same transaction when new."""
    bundle = prepared.bundle
    ref = bundle.reference
    now = _now()
    access = None
    if access_action is not None:
        access = {
            "role": caller.role,
            "principal": caller.id,
            "action": access_action,
            "request_id": request_id(),
        }
    known = exports.find(ledger.engine, ref, bundle.sha256, now)
    if known is None:
        new = exports.NewExport(
            reference=ref,
            bundle_sha256=bundle.sha256,
            proof_sha256=prepared.proof_sha256,
            tree_size=bundle.tree_size,
            customer_safe=prepared.customer_safe,
            size=len(bundle.data),
            exported_at=now,
            access=access,
        )
        public = {
            "bundle_sha256": bundle.sha256,
            "format_version": FORMAT_VERSION,
            "tree_size": bundle.tree_size,
        }
        try:
            done = ledger.complaints.writes.record(
                ref,
                type=EventType.BUNDLE_EXPORTED,
                public=public,
                body={},
                actor=Actor(Role(caller.role), caller.id),
                hooks=Hooks(check=new.check, write=new.write),
            )
            return Recorded(done.receipt.index, True)
        except exports.AlreadyExported:  # a twin request recorded it meanwhile
            known = exports.find(ledger.engine, ref, bundle.sha256, now)
        except ChainConflict as exc:
            raise Problem("chain-conflict", str(exc)) from exc
    if known is None:  # unreachable: the twin's row commits with its record
        raise Problem("conflict", "the export could not be recorded; try again")
    if access is not None:
        ledger.access_log.record(
            access["role"], access["principal"], ref, access["action"], access["request_id"]
        )
    return Recorded(known.log_index, False)


def export_bundle(
    ledger: Ledger,
    reference: str,
    caller: Caller,
    *,
    tree_size: int | None = None,
    disclose: bool = True,
    withhold: Collection[str] = (),
    withhold_seqs: Collection[int] = (),
    anchor_for: AnchorFor = _anchor_for,
    access_action: str | None = None,
) -> tuple[Bundle, Recorded]:
    """Build the bundle, record its export (once per distinct bundle), store its bytes."""
    prepared = prepare_bundle(
        ledger,
        reference,
        tree_size=tree_size,
        disclose=disclose,
        withhold=withhold,
        withhold_seqs=withhold_seqs,
        anchor_for=anchor_for,
    )
    recorded = record_export(ledger, prepared, caller, access_action)
    if not prepared.stored:
        until = exports.retention_end(_now(), ledger.settings.export_retention_hours)
        exports.keep_bytes(
            ledger.engine, reference, prepared.bundle.sha256, prepared.bundle.data, until
        )
        exports.forget_erased(ledger.engine, reference)  # a body erased while this was built
    return prepared.bundle, recorded


# --- HTTP ------------------------------------------------------------------------------------


def _gated(ledger: Ledger, reference: str) -> frozenset[int]:
    """The steps whose bodies the complaint's secret may not read yet (identity gate)."""
    events = ledger.complaints.reads.events(reference)
    return withheld_from_customer(events, ledger.service_rules)


def _discloses(data: bytes, seqs: Collection[int]) -> bool:
    """Whether a stored bundle holds the body of any of the steps ``seqs``."""
    if not seqs:
        return False
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return any(
            name.endswith(".body.json") and int(name.split("/")[1].split("-")[0]) in seqs
            for name in zf.namelist()
            if name.startswith("events/")
        )


def _principal(caller: Caller) -> str:
    """Who the per-caller export limit counts: the API key, or the complaint for a secret."""
    if caller.role == "customer":
        return f"customer:{caller.reference}"
    return f"{caller.role}:{caller.id}"


def _bundle_caller(ref: str) -> Caller:
    """Legal, admin, or the complaint's own customer (401 anonymous, 403 other roles)."""
    caller = current_caller(ref)
    if (caller.role == "customer" and caller.reference == ref) or caller.role in (
        "legal",
        "admin",
    ):
        return caller
    if caller.role == "anonymous":
        raise Problem(
            "unauthorized",
            "the complaint's secret or an API key is required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    raise Problem("forbidden", f"role {caller.role!r} does not export evidence bundles")


def _zip_response(
    data: bytes, filename: str, digest_hex: str, headers: dict[str, str], status: int = 200
) -> Response:
    digest = _b64(bytes.fromhex(digest_hex))
    resp = Response(data, status=status, mimetype="application/zip")
    resp.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    resp.headers["Repr-Digest"] = f"sha-256=:{digest}:"  # RFC 9530
    resp.headers["Cache-Control"] = "no-store"  # personal data
    resp.headers.update(headers)
    return resp


def _bundle_response(bundle: Bundle, log_index: int, status: int = 200) -> Response:
    location = f"/v1/complaints/{bundle.reference}/bundles/{bundle.sha256}"
    return _zip_response(
        bundle.data,
        bundle.filename,
        bundle.sha256,
        {
            "X-Bundle-SHA256": bundle.sha256,
            "X-Export-Log-Index": str(log_index),
            "Location": location,
            "Content-Location": location,
            "ETag": f'"{bundle.sha256}"',
        },
        status,
    )


class BundleRequest(Strict):
    tree_size = ma.fields.Integer(
        validate=ma.validate.Range(min=1),
        metadata={
            "description": "build on the signed checkpoint of this size (default: the first "
            "checkpoint holding the complaint's last step)"
        },
    )


_ZIP_CONTENT = {"application/zip": {"schema": {"type": "string", "format": "binary"}}}


def _zip_doc(*statuses: tuple[str, str]) -> dict[str, Any]:
    return {
        "responses": {
            code: {"description": description, "content": _ZIP_CONTENT}
            for code, description in statuses
        }
    }


@blp.route("/complaints/<reference>/bundle")
class BundleResource(MethodView):
    @blp.arguments(BundleRequest)
    @blp.response(201, content_type="application/zip", description="the new export")
    @blp.doc(
        **_zip_doc(
            ("201", "the bundle, exported now (recorded on the log)"),
            ("200", "the bundle, already exported before (nothing new on the log)"),
        )
    )
    @blp.alt_response(401, description="No or wrong credentials")
    @blp.alt_response(403, description="These credentials do not open this complaint")
    @blp.alt_response(429, description="Too many exports by this caller")
    def post(self, args, reference: str):
        """Export the complaint's evidence bundle: a signed, deterministic ZIP that verifies
        offline.

        For legal and admin API keys, and for the complaint's customer (with its secret;
        internal investigation notes are withheld). The first export of a bundle is recorded
        on the log as a ``bundle_exported`` step (201); the same bundle again records nothing
        (200). Reads by legal and admin are recorded in the access log. ``Location`` names the
        stored export, fetched again with GET.
        """
        ref = path_reference(reference)
        caller = _bundle_caller(ref)
        ledger = get_ledger()
        ledger.complaints.reads.complaint(ref)  # 404 before any work
        principal_limit("evidence exports").hit(_principal(caller))
        exports.forget_expired(ledger.engine, _now())
        exports.forget_erased(ledger.engine, ref)
        customer = caller.role == "customer"
        bundle, recorded = export_bundle(
            ledger,
            ref,
            caller,
            tree_size=args.get("tree_size"),
            withhold=CUSTOMER_WITHHELD if customer else frozenset(),
            # Bodies the secret may not read before the customer's identity is verified.
            withhold_seqs=_gated(ledger, ref) if customer else frozenset(),
            anchor_for=_anchor_for,
            access_action=None if customer else "bundle",
        )
        return _bundle_response(bundle, recorded.log_index, 201 if recorded.new else 200)


@blp.route("/complaints/<reference>/bundles/<bundle_sha256>")
class StoredBundleResource(MethodView):
    @blp.response(200, content_type="application/zip", description="the stored export")
    @blp.doc(**_zip_doc(("200", "the stored export, byte for byte")))
    @blp.alt_response(401, description="No or wrong credentials")
    @blp.alt_response(403, description="These credentials do not open this export")
    @blp.alt_response(404, description="No such export")
    @blp.alt_response(410, description="The export's bytes are no longer kept: export again")
    def get(self, reference: str, bundle_sha256: str):
        """Fetch an export again, by the ``Location`` its POST gave: a read, no new log entry.

        The bytes are kept for ``LEDGER_EXPORT_RETENTION_HOURS`` (and deleted at once when
        a body of the complaint is erased); after that, 410: export again. A customer fetches
        only exports without internal notes. Reads by legal and admin are in the access log.
        """
        ref = path_reference(reference)
        caller = _bundle_caller(ref)
        ledger = get_ledger()
        ledger.complaints.reads.complaint(ref)
        if len(bundle_sha256) != 64 or bundle_sha256.strip("0123456789abcdef"):
            raise Problem("not-found", "no such export of this complaint")
        exports.forget_erased(ledger.engine, ref)  # a body erased since: never serve it
        stored = exports.find(ledger.engine, ref, bundle_sha256, _now())
        if stored is None:
            raise Problem("not-found", "no such export of this complaint")
        if caller.role == "customer" and not stored.customer_safe:
            raise Problem("forbidden", "this export holds internal notes")
        gated = _gated(ledger, ref) if caller.role == "customer" else frozenset()
        if stored.data is not None and _discloses(stored.data, gated):
            raise Problem(
                "forbidden", "this export holds bodies shown only after an identity check"
            )
        if stored.data is None:
            raise Problem(
                "export-expired",
                f"export again: POST /v1/complaints/{ref}/bundle",
                exported_at=stored.exported_at.isoformat(),
            )
        if caller.role != "customer":
            ledger.access_log.record(caller.role, caller.id, ref, "bundle-download", request_id())
        return _bundle_response(Bundle.from_bytes(stored.data), stored.log_index)


class ExportRequest(Strict):
    received_from = ma.fields.AwareDateTime(
        metadata={"description": "complaints received at or after this instant"}
    )
    received_to = ma.fields.AwareDateTime(
        metadata={"description": "complaints received before this instant"}
    )
    category = ma.fields.String(validate=ma.validate.OneOf([c.value for c in Category]))
    include_bodies = ma.fields.Boolean(
        metadata={
            "description": "legal only (default true): include bodies and salts (personal "
            "data); false: public parts and proofs only. Regulators always receive public "
            "parts and proofs only; true is refused for them."
        },
    )

    @ma.validates_schema
    def _filters(self, data, **_kwargs):
        if not {"received_from", "received_to", "category"} & set(data):
            raise ma.ValidationError("give a period (received_from/received_to) and/or a category")
        start, end = data.get("received_from"), data.get("received_to")
        if start and end and end <= start:
            raise ma.ValidationError("received_to must be after received_from", "received_to")


def _received_at(row) -> str:
    received = row.received_at
    received = received.replace(tzinfo=UTC) if received.tzinfo is None else received
    return received.astimezone(UTC).isoformat()


@blp.route("/evidence/exports")
class ExportsResource(MethodView):
    @blp.arguments(ExportRequest)
    @blp.response(
        200,
        content_type="application/zip",
        description="one ZIP: index.json, index.sig, bundles/<reference>.zip",
    )
    @blp.alt_response(403, description="Not legal or regulator, or bodies for a regulator")
    @blp.alt_response(422, description="No filter, or too many complaints match")
    @blp.alt_response(429, description="Too many bulk exports by this caller")
    @blp.doc(**_zip_doc(("200", "one ZIP: index.json, index.sig, bundles/<reference>.zip")))
    def post(self, args):
        """Export the evidence bundles of many complaints at once (legal, regulator).

        Filters: a received period and/or a category. Returns one ZIP holding every
        complaint's bundle and a signed index. Regulators receive public parts and proofs
        only (no bodies, salts or internal notes); legal receives bodies unless
        ``include_bodies`` is false, and each such read is in the access log. Every bundle
        is built before anything is recorded: a failure while building records nothing.
        """
        caller = require("legal", "regulator")
        if caller.role == "regulator" and args.get("include_bodies"):
            raise Problem(
                "forbidden",
                "regulators receive public parts and proofs only (no bodies, salts or "
                "internal notes): leave out include_bodies",
            )
        disclose = caller.role == "legal" and args.get("include_bodies", True)
        ledger = get_ledger()
        total, rows = ledger.complaints.reads.list(
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
        principal_limit("bulk evidence exports").hit(_principal(caller))
        rows = sorted(rows, key=lambda r: r.reference)
        # 1. Build every bundle: nothing is recorded yet, so a failure here records nothing.
        prepared = [
            (
                row,
                prepare_bundle(ledger, row.reference, disclose=disclose, anchor_for=_anchor_for),
            )
            for row in rows
        ]
        # 2. Record, then deliver exactly what was recorded.
        entries = []
        for row, item in prepared:
            try:
                record_export(ledger, item, caller, "bulk-export" if disclose else None)
            except Exception:
                if not entries:
                    raise
                # Delivered below are exactly the complaints recorded so far (the index says
                # count < matched); the rest were neither recorded nor handed out.
                log.exception("bulk export: recording stopped at %s", row.reference)
                break
            entries.append(ExportEntry(item.bundle, row.category, _received_at(row)))
        filters = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in args.items()}
        filters["include_bodies"] = disclose
        data = build_export(
            entries,
            ledger.store.signer,
            origin=ledger.store.origin,
            filters=filters,
            requested_by={"role": caller.role, "id": caller.id},
            matched=len(rows),
        )
        digest = sha256_hex(data)
        return _zip_response(
            data,
            f"evidence-export-{digest[:12]}.zip",
            digest,
            {"X-Export-Count": str(len(entries)), "X-Export-Matched": str(len(rows))},
        )
