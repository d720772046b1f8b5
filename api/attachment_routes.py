"""Attachments: files uploaded to a complaint, which its steps then list (docs/attachments.md).

``POST /v1/complaints/<ref>/attachments`` takes the file as the raw body (its type as the
Content-Type, its name in ``X-Filename``), read with a cap: a body over the maximum is refused
without being read to its end. ``GET /v1/complaints/<ref>/attachments/<sha256>`` serves it
back as a download that no browser renders in our origin.
"""

from __future__ import annotations

import base64
import json
import logging
from urllib.parse import quote, unquote

import marshmallow as ma
from flask import Response, request
from flask.views import MethodView
from werkzeug.exceptions import RequestEntityTooLarge

from api.auth import RECORDED_READERS, Caller, current_caller
from api.blueprints import Blueprint
from api.context import get_ledger
from api.problems import Problem, path_reference
from api.request_ids import request_id
from ledger.attachments.errors import (
    AttachmentCorrupt,
    AttachmentEmpty,
    AttachmentError,
    AttachmentNotFound,
    AttachmentTooLarge,
    AttachmentTypeRefused,
    StorageError,
)
from ledger.attachments.media import ALLOWED
from ledger.attachments.store import AttachmentStore, listed_attachments
from ledger.casework.reads import withheld_from_customer
from ledger.complaints.states import allowed_events
from ledger.complaints.vocab import EventType

log = logging.getLogger(__name__)

blp = Blueprint(
    "attachments",
    __name__,
    url_prefix="/v1/complaints",
    description="Files (screenshots, statements) that a complaint's steps list and commit to",
)

# Who may upload besides the complaint's customer: the roles that may add evidence.
STAFF_UPLOADERS = ("agent", "officer", "supervisor", "legal")
# The steps whose bodies list files.
FILE_STEPS = (EventType.INFO_RECEIVED, EventType.EVIDENCE_ADDED)
_CHUNK = 64 * 1024
# A served file is never rendered as a page of ours, nor sniffed into something else.
SERVE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox; default-src 'none'",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class StoredAttachmentSchema(ma.Schema):
    sha256 = ma.fields.String(
        required=True, metadata={"description": "SHA-256 of the bytes (lower-case hex)"}
    )
    size = ma.fields.Integer(required=True, metadata={"description": "bytes"})
    media_type = ma.fields.String(
        required=True, metadata={"description": "the type the bytes were checked to be"}
    )
    name = ma.fields.String(
        required=True, metadata={"description": "the file name kept (X-Filename, cleaned)"}
    )


_ACCEPTED = ", ".join(ALLOWED)
_BINARY = {"schema": {"type": "string", "format": "binary"}}
_UPLOAD_DOC = {
    "requestBody": {
        "required": True,
        "description": "the file's bytes; the Content-Type must be the type they are",
        "content": {media_type: _BINARY for media_type in ALLOWED},
    },
    "parameters": [
        {
            "in": "header",
            "name": "X-Filename",
            "required": False,
            "schema": {"type": "string", "maxLength": 765},
            "description": "the file's name, percent-encoded UTF-8 (default: "
            "attachment-<hash>.<ext>)",
        }
    ],
}
_DOWNLOAD_DOC = {
    "responses": {
        "200": {
            "description": "the file, as a download (Content-Disposition: attachment)",
            "content": {media_type: _BINARY for media_type in ALLOWED},
        }
    }
}


def _store() -> AttachmentStore:
    store = get_ledger().attachments
    if store is None:
        raise Problem("unavailable", "attachments are not configured on this server")
    return store


