"""Write docs/spec/examples/*.json from a real run of the API.

Runs the app in process on a fresh temporary SQLite data folder: registers an officer key,
files a complaint, records steps (one signed by the officer over HTTP, as docs/spec/
signed-steps.md describes), then saves what the API answered: a leaf, a receipt, a proof
document, the signing body and the signed step request, a problem response, the log key,
log proofs and an evidence bundle's manifest and signature. tests/spec/test_spec_examples.py
verifies the checked-in files. Values (times, keys, hashes) differ on every run.

Usage: python scripts/build_spec_examples.py [--out docs/spec/examples]
"""

from __future__ import annotations

import argparse
import io
import json
import tempfile
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from api import create_app
from ledger.access.apikeys import create_api_key
from ledger.casework.proof_document import collect_proof
from ledger.complaints.officers import officer_key_id, sign_body
from ledger.config import Settings
from ledger.evidence.bundle import build_bundle
from ledger.log.keys import create_key_file
from ledger.runtime import open_ledger
from ledger.verify import layout

ROOT = Path(__file__).resolve().parents[1]

ORIGIN = "spec.ledger.example/log"
DEFAULT_OUT = ROOT / "docs" / "spec" / "examples"
# Shown once at filing; an example must not look like a live credential.
SECRET_PLACEHOLDER = "cs_(shown once at filing; not reproduced here)"
TX_HASH = "0x" + "ab" * 32


class Run:
    """The app over the Flask test client, with one bearer token per role."""

    def __init__(self, app, tokens: dict[str, str]) -> None:
        self.client = app.test_client()
        self.tokens = tokens

    def call(self, method: str, path: str, token: str | None, body=None, expect: int = 200):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        r = self.client.open(path, method=method, json=body, headers=headers)
        if r.status_code != expect:
            raise SystemExit(f"{method} {path}: {r.status_code} {r.get_data(as_text=True)}")
        return r.get_json()


def _write_json(out: Path, name: str, value: Any) -> None:
    (out / name).write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", "utf-8")


