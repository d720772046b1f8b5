"""Evidence bundles from a real complaint lifecycle over HTTP: they verify offline, every byte
counts, erasure still verifies, exports are recorded, the same checkpoint gives the same bytes."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from ledger.evidence.bundle import build_bundle, deterministic_zip
from ledger.log.note import Signer, sign_note, split_note
from ledger.verify.bundle import verify_bundle, verify_export, verify_path
from ledger.verify.complaint import verify_complaint_proof
from tests.support.bundles import get_bundle, unzip
from tests.support.complaint_api import Client, run_lifecycle

ROOT = Path(__file__).resolve().parents[2]


def timeline(actors: dict, ref: str) -> list[dict]:
    return actors["legal"].get(f"/v1/complaints/{ref}/timeline")["events"]


def test_bundle_of_a_real_lifecycle_verifies_offline(actors, vkey, ledger) -> None:
    ref, _ = run_lifecycle(actors)
    r = get_bundle(actors, ref, expect=201)  # a new export
    assert r.headers["Content-Type"] == "application/zip"
    assert r.headers["Content-Disposition"] == f'attachment; filename="evidence-{ref}.zip"'
    sha = hashlib.sha256(r.content).hexdigest()
    assert r.headers["X-Bundle-SHA256"] == sha
    assert r.headers["Cache-Control"] == "no-store"
    assert r.headers["Location"] == f"/v1/complaints/{ref}/bundles/{sha}"

    report = verify_bundle(r.content, log_key=vkey)
    assert report.ok, report.lines()
    names = {c.name for c in report.checks}
    assert "manifest.sig is the log key's signature over this manifest" in names
    assert "every file matches its SHA-256 in the manifest" in names
    assert "officer signatures verify, by keys authorised at the time" in names
    assert "every data file agrees with proof.json" in names

    files = unzip(r.content)
    manifest = json.loads(files["manifest.json"])
    assert manifest["reference"] == ref and manifest["format_version"] == 2
    assert manifest["log"]["origin"] == ledger.store.origin
    listed = {f["path"] for f in manifest["files"]}
    assert listed == set(files) - {"manifest.json", "manifest.sig"}
    assert {"proof.json", "report.html", "report.pdf", "log/checkpoint.txt"} <= listed
    assert manifest["contents"]["events"] == 12 and manifest["contents"]["signed_events"] == 3
    assert files["events/006-decision.body.json"].startswith(b'{"context"')
    assert files["report.pdf"].startswith(b"%PDF-")
    assert b"How to verify" in files["report.html"] and ref.encode() in files["report.html"]
    # proof.json is the proof format: the same verifier as GET .../proof reads it.
    proof = json.loads(files["proof.json"])
    assert set(proof) == {
        "reference",
        "log",
        "verifier_key",
        "checkpoint",
        "events",
        "officer_keys",
        "anchor",
    }
    assert verify_complaint_proof(proof, vkey).ok

    # The export is on the log (after the bundle: not inside it), naming the bundle's hash.
    events = timeline(actors, ref)
    export = events[-1]
    assert export["type"] == "bundle_exported" and export["actor"]["role"] == "legal"
    assert export["public"]["bundle_sha256"] == sha
    assert export["public"]["tree_size"] == manifest["checkpoint"]["size"]
    assert export["log_index"] == int(r.headers["X-Export-Log-Index"])
    assert [e["type"] for e in proof["events"]][-1] == "rated"
    reads = actors["legal"].get(f"/v1/complaints/{ref}/access-log")["reads"]
    assert any(x["action"] == "bundle" and x["role"] == "legal" for x in reads)


def test_same_checkpoint_same_bytes(actors, vkey) -> None:
    ref, _ = run_lifecycle(actors)
    first = get_bundle(actors, ref, expect=201).content
    # The same bundle again, by anyone: the same bytes, and nothing new on the log.
    again = get_bundle(actors, ref, expect=200).content  # its own export event is not in it
    by_admin = get_bundle(actors, ref, actors["tokens"]["admin"], expect=200).content
    assert first == again == by_admin
    assert [e["type"] for e in timeline(actors, ref)].count("bundle_exported") == 1
    size = json.loads(unzip(first)["manifest.json"])["checkpoint"]["size"]

    # A new step moves the default checkpoint; the earlier exports are then part of it.
    actors["legal"].post(f"/v1/complaints/{ref}/events", {"type": "reopened"})
    later = get_bundle(actors, ref, expect=201).content
    assert later != first and verify_bundle(later, log_key=vkey).ok
    types = [e["type"] for e in json.loads(unzip(later)["proof.json"])["events"]]
    assert types[-3:] == ["rated", "bundle_exported", "reopened"]
    # Asking for the first checkpoint again gives the first bundle, byte for byte.
    assert get_bundle(actors, ref, tree_size=size, expect=200).content == first
    get_bundle(actors, ref, tree_size=1, expect=400)  # before the complaint existed
    get_bundle(actors, ref, tree_size=10_000, expect=404)
    assert [e["type"] for e in timeline(actors, ref)].count("bundle_exported") == 2


def _flip(data: bytes, pos: int) -> bytes:
    return data[:pos] + bytes([data[pos] ^ 0x01]) + data[pos + 1 :]


def _named(report, path: str) -> bool:
    return any(path in r.name or path in r.detail for r in report.failures)


@pytest.mark.slow
def test_any_flipped_byte_in_any_file_fails_and_names_it(actors, vkey) -> None:
    ref, _ = run_lifecycle(actors)
    files = unzip(get_bundle(actors, ref).content)
    assert len(files) > 50
    tried = 0
    for path, data in sorted(files.items()):
        for pos in sorted({0, len(data) // 2, len(data) - 1}):
            tampered = deterministic_zip({**files, path: _flip(data, pos)})
            report = verify_bundle(tampered, log_key=vkey)
            assert not report.ok, f"flipping byte {pos} of {path} was not detected"
            assert _named(report, path), (path, pos, [r.name for r in report.failures])
            tried += 1
    assert tried > 150
    # A removed or an added file fails too.
    for path in ("events/006-decision.signature.json", "report.pdf"):
        smaller = {k: v for k, v in files.items() if k != path}
        report = verify_bundle(deterministic_zip(smaller), log_key=vkey)
        assert not report.ok and _named(report, path)
    report = verify_bundle(deterministic_zip({**files, "extra.txt": b"x"}), log_key=vkey)
    assert not report.ok and _named(report, "extra.txt")


def test_a_flipped_byte_in_the_zip_itself_is_caught(actors, vkey) -> None:
    ref, _ = run_lifecycle(actors)
    data = get_bundle(actors, ref).content
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        info = zf.getinfo("events/009-compensation_paid.body.json")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    report = verify_bundle(_flip(data, start + 10), log_key=vkey)
    assert not report.ok and _named(report, "events/009-compensation_paid.body.json")
    report = verify_bundle(data[: len(data) // 2], log_key=vkey)
    assert not report.ok


def test_wrong_key_and_foreign_signature_fail(actors, vkey, ledger) -> None:
    ref, _ = run_lifecycle(actors)
    data = get_bundle(actors, ref).content
    other = Signer.generate(ledger.store.origin)
    report = verify_bundle(data, log_key=str(other.verifier()))
    assert not report.ok
    assert "the bundle names the log key you gave" in {r.name for r in report.failures}
    # The manifest re-signed by another key: fails with the real key pinned, and unpinned.
    files = unzip(data)
    text, _ = split_note(files["manifest.sig"].decode())
    forged = deterministic_zip({**files, "manifest.sig": sign_note(text, other).encode()})
    for key in (vkey, None):
        report = verify_bundle(forged, log_key=key)
        assert not report.ok and _named(report, "manifest.sig")


def test_erased_body_still_verifies_as_erased(actors, vkey, ledger) -> None:
    ref, _ = run_lifecycle(actors)
    events = timeline(actors, ref)
    # The customer's personal data: the received body, and the letters that name them (each
    # step's own body, signed ones included), each erased by its own erasure step.
    letters = [e for e in events if (e["body"] or {}).get("message")]
    for target in [events[0], *letters]:
        actors["legal"].post(
            f"/v1/complaints/{ref}/erasures",
            {"target": target["leaf_hash"], "basis": "gdpr_art17"},
        )
    files = unzip(get_bundle(actors, ref).content)
    report = verify_bundle(deterministic_zip(files), log_key=vkey)
    assert report.ok, report.lines()
    erased = next(r for r in report.checks if r.name.startswith("erased bodies"))
    listed = erased.detail.removeprefix("event(s) ").split(" erased")[0].split(", ")
    assert erased.ok and sorted(map(int, listed)) == [e["seq"] for e in [events[0], *letters]]
    assert "events/000-received.body.json" not in files
    assert "events/000-received.salt.hex" not in files
    record = json.loads(files["events/000-received.erasure.json"])
    assert record["erased"] and record["erased_by"]["basis"] == "gdpr_art17"
    assert record["erased_by"]["seq"] == 12
    assert b"Ana Silva" not in b"".join(files.values())  # the personal data is gone
    erased_bodies = json.loads(files["manifest.json"])["contents"]["bodies"]["erased"]
    assert erased_bodies == 1 + len(letters)
    # Even signed by the log key, a bundle claiming an erasure the log does not hold fails.
    proof = json.loads(files["proof.json"])
    kept = next(e for e in proof["events"] if not e["erased"] and "body" in e)
    kept["erased"] = True
    del kept["body"], kept["salt"]
    forged = build_bundle(proof, ledger.store.signer).data
    report = verify_bundle(forged, log_key=vkey)
    assert [r.name for r in report.failures] == [
        "erased bodies are exactly those erased on the log, and gone"
    ]


def test_customer_bundle_withholds_internal_notes(actors, vkey) -> None:
    ref, secret = run_lifecycle(actors)
    actors["legal"].post(f"/v1/complaints/{ref}/events", {"type": "reopened"})
    actors["agent"].post(
        f"/v1/complaints/{ref}/events",
        {"type": "note_added", "body": {"text": "Internal: fee bug #42"}},
    )
    r = get_bundle(actors, ref, secret, expect=201)
    files = unzip(r.content)
    assert verify_bundle(r.content, log_key=vkey).ok
    assert "events/013-note_added.leaf.json" in files
    assert "events/013-note_added.body.json" not in files
    assert b"fee bug #42" not in r.content
    export = timeline(actors, ref)[-1]
    assert export["type"] == "bundle_exported" and export["actor"] == {
        "role": "customer",
        "id": "customer",
    }
    # Legal sees the note; the two bundles differ only by that disclosure.
    assert b"fee bug #42" in get_bundle(actors, ref).content
    # The customer fetches its own export again, not legal's (it holds the note).
    legal_sha = hashlib.sha256(get_bundle(actors, ref).content).hexdigest()
    customer = Client(actors["url"], secret).session
    url = f"{actors['url']}/v1/complaints/{ref}/bundles"
    assert customer.get(f"{url}/{r.headers['X-Bundle-SHA256']}", timeout=30).content == r.content
    assert customer.get(f"{url}/{legal_sha}", timeout=30).status_code == 403
    # Who may export.
    get_bundle(actors, ref, actors["tokens"]["agent"], expect=403)
    get_bundle(actors, ref, actors["tokens"]["regulator"], expect=403)
    anon = actors["anon"].session.post(
        f"{actors['url']}/v1/complaints/{ref}/bundle", json={}, timeout=30
    )
    assert anon.status_code == 401
    assert anon.headers["Content-Type"] == "application/problem+json"
    _other_ref, other_secret = run_lifecycle(actors)
    get_bundle(actors, ref, other_secret, expect=401)
    get_bundle(actors, "CMP-00000-00000-00000-00000-0000", expect=404)


def test_bulk_export_for_a_regulator(actors, vkey) -> None:
    refs = sorted(run_lifecycle(actors)[0] for _ in range(2))
    regulator = actors["regulator"]
    r = regulator.session.post(
        f"{actors['url']}/v1/evidence/exports",
        json={"category": "stuck_transaction", "received_from": "2020-01-01T00:00:00Z"},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/zip" and r.headers["X-Export-Count"] == "2"
    files = unzip(r.content)
    index = json.loads(files["index.json"])
    assert [b["reference"] for b in index["bundles"]] == refs
    assert index["requested_by"]["role"] == "regulator"
    assert index["count"] == index["matched"] == 2
    assert index["filters"]["include_bodies"] is False
    assert set(files) == {"README.txt", "index.json", "index.sig"} | {
        f"bundles/{ref}.zip" for ref in refs
    }
    report = verify_export(r.content, log_key=vkey)
    assert report.ok, report.lines()
    for ref, row in zip(refs, index["bundles"], strict=True):
        export = timeline(actors, ref)[-1]
        assert export["type"] == "bundle_exported" and export["actor"]["role"] == "regulator"
        assert export["public"]["bundle_sha256"] == row["sha256"]
        # A regulator gets no bodies, so no personal data was read.
        reads = actors["legal"].get(f"/v1/complaints/{ref}/access-log")["reads"]
        assert not any(x["role"] == "regulator" for x in reads)
    # A changed byte in a nested bundle fails the index check and names the complaint.
    path = f"bundles/{refs[0]}.zip"
    tampered = deterministic_zip({**files, path: _flip(files[path], 100)})
    report = verify_export(tampered, log_key=vkey)
    assert not report.ok and any(refs[0] in f.name for f in report.failures)

    # The same bundles again: the same bytes, nothing new on the log.
    again = regulator.session.post(
        f"{actors['url']}/v1/evidence/exports", json={"category": "stuck_transaction"}, timeout=60
    )
    assert again.status_code == 200
    assert unzip(again.content)[path] == files[path]
    assert [e["type"] for e in timeline(actors, refs[0])].count("bundle_exported") == 1
    # Filters are required; agents may not export.
    r = regulator.session.post(f"{actors['url']}/v1/evidence/exports", json={}, timeout=30)
    assert r.status_code == 422 and r.headers["Content-Type"] == "application/problem+json"
    r = actors["agent"].session.post(
        f"{actors['url']}/v1/evidence/exports", json={"category": "stuck_transaction"}, timeout=30
    )
    assert r.status_code == 403


@pytest.mark.slow
def test_command_line_verifier_works_offline(actors, vkey, tmp_path, live_server) -> None:
    ref, _ = run_lifecycle(actors)
    bundle = tmp_path / "bundle.zip"
    bundle.write_bytes(get_bundle(actors, ref).content)
    live_server.stop()  # the server is off: only the file and the key are needed
    script = [sys.executable, str(ROOT / "scripts" / "verify_bundle.py")]
    ok = subprocess.run(
        [*script, str(bundle), "--log-key", vkey],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "passed: manifest.sig is the log key's signature over this manifest" in ok.stdout
    assert ok.stdout.strip().endswith("checks passed")
    files = unzip(bundle.read_bytes())
    bad = tmp_path / "bad.zip"
    bad.write_bytes(deterministic_zip({**files, "report.pdf": _flip(files["report.pdf"], 500)}))
    failed = subprocess.run(
        [*script, str(bad), "--log-key", vkey, "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert failed.returncode == 1
    assert "FAILED: file report.pdf matches its SHA-256 in the manifest" in failed.stdout
    missing = subprocess.run(
        [*script, str(tmp_path / "nope.zip")], capture_output=True, text=True, timeout=60
    )
    assert missing.returncode == 2
    # An unpacked bundle verifies too.
    folder = tmp_path / "unpacked"
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    assert verify_path(folder, log_key=vkey).ok
