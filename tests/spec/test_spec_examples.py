"""docs/spec/: the checked-in examples (from a real run, scripts/build_spec_examples.py) verify
with the project's own verifiers, and every field the spec's tables document is in them.

The examples differ on every run (times, keys, hashes): nothing here compares them with a
fresh run; the last test runs the builder once into a temporary folder and checks its output
verifies the same way.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from api.problems import PROBLEM_TYPES
from ledger.complaints.events import parse_envelope
from ledger.complaints.officers import officer_key_id, verify_officer_signature
from ledger.complaints.reference import reference_bytes, reference_matches
from ledger.log import merkle
from ledger.log.canonical import canonical_json
from ledger.log.checkpoint import open_checkpoint
from ledger.log.encoding import parse_hash, parse_hashes, parse_hex
from ledger.log.note import Verifier, open_note
from ledger.verify import layout
from ledger.verify.complaint import verify_complaint_proof

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "docs" / "spec"
EXAMPLES = SPEC / "examples"
MARKER = re.compile(r"<!-- fields: (examples/[\w.-]+) -->\n((?:\|.*\n)+)")
HEX64 = re.compile(r"^[0-9a-f]{64}$")
# Field names whose values are hashes, keys, salts or signatures (encoding.md: lowercase hex).
HEX_FIELDS = {
    *("leaf_hash", "root", "anchored_root", "commitment", "prev", "salt", "nonce"),
    *("public_key", "sha256", "sig", "signature", "key_id", "from_root", "to_root"),
}
HEX_LISTS = {"inclusion_proof", "proof", "consistency_proof", "evidence"}


def load(name: str) -> Any:
    return json.loads((EXAMPLES / name).read_text("utf-8"))


def log_verifier() -> Verifier:
    return Verifier.from_string(load("log-keys.json")["verifier_key"])


# --- the examples verify ------------------------------------------------------------------


def check_examples(folder: Path) -> None:
    """Every cryptographic claim of the examples in ``folder`` holds."""
    ex = lambda name: json.loads((folder / name).read_text("utf-8"))  # noqa: E731
    keys = ex("log-keys.json")
    verifier = Verifier.from_string(keys["verifier_key"])
    assert parse_hex(keys["public_key"], 32) == verifier.public_key
    assert keys["key_id"] == f"{verifier.key_id:08x}" and keys["origin"] == verifier.name

    proof = ex("proof.json")
    report = verify_complaint_proof(proof, keys["verifier_key"], keys["origin"])
    assert report.ok, report.failures
    cp = open_checkpoint(proof["checkpoint"]["note"], verifier, keys["origin"])
    assert (cp.size, cp.root.hex()) == (proof["checkpoint"]["size"], proof["checkpoint"]["root"])

    # The leaf file is the exact bytes of the first event's leaf; the reference comes from it.
    leaf = (folder / "leaf.json").read_bytes()
    assert leaf == proof["events"][0]["leaf"].encode("utf-8") == canonical_json(json.loads(leaf))
    env = parse_envelope(leaf)
    assert env.seq == 0 and env.prev is None and str(env.type) == "received"
    reference = ex("filed.json")["reference"]
    assert reference == proof["reference"] and reference_matches(reference, env.leaf_hash)
    assert reference_bytes(reference) == env.leaf_hash[:15]  # the check symbol holds

    # The receipt: its inclusion proof checks against its own (first covering) checkpoint.
    receipt = ex("receipt.json")
    rcp = open_checkpoint(receipt["checkpoint"], verifier, keys["origin"])
    merkle.verify_inclusion(
        receipt["log_index"], rcp.size, parse_hash(receipt["leaf_hash"]),
        parse_hashes(receipt["inclusion_proof"]), rcp.root,
    )  # fmt: skip
    decision = next(e for e in proof["events"] if e["index"] == receipt["log_index"])
    assert merkle.leaf_hash(decision["leaf"].encode()).hex() == receipt["leaf_hash"]
    assert ex("signed-step.response.json")["receipt"] == receipt

    # The officer's signature over the signing body, by the registered key.
    signing, step = ex("signing-body.response.json"), ex("signed-step.request.json")
    signed_bytes = signing["body_jcs"].encode("utf-8")
    assert signed_bytes == canonical_json(signing["body"]) == decision["body"].encode("utf-8")
    assert step["body"] == signing["body"] and signing["prev"] == signing["body"]["context"]["prev"]
    public_key = parse_hex(ex("officer-key.request.json")["public_key"], 32)
    sig = step["public"]["signature"]
    assert (
        sig["key_id"]
        == officer_key_id(public_key)
        == ex("officer-key.response.json")["key"]["key_id"]
    )
    assert verify_officer_signature(public_key, signed_bytes, parse_hex(sig["sig"], 64))
    assert json.loads(decision["leaf"])["public"]["signature"] == sig

    # The log API's proofs verify against the proof document's checkpoint.
    inclusion = ex("log-inclusion.json")
    lcp = open_checkpoint(inclusion["checkpoint"], verifier, keys["origin"])
    merkle.verify_inclusion(
        inclusion["index"], inclusion["tree_size"], parse_hash(inclusion["leaf_hash"]),
        parse_hashes(inclusion["proof"]), lcp.root,
    )  # fmt: skip
    consistency = ex("log-consistency.json")
    first = consistency["from"]
    first_root = merkle.leaf_hash(proof["officer_keys"][0]["entries"][0]["leaf"].encode())
    assert first == 1 and proof["officer_keys"][0]["entries"][0]["index"] == 0
    merkle.verify_consistency(
        first, consistency["to"], first_root, cp.root, parse_hashes(consistency["proof"])
    )
    assert ex("log-checkpoint.json")["root"] == cp.root.hex()

    # The bundle manifest is signed by the log key and names the proof's checkpoint.
    manifest_bytes = (folder / "bundle-manifest.json").read_bytes()
    manifest = json.loads(manifest_bytes)
    assert manifest_bytes == canonical_json(manifest)
    assert manifest["format_version"] == layout.FORMAT_VERSION == 2
    assert manifest["checkpoint"] == {"size": cp.size, "root": cp.root.hex()}
    note = open_note((folder / "bundle-manifest.sig").read_text("utf-8"), [verifier])
    fields = layout.parse_note_fields(note.text, layout.BUNDLE_NOTE_HEADER)
    assert fields["manifest-sha256"] == hashlib.sha256(manifest_bytes).hexdigest()
    assert (fields["complaint"], fields["tree-size"]) == (reference, str(cp.size))
    inc = ex("bundle-inclusion.json")
    assert inc == {
        "index": decision["index"],
        "tree_size": cp.size,
        "leaf_hash": receipt["leaf_hash"],
        "proof": decision["inclusion_proof"],
    }
    assert ex("bundle-signature.json")["signature"] == sig["sig"]

    problem = ex("problem.json")
    slug = problem["type"].removeprefix("/problems/")
    assert PROBLEM_TYPES[slug] == (problem["title"], problem["status"])
    assert problem["code"] == "REFERENCE_CHECK"


def test_checked_in_examples_verify() -> None:
    check_examples(EXAMPLES)


def test_tampered_examples_fail(tmp_path: Path) -> None:
    """The checks above are not vacuous: one flipped hex digit of a proof node fails them."""
    for path in EXAMPLES.iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    proof = load("proof.json")
    node = proof["events"][1]["inclusion_proof"][0]
    proof["events"][1]["inclusion_proof"][0] = ("1" if node[0] == "0" else "0") + node[1:]
    (tmp_path / "proof.json").write_text(json.dumps(proof))
    with pytest.raises(AssertionError):
        check_examples(tmp_path)


# --- one encoding per kind of value ----------------------------------------------------------


def _walk(value: Any, path: str = ""):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, f"{path}.{k}" if path else k)
    elif isinstance(value, list):
        for v in value:
            yield from _walk(v, f"{path}[]")
    else:
        yield path, value


def test_every_hash_key_and_signature_is_lowercase_hex() -> None:
    checked = 0
    for path in sorted(EXAMPLES.glob("*.json")):
        for where, value in _walk(json.loads(path.read_text("utf-8"))):
            name = where.rsplit(".", 1)[-1]
            if name.endswith("[]") and name[:-2] in HEX_LISTS:
                assert isinstance(value, str) and HEX64.match(value), (path.name, where, value)
                checked += 1
            elif name in HEX_FIELDS and isinstance(value, str) and "/" not in value:
                assert re.fullmatch(r"(?:[0-9a-f]{2})+", value), (path.name, where, value)
                checked += 1
    assert checked > 50


# --- the spec's field tables match the examples ----------------------------------------------


def field_tables() -> list[tuple[str, str, list[tuple[str, str, bool]]]]:
    """(spec file, example file, [(field path, type, always)]) for every marked table."""
    tables = []
    for doc in sorted(SPEC.glob("*.md")):
        for example, table in MARKER.findall(doc.read_text("utf-8")):
            rows = []
            for line in table.splitlines()[2:]:
                cells = [c.strip() for c in line.strip().strip("|").split("|")]
                rows.append((cells[0].strip("`"), cells[1], cells[2] == "yes"))
            tables.append((doc.name, example, rows))
    return tables


def _values(doc: Any, path: str) -> list[Any]:
    """The values at a documented path (``a.b``, ``a[].b``) in every list element; missing
    fields are left out."""
    values = [doc]
    for part in path.split("."):
        many = part.endswith("[]")
        name = part.removesuffix("[]")
        values = [v[name] for v in values if isinstance(v, dict) and name in v]
        if many:
            values = [item for v in values for item in v]
    return values


def _count(doc: Any, path: str) -> int:
    parent, _, _ = path.rpartition(".")
    return len(_values(doc, parent)) if parent else 1


def test_every_documented_field_is_in_its_example() -> None:
    tables = field_tables()
    assert len(tables) >= 14
    for doc, example, rows in tables:
        data = json.loads((SPEC / example).read_text("utf-8"))
        for path, _type, always in rows:
            if always:
                assert len(_values(data, path)) == _count(data, path), (doc, example, path)


def test_every_field_of_a_documented_object_is_documented() -> None:
    for doc, example, rows in field_tables():
        data = json.loads((SPEC / example).read_text("utf-8"))
        documented = {path for path, _, _ in rows}
        # Objects whose members the table lists ("object", "array of object"); others (JSON
        # objects such as ``public`` or ``body``) are defined elsewhere.
        expanded = {""} | {p + ("[]" if t.startswith("array") else "") for p, t, _ in rows
                           if t in ("object", "array of object")}  # fmt: skip
        for where, _ in _walk(data):
            parts = where.split(".")
            for n in range(1, len(parts) + 1):
                path = ".".join(parts[:n]).removesuffix("[]")
                parent = ".".join(parts[: n - 1])
                if parent in expanded:
                    assert path in documented, (doc, example, path)


def test_errors_table_lists_every_problem_type() -> None:
    text = (SPEC / "errors.md").read_text("utf-8")
    table = text.split("<!-- problem-types -->\n", 1)[1].split("\n\n", 1)[0]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in table.splitlines()[2:]]
    listed = {row[0].strip("`"): int(row[1]) for row in rows}
    assert listed == {slug: status for slug, (_, status) in PROBLEM_TYPES.items()}


def test_documented_domain_codes_exist() -> None:
    text = (SPEC / "errors.md").read_text("utf-8")
    table = text.split("<!-- domain-codes -->\n", 1)[1].split("\n\n", 1)[0]
    codes = [line.strip("|").split("|")[0].strip().strip("`") for line in table.splitlines()[2:]]
    source = "\n".join(p.read_text("utf-8") for p in (ROOT / "ledger").rglob("*.py"))
    for code in codes:
        assert f'"{code}"' in source, code


def test_payload_tables_are_current() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from build_spec_examples import payload_tables
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    text = (SPEC / "payloads.md").read_text("utf-8")
    assert payload_tables() in text, "run python scripts/build_spec_examples.py"


@pytest.mark.slow
def test_the_builder_writes_examples_that_verify(tmp_path: Path) -> None:
    out = tmp_path / "examples"
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_spec_examples.py"), "--out", str(out)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    check_examples(out)


def test_readme_links_the_spec() -> None:
    assert "docs/spec/" in (ROOT / "README.md").read_text("utf-8")
    index = (SPEC / "README.md").read_text("utf-8")
    for doc in SPEC.glob("*.md"):
        if doc.name != "README.md":
            assert f"({doc.name})" in index, doc.name
