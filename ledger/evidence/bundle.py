"""Build evidence bundles: pure functions from a complaint proof and the log signer to ZIP bytes.

``build_bundle(proof, signer)`` checks the proof (the same verifier a third party runs),
lays out the files (``layout``), renders the reports, writes ``manifest.json`` (RFC 8785)
and ``manifest.sig`` (a C2SP signed note by the log key naming the manifest's SHA-256), and
zips everything deterministically: sorted names, one fixed timestamp, fixed permissions, no
compression (``ZIP_STORED``: the same bytes whatever zlib is installed, and trivial to read
in a browser). Same proof and key → same bytes.

``build_export(...)`` packs many bundles into one ZIP with a signed ``index.json``.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ledger.errors import LedgerError
from ledger.evidence.report import (
    PdfFonts,
    render_html,
    render_pdf,
    report_sections,
    report_title,
)
from ledger.log.note import Signer, sign_note
from ledger.verify import layout
from ledger.verify.complaint import verify_complaint_proof
from ledger.verify.layout import jcs, sha256_hex

ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest ZIP (DOS) time: carries no information
FILE_MODE = 0o100644
_MISSING: Any = object()


class BundleError(LedgerError, ValueError):
    """The proof does not verify or cannot be laid out: no bundle is built."""


@dataclass(frozen=True)
class Bundle:
    data: bytes
    sha256: str  # hex SHA-256 of ``data``: what the export event records
    manifest: dict[str, Any]

    @property
    def reference(self) -> str:
        return self.manifest["reference"]

    @property
    def tree_size(self) -> int:
        return self.manifest["checkpoint"]["size"]

    @property
    def filename(self) -> str:
        return f"evidence-{self.reference}.zip"

    @classmethod
    def from_bytes(cls, data: bytes) -> Bundle:
        """A bundle built earlier (e.g. a stored export), read back from its ZIP bytes."""
        import json

        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                manifest = json.loads(zf.read(layout.MANIFEST))
        except (zipfile.BadZipFile, KeyError, ValueError) as exc:
            raise BundleError(f"not an evidence bundle: {exc}") from exc
        return cls(data, sha256_hex(data), manifest)


def deterministic_zip(files: Mapping[str, bytes]) -> bytes:
    """A ZIP of ``files`` that depends only on names and contents."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED, allowZip64=False) as zf:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = 3  # unix, so the permission bits below mean what they say
            info.external_attr = FILE_MODE << 16
            zf.writestr(info, files[name])
    return buf.getvalue()


def build_bundle(
    proof: Mapping[str, Any],
    signer: Signer,
    *,
    anchor: Mapping[str, Any] | None = _MISSING,
    fonts: PdfFonts | None = None,
    attachments: Mapping[str, bytes] | None = None,
) -> Bundle:
    """The evidence bundle of one complaint.

    ``proof``: the ``GET /v1/complaints/<ref>/proof`` JSON (``api.evidence_routes`` builds it
    at a chosen checkpoint). ``anchor``: the anchor coverage of that checkpoint
    (``anchor_coverage``), if not already in ``proof["anchor"]``. ``signer``: the log key.
    ``attachments``: files by SHA-256; those the disclosed bodies list go in the bundle as
    ``attachments/<sha256>`` (``layout.attachment_files``).
    """
    proof = dict(proof)
    if anchor is not _MISSING:
        proof["anchor"] = None if anchor is None else dict(anchor)
    proof.setdefault("anchor", None)
    vkey = str(signer.verifier())
    if proof.get("verifier_key") != vkey:
        raise BundleError("the proof names another log key than the signer's")
    report = verify_complaint_proof(proof, vkey, proof.get("log"))
    if not report.ok:
        failed = "; ".join(f"{c.name}: {c.detail}" for c in report.failures)
        raise BundleError(f"the proof does not verify: {failed}")
    try:
        files = layout.data_files(proof)
        files.update(layout.attachment_files(proof, attachments or {}))
        files[layout.PROOF] = jcs(proof)
    except (layout.LayoutError, ValueError) as exc:
        raise BundleError(str(exc)) from exc
    status = _status(proof)
    checks = [(c.name, c.ok, c.detail) for c in report.checks]
    sections = report_sections(proof, checks)
    title = report_title(proof)
    files[layout.REPORT_HTML] = render_html(title, sections)
    files[layout.REPORT_PDF] = render_pdf(title, sections, fonts)
    manifest = layout.manifest(proof, files, status)
    manifest_bytes = jcs(manifest)
    text = layout.bundle_note_text(
        proof["log"], proof["reference"], proof["checkpoint"]["size"], sha256_hex(manifest_bytes)
    )
    files[layout.MANIFEST] = manifest_bytes
    files[layout.SIGNATURE] = sign_note(text, signer).encode("utf-8")
    data = deterministic_zip(files)
    return Bundle(data, sha256_hex(data), manifest)