def _unauthorized(detail: str) -> Problem:
    return Problem("unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})


def _uploader(reference: str) -> Caller:
    """The complaint's customer, or a staff role that may add evidence (401 / 403)."""
    caller = current_caller(reference)
    if caller.role == "customer" and caller.reference == reference:
        return caller
    if caller.role in STAFF_UPLOADERS:
        return caller
    if caller.role == "anonymous":
        raise _unauthorized("the complaint's secret or an API key is required")
    raise Problem("forbidden", f"role {caller.role!r} does not add files to complaints")


def _reader(reference: str) -> Caller:
    """The complaint's customer, staff, legal or a regulator (as for the complaint itself)."""
    caller = current_caller(reference)
    if caller.role == "customer" and caller.reference == reference:
        return caller
    if caller.role in RECORDED_READERS:
        return caller
    if caller.role == "anonymous":
        raise _unauthorized("the complaint's secret or an API key is required")
    raise Problem("forbidden", "these credentials do not open this complaint")


def _check_open(reference: str, caller: Caller) -> None:
    """A file is taken only while the caller could list it in a step (no orphan uploads of
    personal data to a closed complaint)."""
    state = get_ledger().complaints.reads.state(reference)  # 404 for no such complaint
    if not set(FILE_STEPS) & set(allowed_events(state, caller.role)):
        raise Problem(
            "conflict",
            f"no step that lists files can be recorded by {caller.role} while the complaint "
            f"is {state.status}",
            code="ATTACHMENTS_NOT_ACCEPTED",
        )


def _problem(exc: AttachmentError) -> Problem:
    if isinstance(exc, AttachmentTooLarge):
        return Problem("payload-too-large", exc.message, code=exc.code, max_bytes=exc.max_bytes)
    if isinstance(exc, AttachmentTypeRefused):
        return Problem("unsupported-media-type", exc.message, code=exc.code, accepted=list(ALLOWED))
    if isinstance(exc, AttachmentEmpty):
        return Problem("validation-error", exc.message, code=exc.code)
    if isinstance(exc, AttachmentNotFound):
        return Problem("not-found", exc.message, code=exc.code)
    log.error("attachment unreadable: %s", exc)
    return Problem("internal-error", "the stored file is damaged", code=exc.code)


def _unavailable(exc: StorageError) -> Problem:
    log.warning("attachment storage: %s", exc)
    return Problem(
        "unavailable", "the file storage is unavailable; retry later", headers={"Retry-After": "5"}
    )


def _read_body(store: AttachmentStore) -> bytes:
    """The request body, never more than the maximum plus one byte of it: a declared length
    over the maximum is refused unread, an undeclared one (chunked) at the first byte over."""
    store.check_size(request.content_length)
    request.max_content_length = store.max_bytes  # Flask >= 3.1: this request's own cap
    chunks, total = [], 0
    try:
        while total <= store.max_bytes:
            chunk = request.stream.read(min(_CHUNK, store.max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except RequestEntityTooLarge:
        raise AttachmentTooLarge(store.max_bytes) from None
    if total > store.max_bytes:
        raise AttachmentTooLarge(store.max_bytes)
    return b"".join(chunks)


def _filename() -> str | None:
    """``X-Filename``, percent-decoded UTF-8 (headers are Latin-1 on the wire)."""
    raw = request.headers.get("X-Filename")
    if raw is None:
        return None
    try:
        return unquote(raw, errors="strict")
    except UnicodeDecodeError:
        return raw


@blp.route("/<reference>/attachments")
class AttachmentsResource(MethodView):
    @blp.response(201, StoredAttachmentSchema)
    @blp.doc(**_UPLOAD_DOC)
    @blp.alt_response(401, description="No or wrong credentials")
    @blp.alt_response(403, description="A role that does not add files")
    @blp.alt_response(404, description="No such complaint")
    @blp.alt_response(409, description="No step that lists files is possible now")
    @blp.alt_response(413, description="Larger than LEDGER_ATTACHMENT_MAX_BYTES")
    @blp.alt_response(415, description="A type not accepted, or bytes of another type")
    @blp.alt_response(422, description="An empty file")
    def post(self, reference: str):
        """Upload a file to the complaint, to list in a step's body afterwards.

        The raw body is the file; its ``Content-Type`` must be one of PNG, JPEG, WebP, PDF or
        ``text/plain`` (UTF-8), and the bytes must be of that type (checked from their magic
        numbers: a renamed script is refused). At most ``LEDGER_ATTACHMENT_MAX_BYTES`` (default
        10 MiB). For the complaint's customer (its secret) and staff that may add evidence,
        while a step listing files is possible. Answers what a step lists:
        ``{sha256, size, media_type, name}``; list exactly that in ``attachments`` of an
        ``info_received`` or ``evidence_added`` body (a step naming a file not uploaded here,
        or with another size or type, is refused: 422 ``ATTACHMENT_NOT_UPLOADED``). Uploading
        the same file again answers the same.
        """
        ref = path_reference(reference)
        caller = _uploader(ref)
        store = _store()
        _check_open(ref, caller)
        try:
            data = _read_body(store)
            stored = store.put(ref, data, request.headers.get("Content-Type"), _filename())
        except StorageError as exc:
            raise _unavailable(exc) from exc
        except AttachmentError as exc:
            raise _problem(exc) from exc
        location = f"/v1/complaints/{ref}/attachments/{stored.sha256}"
        return stored.listing(), 201, {"Location": location}


@blp.route("/<reference>/attachments/<sha256>")
class AttachmentResource(MethodView):
    @blp.response(200, content_type="application/octet-stream", description="the file")
    @blp.doc(**_DOWNLOAD_DOC)
    @blp.alt_response(401, description="No or wrong credentials")
    @blp.alt_response(403, description="These credentials do not open this complaint")
    @blp.alt_response(404, description="No such file on this complaint, or it was erased")
    def get(self, reference: str, sha256: str):
        """Download a file of the complaint (its customer, staff, legal, regulators).

        Served with the type it was checked to be, as an attachment, with ``nosniff`` and a
        sandboxing CSP. Reads by staff, legal and regulators are in the access log (action
        ``attachment:<first 32 hex of its SHA-256>``). A file whose bodies the customer may
        not read yet (identity gate) is not served to the secret either.
        """
        ref = path_reference(reference)
        caller = _reader(ref)
        store = _store()
        ledger = get_ledger()
        ledger.complaints.reads.complaint(ref)  # 404 for no such complaint
        try:
            store.info(ref, sha256)  # 404 before reading the whole file
            if caller.role == "customer":
                _check_customer_may_read(ref, sha256)
            stored = store.get(ref, sha256)
        except StorageError as exc:
            raise _unavailable(exc) from exc
        except (AttachmentNotFound, AttachmentCorrupt) as exc:
            raise _problem(exc) from exc
        assert stored.data is not None
        if caller.role in RECORDED_READERS:  # before a byte of personal data leaves
            action = f"attachment:{sha256[:32]}"
            ledger.access_log.record(caller.role, caller.id, ref, action, request_id())
        media = stored.media_type + ("; charset=utf-8" if stored.media_type == "text/plain" else "")
        resp = Response(stored.data, status=200, content_type=media)
        resp.headers.update(SERVE_HEADERS)
        resp.headers["Content-Disposition"] = content_disposition(stored.name)
        resp.headers["ETag"] = f'"{stored.sha256}"'
        digest = base64.b64encode(bytes.fromhex(stored.sha256)).decode()
        resp.headers["Repr-Digest"] = f"sha-256=:{digest}:"  # RFC 9530
        return resp


def _check_customer_may_read(reference: str, sha256: str) -> None:
    """A file listed only in bodies the secret may not read yet is not served to it."""
    ledger = get_ledger()
    events = ledger.complaints.reads.events(reference)
    withheld = withheld_from_customer(events, ledger.service_rules)
    listing = [
        e.seq
        for e in events
        if e.body_jcs is not None
        and sha256 in {a["sha256"] for a in listed_attachments(json.loads(e.body_jcs))}
    ]
    if listing and all(seq in withheld for seq in listing):
        raise AttachmentNotFound("no such attachment on this complaint (or it was erased)")


def content_disposition(name: str) -> str:
    """``attachment`` with the name: an ASCII fallback and the UTF-8 form (RFC 6266)."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
