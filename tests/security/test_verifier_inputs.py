"""The offline verifiers give a verdict on any input, never a traceback (issue 12, finding 3).

A corpus of nasty inputs (deep JSON, wrong types, missing fields, non-JSON, huge numbers,
broken ZIPs) is thrown at both command-line verifiers as subprocesses, and generated inputs
at the Python functions behind them: every answer is "not verified" (exit status 1) with a
failed check naming the problem.
"""

from __future__ import annotations

import copy
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.complaints.payloads import MAX_DEPTH
from ledger.evidence.bundle import build_bundle
from ledger.verify import layout
from ledger.verify.bundle import verify_bundle, verify_export, verify_path
from ledger.verify.complaint import verify_complaint_proof

ROOT = Path(__file__).resolve().parents[2]
FILE = {"category": "stuck_transaction", "channel": "web_form", "description": "Pending 9h."}
DEEP = 100_000  # far beyond any recursion limit


def deep_text(depth: int = DEEP) -> str:
    return "[" * depth + "]" * depth


def deep_value(depth: int = DEEP) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.fixture
def proof(client, ledger) -> dict:
    """A real, verifying proof with disclosed bodies (the customer's view)."""
    filed = client.post("/v1/complaints", json=FILE).json
    r = client.get(
        f"/v1/complaints/{filed['reference']}/proof",
        headers={"Authorization": f"Bearer {filed['secret']}"},
    )
    assert r.status_code == 200
    assert verify_complaint_proof(r.json, str(ledger.store.verifier)).ok
    return r.json


@pytest.fixture
def vkey(ledger) -> str:
    return str(ledger.store.verifier)


def _with(proof: dict, edit) -> dict:
    changed = copy.deepcopy(proof)
    edit(changed)
    return changed


def proof_corpus(proof: dict) -> dict[str, bytes]:
    """Saved 'proof' files, each broken in another way."""

    def text(value) -> bytes:
        return json.dumps(value).encode()

    def deep_body(p):
        p["events"][0]["body"] = deep_text()

    def deep_leaf(p):
        p["events"][0]["leaf"] = '{"a":' * DEEP

    def wrong_types(p):
        p["events"][0].update(index="0", inclusion_proof="abc", leaf=5, salt=[], body={})

    def huge_index(p):
        p["events"][0]["index"] = 10**400

    corpus = {
        "empty": b"",
        "binary": b"\xff\xfe\x00\x01garbage",
        "deep-array": deep_text().encode(),
        "deep-unclosed-object": b'{"a":' * DEEP,
        "null": b"null",
        "number": b"42",
        "string": b'"proof"',
        "list": b"[]",
        "empty-object": b"{}",
        "wrong-top-types": text({"checkpoint": 5, "events": "abc", "officer_keys": 1}),
        "wrong-item-types": text({"checkpoint": {"note": 1}, "events": [1, "x", None]}),
        "5000-digit-number": b'{"checkpoint": ' + b"9" * 5000 + b"}",
        "infinite-float": b'{"checkpoint": {"note": "x"}, "events": [{"index": 1e999}]}',
        "nan": b'{"checkpoint": NaN}',
        "deep-body": text(_with(proof, deep_body)),
        "deep-leaf": text(_with(proof, deep_leaf)),
        "wrong-event-types": text(_with(proof, wrong_types)),
        "huge-index": text(_with(proof, huge_index)),
        "officer-keys-object": text(_with(proof, lambda p: p.update(officer_keys={"x": 1}))),
        "no-events": text(_with(proof, lambda p: p.update(events=[]))),
        "events-missing": text(_with(proof, lambda p: p.pop("events"))),
    }
    return corpus


