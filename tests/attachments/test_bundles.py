"""Attached files in evidence bundles: the bundle holds each file a disclosed body lists and
every verifier checks its bytes against that body; a changed byte fails; erasure deletes the
file from storage while the proof and the bundle still verify."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest

from ledger.evidence.bundle import deterministic_zip
from ledger.verify.bundle import verify_bundle
from ledger.verify.complaint import verify_complaint_proof
from ledger.verify.layout import jcs
from tests.attachments.conftest import PDF, TEXT, auth, png
from tests.support.bundles import unzip
from tests.support.paths import ROOT


@pytest.fixture
def vkey(ledger) -> str:
    return str(ledger.store.signer.verifier())


def export(client, case, token: str | None = None):
    r = client.post(
        f"/v1/complaints/{case.ref}/bundle", json={}, headers=auth(token or case.keys["legal"])
    )
    assert r.status_code in (200, 201), r.json
    return r.data


def with_files(client, case) -> tuple[dict, dict, int]:
    """Two files listed by an evidence step; returns their listings and the step's seq."""
    shot = case.upload(client, png(b"screenshot"), "image/png").json
    letter = case.upload(client, PDF, "application/pdf", case.keys["agent"]).json
    r = case.step(client, "evidence_added", {"description": "proof", "attachments": [shot, letter]})
    assert r.status_code == 201, r.json
    return shot, letter, r.json["event"]["seq"]


def checks(report, category: str = "attachments") -> dict[str, str]:
    return {c.name: c.status for c in report.checks if c.category == category}


def test_the_bundle_holds_each_file_and_verifies_it(client, case, vkey, tmp_path) -> None:
    shot, letter, seq = with_files(client, case)
    data = export(client, case)
    files = unzip(data)
    assert files[f"attachments/{shot['sha256']}"] == png(b"screenshot")
    assert files[f"attachments/{letter['sha256']}"] == PDF
    manifest = json.loads(files["manifest.json"])
    listed = {f["path"]: f for f in manifest["files"]}
    assert listed[f"attachments/{letter['sha256']}"]["size"] == len(PDF)

    report = verify_bundle(data, log_key=vkey)
    assert report.ok, report.lines()
    assert checks(report) == {
        f"attachment {shot['name']!r} of event {seq} has the SHA-256 and size its body "
        "commits to": "ok",
        f"attachment {letter['name']!r} of event {seq} has the SHA-256 and size its body "
        "commits to": "ok",
    }
    # The command a legal team runs says the same.
    bundle_file = tmp_path / f"evidence-{case.ref}.zip"
    bundle_file.write_bytes(data)
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "verify_bundle.py"), str(bundle_file),
         "--log-key", vkey],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"passed: attachment {letter['name']!r} of event {seq} has the SHA-256" in out.stdout


def test_a_changed_byte_in_a_file_fails(client, case, vkey) -> None:
    _, letter, seq = with_files(client, case)
    files = unzip(export(client, case))
    path = f"attachments/{letter['sha256']}"
    files[path] = files[path].replace(b"Catalog", b"Catalof")
    report = verify_bundle(deterministic_zip(files), log_key=vkey)
    assert not report.ok
    failed = {c.name: c.detail for c in report.failures}
    name = (
        f"attachment {letter['name']!r} of event {seq} has the SHA-256 and size its body commits to"
    )
    assert name in failed and f"the body commits to {len(PDF)} bytes" in failed[name]
    assert f"file {path} matches its SHA-256 in the manifest" in failed

    # Even with a manifest re-made to match, the file does not match its body (the manifest's
    # signature then fails too: both say so).
    manifest = json.loads(files["manifest.json"])
    for f in manifest["files"]:
        if f["path"] == path:
            f["sha256"] = hashlib.sha256(files[path]).hexdigest()
    files["manifest.json"] = jcs(manifest)
    report = verify_bundle(deterministic_zip(files), log_key=vkey)
    failed = {c.name for c in report.failures}
    assert name in failed and "manifest.sig is the log key's signature over this manifest" in failed


def test_a_file_no_body_lists_and_a_missing_file(client, case, vkey) -> None:
    shot, _, seq = with_files(client, case)
    files = unzip(export(client, case))
    stray = {**files, "attachments/" + "ab" * 32: b"planted"}
    report = verify_bundle(deterministic_zip(stray), log_key=vkey)
    assert "file attachments/" + "ab" * 32 + " is listed by a disclosed body" in {
        c.name for c in report.failures
    }
    # A file left out: its body still verifies; the report says the file is not there.
    del files[f"attachments/{shot['sha256']}"]
    report = verify_bundle(deterministic_zip(files), log_key=vkey)
    assert checks(report)[f"attachment {shot['name']!r} of event {seq} is not in the bundle"] == (
        "skip"
    )


