"""The human-readable report of an evidence bundle: one set of sections, rendered as HTML and PDF.

``report_sections(proof, checks)`` turns the proof (leaves, disclosed bodies, officer keys,
anchor) into sections of paragraphs, lists and tables; ``render_html`` and ``render_pdf``
draw the same sections. Both are deterministic: no clock, no random ids (the PDF is written
by reportlab in ``invariant`` mode). The report is a rendering for people; what counts as
evidence is the signed data beside it, checked by ``scripts/verify_bundle.py``.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape as xml_escape

from ledger.complaints.deadlines import due_report
from ledger.complaints.errors import ComplaintError
from ledger.complaints.events import parse_envelope
from ledger.complaints.timestamps import format_timestamp, parse_timestamp
from ledger.complaints.vocab import COMPLAINT_EVENTS
from ledger.log.canonical import canonical_json
from ledger.log.merkle import leaf_hash
from ledger.verify.owners import assignment_text

LABELS = {
    "received": "Complaint received",
    "acknowledged": "Acknowledged",
    "info_requested": "Information requested",
    "info_received": "Information received",
    "evidence_added": "Evidence added",
    "note_added": "Investigation note",
    "escalated": "Escalated",
    "holding_reply": "Holding reply",
    "decision": "Decision",
    "compensation_offered": "Compensation offered",
    "compensation_accepted": "Compensation accepted",
    "compensation_declined": "Compensation declined",
    "compensation_paid": "Compensation paid",
    "closed": "Closed",
    "reopened": "Reopened",
    "withdrawn": "Withdrawn",
    "referred": "Referred",
    "rated": "Satisfaction rating",
    "erased": "Personal data erased",
    "bundle_exported": "Evidence bundle exported",
    "identity_verified": "Identity verified",
    "playbook_step": "Playbook step",
    "target_set": "Resolution target set",
    "incident_linked": "Linked to an incident",
    "message_sent": "Message to the customer",
    "nps_given": "Net Promoter Score",
    "assigned": "Person responsible",
}
assert set(LABELS) == set(COMPLAINT_EVENTS), "every complaint step has its label in the report"


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    widths: tuple[float, ...] = ()  # relative column widths (PDF)


@dataclass(frozen=True)
class Section:
    title: str
    # str (paragraph) | list[str] | Table | Pre | Heading
    blocks: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class Pre:
    text: str


@dataclass(frozen=True)
class Heading:
    """A sub-heading inside a section."""

    text: str


def _leaf(item: Mapping[str, Any]) -> dict[str, Any]:
    return json.loads(item["leaf"])


def _body(item: Mapping[str, Any]) -> dict[str, Any] | None:
    if item.get("body") is None:
        return None
    value = json.loads(item["body"])
    return value if isinstance(value, dict) else None


def _money(fields: Mapping[str, Any]) -> str:
    if "amount" not in fields:
        return "amount not public"
    return f"{fields['amount']} {fields.get('currency') or fields.get('asset') or ''}".strip()


def _short(hex_hash: str | None, n: int = 16) -> str:
    return "" if not hex_hash else f"{hex_hash[:n]}…"


CLIP = 600  # characters of free text shown in a table cell; the rest goes to "Texts in full"


class FullTexts:
    """Long free texts (up to the API's 20,000 characters per field) do not belong in a table
    cell: cells show the start, and the text follows in full as paragraphs, which flow across
    pages in the PDF."""

    def __init__(self) -> None:
        self.blocks: list[Any] = []

    def clip(self, leaf: Mapping[str, Any], what: str, text: str) -> str:
        if len(text) <= CLIP:
            return text
        label = LABELS.get(leaf["type"], leaf["type"])
        self.blocks.append(Heading(f"Event {leaf['seq']} ({label}), {what}"))
        self.blocks.append(Pre(text))
        return f"{text[:CLIP].rstrip()}… (continued in 'Texts in full', event {leaf['seq']})"


def _summary(kind: str, public: Mapping[str, Any], body: Mapping[str, Any] | None, seqs) -> str:
    text = _details(kind, public, body, seqs)
    message = (body or {}).get("message")
    if isinstance(message, dict) and message.get("subject"):
        text = f"{text} [letter: {message['subject']}]".strip()
    return text


def _details(kind: str, public: Mapping[str, Any], body: Mapping[str, Any] | None, seqs) -> str:
    b = body or {}
    match kind:
        case "received":
            text = b.get("description", "")
            if b.get("transaction"):
                text += f" (transaction {b['transaction']})"
            return f"{public.get('category')} via {public.get('channel')}. {text}".strip()
        case "info_requested":
            return str(b.get("request", ""))
        case "info_received" | "note_added":
            names = ", ".join(a.get("name", "") for a in b.get("attachments", []))
            return str(b.get("text", "")) + (f" [attachments: {names}]" if names else "")
        case "evidence_added":
            names = ", ".join(
                f"{a.get('name')} (sha256 {_short(a.get('sha256'))})"
                for a in b.get("attachments", [])
            )
            text = f"{public.get('kind', '')}: {b.get('description', '')}".strip(": ")
            return text + (f" [attachments: {names}]" if names else "")
        case "escalated":
            where = public.get("level", "")
            if public.get("specialism"):
                where += f" ({public['specialism']})"
            reason = f", reason {public['reason']}" if public.get("reason") else ""
            return f"to {where}{reason}"
        case "holding_reply":
            return str(b.get("reason", ""))
        case "decision":
            return f"{public.get('outcome')}: {b.get('finding', '(reasons not disclosed)')}"
        case "compensation_offered" | "compensation_paid":
            fields = b or public
            kind = fields.get("kind", "money")
            text = ("" if kind == "money" else f"{kind.replace('_', ' ')} worth ") + (
                f"{_money(fields)} by {fields.get('method')}"
            )
            if public.get("identity_required"):
                text += ", payable after an identity check"
            if b.get("payment_reference"):
                text += f", reference {b['payment_reference']}"
            if b.get("tx_hash"):
                text += f", transaction {b['tx_hash']}"
            return text
        case "compensation_declined" | "closed" | "reopened":
            return f"reason: {public['reason']}" if public.get("reason") else ""
        case "referred":
            scheme = f" ({public['scheme']})" if public.get("scheme") else ""
            return f"to {public.get('to')}{scheme}"
        case "rated":
            return f"CSAT {public.get('csat')} of 5"
        case "erased":
            target = seqs.get(public.get("erases"), "?")
            return f"body of event {target} erased, basis {public.get('basis')}"
        case "identity_verified":
            ref = f", check {b['check_reference']}" if b.get("check_reference") else ""
            return f"by {public.get('method', '').replace('_', ' ')}{ref}"
        case "playbook_step":
            text = str(public.get("step", "")).replace("_", " ")
            if public.get("confirmation"):
                text += f" (confirmation: {public['confirmation']})"
            if public.get("confirm_by"):
                text += f"; the customer may confirm until {public['confirm_by']}"
            return text
        case "target_set":
            return (
                f"target {public.get('target_minutes')} min, "
                f"limit {public.get('limit_minutes')} min"
            )
        case "incident_linked":
            title = f": {b['title']}" if b.get("title") else ""
            return f"{public.get('incident')}{title}"
        case "bundle_exported":
            return (
                f"bundle sha256 {public.get('bundle_sha256')}, format "
                f"{public.get('format_version')}, checkpoint size {public.get('tree_size')}"
            )
        case "message_sent":
            tries = public.get("attempts")
            digest = _short(public.get("text_sha256"))
            text = (
                f"{public.get('template')} letter for event {public.get('for_seq')} by "
                f"{public.get('channel')}, {public.get('outcome')} after {tries} "
                f"attempt{'' if tries == 1 else 's'} (text sha256 {digest})"
            )
            return f"{text}: {b['subject']}" if b.get("subject") else text
        case "nps_given":
            return f"NPS {public.get('nps')} of 10"
        case "assigned":
            return assignment_text(public, b)
    return ""


@dataclass(frozen=True)
class _Events:
    """The proof's events, decoded once for every section."""

    items: list[Mapping[str, Any]]  # as in the proof: leaf, body, index, erased
    leaves: list[dict[str, Any]]
    bodies: list[dict[str, Any] | None]  # None: not disclosed (or erased)
    hashes: list[str]  # leaf hashes, hex
    seqs: dict[str, Any]  # leaf hash -> seq, to name the events a leaf points at

    @classmethod
    def of(cls, proof: Mapping[str, Any]) -> _Events:
        items = list(proof["events"])
        leaves = [_leaf(e) for e in items]
        bodies = [_body(e) for e in items]
        hashes = [leaf_hash(e["leaf"].encode("utf-8")).hex() for e in items]
        seqs = {h: leaf["seq"] for h, leaf in zip(hashes, leaves, strict=True)}
        return cls(items, leaves, bodies, hashes, seqs)


def report_sections(
    proof: Mapping[str, Any], checks: Sequence[tuple[str, bool, str]] = ()
) -> list[Section]:
    """The report's content. ``checks``: the verification run when the bundle was built."""
    events = _Events.of(proof)
    full = FullTexts()
    # In this order: the timeline, decision and compensation tables move their long texts
    # into ``full``, which "Texts in full" then shows.
    sections = [
        _overview(proof, events),
        _timeline(events, full),
        _decisions(events, full),
        _compensation(events, full),
        _letters(events),
        _texts_in_full(full),
        _deadlines(events),
        _erasures_and_exports(events),
        _officer_keys(proof),
        _chain_anchor(proof),
        _verification_at_export(checks),
        Section("How to verify", how_to_verify(proof)),
    ]
    return [s for s in sections if s is not None]


def _overview(proof: Mapping[str, Any], events: _Events) -> Section:
    leaves = events.leaves
    first = leaves[0]["public"] if leaves else {}
    last = leaves[-1] if leaves else {}
    cp = proof["checkpoint"]
    outcome = next(
        (
            lf["public"]["outcome"]
            for lf in reversed(leaves)
            if "outcome" in lf["public"] and lf["type"] == "decision"
        ),
        None,
    )
    overview = Table(
        ("", ""),
        (
            ("Complaint reference", proof["reference"]),
            ("Status at this checkpoint", str(last.get("public", {}).get("state", ""))),
            ("Outcome", outcome or "no decision"),
            ("Category", str(first.get("category", ""))),
            ("Channel", str(first.get("channel", ""))),
            ("Language", str(first.get("language", ""))),
            ("Jurisdiction", str(first.get("jurisdiction", ""))),
            ("Received", str(leaves[0]["at"]) if leaves else ""),
            ("Last event", str(last.get("at", ""))),
            ("Events", str(len(events.items))),
            ("Log", proof["log"]),
            ("Checkpoint", f"tree size {cp['size']}, root {cp['root']}"),
        ),
        (1, 3),
    )
    return Section(
        "Overview",
        [
            "This report renders the signed evidence held in this bundle. The evidence "
            "itself is the data beside it (manifest, proofs, leaves, bodies); where the two "
            "ever disagree, the data wins. Every statement below can be checked offline "
            "with the steps in 'How to verify'.",
            overview,
        ],
    )


def _timeline(events: _Events, full: FullTexts) -> Section:
    rows = []
    for item, leaf, body, h in zip(
        events.items, events.leaves, events.bodies, events.hashes, strict=True
    ):
        if item.get("erased"):
            body_state = "erased"
        elif body is not None:
            body_state = "disclosed"
        else:
            body_state = "not disclosed"
        actor = leaf["actor"]
        summary = _summary(leaf["type"], leaf["public"], body, events.seqs)
        rows.append(
            (
                str(leaf["seq"]),
                str(leaf["at"]),
                LABELS.get(leaf["type"], leaf["type"]),
                f"{actor['role']} {actor['id']}",
                str(leaf["public"].get("state", "")),
                full.clip(leaf, "details", summary),
                f"#{item['index']}, {_short(h)}, body {body_state}",
            )
        )
    return Section(
        "Timeline",
        [
            "Every step of the complaint in order, as written in the log. Times are UTC. "
            "The last column gives the log index, the leaf hash and whether the body "
            "(personal data and free text) is disclosed in this bundle.",
            Table(
                ("#", "Time (UTC)", "Step", "By", "Status after", "Details", "Log entry"),
                tuple(rows),
                (0.35, 1.5, 1.2, 1.3, 1.2, 3.2, 1.6),
            ),
        ],
    )


def _decisions(events: _Events, full: FullTexts) -> Section:
    decisions: list[Any] = []
    for leaf, body in zip(events.leaves, events.bodies, strict=True):
        if leaf["type"] != "decision":
            continue
        p = leaf["public"]
        b = body or {}
        evidence = ", ".join(
            f"event {events.seqs.get(x, '?')} ({_short(x, 12)})" for x in p["evidence"]
        )
        remedy = b.get("remedy", "none stated" if body else "(body not disclosed)")
        decisions.append(
            Table(
                ("", ""),
                (
                    ("Decided at", leaf["at"]),
                    ("Outcome", p["outcome"]),
                    ("Root cause", p["root_cause"]),
                    ("Rules applied", "; ".join(p["rules"])),
                    ("Evidence relied on", evidence or "none cited"),
                    (
                        "Finding",
                        full.clip(leaf, "finding", b.get("finding", "(body not disclosed)")),
                    ),
                    ("Remedy", full.clip(leaf, "remedy", remedy)),
                    ("Signed by officer key", _signers(p)),
                ),
                (1, 3),
            )
        )
    return Section("Decision and reasons", decisions or ["No decision was recorded."])


def _signers(public: Mapping[str, Any]) -> str:
    """The key that signed a step, and the second officer's when it was co-signed."""
    signer = public.get("signature", {}).get("key_id", "")
    cosigner = public.get("cosignature", {}).get("key_id")
    return f"{signer}, co-signed by {cosigner}" if cosigner else signer


def _compensation(events: _Events, full: FullTexts) -> Section:
    rows = []
    for leaf, body in zip(events.leaves, events.bodies, strict=True):
        if not leaf["type"].startswith("compensation_"):
            continue
        fields = body or leaf["public"]
        b = body or {}
        details = []
        for name in ("payment_reference", "tx_hash", "recipient", "chain_id", "vault", "token"):
            if b.get(name) is not None:
                details.append(f"{name.replace('_', ' ')} {b[name]}")
        if b.get("amount_base_units") is not None:
            details.append(f"{b['amount_base_units']} base units ({b.get('decimals')} decimals)")
        if leaf["public"].get("reason"):
            details.append(f"reason {leaf['public']['reason']}")
        signer = _signers(leaf["public"])
        rows.append(
            (
                str(leaf["seq"]),
                leaf["at"],
                LABELS.get(leaf["type"], leaf["type"]),
                _money(fields)
                if leaf["type"] in ("compensation_offered", "compensation_paid")
                else "",
                str(fields.get("method", "")),
                full.clip(leaf, "compensation details", "; ".join(details)),
                signer,
            )
        )
    if not rows:
        return Section("Compensation", ["No compensation was offered or paid."])
    return Section(
        "Compensation",
        [
            Table(
                ("#", "Time (UTC)", "Step", "Amount", "Method", "Details", "Officer key"),
                tuple(rows),
                (0.35, 1.5, 1.4, 1.1, 1.0, 3.0, 1.6),
            )
        ],
    )


def _letters(events: _Events) -> Section | None:
    letters: list[Any] = []
    for leaf, body in zip(events.leaves, events.bodies, strict=True):
        message = (body or {}).get("message")
        if isinstance(message, dict) and message.get("text"):
            letters.append(
                f"Event {leaf['seq']} ({LABELS.get(leaf['type'], leaf['type'])}), "
                f"{leaf['at']}, language {message.get('language')}: {message.get('subject', '')}"
            )
            letters.append(Pre(str(message["text"])))
    return Section("Letters sent to the customer", letters) if letters else None


def _texts_in_full(full: FullTexts) -> Section | None:
    if not full.blocks:
        return None
    return Section(
        "Texts in full",
        ["Texts too long for the tables above, in full, in the order of the log.", *full.blocks],
    )


def _deadlines(events: _Events) -> Section | None:
    clocks = _clock_rows(events.leaves)
    if not clocks:
        return None
    return Section(
        "Deadlines",
        [
            "Service targets and statutory clocks recomputed from the log as of the "
            "last event in this bundle.",
            Table(
                ("Clock", "Cycle", "Due (UTC)", "Status", "Completed", "Basis"),
                tuple(clocks),
                (1.6, 0.5, 1.6, 0.9, 1.6, 2.5),
            ),
        ],
    )


def _erasures_and_exports(events: _Events) -> Section | None:
    blocks: list[Any] = []
    erasure_rows = [
        (
            str(leaf["seq"]),
            leaf["at"],
            f"event {events.seqs.get(leaf['public']['erases'], '?')}",
            leaf["public"]["basis"],
            f"{leaf['actor']['role']} {leaf['actor']['id']}",
        )
        for leaf in events.leaves
        if leaf["type"] == "erased"
    ]
    if erasure_rows or any(item.get("erased") for item in events.items):
        blocks.append(
            "Erased bodies are gone from the ledger: their leaves, hashes and proofs remain and "
            "still verify, but the personal data and the salt that opened the commitment are "
            "deleted."
        )
        blocks.append(
            Table(
                ("#", "Time (UTC)", "Erased", "Basis", "By"),
                tuple(erasure_rows),
                (0.4, 1.6, 1.2, 1.3, 1.5),
            )
        )
    export_rows = [
        (
            str(leaf["seq"]),
            leaf["at"],
            f"{leaf['actor']['role']} {leaf['actor']['id']}",
            leaf["public"]["bundle_sha256"],
            str(leaf["public"]["tree_size"]),
        )
        for leaf in events.leaves
        if leaf["type"] == "bundle_exported"
    ]
    if export_rows:
        blocks.append("Earlier evidence exports recorded on the log:")
        blocks.append(
            Table(
                ("#", "Time (UTC)", "By", "Bundle SHA-256", "Checkpoint"),
                tuple(export_rows),
                (0.4, 1.5, 1.3, 3.6, 0.8),
            )
        )
    return Section("Erasures and exports", blocks) if blocks else None


def _officer_keys(proof: Mapping[str, Any]) -> Section:
    rows = []
    for key in proof.get("officer_keys", []):
        for entry in key["entries"]:
            leaf = json.loads(entry["leaf"])
            p = leaf["public"]
            if leaf["type"] == "officer_key_registered":
                what = f"registered for {', '.join(p['roles'])}, valid from {p['valid_from']}" + (
                    f" until {p['valid_until']}" if p["valid_until"] else ""
                )
            else:
                what = f"revoked ({p['reason']})"
            rows.append((key["key_id"], leaf["at"], what, f"#{entry['index']}"))
    if not rows:
        return Section("Officer keys", ["No signed steps, so no officer keys are needed."])
    return Section(
        "Officer keys",
        [
            "Signed steps are signed by officer keys that are themselves entries in the "
            "log, so who was allowed to sign what, and when, is checked too.",
            Table(
                ("Key id", "Logged at (UTC)", "Entry", "Log index"),
                tuple(rows),
                (2.4, 1.6, 3.0, 0.8),
            ),
        ],
    )


def _chain_anchor(proof: Mapping[str, Any]) -> Section:
    anchor = proof.get("anchor")
    if anchor is None:
        return Section(
            "Chain anchor",
            [
                "This checkpoint was not yet anchored on chain when the bundle was exported. "
                "Its integrity rests on the log's signature; export again later to include the "
                "anchor."
            ],
        )
    return Section(
        "Chain anchor",
        [
            "The log's checkpoints are anchored on an EVM chain by a contract that accepts a "
            "new root only with a valid consistency proof from the one it holds. This "
            "checkpoint is a prefix of the anchored tree (consistency proof included).",
            Table(
                ("", ""),
                (
                    ("Chain id", str(anchor.get("chain_id"))),
                    ("Contract", str(anchor.get("contract"))),
                    ("Transaction", str(anchor.get("tx_hash"))),
                    ("Block", f"{anchor.get('block_number')} ({anchor.get('block_hash')})"),
                    ("Anchored tree size", str(anchor.get("anchored_size"))),
                    ("Anchored root", str(anchor.get("anchored_root"))),
                    (
                        "State at export",
                        f"{anchor.get('state')}, {anchor.get('confirmations')} confirmations",
                    ),
                ),
                (1, 3),
            ),
        ],
    )


def _verification_at_export(checks: Sequence[tuple[str, bool, str]]) -> Section | None:
    if not checks:
        return None
    return Section(
        "Verification at export",
        [
            "The ledger verified the bundle's content before signing it; re-run the "
            "checks yourself (next section) rather than relying on this list.",
            Table(
                ("Check", "Result", "Detail"),
                tuple((n, "passed" if ok else "FAILED", d) for n, ok, d in checks),
                (3.2, 0.8, 2.4),
            ),
        ],
    )


def _clock_rows(leaves: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    try:
        envelopes = [parse_envelope(canonical_json(leaf)) for leaf in leaves]
        report = due_report(envelopes, parse_timestamp(leaves[-1]["at"]))
    except (ComplaintError, ValueError, KeyError, IndexError):
        return []  # e.g. a calendar year this version does not cover: no clocks shown

    def when(value: Any) -> str:
        return "" if value is None else format_timestamp(value)

    return [
        (str(c.name), str(c.cycle), when(c.due_at), str(c.status), when(c.completed_at), c.basis)
        for c in report.clocks
    ]


def how_to_verify(proof: Mapping[str, Any]) -> list[Any]:
    origin = proof["log"]
    anchor = proof.get("anchor") or {}
    contract = anchor.get("contract") or "<contract address>"
    return [
        "1. Obtain the log's verifier key from a source you trust (not only this bundle). "
        "The key this bundle names is:",
        Pre(str(proof["verifier_key"])),
        "2. Run the open verifier, with no access to the firm's servers:",
        Pre(
            "python scripts/verify_bundle.py BUNDLE.zip --log-key '<verifier key>'\n"
            "# and against the chain, with any JSON-RPC endpoint of that chain:\n"
            f"python scripts/verify_bundle.py BUNDLE.zip --log-key '<verifier key>' \\\n"
            f"    --rpc <URL> --contract {contract} --confirmations 6"
        ),
        "It prints every check as passed or failed and exits with 0 only if all pass.",
        "3. Or check by hand, with any SHA-256, Ed25519 and JSON tool:",
        [
            "manifest.json lists every other file with its SHA-256; manifest.sig is a C2SP "
            "signed note by the log key whose text names the SHA-256 of manifest.json.",
            "log/checkpoint.txt is a C2SP tlog-checkpoint (origin, tree size, base64 root) "
            "signed by the log key.",
            "Each events/NNN-type.leaf.json is a log entry; its leaf hash is "
            "SHA-256(0x00 || leaf bytes), and its .inclusion.json is an RFC 9162 inclusion "
            "proof of that hash at its index up to the checkpoint root.",
            "Each leaf's 'prev' is the leaf hash of the previous event, 'seq' counts up from "
            "0, and the complaint reference is derived from the first leaf's hash.",
            "A disclosed body opens its leaf's commitment: SHA-256(salt || body bytes), with "
            "the salt from the .salt.hex file, equals the leaf's 'commitment'.",
            "Signed steps: the Ed25519 signature in the leaf (and in .signature.json) verifies "
            "over the body bytes with the public key registered in officers/<key id>/, whose "
            "roles and validity cover the step's time.",
            "Anchor: anchor/consistency-proof.json is an RFC 9162 consistency proof from this "
            "checkpoint to the anchored root; the anchor transaction emits "
            f"Anchored(logId = SHA-256('{origin}'), size, root, noteHash = SHA-256 of "
            "anchor/anchored-checkpoint.txt); the contract's latest(logId) holds that size or "
            "a larger one, which it accepted only with a consistency proof.",
            "On-chain payments: the payment body names the transaction, recipient, chain and "
            "amount in base units; the transaction moves exactly that amount to that "
            "recipient (a plain value transfer, or an ERC-20 Transfer event).",
        ],
    ]


# --- HTML ------------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;margin:2rem;
color:#111;max-width:70rem}h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;
border-bottom:1px solid #ccc}h3{font-size:1rem;margin-top:1.2rem}
table{border-collapse:collapse;width:100%;font-size:.85rem}
th,td{border:1px solid #ccc;padding:.25rem .4rem;text-align:left;vertical-align:top;
overflow-wrap:anywhere}th{background:#f2f2f2}pre{background:#f7f7f7;padding:.5rem;
white-space:pre-wrap;overflow-wrap:anywhere;font-size:.8rem}.fail{color:#a00;font-weight:bold}
"""


def _html_block(block: Any) -> str:
    e = html.escape
    if isinstance(block, str):
        return f"<p>{e(block)}</p>"
    if isinstance(block, Pre):
        return f"<pre>{e(block.text)}</pre>"
    if isinstance(block, Heading):
        return f"<h3>{e(block.text)}</h3>"
    if isinstance(block, list):
        return "<ul>" + "".join(f"<li>{e(str(i))}</li>" for i in block) + "</ul>"
    if isinstance(block, Table):
        head = ""
        if any(block.headers):
            head = "<thead><tr>" + "".join(f"<th>{e(h)}</th>" for h in block.headers) + "</tr>"
            head += "</thead>"
        body = []
        for row in block.rows:
            cells = []
            for i, cell in enumerate(row):
                tag = "th" if not any(block.headers) and i == 0 else "td"
                cls = ' class="fail"' if cell == "FAILED" else ""
                cells.append(f"<{tag}{cls}>{e(cell)}</{tag}>")
            body.append("<tr>" + "".join(cells) + "</tr>")
        return f"<table>{head}<tbody>{''.join(body)}</tbody></table>"
    raise TypeError(f"unknown report block {type(block).__name__}")


def render_html(title: str, sections: Sequence[Section]) -> bytes:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    for section in sections:
        parts.append(f"<h2>{html.escape(section.title)}</h2>")
        parts.extend(_html_block(b) for b in section.blocks)
    parts.append("</body></html>\n")
    return "\n".join(parts).encode("utf-8")


# --- PDF -------------------------------------------------------------------------------------

_DEJAVU = Path("/usr/share/fonts/truetype/dejavu")


@dataclass(frozen=True)
class PdfFonts:
    """TrueType files for the PDF (embedded as subsets). The default is DejaVu Sans (Debian
    ``fonts-dejavu-core``: Latin, Greek, Cyrillic), else Bitstream Vera shipped with
    reportlab (Western Latin only). Chinese text always uses the Adobe CID font
    ``STSong-Light`` (not embedded: PDF readers supply it)."""

    regular: Path
    bold: Path


def pdf_fonts(regular: Path | None = None, bold: Path | None = None) -> PdfFonts:
    """``regular`` and ``bold`` (the configured fonts; bold defaults to regular, and is
    ignored without it), else DejaVu Sans, else reportlab's Vera."""
    if regular:
        return PdfFonts(regular, bold or regular)
    dejavu = PdfFonts(_DEJAVU / "DejaVuSans.ttf", _DEJAVU / "DejaVuSans-Bold.ttf")
    if dejavu.regular.is_file() and dejavu.bold.is_file():
        return dejavu
    import reportlab

    folder = Path(reportlab.__file__).parent / "fonts"
    return PdfFonts(folder / "Vera.ttf", folder / "VeraBd.ttf")


_font_lock = threading.Lock()
_registered: dict[PdfFonts, tuple[str, str]] = {}


def _register(fonts: PdfFonts) -> tuple[str, str]:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfbase.ttfonts import TTFont

    with _font_lock:
        if fonts not in _registered:
            # Names from the files' contents, not the order of registration.
            tag = hashlib.sha256(fonts.regular.read_bytes() + fonts.bold.read_bytes())
            names = (f"Evidence-{tag.hexdigest()[:10]}", f"Evidence-{tag.hexdigest()[:10]}-Bold")
            pdfmetrics.registerFont(TTFont(names[0], str(fonts.regular)))
            pdfmetrics.registerFont(TTFont(names[1], str(fonts.bold)))
            if not _registered:
                pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
            _registered[fonts] = names
        return _registered[fonts]


def _is_cjk(ch: str) -> bool:
    o = ord(ch)
    return (
        0x2E80 <= o <= 0x9FFF
        or 0xF900 <= o <= 0xFAFF
        or 0xFF00 <= o <= 0xFFEF
        or 0x20000 <= o <= 0x2FFFF
    )


def _markup(text: str) -> str:
    """Escape for reportlab's paragraph markup; Chinese runs switch to the CID font."""
    out: list[str] = []
    run: list[str] = []
    cjk = False
    for ch in text:
        if _is_cjk(ch) != cjk and run:
            out.append(_run(run, cjk))
            run = []
        cjk = _is_cjk(ch)
        run.append(ch)
    if run:
        out.append(_run(run, cjk))
    return "".join(out).replace("\n", "<br/>")


def _run(chars: Iterable[str], cjk: bool) -> str:
    text = xml_escape("".join(chars))
    return f'<font name="STSong-Light">{text}</font>' if cjk else text


_CELL_PADDING = 6  # LEFTPADDING + RIGHTPADDING of the table style below
_CELL_VPADDING = 6  # reportlab's default TOPPADDING + BOTTOMPADDING


def _fit_row(cells: list[Any], widths: Sequence[float], max_height: float) -> list[list[Any]]:
    """One table row, or several when a cell is taller than ``max_height``: the tall cells'
    paragraphs are split (reportlab's own line breaking) and continue in the next rows, so
    the table can break across pages between them. Short reports are unchanged."""
    from reportlab.platypus import Paragraph

    avail = max_height - _CELL_VPADDING
    pieces: list[list[Any]] = []
    for para, w in zip(cells, widths, strict=True):
        inner = w - _CELL_PADDING
        _, height = para.wrap(inner, 1e9)
        if height <= avail:
            pieces.append([para])
            continue
        parts: list[Any] = []
        rest = para
        while True:
            split = rest.split(inner, avail)
            if len(split) < 2:  # the rest fits (or cannot be split further)
                parts.append(rest)
                break
            parts.append(split[0])
            rest = split[1]
            rest.wrap(inner, 1e9)
        pieces.append(parts)
    if all(len(p) == 1 for p in pieces):
        return [cells]
    rows = max(len(p) for p in pieces)
    blank = [Paragraph("", c.style) for c in cells]
    return [[p[r] if r < len(p) else blank[i] for i, p in enumerate(pieces)] for r in range(rows)]


def render_pdf(title: str, sections: Sequence[Section], fonts: PdfFonts | None = None) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_LEFT
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import (
        ListFlowable,
        ListItem,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        TableStyle,
    )
    from reportlab.platypus import Table as PdfTable

    regular, bold = _register(fonts or pdf_fonts())
    body = ParagraphStyle("body", fontName=regular, fontSize=9, leading=12, alignment=TA_LEFT)
    cell = ParagraphStyle("cell", parent=body, fontSize=7.5, leading=9.5)
    head_cell = ParagraphStyle("head", parent=cell, fontName=bold)
    pre = ParagraphStyle(
        "pre",
        parent=body,
        fontSize=8,
        leading=10,
        backColor="#f4f4f4",
        borderPadding=3,
        leftIndent=3,
        rightIndent=3,
    )
    h1 = ParagraphStyle("h1", parent=body, fontName=bold, fontSize=15, leading=19, spaceAfter=6)
    h2 = ParagraphStyle(
        "h2", parent=body, fontName=bold, fontSize=11.5, leading=15, spaceBefore=10, spaceAfter=4
    )
    h3 = ParagraphStyle("h3", parent=body, fontName=bold, spaceBefore=6, spaceAfter=3)
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=14 * mm,
        rightMargin=14 * mm,
        topMargin=14 * mm,
        bottomMargin=14 * mm,
        title=title,
        author="complaint ledger",
        subject="Evidence bundle report",
        creator="complaint ledger (ledger.evidence)",
        invariant=1,
    )
    width = doc.width
    # A table splits only between rows: no row may be taller than a page (less a repeated
    # header row and the section heading that may precede it).
    max_row = doc.height * 0.75
    story: list[Any] = [Paragraph(_markup(title), h1)]
    for section in sections:
        story.append(Paragraph(_markup(section.title), h2))
        for block in section.blocks:
            if isinstance(block, str):
                story.append(Paragraph(_markup(block), body))
                story.append(Spacer(1, 3))
            elif isinstance(block, Pre):
                story.append(Paragraph(_markup(block.text), pre))
                story.append(Spacer(1, 5))
            elif isinstance(block, Heading):
                story.append(Paragraph(_markup(block.text), h3))
            elif isinstance(block, list):
                items = [ListItem(Paragraph(_markup(str(i)), body), leftIndent=10) for i in block]
                story.append(ListFlowable(items, bulletType="bullet", start="•", leftIndent=10))
            elif isinstance(block, Table):
                headed = any(block.headers)
                rel = block.widths or tuple(1 for _ in block.headers)
                col = [width * w / sum(rel) for w in rel]
                data = []
                if headed:
                    data.append([Paragraph(_markup(h), head_cell) for h in block.headers])
                for row in block.rows:
                    cells = [
                        Paragraph(_markup(c), head_cell if not headed and i == 0 else cell)
                        for i, c in enumerate(row)
                    ]
                    data.extend(_fit_row(cells, col, max_row))
                if not data:
                    continue
                table = PdfTable(data, colWidths=col, repeatRows=1 if headed else 0, splitByRow=1)
                style = [
                    ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#bbbbbb")),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("LEFTPADDING", (0, 0), (-1, -1), 3),
                    ("RIGHTPADDING", (0, 0), (-1, -1), 3),
                ]
                if headed:
                    style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")))
                table.setStyle(TableStyle(style))
                story.append(table)
                story.append(Spacer(1, 5))
            else:
                raise TypeError(f"unknown report block {type(block).__name__}")

    def footer(canvas, document) -> None:
        canvas.saveState()
        canvas.setFont(regular, 7)
        canvas.drawString(14 * mm, 8 * mm, f"{title} — page {document.page}")
        canvas.restoreState()

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buf.getvalue()


def report_title(proof: Mapping[str, Any]) -> str:
    return f"Evidence bundle — complaint {proof['reference']}"


__all__ = [
    "Heading",
    "PdfFonts",
    "Pre",
    "Section",
    "Table",
    "pdf_fonts",
    "render_html",
    "render_pdf",
    "report_sections",
    "report_title",
]
