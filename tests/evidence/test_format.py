"""The bundle format without a database: a pure builder, byte-for-byte determinism (also across
processes), the ZIP entries, the signed text, the verifier's imports and its chain constants."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from eth_utils import keccak

from ledger.evidence.bundle import BundleError, build_bundle, deterministic_zip
from ledger.evidence.report import PdfFonts, pdf_fonts
from ledger.log import merkle
from ledger.log.checkpoint import Checkpoint, CheckpointError, open_checkpoint, parse_checkpoint
from ledger.log.note import Signer, split_note
from ledger.verify import layout
from ledger.verify.bundle import verify_bundle
from ledger.verify.rpc import (
    ANCHORED_TOPIC,
    LATEST_SELECTOR,
    LOG_ANCHOR_CODE_SHA256,
    TRANSFER_TOPIC,
)
from tests.support.complaint_chain import LOG, OFFICER_ID, REGISTRATION, Chain, log_signer

ROOT = Path(__file__).resolve().parents[2]
STEPS = (
    "acknowledged",
    "evidence_added",
    "decision",
    "compensation_offered",
    "compensation_accepted",
    "compensation_paid",
    "closed",
    "rated",
    "erased",
)


def pure_proof(signer: Signer, steps=STEPS) -> dict:
    """A complaint proof built from the pure domain and an in-memory Merkle tree."""
    chain = Chain().run(*steps)
    leaves = [REGISTRATION.leaf, *chain.leaves]
    getter = merkle.in_memory_getter(merkle.leaf_hashes(leaves))
    size = len(leaves)
    root = merkle.tree_root(size, getter)

    def proof_of(index: int) -> list[str]:
        return [p.hex() for p in merkle.inclusion_proof(index, size, getter)]

    erased = {e.public["erases"] for e in chain.envelopes if e.type == "erased"}
    events = []
    for i, built in enumerate(chain.built, start=1):
        gone = built.envelope.leaf_hash_hex in erased
        item = {
            "seq": built.envelope.seq,
            "type": str(built.envelope.type),
            "index": i,
            "leaf": built.leaf.decode(),
            "inclusion_proof": proof_of(i),
            "erased": gone,
        }
        if not gone:
            item |= {"salt": built.salt.hex(), "body": built.body_jcs.decode()}
        events.append(item)
    return {
        "reference": chain.state.reference,
        "log": LOG,
        "verifier_key": str(signer.verifier()),
        "checkpoint": {
            "size": size,
            "root": root.hex(),
            "note": Checkpoint(LOG, size, root).sign(signer),
        },
        "events": events,
        "officer_keys": [
            {
                "key_id": OFFICER_ID,
                "entries": [
                    {"index": 0, "leaf": REGISTRATION.leaf.decode(), "inclusion_proof": proof_of(0)}
                ],
            }
        ],
        "anchor": None,
    }


def test_pure_builder_is_deterministic_and_verifies() -> None:
    signer = log_signer()
    proof = pure_proof(signer)
    one, two = build_bundle(proof, signer), build_bundle(json.loads(json.dumps(proof)), signer)
    assert one.data == two.data and one.sha256 == hashlib.sha256(one.data).hexdigest()
    report = verify_bundle(one.data, log_key=str(signer.verifier()))
    assert report.ok, report.lines()
    assert one.manifest["contents"]["bodies"] == {"disclosed": 9, "erased": 1, "not_disclosed": 0}
    with zipfile.ZipFile(io.BytesIO(one.data)) as zf:
        infos = zf.infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    for info in infos:
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
        assert info.compress_type == zipfile.ZIP_STORED
        assert info.external_attr >> 16 == 0o100644 and info.create_system == 3


@pytest.mark.slow
def test_pdf_and_bundle_bytes_are_the_same_in_another_process(tmp_path) -> None:
    signer = log_signer()
    proof = pure_proof(signer)  # random salts and nonces: hand the same proof over
    (tmp_path / "proof.json").write_text(json.dumps(proof))
    here = build_bundle(proof, signer)
    code = (
        f"import json, sys; sys.path.insert(0, {str(ROOT)!r})\n"
        "from tests.support.complaint_chain import log_signer\n"
        "from ledger.evidence.bundle import build_bundle\n"
        "proof = json.load(open(sys.argv[1]))\n"
        "print(build_bundle(proof, log_signer()).sha256)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "proof.json")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == here.sha256


def test_the_builder_refuses_a_proof_that_does_not_verify() -> None:
    signer = log_signer()
    proof = pure_proof(signer, ("acknowledged",))
    proof["events"][1]["leaf"] = proof["events"][1]["leaf"].replace("agent", "agenT")
    with pytest.raises(BundleError, match="does not verify"):
        build_bundle(proof, signer)
    with pytest.raises(BundleError, match="another log key"):
        build_bundle(pure_proof(signer, ("acknowledged",)), Signer.generate(LOG))


def test_zip_depends_only_on_names_and_contents() -> None:
    files = {"b.txt": b"2", "a/x.json": b"{}", "a.txt": b"1"}
    assert deterministic_zip(files) == deterministic_zip(dict(reversed(files.items())))
    assert deterministic_zip(files) != deterministic_zip({**files, "a.txt": b"3"})


def test_the_bundle_signature_cannot_pass_for_a_checkpoint() -> None:
    signer = log_signer()
    bundle = build_bundle(pure_proof(signer, ("acknowledged",)), signer)
    sig = zipfile.ZipFile(io.BytesIO(bundle.data)).read("manifest.sig").decode()
    text, _ = split_note(sig)
    assert text.startswith(layout.BUNDLE_NOTE_HEADER + "\nlog " + LOG + "\n")
    fields = layout.parse_note_fields(text, layout.BUNDLE_NOTE_HEADER)
    assert fields["tree-size"] == str(bundle.tree_size)
    with pytest.raises(CheckpointError):
        parse_checkpoint(text)
    with pytest.raises(CheckpointError):
        open_checkpoint(sig, signer.verifier())
    export = layout.export_note_text(LOG, 3, "ab" * 32)
    with pytest.raises(CheckpointError):
        parse_checkpoint(export)


def test_chain_constants_match_keccak_and_the_built_contract() -> None:
    assert "0x" + keccak(text="Anchored(bytes32,uint64,bytes32,bytes32)").hex() == ANCHORED_TOPIC
    assert keccak(text="latest(bytes32)")[:4].hex() == LATEST_SELECTOR
    assert "0x" + keccak(text="Transfer(address,address,uint256)").hex() == TRANSFER_TOPIC
    artifact = json.loads((ROOT / "contracts" / "build" / "LogAnchor.json").read_text())
    code = artifact["deployedBytecode"].removeprefix("0x")
    assert hashlib.sha256(bytes.fromhex(code)).hexdigest() == LOG_ANCHOR_CODE_SHA256


def test_the_verifier_needs_no_database_web_framework_or_web3() -> None:
    code = (
        "import sys; import ledger.verify.bundle, ledger.verify.rpc\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('flask', 'flask_smorest', 'sqlalchemy', 'web3', 'reportlab', 'api', 'psycopg')"
        " or m in ('ledger.db', 'ledger.runtime', 'ledger.config')]\n"
        "print(bad)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_report_fonts_are_the_configured_ones_else_the_default(tmp_path: Path) -> None:
    regular, bold = tmp_path / "regular.ttf", tmp_path / "bold.ttf"
    assert pdf_fonts(regular, bold) == PdfFonts(regular, bold)
    assert pdf_fonts(regular) == PdfFonts(regular, regular)
    assert pdf_fonts(None, bold) == pdf_fonts()  # a bold face alone is not used
    default = pdf_fonts()
    assert default.regular.is_file() and default.bold.is_file()
