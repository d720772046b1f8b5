#!/usr/bin/env python3
"""Evidence bundle export and offline verification times for a 20-event complaint.

Builds a throw-away ledger (SQLite in a temporary folder), files one complaint through the
API (Flask test client) and takes it through 20 real steps, officer-signed decision, offer
and payment included. Then measures:

* export: ``POST /v1/complaints/<ref>/bundle`` of a new bundle end to end (proof from the
  database, reports, PDF, signature, ZIP, the export recorded on the log, the bytes stored),
  the same bundle again (found by its proof: no PDF, nothing recorded), fetching the stored
  export (``GET`` of its ``Location``), and the pure builder alone;
* verify: ``verify_bundle`` in process (target: under 200 ms), and the command-line
  verifier as a fresh process (interpreter start and imports included).

Prints a summary and merges it into bench/evidence.json under ``evidence_bundle`` (other
keys in that file, written by other benchmarks, are kept).

    python scripts/bench_evidence.py [--events 20] [--runs 15] [--out bench/evidence.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("LEDGER_LOG_LEVEL", "WARNING")

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat  # noqa: E402

from ledger.verify.layout import FORMAT_VERSION  # noqa: E402

TARGET_VERIFY_MS = 200
KEY = "evidence_bundle"


class Api:
    def __init__(self, client, token: str | None = None) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def post(self, path: str, body: dict, expect: int = 201) -> dict:
        r = self.client.post(path, json=body, headers=self.headers)
        assert r.status_code == expect, r.get_data(as_text=True)
        return r.get_json()


def build_complaint(app, ledger, events: int) -> str:
    """One complaint taken through ``events`` real steps; returns its reference."""
    from ledger.access.apikeys import create_api_key
    from ledger.complaints.officers import sign_body

    client = app.test_client()
    token = {
        r: create_api_key(ledger.engine, f"bench {r}", r)[0]
        for r in ("agent", "officer", "admin", "legal")
    }
    agent, officer = Api(client, token["agent"]), Api(client, token["officer"])
    key = Ed25519PrivateKey.generate()
    pub = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
    key_id = Api(client, token["admin"]).post(
        "/v1/officers/keys",
        {
            "public_key": pub,
            "roles": ["officer"],
            "name": "Bench Officer",
            "valid_from": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
        },
    )["key"]["key_id"]
    filed = Api(client).post(
        "/v1/complaints",
        {
            "category": "stuck_transaction",
            "channel": "chat",
            "language": "en",
            "description": "My withdrawal has been pending for hours.",
            "contact": {"name": "Ana Silva", "email": "ana@example.org"},
        },
    )
    ref = filed["reference"]
    customer = Api(client, filed["secret"])
    steps = f"/v1/complaints/{ref}/events"

    def signed(kind: str, content: dict, public: dict) -> None:
        body = officer.post(
            f"/v1/complaints/{ref}/signing-body", {"type": kind, "content": content}, expect=200
        )
        sig = sign_body(key, body["body_jcs"].encode("utf-8")).hex()
        officer.post(
            steps,
            {
                "type": kind,
                "body": body["body"],
                "public": {**public, "signature": {"key_id": key_id, "sig": sig}},
            },
        )

    agent.post(steps, {"type": "acknowledged"})
    agent.post(steps, {"type": "info_requested", "body": {"request": "Which address?"}})
    customer.post(steps, {"type": "info_received", "body": {"text": "bc1qexample"}})
    evidence = agent.post(
        steps,
        {
            "type": "evidence_added",
            "public": {"kind": "system_log"},
            "body": {"description": "Node logs."},
        },
    )
    # 5 steps so far, 6 closing steps below: fill the rest with evidence and notes.
    for i in range(max(0, events - 11)):
        kind = "note_added" if i % 2 else "evidence_added"
        agent.post(steps, {"type": kind, "body": {"text": f"Step {i}", "description": f"{i}"}})
    decision = {
        "outcome": "upheld",
        "finding": "The fee estimator stalled.",
        "rules": ["PSD2 Art. 89"],
        "evidence": [evidence["event"]["leaf_hash"]],
        "root_cause": "product_defect",
        "remedy": "We refund the fee.",
    }
    signed(
        "decision",
        decision,
        {k: decision[k] for k in ("outcome", "root_cause", "rules", "evidence")},
    )
    offer = {"amount": "25.00", "asset": "USDC", "method": "on_chain"}
    signed("compensation_offered", offer, offer)
    customer.post(steps, {"type": "compensation_accepted"})
    signed("compensation_paid", {**offer, "tx_hash": "0x" + "ab" * 32}, offer)
    closed = agent.post(steps, {"type": "closed"})
    rating = {"csat": 4, "rates": closed["event"]["seq"]}
    customer.post(steps, {"type": "rated", "public": rating})
    return ref, token["legal"]


def timed(fn, runs: int) -> tuple[list[float], object]:
    out, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        out.append((time.perf_counter() - start) * 1000)
    return out, result


def stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median_ms": round(statistics.median(ordered), 2),
        "p90_ms": round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 2),
        "min_ms": round(ordered[0], 2),
        "max_ms": round(ordered[-1], 2),
        "runs": len(ordered),
    }


def merge_write(path: Path, value: dict) -> None:
    """Update only our key in ``path``, keeping what other benchmarks wrote there."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {}
    if path.exists():
        try:
            data = json.loads(path.read_text())
        except ValueError:
            data = {}
    data[KEY] = value
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "evidence.json")
    args = parser.parse_args()

    from api import create_app
    from ledger.casework.proof_document import collect_proof
    from ledger.config import Settings
    from ledger.evidence.bundle import build_bundle
    from ledger.log.keys import create_key_file
    from ledger.runtime import open_ledger
    from ledger.verify.bundle import verify_bundle

    with tempfile.TemporaryDirectory(prefix="bench-evidence-") as tmp:
        folder = Path(tmp)
        origin = "bench.ledger.example/log"
        create_key_file(folder / "log.key", origin)
        settings = Settings(
            data_dir=folder,
            database_url=f"sqlite:///{folder / 'b.sqlite3'}",
            log_origin=origin,
            log_key_file=folder / "log.key",
            export_rate_limit="",  # measured here, not limited
        )
        ledger = open_ledger(settings)
        try:
            app = create_app(settings, ledger)
            ref, legal = build_complaint(app, ledger, args.events)
            client = app.test_client()
            headers = {"Authorization": f"Bearer {legal}"}

            url = f"/v1/complaints/{ref}/bundle"

            def export(body: dict, status: int):
                r = client.post(url, json=body, headers=headers)
                assert r.status_code == status, r.get_data(as_text=True)
                return r

            data = export({}, 201).data  # the default bundle; also the warm-up (fonts, caches)

            def export_new() -> bytes:
                # On the latest checkpoint, which holds the previous export: a new bundle.
                return export({"tree_size": ledger.store.latest_checkpoint().size}, 201).data

            export_ms, _ = timed(export_new, args.runs)
            again_ms, again = timed(lambda: export({}, 200), args.runs)
            location = again.headers["Location"]
            fetch_ms, _ = timed(lambda: client.get(location, headers=headers), args.runs)
            proof = collect_proof(
                ledger.store,
                ledger.complaints.reads,
                ledger.officer_keys,
                ref,
                anchor_for=ledger.anchor_for,
            )
            n_events = len(proof["events"])
            assert n_events == max(args.events, 11), n_events
            build_ms, _ = timed(lambda: build_bundle(proof, ledger.store.signer), args.runs)
            vkey = str(ledger.store.verifier)
            verify_ms, report = timed(lambda: verify_bundle(data, log_key=vkey), args.runs * 2)
            assert report.ok, report.lines()
            bundle = folder / "bundle.zip"
            bundle.write_bytes(data)
            cli = [
                sys.executable,
                str(ROOT / "scripts" / "verify_bundle.py"),
                str(bundle),
                "--log-key",
                vkey,
                "--quiet",
            ]

            def run_cli() -> None:
                done = subprocess.run(cli, capture_output=True, timeout=120)
                assert done.returncode == 0, done.stdout

            cli_ms, _ = timed(run_cli, 3)
        finally:
            ledger.close()

    import zipfile
    from io import BytesIO

    files = len(zipfile.ZipFile(BytesIO(data)).namelist())
    verify = stats(verify_ms)
    result = {
        "format_version": FORMAT_VERSION,
        "events": n_events,
        "bundle_bytes": len(data),
        "bundle_files": files,
        "export_http": stats(export_ms),
        "export_again_http": stats(again_ms),
        "fetch_stored_http": stats(fetch_ms),
        "build_pure": stats(build_ms),
        "verify_in_process": verify,
        "verify_cli_process": stats(cli_ms),
        "target_verify_ms": TARGET_VERIFY_MS,
        "meets_target": verify["median_ms"] < TARGET_VERIFY_MS,
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "command": "python scripts/bench_evidence.py",
    }
    print(f"complaint with {n_events} events: bundle {len(data):,} bytes, {files} files")
    names = ("export_http", "export_again_http", "fetch_stored_http", "build_pure")
    for name in (*names, "verify_in_process", "verify_cli_process"):
        s = result[name]
        print(
            f"  {name:20s} median {s['median_ms']:8.2f} ms   p90 {s['p90_ms']:8.2f} ms"
            f"   ({s['runs']} runs)"
        )
    verdict = "meets" if result["meets_target"] else "MISSES"
    print(f"  offline verify {verdict} the {TARGET_VERIFY_MS} ms target")
    merge_write(args.out, result)
    print(f"wrote {args.out} [{KEY}]")
    return 0 if result["meets_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