def _zip(files: dict[str, bytes], method: int = zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _corrupt_deflate() -> bytes:
    """A ZIP whose entry's compressed data is garbage (zlib fails, not the ZIP structure)."""
    data = bytearray(_zip({layout.MANIFEST: b"x" * 5000}, zipfile.ZIP_DEFLATED))
    start = 30 + len(layout.MANIFEST)  # after the local file header
    data[start : start + 8] = b"\xff" * 8
    return bytes(data)


def bundle_corpus(proof: dict, signer) -> dict[str, bytes]:
    """Bundle / export ZIPs (and one directory), each broken in another way."""
    real = zipfile.ZipFile(io.BytesIO(build_bundle(proof, signer).data))
    files = {name: real.read(name) for name in real.namelist()}
    deep_body = copy.deepcopy(proof)
    deep_body["events"][0]["body"] = deep_text()
    manifest = json.loads(files[layout.MANIFEST])
    return {
        "not-a-zip": b"PK\x03\x04 not really",
        "empty": b"",
        "garbage-manifest": _zip({layout.MANIFEST: b"\xff{"}),
        "deep-manifest": _zip({layout.MANIFEST: deep_text().encode()}),
        "manifest-list": _zip({layout.MANIFEST: b"[]"}),
        "manifest-wrong-types": _zip(
            {
                layout.MANIFEST: json.dumps(
                    {
                        "format": layout.FORMAT,
                        "format_version": layout.FORMAT_VERSION,
                        "log": 5,
                        "reference": [],
                        "checkpoint": "x",
                        "files": 7,
                    }
                ).encode()
            }
        ),
        "manifest-files-wrong": _zip(
            {**files, layout.MANIFEST: json.dumps({**manifest, "files": [1, "x"]}).encode()}
        ),
        "deep-body-in-proof": _zip({**files, layout.PROOF: json.dumps(deep_body).encode()}),
        "proof-is-a-list": _zip({**files, layout.PROOF: b"[]"}),
        "deep-proof": _zip({**files, layout.PROOF: deep_text().encode()}),
        "corrupt-deflate": _corrupt_deflate(),
        "export-wrong-types": _zip(
            {
                layout.INDEX: json.dumps(
                    {
                        "format": layout.EXPORT_FORMAT,
                        "format_version": layout.EXPORT_FORMAT_VERSION,
                        "log": {"origin": 1, "verifier_key": 5},
                        "bundles": 7,
                    }
                ).encode()
            }
        ),
        "export-rows-wrong": _zip(
            {
                layout.INDEX: json.dumps(
                    {
                        "format": layout.EXPORT_FORMAT,
                        "format_version": layout.EXPORT_FORMAT_VERSION,
                        "log": {"origin": proof["log"], "verifier_key": proof["verifier_key"]},
                        "bundles": [1, None, {"path": 5}],
                    }
                ).encode()
            }
        ),
    }


def _run(script: str, target: Path, vkey: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / script), str(target), "--log-key", vkey],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def _assert_verdict(done: subprocess.CompletedProcess, name: str, verdict: str) -> None:
    out = done.stdout + done.stderr
    assert "Traceback" not in out, (name, out[-2000:])
    assert done.returncode == 1, (name, done.returncode, out[-2000:])
    assert verdict in done.stdout, (name, out[-2000:])


@pytest.mark.slow
def test_verify_complaint_cli_gives_a_verdict_on_any_input(proof, vkey, tmp_path) -> None:
    for name, data in proof_corpus(proof).items():
        path = tmp_path / f"{name}.json"
        path.write_bytes(data)
        done = _run("verify_complaint.py", path, vkey)
        _assert_verdict(done, name, "checks FAILED")
        assert "\nFAILED: " in "\n" + done.stdout, name
    done = _run("verify_complaint.py", tmp_path / "does-not-exist.json", vkey)
    _assert_verdict(done, "missing file", "checks FAILED")


@pytest.mark.slow
def test_verify_bundle_cli_gives_a_verdict_on_any_input(proof, vkey, ledger, tmp_path) -> None:
    for name, data in bundle_corpus(proof, ledger.store.signer).items():
        path = tmp_path / f"{name}.zip"
        path.write_bytes(data)
        done = _run("verify_bundle.py", path, vkey)
        _assert_verdict(done, name, "FAILED")
    unpacked = tmp_path / "unpacked"
    unpacked.mkdir()
    (unpacked / layout.MANIFEST).write_bytes(b'{"format": ' * 50_000)
    _assert_verdict(_run("verify_bundle.py", unpacked, vkey), "directory", "FAILED")