def _status(proof: Mapping[str, Any]) -> str | None:
    import json

    events = proof.get("events") or []
    if not events:
        return None
    return json.loads(events[-1]["leaf"])["public"].get("state")


@dataclass(frozen=True)
class ExportEntry:
    """One complaint in a multi-complaint export (facts for the index; no personal data)."""

    bundle: Bundle
    category: str | None = None
    received_at: str | None = None


README = """Evidence export: one evidence bundle per complaint.

index.json lists every bundle with its SHA-256; index.sig is a C2SP signed note by the
log key whose text names the SHA-256 of index.json. Each bundles/<reference>.zip is a
complete evidence bundle that verifies on its own, offline:

    python scripts/verify_bundle.py EXPORT.zip --log-key '<log verifier key>'
    python scripts/verify_bundle.py bundles/<reference>.zip --log-key '<log verifier key>'

Add --rpc <JSON-RPC URL> --contract <anchor contract> to check the chain anchors too.
"""


def build_export(
    entries: Sequence[ExportEntry],
    signer: Signer,
    *,
    origin: str,
    filters: Mapping[str, Any],
    requested_by: Mapping[str, str],
    matched: int | None = None,
) -> bytes:
    """One ZIP: ``bundles/<ref>.zip`` for each entry, ``index.json`` and its signature.

    ``matched``: how many complaints the filters matched; an export holding fewer (one whose
    recording failed part way, see ``api.evidence_routes``) says so by ``count < matched``.
    """
    files: dict[str, bytes] = {"README.txt": README.encode("utf-8")}
    rows = []
    for entry in sorted(entries, key=lambda e: e.bundle.reference):
        b = entry.bundle
        path = f"bundles/{b.reference}.zip"
        if path in files:
            raise BundleError(f"complaint {b.reference} appears twice in the export")
        files[path] = b.data
        rows.append(
            {
                "reference": b.reference,
                "path": path,
                "sha256": b.sha256,
                "size": len(b.data),
                "tree_size": b.tree_size,
                "status": b.manifest["contents"]["status"],
                "category": entry.category,
                "received_at": entry.received_at,
            }
        )
    index = {
        "format": layout.EXPORT_FORMAT,
        "format_version": layout.EXPORT_FORMAT_VERSION,
        "log": {"origin": origin, "verifier_key": str(signer.verifier())},
        "filters": dict(filters),
        "requested_by": dict(requested_by),
        "count": len(rows),
        "matched": len(rows) if matched is None else matched,
        "bundles": rows,
        "signature": {"path": layout.INDEX_SIGNATURE, "format": "C2SP signed-note"},
    }
    index_bytes = jcs(index)
    files[layout.INDEX] = index_bytes
    text = layout.export_note_text(origin, len(rows), sha256_hex(index_bytes))
    files[layout.INDEX_SIGNATURE] = sign_note(text, signer).encode("utf-8")
    return deterministic_zip(files)