def test_the_customer_bundle_holds_the_files_too(client, case, vkey) -> None:
    shot, _, _ = with_files(client, case)
    data = export(client, case, case.secret)
    assert f"attachments/{shot['sha256']}" in unzip(data)
    assert verify_bundle(data, log_key=vkey).ok


def test_a_regulator_export_holds_no_file(client, case, vkey) -> None:
    with_files(client, case)
    r = client.post(
        "/v1/evidence/exports",
        json={"category": "sync_fault"},
        headers=auth(case.keys["regulator"]),
    )
    assert r.status_code == 200, r.json
    bundle = unzip(r.data)[f"bundles/{case.ref}.zip"]
    assert not [n for n in unzip(bundle) if n.startswith("attachments/")]
    assert verify_bundle(bundle, log_key=vkey).ok


def test_erasure_deletes_the_files_and_everything_still_verifies(
    client, ledger, case, other, vkey
) -> None:
    shot, letter, seq = with_files(client, case)
    # The same letter, also listed by a later step of this complaint, and in another complaint.
    assert case.upload(client, PDF, "application/pdf").status_code == 201
    kept = case.step(client, "evidence_added", {"description": "again", "attachments": [letter]})
    assert kept.status_code == 201
    assert other.upload(client, png(b"screenshot"), "image/png").status_code == 201
    timeline = client.get(f"/v1/complaints/{case.ref}/timeline", headers=auth(case.secret)).json
    target = timeline["events"][seq]["leaf_hash"]
    root = ledger.settings.data_dir / "attachments"

    r = client.post(
        f"/v1/complaints/{case.ref}/erasures",
        json={"target": target, "basis": "gdpr_art17"},
        headers=auth(case.keys["admin"]),
    )
    assert r.status_code == 201, r.json
    # The screenshot is erased for this complaint; its blob stays for the other complaint.
    r = client.get(
        f"/v1/complaints/{case.ref}/attachments/{shot['sha256']}", headers=auth(case.secret)
    )
    assert r.status_code == 404
    r = client.get(
        f"/v1/complaints/{other.ref}/attachments/{shot['sha256']}", headers=auth(other.secret)
    )
    assert r.status_code == 200
    # The letter is still listed by a live body: kept.
    r = client.get(
        f"/v1/complaints/{case.ref}/attachments/{letter['sha256']}", headers=auth(case.secret)
    )
    assert r.status_code == 200 and r.data == PDF

    proof = client.get(f"/v1/complaints/{case.ref}/proof", headers=auth(case.secret)).json
    assert verify_complaint_proof(proof, vkey, ledger.store.origin).ok
    data = export(client, case)
    names = set(unzip(data))
    assert f"attachments/{letter['sha256']}" in names
    assert f"attachments/{shot['sha256']}" not in names
    report = verify_bundle(data, log_key=vkey)
    assert report.ok, report.lines()

    # Erasing the other complaint's copy too deletes the blob itself.
    other_events = client.get(
        f"/v1/complaints/{other.ref}/timeline", headers=auth(other.secret)
    ).json["events"]
    step = other.step(client, "evidence_added", {"description": "x", "attachments": [shot]})
    assert step.status_code == 201
    r = client.post(
        f"/v1/complaints/{other.ref}/erasures",
        json={"target": step.json["event"]["leaf_hash"], "basis": "gdpr_art17"},
        headers=auth(case.keys["admin"]),
    )
    assert r.status_code == 201 and len(other_events) == 1
    assert shot["sha256"] not in {p.name for p in root.rglob("*")}
    assert letter["sha256"] in {p.name for p in root.rglob("*")}
    assert ledger.attachments.pending_purges() == []


def test_an_erased_body_leaves_a_bundle_without_files_that_verifies(
    client, ledger, case, vkey
) -> None:
    shot = case.upload(client, TEXT, "text/plain").json
    step = case.step(client, "evidence_added", {"description": "t", "attachments": [shot]})
    r = client.post(
        f"/v1/complaints/{case.ref}/erasures",
        json={"target": step.json["event"]["leaf_hash"], "basis": "gdpr_art17"},
        headers=auth(case.keys["admin"]),
    )
    assert r.status_code == 201
    data = export(client, case)
    assert not [n for n in unzip(data) if n.startswith("attachments/")]
    report = verify_bundle(data, log_key=vkey)
    assert report.ok and checks(report) == {}
    root = ledger.settings.data_dir / "attachments"
    assert not [p for p in root.rglob("*") if p.is_file()]