def build(out: Path) -> list[str]:
    """Run the scenario in a temporary data folder; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="spec-examples-") as tmp:
        data = Path(tmp)
        key_file = data / "log.key"
        create_key_file(key_file, ORIGIN)
        settings = Settings(
            data_dir=data,
            database_url=f"sqlite:///{data / 'ledger.sqlite3'}",
            log_origin=ORIGIN,
            log_key_file=key_file,
        )
        ledger = open_ledger(settings)
        try:
            return _scenario(ledger, create_app(settings, ledger), out)
        finally:
            ledger.close()


def _scenario(ledger, app, out: Path) -> list[str]:
    roles = ("agent", "officer", "admin", "legal")
    tokens = {r: create_api_key(ledger.engine, f"spec {r}", r)[0] for r in roles}
    run = Run(app, tokens)
    written: dict[str, Any] = {}

    # Key registration (admin): the officer's public key goes on the log.
    officer_key = Ed25519PrivateKey.generate()
    public_key = officer_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    registration = {
        "public_key": public_key.hex(),
        "roles": ["officer"],
        "valid_from": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
        "name": "Olga Officer",
    }
    written["officer-key.request.json"] = registration
    written["officer-key.response.json"] = run.call(
        "POST", "/v1/officers/keys", tokens["admin"], registration, 201
    )

    filed = run.call("POST", "/v1/complaints", None, {
        "category": "stuck_transaction",
        "channel": "web_form",
        "language": "en",
        "description": "My withdrawal has been pending for 9 hours.",
        "contact": {"name": "Ana Silva", "email": "ana@example.org", "consent": True},
        "transaction": TX_HASH,
    }, 201)  # fmt: skip
    ref, secret = filed["reference"], filed["secret"]
    written["filed.json"] = {**filed, "secret": SECRET_PLACEHOLDER}
    events = f"/v1/complaints/{ref}/events"
    run.call("POST", events, tokens["agent"], {"type": "acknowledged"}, 201)
    evidence = run.call("POST", events, tokens["agent"], {
        "type": "evidence_added",
        "public": {"kind": "system_log"},
        "body": {"description": "Node logs show the transaction stuck in our mempool."},
    }, 201)  # fmt: skip

    # A signed step over HTTP: get the signing body, sign body_jcs, send body + signature.
    decision = {
        "outcome": "partially_upheld",
        "finding": "The withdrawal was delayed by our fee estimator.",
        "rules": ["PSD2 Art. 89"],
        "evidence": [evidence["event"]["leaf_hash"]],
        "root_cause": "product_defect",
        "remedy": "We refund the network fee.",
    }
    signing_request = {"type": "decision", "content": decision}
    signing = run.call(
        "POST", f"/v1/complaints/{ref}/signing-body", tokens["officer"], signing_request
    )
    signature = sign_body(officer_key, signing["body_jcs"].encode("utf-8"))
    public = {k: decision[k] for k in ("outcome", "root_cause", "rules", "evidence")}
    public["signature"] = {"key_id": officer_key_id(public_key), "sig": signature.hex()}
    step = {"type": "decision", "public": public, "body": signing["body"]}
    written["signing-body.request.json"] = signing_request
    written["signing-body.response.json"] = signing
    written["signed-step.request.json"] = step
    recorded = run.call("POST", events, tokens["officer"], step, 201)
    written["signed-step.response.json"] = recorded
    written["receipt.json"] = recorded["receipt"]

    proof = run.call("GET", f"/v1/complaints/{ref}/proof", secret)
    written["proof.json"] = proof
    written["log-keys.json"] = run.call("GET", "/v1/log/keys", None)
    index = recorded["receipt"]["log_index"]
    written["log-inclusion.json"] = run.call("GET", f"/v1/log/proof/inclusion?index={index}", None)
    size = proof["checkpoint"]["size"]
    written["log-consistency.json"] = run.call(
        "GET", f"/v1/log/proof/consistency?from=1&to={size}", None
    )
    written["log-checkpoint.json"] = run.call("GET", "/v1/log/checkpoint", None)

    # A refusal: the reference with its check symbol changed (a typo).
    typo = ref[:-1] + ("0" if ref[-1] != "0" else "1")
    written["problem.json"] = run.call("GET", f"/v1/complaints/{typo}", tokens["agent"],
                                       expect=404)  # fmt: skip

    # The evidence bundle of the same checkpoint, built by the same code the API uses.
    bundle = build_bundle(
        collect_proof(
            ledger.store,
            ledger.complaints.reads,
            ledger.officer_keys,
            ref,
            anchor_for=ledger.anchor_for,
        ),
        ledger.store.signer,
    )
    files = _unzip(bundle.data)
    (out / "leaf.json").write_bytes(proof["events"][0]["leaf"].encode("utf-8"))
    (out / "bundle-manifest.json").write_bytes(files[layout.MANIFEST])
    (out / "bundle-manifest.sig").write_bytes(files[layout.SIGNATURE])
    decision_stem = next(
        layout.event_stem(e["seq"], e["type"]) for e in proof["events"] if e["type"] == "decision"
    )
    (out / "bundle-inclusion.json").write_bytes(files[f"{decision_stem}.inclusion.json"])
    (out / "bundle-signature.json").write_bytes(files[f"{decision_stem}.signature.json"])
    for name, value in written.items():
        _write_json(out, name, value)
    binary = ["leaf.json", "bundle-manifest.json", "bundle-manifest.sig",
              "bundle-inclusion.json", "bundle-signature.json"]  # fmt: skip
    return sorted([*written, *binary])


def _unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _check_text(check: Any) -> str:
    """A validator's data description (``payloads.describe``) in a few words."""
    spec = getattr(check, "spec", None)
    if spec is None:
        return "see ledger/complaints/payloads.py"
    kind = spec["kind"]
    if kind == "enum":
        from ledger.complaints import vocab

        values = [str(v) for v in getattr(vocab, spec["enum"])]
        return "one of " + ", ".join(f"`{v}`" for v in values)
    if kind == "pattern":
        return f"matches `{spec['pattern']}`"
    if kind == "text":
        return f"text, at most {spec['max_length']} characters"
    if kind == "int":
        return f"integer {spec['min']}..{spec['max']}"
    if kind == "list":
        return f"list of ({_check_text(spec['items'])})"
    if kind == "nullable":
        return f"null or {_check_text(spec['inner'])}"
    if kind == "object":
        names = ", ".join(f"`{n}`" + ("" if f.required else "?") for n, f in spec["fields"].items())
        return "object {" + names + "}" + ("" if spec["closed"] else ", more allowed")
    return kind.replace("_", " ")


HEADER = "| part | field | required | value |\n|---|---|---|---|"


def payload_tables() -> str:
    """Markdown: per event type, its ``public`` and ``body`` fields, from the domain's tables."""
    from ledger.complaints import payloads

    lines = []
    types = list(dict.fromkeys([*payloads.PUBLIC_SPECS, *payloads.BODY_SPECS]))
    for event_type in types:
        lines += [
            f"### `{event_type}`",
            "",
            "| part | field | required | value |",
            "|---|---|---|---|",
        ]
        for part, specs in (("public", payloads.PUBLIC_SPECS), ("body", payloads.BODY_SPECS)):
            for name, field in (specs.get(event_type) or {}).items():
                req = "yes" if field.required else "no"
                value = _check_text(field.check).replace("|", "\\|")
                lines.append(f"| {part} | `{name}` | {req} | {value} |")
        lines.append("")
    return "\n".join(lines)


def write_payloads(path: Path) -> None:
    """Replace the generated part of docs/spec/payloads.md (between the markers)."""
    text = path.read_text("utf-8")
    start, end = "<!-- generated: payload tables -->", "<!-- end generated -->"
    head, _, rest = text.partition(start)
    _, _, tail = rest.partition(end)
    path.write_text(f"{head}{start}\n{payload_tables()}{end}{tail}", "utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    for name in build(args.out):
        print(args.out / name)
    payloads_md = args.out.parent / "payloads.md"
    if payloads_md.exists():
        write_payloads(payloads_md)
        print(payloads_md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