@pytest.mark.slow
def test_the_cli_still_verifies_a_good_proof(proof, vkey, tmp_path) -> None:
    path = tmp_path / "good.json"
    path.write_text(json.dumps(proof))
    done = _run("verify_complaint.py", path, vkey)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().endswith("checks passed"), done.stdout


def test_the_functions_refuse_deep_input_without_recursing(proof, vkey) -> None:
    report = verify_complaint_proof(deep_value(), vkey)
    assert not report.ok and "not list" in report.failures[0].detail
    report = verify_complaint_proof({"checkpoint": deep_value()}, vkey)
    assert not report.ok and f"deeper than {MAX_DEPTH}" in report.failures[0].detail
    changed = _with(proof, lambda p: p["events"][0].update(body=deep_text()))
    report = verify_complaint_proof(changed, vkey)
    assert [c.detail for c in report.failures] == [
        f"event 0 body nests deeper than {MAX_DEPTH} levels"
    ]


def test_the_functions_give_a_verdict_on_the_bundle_corpus(proof, vkey, ledger, tmp_path) -> None:
    for name, data in bundle_corpus(proof, ledger.store.signer).items():
        for report in (verify_bundle(data, log_key=vkey), verify_export(data, log_key=vkey)):
            assert not report.ok and report.failures, name
        path = tmp_path / f"{name}.zip"
        path.write_bytes(data)
        assert not verify_path(path, log_key=vkey).ok, name
    assert not verify_path(tmp_path / "missing.zip", log_key=vkey).ok


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                               max_size=4),
    max_leaves=20,
)  # fmt: skip
KEYS = st.sampled_from(["checkpoint", "events", "officer_keys", "reference", "log", "anchor"])
EVENT_KEYS = st.sampled_from(["index", "leaf", "inclusion_proof", "salt", "body", "seq", "type"])


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(value=JSON)
def test_any_json_value_is_a_failed_proof(value, vkey) -> None:
    report = verify_complaint_proof(value, vkey)
    assert not report.ok and report.failures


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(key=KEYS, event_key=EVENT_KEYS, value=JSON, where=st.sampled_from(["top", "event"]))
def test_a_real_proof_with_any_field_replaced_gives_a_verdict(
    proof, vkey, key, event_key, value, where
) -> None:
    changed = copy.deepcopy(proof)
    if where == "top":
        changed[key] = value
    else:
        changed["events"][0][event_key] = value
    report = verify_complaint_proof(changed, vkey)  # must not raise
    assert report.checks
    # The leaf, its index and its proof are what is verified (seq and type are labels).
    verified = ("index", "leaf", "inclusion_proof")
    if where == "event" and event_key in verified and value != proof["events"][0][event_key]:
        assert not report.ok


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    files=st.dictionaries(
        st.sampled_from([layout.MANIFEST, layout.PROOF, layout.SIGNATURE, layout.INDEX, "x"]),
        st.binary(max_size=200) | JSON.map(lambda v: json.dumps(v).encode()),
        max_size=4,
    )
)
def test_any_bundle_files_give_a_verdict(files, vkey) -> None:
    report = verify_bundle(files, log_key=vkey)
    assert not report.ok and report.failures
    report = verify_export(_zip(files), log_key=vkey)
    assert not report.ok and report.failures


@pytest.mark.parametrize("index", [0.5, True, "0"])
def test_a_leaf_index_that_is_not_an_integer_fails(proof, vkey, index) -> None:
    # Found by the property above: with a one-leaf tree the proof is empty, so only the
    # index's type stood between 0.5 and a pass.
    changed = _with(proof, lambda p: p["events"][0].__setitem__("index", index))
    report = verify_complaint_proof(changed, vkey)
    assert not report.ok
