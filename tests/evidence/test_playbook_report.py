"""The evidence report names the playbook's steps: identity checks, playbook steps with their
confirmations, handler targets, incidents and kinds of redress, in words a lawyer can read."""

from __future__ import annotations

import json

from ledger.evidence.report import LABELS, report_sections
from ledger.log.note import Signer
from tests.support.proof_scenarios import SCENARIOS


def _text(proof) -> str:
    out = []
    for section in report_sections(proof):
        out.append(section.title)
        for block in section.blocks:
            out.append(repr(block))
    return "\n".join(out)


def test_the_report_words_every_playbook_step() -> None:
    signer = Signer.generate("scenarios.ledger.example/log")
    recovery = _text(SCENARIOS["playbook_recovery_phrase"](signer))
    assert LABELS["identity_verified"] in recovery and "by video call" in recovery
    assert "recovery alternatives proposed" in recovery and "secure reset" in recovery
    lapsed = _text(SCENARIOS["playbook_interface_fault_lapsed"](signer))
    assert "(confirmation: lapsed)" in lapsed
    assert "the customer may confirm until" in lapsed
    assert LABELS["incident_linked"] in lapsed and "INC-" in lapsed
    assert "discount worth" in lapsed
    security = _text(SCENARIOS["playbook_security_question"](signer))
    assert LABELS["target_set"] in security and "limit" in security


def test_the_report_names_the_cosigner_and_the_vault() -> None:
    from tests.support.proof_scenarios import SCENARIOS as ALL

    signer = Signer.generate("scenarios.ledger.example/log")
    proof = ALL["limits_dual_signed"](signer)
    cosigner = next(
        json.loads(e["leaf"])["public"]["cosignature"]["key_id"]
        for e in proof["events"]
        if "cosignature" in json.loads(e["leaf"])["public"]
    )
    assert f"co-signed by {cosigner}" in _text(proof)
    assert "vault 0x" in _text(ALL["vault_paid_by_the_worker"](signer))
