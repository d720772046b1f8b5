"""Evidence bundles of format 1 (base64 tree hashes), exported by the code before format 2,
keep verifying offline with the same verdicts: tests/vectors/bundles-v1/ (see its README)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from ledger.evidence.bundle import deterministic_zip
from ledger.verify import layout
from ledger.verify.bundle import verify_bundle, verify_path
from ledger.verify.report import Report

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "tests" / "vectors" / "bundles-v1"
VKEY = (VECTORS / "verifier-key.txt").read_text().strip()
BUNDLES = ("unanchored", "anchored")
SUPPORTED = "manifest.json is a supported evidence bundle manifest"
UPGRADED = "proof.json's format-1 hashes read as format 2"


def unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _flip(data: bytes, pos: int) -> bytes:
    return data[:pos] + bytes([data[pos] ^ 0x01]) + data[pos + 1 :]


def _passed(report: Report, old_line: str) -> bool:
    """The old report's ``passed: <name> (<detail>)`` line names a check that passes now."""
    return any(
        r.ok and (old_line == f"passed: {r.name}" or old_line.startswith(f"passed: {r.name} ("))
        for r in report.checks
    )


@pytest.mark.parametrize("name", [*BUNDLES, "export"])
def test_v1_vector_verifies_with_the_same_verdicts(name: str) -> None:
    report = verify_path(VECTORS / f"{name}.zip", log_key=VKEY)
    assert report.ok, report.lines()
    old = (VECTORS / f"{name}.old-report.txt").read_text().splitlines()
    assert old[-1].startswith("RESULT: all") and old[-1].endswith("checks passed")
    checked = [line for line in old if line.startswith("passed: ")]
    assert len(checked) > 25
    assert [line for line in checked if not _passed(report, line)] == []
    # The report says which format it verified, and how it read it.
    supported = [r for r in report.checks if r.name.endswith(SUPPORTED)]
    assert supported and all(r.ok and r.detail.endswith("version 1") for r in supported)
    assert len([r for r in report.checks if r.name.endswith(UPGRADED) and r.ok]) == len(supported)


def test_anchored_v1_vector_checks_its_anchor_and_erasure() -> None:
    report = verify_bundle((VECTORS / "anchored.zip").read_bytes(), log_key=VKEY)
    details = {r.name: r.detail for r in report.checks if r.ok}
    consistency = "this checkpoint is a prefix of the anchored tree (consistency proof)"
    assert details[consistency].endswith("6 nodes")
    assert details["checkpoint fields match the signed note"] == ""
    assert any(name.startswith("erased bodies are exactly those erased") for name in details)


@pytest.mark.parametrize("name", [*BUNDLES, "export"])
def test_command_line_verifier_accepts_v1_vectors(name: str, tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "verify_bundle.py"), str(VECTORS / f"{name}.zip"),
         "--log-key", VKEY],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    # (an export's lines name each bundle first: "passed: [<reference>] manifest.json ...")
    assert f"{SUPPORTED} (format 'complaint-ledger/evidence-bundle' version 1)" in run.stdout
    assert "FAILED" not in run.stdout
    assert run.stdout.strip().endswith("checks passed")


def test_any_flipped_byte_in_any_file_of_a_v1_bundle_fails_and_names_it() -> None:
    files = unzip((VECTORS / "anchored.zip").read_bytes())
    assert len(files) > 60 and "anchor/consistency-proof.json" in files
    for path, data in sorted(files.items()):
        tampered = deterministic_zip({**files, path: _flip(data, len(data) // 2)})
        report = verify_bundle(tampered, log_key=VKEY)
        assert not report.ok, f"a flipped byte in {path} was not detected"
        named = [r for r in report.failures if path in r.name or path in r.detail]
        assert named, (path, [r.name for r in report.failures])


@pytest.mark.parametrize("version", [3, 0, True, "1", 1.5])
def test_v1_bundle_claiming_another_version_is_refused(version) -> None:
    files = unzip((VECTORS / "unanchored.zip").read_bytes())
    manifest = json.loads(files[layout.MANIFEST])
    manifest["format_version"] = version
    changed = deterministic_zip({**files, layout.MANIFEST: layout.jcs(manifest)})
    report = verify_bundle(changed, log_key=VKEY)
    # Refused at the version, before anything of the bundle is read as if it were understood.
    assert [(r.name, r.ok) for r in report.checks[1:]] == [(SUPPORTED, False)]
    assert report.checks[1].detail.endswith(f"version {version!r}")


def test_proof_v1_to_v2_converts_exactly_the_base64_hashes() -> None:
    proof = json.loads(unzip((VECTORS / "anchored.zip").read_bytes())[layout.PROOF])
    before = json.dumps(proof, sort_keys=True)
    upgraded = layout.proof_v1_to_v2(proof)
    assert json.dumps(proof, sort_keys=True) == before  # pure: the input is not changed

    def b64_to_hex(value: str) -> str:
        import base64

        return base64.b64decode(value).hex()

    assert upgraded["checkpoint"]["root"] == b64_to_hex(proof["checkpoint"]["root"])
    assert upgraded["checkpoint"]["note"] == proof["checkpoint"]["note"]
    for new, old in zip(upgraded["events"], proof["events"], strict=True):
        assert new["inclusion_proof"] == [b64_to_hex(p) for p in old["inclusion_proof"]]
        assert {k: v for k, v in new.items() if k != "inclusion_proof"} == {
            k: v for k, v in old.items() if k != "inclusion_proof"
        }
    entry = upgraded["officer_keys"][0]["entries"][0]
    assert entry["inclusion_proof"] == [
        b64_to_hex(p) for p in proof["officer_keys"][0]["entries"][0]["inclusion_proof"]
    ]
    anchor = upgraded["anchor"]
    assert anchor["anchored_root"] == b64_to_hex(proof["anchor"]["anchored_root"])
    assert len(anchor["consistency_proof"]) == 6
    assert all(len(h) == 64 for h in anchor["consistency_proof"])
    assert anchor["tx_hash"] == proof["anchor"]["tx_hash"]  # EVM values were 0x-hex already

    # Strict: anything but the canonical base64 of 32 bytes is refused, naming where.
    for bad in ("not base64!", "AAAA", proof["checkpoint"]["root"].rstrip("=")):
        broken = {**proof, "checkpoint": {**proof["checkpoint"], "root": bad}}
        with pytest.raises(layout.LayoutError, match="the checkpoint root"):
            layout.proof_v1_to_v2(broken)
    event = {**proof["events"][3], "inclusion_proof": [upgraded["checkpoint"]["root"]]}
    with pytest.raises(layout.LayoutError, match="event 3 inclusion_proof"):
        layout.proof_v1_to_v2({**proof, "events": [*proof["events"][:3], event]})


def test_v2_proof_is_not_read_as_v1() -> None:
    """A format-2 bundle's hex hashes are not base64 of 32 bytes: the upgrade refuses them, so
    a bundle can never be verified under the other format's reading by mistake."""
    proof = layout.proof_v1_to_v2(
        json.loads(unzip((VECTORS / "unanchored.zip").read_bytes())[layout.PROOF])
    )
    with pytest.raises(layout.LayoutError):
        layout.proof_v1_to_v2(proof)


def test_v1_bundle_with_an_old_rating_verifies() -> None:
    """Ratings recorded before they named the rated step (no ``public.rates``) still verify."""
    report = verify_path(VECTORS / "rated.zip", log_key=VKEY)
    assert report.ok, report.lines()
