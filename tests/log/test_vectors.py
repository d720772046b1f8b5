"""Published vectors: transparency-dev/merkle proofs and Go sumdb/note signatures."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from ledger.log import merkle
from ledger.log.note import NoteError, Signer, Verifier, open_note, sign_note

VECTORS = Path(__file__).resolve().parent.parent / "vectors"
INCLUSION = sorted((VECTORS / "rfc6962" / "inclusion").rglob("*.json"))
CONSISTENCY = sorted((VECTORS / "rfc6962" / "consistency").rglob("*.json"))
NOTE = json.loads((VECTORS / "note" / "note-vectors.json").read_text())


def _b(s: str | None) -> bytes:
    return base64.b64decode(s or "")


def _name(p: Path) -> str:
    return str(p.relative_to(VECTORS))


def test_vectors_are_present() -> None:
    assert len(INCLUSION) > 30 and len(CONSISTENCY) > 60


@pytest.mark.parametrize("path", INCLUSION, ids=_name)
def test_inclusion_vector(path: Path) -> None:
    v = json.loads(path.read_text())
    proof = [_b(p) for p in v["proof"] or []]
    try:
        merkle.verify_inclusion(
            v["leafIdx"], v["treeSize"], _b(v["leafHash"]), proof, _b(v["root"])
        )
        accepted = True
    except merkle.ProofError:
        accepted = False
    assert accepted is not v["wantErr"], v.get("desc")


@pytest.mark.parametrize("path", CONSISTENCY, ids=_name)
def test_consistency_vector(path: Path) -> None:
    v = json.loads(path.read_text())
    proof = [_b(p) for p in v["proof"] or []]
    try:
        merkle.verify_consistency(v["size1"], v["size2"], _b(v["root1"]), _b(v["root2"]), proof)
        accepted = True
    except merkle.ProofError:
        accepted = False
    assert accepted is not v["wantErr"], v.get("desc")


def test_note_keys_round_trip() -> None:
    signer = Signer.from_string(NOTE["signer_key"])
    assert signer.to_string() == NOTE["signer_key"]
    assert str(signer.verifier()) == NOTE["verifier_key"]
    assert str(Verifier.from_string(NOTE["verifier_key"])) == NOTE["verifier_key"]
    assert NOTE["signer_key"] not in repr(signer)


def test_note_signs_byte_for_byte() -> None:
    signer = Signer.from_string(NOTE["signer_key"])
    assert sign_note(NOTE["text"], signer) == NOTE["signed_note"]
    opened = open_note(NOTE["signed_note"], [Verifier.from_string(NOTE["verifier_key"])])
    assert opened.text == NOTE["text"]


def test_note_with_two_signatures() -> None:
    v1 = Verifier.from_string(NOTE["verifier_key"])
    v2 = Verifier.from_string(NOTE["second_verifier_key"])
    both = open_note(NOTE["signed_note_two_sigs"], [v1, v2])
    assert [s.name for s in both.verified] == ["PeterNeumann", "EnochRoot"]
    only_first = open_note(NOTE["signed_note_two_sigs"], [v1])
    assert len(only_first.verified) == 1 and [s.name for s in only_first.unverified] == [
        "EnochRoot"
    ]
    only_second = open_note(NOTE["signed_note_two_sigs"], [v2])
    assert [s.name for s in only_second.verified] == ["EnochRoot"]


@pytest.mark.parametrize("vkey", NOTE["rejected_verifier_keys"])
def test_note_rejected_keys(vkey: str) -> None:
    with pytest.raises(NoteError):
        Verifier.from_string(vkey)


def test_note_tampering_is_detected() -> None:
    v = Verifier.from_string(NOTE["verifier_key"])
    bad = NOTE["signed_note"].replace("cryptography", "cryptographY")
    with pytest.raises(NoteError, match="invalid signature"):
        open_note(bad, [v])
    with pytest.raises(NoteError, match="no signature from a known key"):
        open_note(NOTE["signed_note"], [Verifier.from_string(NOTE["second_verifier_key"])])
