"""The customer /verify page in Debian's Chromium, over real HTTP.

A full complaint lifecycle (signed decision, offer and payment) is verified by the page itself
(WebCrypto in the browser); then the proof is tampered with on the wire (a leaf byte, a salt, a
proof node, the checkpoint note) and the page must show the matching step failed. Runs in
English, Catalan and Russian, on a desktop and a phone viewport, from the reference form and
from an evidence bundle ZIP. Screenshots (full pages) go to test-artifacts/verify-page/.

Needs /usr/bin/chromium (scripts/install_system_packages.sh installs it), never Playwright's
download.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
from playwright.sync_api import expect

from ledger.anchoring.contract import load_artifact
from ledger.anchoring.devchain import DevChain
from ledger.log import merkle
from ledger.verify.rpc import PAID_TOPIC, TRANSFER_TOPIC, VAULT_LOG_ID_SELECTOR, JsonRpcChain
from tests.support.anchor_records import anchor_latest_checkpoint
from tests.support.browser import DESKTOP, PHONE, Visit, drop_bundle
from tests.support.complaint_api import TX_HASH, Client, run_lifecycle, signed_step
from tests.support.paths import ROOT
from tests.support.payout_scenarios import (
    OTHER_ADDRESS,
    PAYOUT_BREAKS,
    PAYOUT_SCENARIOS,
    PAYOUT_TX,
    PAYOUT_VALID,
    _vault_payout,
)
from tests.support.proof_scenarios import (
    ASSIGNMENT_BREAKS,
    CONTEXT_BREAKS,
    LIMIT_BREAKS,
    MESSAGE_BREAKS,
    PLAYBOOK_BREAKS,
    RECIPIENT,
    SCENARIOS,
    TOKEN,
    VALID,
    VAULT,
    VAULT_TERMS,
)
from tests.support.token_transfers import token_transfer

VECTORS = ROOT / "tests" / "vectors"
# The block explorer the test app names for chain 1 and for the dev chain 31337
# (LEDGER_EXPLORER_TX_URLS); the page links chain 1's transactions, never a dev chain's.
EXPLORER = "https://explorer.example/tx/{tx}"


@pytest.fixture
def settings(settings, request):
    """The app of these tests names EXPLORER for chains 1 and 31337 (GET /v1/chains); a test
    that asks for ``anvil`` has it as the service's chain node (else none)."""
    changes: dict = {"explorer_tx_urls": {1: EXPLORER, 31337: EXPLORER}}
    if "anvil" in request.fixturenames:
        changes["chain_rpc_url"] = request.getfixturevalue("anvil").url
    return replace(settings, **changes)


@pytest.fixture
def anvil(tmp_path) -> Iterator[DevChain]:
    node = DevChain(log_file=tmp_path / "anvil.log").start()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture
def complaint(actors, ledger) -> dict:
    """A closed complaint with a signed decision, offer and payment, anchored on chain."""
    ref, secret = run_lifecycle(actors)
    anchor = anchor_latest_checkpoint(ledger)
    return {"ref": ref, "secret": secret, "anchor": anchor, "url": actors["url"]}


# --- the good complaint ---------------------------------------------------------------------


def test_good_complaint_verifies_in_english_on_desktop(visit, complaint) -> None:
    v = visit(locale="en-GB")
    v.open()
    page = v.page
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#key-current")).to_contain_text("test.ledger.example/log+")
    expect(page.locator("#key-origin")).to_have_attribute("data-origin", "server")

    v.check(complaint["ref"], complaint["secret"])
    assert v.verdict() == "ok"
    expect(page.locator("#verdict-title")).to_have_text("Verified")
    for name in ("key", "checkpoint", "inclusion", "reference", "chain", "rules",
                 "commitments", "officer_keys", "authority", "signatures", "anchor",
                 "server_status"):  # fmt: skip
        assert v.check_status(name) == "ok", name
    assert page.locator("li.check li[data-status=fail]").count() == 0

    events = page.locator("#timeline li.event")
    expect(events).to_have_count(12)
    assert page.locator("#timeline li.event[data-status=ok]").count() == 12
    decision = page.locator("#timeline li.event[data-type=decision]")
    expect(decision).to_contain_text("Decision")
    expect(decision.locator("[data-aspect=signature]")).to_have_attribute("data-status", "ok")
    expect(decision.locator("[data-aspect=authority]")).to_have_attribute("data-status", "ok")

    # The decision and its reasons are shown once, in the timeline.
    reasons = decision
    expect(reasons).to_contain_text("Partially upheld")
    expect(reasons).to_contain_text("delayed by our fee estimator")
    expect(reasons).to_contain_text("PSD2 Art. 89; Withdrawal SLA 4.2")
    expect(reasons).to_contain_text("Product defect")
    expect(reasons).to_contain_text("We refund the network fee")
    expect(reasons).to_contain_text("step 4 (Evidence added)")

    money = page.locator("#timeline li.event[data-type^=compensation_]")
    expect(money).to_have_count(3)  # offered, accepted, paid
    expect(money.nth(0)).to_contain_text("25.00\u00a0USDC")
    expect(money.nth(0)).to_contain_text("On-chain transfer")
    expect(money.nth(2)).to_contain_text(TX_HASH)
    assert page.locator("[data-type=decision]").count() == 1  # the timeline is shown once

    anchor = page.locator("#anchor")
    expect(anchor).to_contain_text("confirmed")
    expect(anchor).to_contain_text(complaint["anchor"]["tx_hash"])
    expect(anchor).to_contain_text("31337")
    expect(page.locator("#summary")).to_contain_text("closed")

    # The secret went only in the Authorization header of the API calls, and is not kept.
    secret = complaint["secret"]
    proof_requests = [r for r in v.requests if r.url.endswith("/proof")]
    assert len(proof_requests) == 1
    assert proof_requests[0].headers.get("authorization") == f"Bearer {secret}"
    assert all(secret not in r.url for r in v.requests)
    assert secret not in page.url
    assert page.input_value("#secret") == ""
    stored = page.evaluate("JSON.stringify(localStorage) + JSON.stringify(sessionStorage)")
    assert secret not in stored
    assert secret not in page.content()

    v.screenshot("good-en-desktop")
    # Switching the language re-renders the verified result without fetching it again.
    page.select_option("#lang", "ru")
    expect(page.locator("#verdict-title")).to_have_text("Проверено")
    expect(decision).to_contain_text("Частично удовлетворена")
    assert len([r for r in v.requests if r.url.endswith("/proof")]) == 1
    v.screenshot("good-ru-desktop")
    assert v.errors == []


def test_good_complaint_in_catalan_on_a_phone(visit, complaint) -> None:
    v = visit(locale="ca-ES", viewport=PHONE)
    v.open()
    page = v.page
    # The language comes from the browser.
    expect(page.locator("html")).to_have_attribute("lang", "ca")
    assert page.input_value("#lang") == "ca"
    expect(page.locator("h1")).to_have_text("Verifiqueu la vostra reclamació")
    assert v.no_horizontal_scroll()
    v.screenshot("form-ca-phone")

    v.check(complaint["ref"], complaint["secret"])
    assert v.verdict() == "ok"
    expect(page.locator("#verdict-title")).to_have_text("Verificat")
    timeline = page.locator("#timeline")
    expect(timeline.locator("li.event[data-type=decision]")).to_contain_text("Defecte del producte")
    expect(timeline.locator("li.event[data-type=compensation_offered]")).to_contain_text(
        "25,00\u00a0USDC"
    )
    assert v.no_horizontal_scroll()
    # Touch targets: the main controls are at least 44 px high.
    for selector in ("#ref", "#secret", "#submit", "#toggle-secret", "#lang"):
        box = page.locator(selector).bounding_box()
        assert box is not None and box["height"] >= 44, selector
    page.locator("#timeline li.event[data-type=decision] details.letter summary").click()
    v.screenshot("good-ca-phone")
    assert v.errors == []


def test_without_secret_only_public_parts_are_checked(visit, complaint) -> None:
    v = visit(locale="pt-PT", viewport=PHONE)
    v.open()
    v.check(complaint["ref"], None)
    page = v.page
    assert v.verdict() == "ok"
    for name in ("checkpoint", "inclusion", "chain", "rules", "officer_keys", "authority"):
        assert v.check_status(name) == "ok", name
    assert v.check_status("commitments") == "skip"
    assert v.check_status("signatures") == "skip"
    expect(page.locator("#verdict")).to_contain_text("segredo")  # the caveat, in Portuguese
    proof_requests = [r for r in v.requests if r.url.endswith("/proof")]
    assert "authorization" not in proof_requests[0].headers
    v.screenshot("public-pt-phone")

    # A wrong secret is refused by the service and said so next to it, in the page's language.
    page.fill("#secret", "cs_not-the-secret")
    page.click("#submit")
    expect(page.locator("#secret-error")).to_contain_text("segredo")
    expect(page.locator("#secret")).to_have_attribute("aria-invalid", "true")
    assert v.errors == []


# --- tampering ------------------------------------------------------------------------------


def _flip_char(text: str, pos: int) -> str:
    c = text[pos]
    return text[:pos] + ("1" if c == "0" else "0") + text[pos + 1 :]


def _flip_b64(value: str) -> str:
    raw = bytearray(base64.b64decode(value))
    raw[0] ^= 1
    return base64.b64encode(bytes(raw)).decode()


def _flip_hex(value: str) -> str:
    raw = bytearray(bytes.fromhex(value))
    raw[0] ^= 1
    return bytes(raw).hex()


def _flip_note_root(note: str) -> str:
    origin, size, root, rest = note.split("\n", 3)
    return "\n".join([origin, size, _flip_b64(root), rest])


def _leaf_commitment_byte(leaf: str) -> int:
    return leaf.index('"commitment":"') + len('"commitment":"') + 10


TAMPERS: dict[str, Callable[[dict], None]] = {
    "leaf": lambda p: p["events"][3].update(
        leaf=_flip_char(p["events"][3]["leaf"], _leaf_commitment_byte(p["events"][3]["leaf"]))
    ),
    "salt": lambda p: p["events"][6].update(salt=_flip_char(p["events"][6]["salt"], 5)),
    "proof-node": lambda p: p["events"][2]["inclusion_proof"].__setitem__(
        0, _flip_hex(p["events"][2]["inclusion_proof"][0])
    ),
    "checkpoint": lambda p: p["checkpoint"].update(note=_flip_note_root(p["checkpoint"]["note"])),
}


def _tamper_route(v: Visit, change: Callable[[dict], None]) -> None:
    def handle(route) -> None:
        response = route.fetch()
        proof = response.json()
        change(proof)
        route.fulfill(response=response, body=json.dumps(proof))

    v.page.route("**/v1/complaints/*/proof", handle)


TAMPER_CASES = [  # (what is changed, language, check that must fail, step that must fail)
    ("leaf", "en-GB", "inclusion", 3),
    ("salt", "en-GB", "commitments", 6),
    ("proof-node", "ru-RU", "inclusion", 2),
    ("checkpoint", "en-GB", "checkpoint", None),
]


def test_tampered_proof_fails_at_the_changed_step(visit, complaint) -> None:
    """One complaint, four changes on the wire, each in a fresh browser context."""
    for tamper, locale, check, event in TAMPER_CASES:
        v = visit(locale=locale, viewport=PHONE if tamper == "proof-node" else DESKTOP)
        _tamper_route(v, TAMPERS[tamper])
        v.open()
        v.check(complaint["ref"], complaint["secret"])
        page = v.page
        assert v.verdict() == "fail", tamper
        assert v.check_status(check) == "fail", tamper
        failed = page.locator(f"li.check[data-check={check}]")
        expect(failed.locator("details")).to_have_attribute("open", "")
        if event is not None:
            assert v.item_status(check, event) == "fail", tamper
            row = page.locator(f"#timeline li.event[data-seq='{event}']")
            expect(row).to_have_attribute("data-status", "fail")
            expect(row.locator(".mark-fail").first).to_be_visible()
        title = {"en-GB": "Verification failed", "ru-RU": "Проверка не пройдена"}[locale]
        expect(page.locator("#verdict-title")).to_have_text(title)
        # The failed kind of check is named in the verdict, in words (not only by colour).
        expect(page.locator("#verdict .failed-list")).to_contain_text(
            failed.locator(".check-name").inner_text()
        )
        if tamper == "leaf":
            # The next step no longer links to the changed one.
            assert v.item_status("chain", 4) == "fail"
        if tamper == "salt":
            expect(failed).to_contain_text("do not match the commitment in the log")
        if tamper == "checkpoint":
            expect(failed).to_contain_text("signature on the checkpoint is invalid")
            # Without a signed checkpoint no step is proven, so none is shown as verified.
            assert page.locator("#timeline li.event[data-status=ok]").count() == 0
            assert v.check_status("inclusion") == "skip"
        if tamper == "proof-node":
            assert v.no_horizontal_scroll()
        v.screenshot(f"tampered-{tamper}-{locale}")
        assert v.errors == [], tamper
        v.close()


# --- evidence bundles ------------------------------------------------------------------------


def _bundle(proof: dict | None, compression: int, name: str = "proof.json") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as z:
        z.writestr("README.txt", "Evidence bundle (test)\n")
        z.writestr(name, json.dumps(proof, ensure_ascii=False, indent=1))
    return buf.getvalue()


def test_evidence_bundle_is_read_and_verified_in_the_browser(visit, complaint) -> None:
    """proof.json is read out of the ZIP in the browser: deflated and stored entries."""
    proof = Client(complaint["url"], complaint["secret"]).get(
        f"/v1/complaints/{complaint['ref']}/proof"
    )
    v = visit(locale="en-US")
    v.open()
    page = v.page
    for name, compression in (("deflated.zip", zipfile.ZIP_DEFLATED),
                              ("stored.zip", zipfile.ZIP_STORED)):  # fmt: skip
        drop_bundle(page, name, _bundle(proof, compression))
        assert v.verdict() == "ok", name
        assert v.check_status("signatures") == "ok", name
        expect(page.locator("#summary")).to_contain_text(f"evidence bundle {name}")
    assert not [r for r in v.requests if "/v1/complaints/" in r.url]  # read locally only

    TAMPERS["salt"](proof)
    drop_bundle(page, "bad.zip", _bundle(proof, zipfile.ZIP_DEFLATED))
    assert v.verdict() == "fail"
    assert v.item_status("commitments", 6) == "fail"
    v.screenshot("bundle-tampered-en")
    other = _bundle(None, zipfile.ZIP_STORED, name="other.json")
    page.set_input_files("#bundle", files=[{"name": "x.zip", "mimeType": "", "buffer": other}])
    expect(page.locator("#progress[data-kind=error]")).to_contain_text("contains no proof.json")
    assert v.errors == []


def test_anchor_of_a_later_tree_is_proven_consistent(visit, actors, ledger) -> None:
    """The checkpoint of the proof is older than the anchored tree: the page checks the RFC 9162
    consistency proof between them and the anchored checkpoint's signature and hash."""
    from ledger.anchoring.status import anchor_coverage

    ref, secret = run_lifecycle(actors)
    proof = Client(actors["url"], secret).get(f"/v1/complaints/{ref}/proof")
    size = proof["checkpoint"]["size"]
    actors["anon"].post("/v1/complaints", {"category": "sync_fault", "channel": "email",
                        "description": "Balance not updated."})  # fmt: skip
    anchor_latest_checkpoint(ledger, state="pending")
    proof["anchor"] = anchor_coverage(ledger.engine, ledger.store, size)
    assert proof["anchor"]["anchored_size"] > size and proof["anchor"]["consistency_proof"]
    served = {"proof": proof}

    def handle(route) -> None:
        route.fulfill(status=200, content_type="application/json", body=json.dumps(served["proof"]))

    v = visit(locale="lt-LT", viewport=PHONE)
    v.page.route("**/v1/complaints/*/proof", handle)
    v.open()
    v.check(ref, secret)
    page = v.page
    assert v.verdict() == "ok"
    anchor = page.locator("li.check[data-check=anchor]")
    assert v.check_status("anchor") == "ok"
    assert anchor.locator("li[data-status=ok]").count() == 3  # record, consistency, checkpoint
    assert anchor.locator("li[data-status=skip]").count() == 1  # pending: not final yet
    expect(page.locator("#verdict")).to_contain_text("laukia patvirtinimų")  # pending caveat
    expect(page.locator("#anchor [data-mark]").last).to_have_attribute("data-mark", "ok")
    v.screenshot("anchor-later-tree-lt-phone")

    # A different anchored root no longer follows from the checkpoint.
    tampered = json.loads(json.dumps(proof))
    tampered["anchor"]["anchored_root"] = _flip_hex(tampered["anchor"]["anchored_root"])
    served["proof"] = tampered
    v.check(ref, secret)
    expect(page.locator("#verdict[data-verdict=fail]")).to_be_visible()
    assert v.check_status("anchor") == "fail"
    assert v.errors == []


def test_pasted_key_is_used_and_a_wrong_one_fails(visit, complaint) -> None:
    from ledger.log.note import Signer

    other = str(Signer.generate("test.ledger.example/log").verifier())
    v = visit()
    v.open()
    page = v.page
    page.click("#key-paste-box summary")
    page.fill("#key-paste", "not a key")
    page.click("#key-use")
    expect(page.locator("#key-paste-error")).to_be_visible()
    page.fill("#key-paste", other)
    page.click("#key-use")
    expect(page.locator("#key-origin")).to_have_attribute("data-origin", "pasted")
    v.check(complaint["ref"], complaint["secret"])
    assert v.verdict() == "fail"
    assert v.check_status("checkpoint") == "fail"
    expect(page.locator("li.check[data-check=checkpoint]")).to_contain_text("not signed by")
    page.click("#key-reset")
    expect(page.locator("#verdict[data-verdict=ok]")).to_be_visible()
    assert v.errors == []


# --- the verification code itself, against published vectors ---------------------------------


def _vectors(kind: str) -> list[dict]:
    out = []
    for path in sorted((VECTORS / "rfc6962" / kind).rglob("*.json")):
        out.append({"name": str(path.relative_to(VECTORS)), **json.loads(path.read_text())})
    return out


VECTOR_CHECK = """
async ({inclusion, consistency, note}) => {
  const c = window.VerifyCore;
  const dec = (s) => (s ? c.b64decode(s) : new Uint8Array());
  const wrong = [];
  for (const v of inclusion) {
    let err = false;
    try {
      await c.verifyInclusion(v.leafIdx, v.treeSize, dec(v.leafHash),
                              (v.proof || []).map(dec), dec(v.root));
    } catch (e) { err = true; }
    if (err !== v.wantErr) wrong.push(v.name);
  }
  for (const v of consistency) {
    let err = false;
    try {
      await c.verifyConsistency(v.size1, v.size2, dec(v.root1), dec(v.root2),
                                (v.proof || []).map(dec));
    } catch (e) { err = true; }
    if (err !== v.wantErr) wrong.push(v.name);
  }
  const key = await c.parseVerifierKey(note.verifier_key);
  const second = await c.parseVerifierKey(note.second_verifier_key);
  const opened = [];
  for (const [signed, k] of [[note.signed_note, key], [note.signed_note_two_sigs, key],
                             [note.signed_note_two_sigs, second]]) {
    opened.push(await c.openNote(signed, k).then((r) => r.text === note.text, () => false));
  }
  const tampered = note.signed_note.replace("cryptography", "cryptographY");
  opened.push(await c.openNote(tampered, key).then(() => true, () => false));
  const rejected = [];
  for (const k of note.rejected_verifier_keys) {
    rejected.push(await c.parseVerifierKey(k).then(() => false, () => true));
  }
  return {wrong, opened, rejected};
}
"""


def test_browser_verifier_passes_the_published_vectors(visit) -> None:
    v = visit()
    v.open()
    inclusion, consistency = _vectors("inclusion"), _vectors("consistency")
    assert len(inclusion) > 50 and len(consistency) > 50
    note = json.loads((VECTORS / "note" / "note-vectors.json").read_text())
    result = v.page.evaluate(
        VECTOR_CHECK, {"inclusion": inclusion, "consistency": consistency, "note": note}
    )
    assert result["wrong"] == []
    assert result["opened"] == [True, True, True, False]
    assert all(result["rejected"])
    assert v.errors == []


# --- the same verdicts as the Python verifier, on subtly wrong but correctly logged proofs ------

SCENARIO_CHECK = """
async ({vkey, scenarios}) => {
  const out = {};
  for (const [name, proof] of Object.entries(scenarios)) {
    const r = await window.VerifyCore.verifyProof(proof, vkey);
    const failed = r.categories.filter((c) => c.status === "fail").map((c) => c.id);
    const failing = (id) => (r.categories.find((c) => c.id === id)?.items || [])
      .filter((i) => i.status === "fail").map((i) => [i.event, i.detail.key]);
    const broken = failing("rules");
    const denied = failing("authority");
    out[name] = {ok: r.ok, failed, broken, denied, report: JSON.parse(JSON.stringify(r.report))};
  }
  return out;
}
"""
FAILS_AT = {
    "erased_body_still_disclosed": "commitments",
    "key_not_yet_valid": "authority",
    "key_expired": "authority",
    "key_revoked": "authority",
    "key_without_officer_role": "authority",
    "wrong_signature": "signatures",
    "payment_differs_from_offer": "rules",
    "info_not_requested": "rules",
    "public_differs_from_body": "commitments",
    "body_missing_finding": "commitments",
    "time_goes_backwards": "chain",
    "state_mismatch": "rules",
    "offer_after_rejection": "rules",
    "signed_body_withheld": "signatures",
    "reference_of_another_complaint": "reference",
    "rating_duplicate": "rules",
    "rating_of_an_unrateable_step": "rules",
    "rating_of_itself": "rules",
    **{name: "rules" for name in PLAYBOOK_BREAKS},
    "playbook_discount_by_transfer": "commitments",
    "playbook_kind_differs_from_body": "commitments",
    **{name: "authority" for name in LIMIT_BREAKS},
    "limits_cosignature_invalid": "signatures",
    **{name: "payout" for name in PAYOUT_BREAKS},
    **{name: "rules" for name in MESSAGE_BREAKS},
    **{name: "rules" for name in ASSIGNMENT_BREAKS},
    "message_text_differs_from_its_hash": "commitments",
    **{name: "signatures" for name in CONTEXT_BREAKS},
}


def _cosigner(proof: dict) -> str:
    """The key id of the first co-signature in a proof's leaves."""
    for event in proof["events"]:
        cosignature = json.loads(event["leaf"])["public"].get("cosignature")
        if cosignature:
            return cosignature["key_id"]
    raise AssertionError("no co-signature in this proof")


def _failed_categories(report: dict) -> set[str]:
    return {c["category"] for c in report["checks"] if c["status"] == "fail"}


def test_browser_and_python_verifiers_agree(visit) -> None:
    from ledger.log.note import Signer
    from ledger.verify.complaint import verify_complaint_proof

    signer = Signer.generate("scenarios.ledger.example/log")
    vkey = str(signer.verifier())
    proofs = {name: build(signer) for name, build in {**SCENARIOS, **PAYOUT_SCENARIOS}.items()}
    python = {name: verify_complaint_proof(p, vkey).to_json() for name, p in proofs.items()}
    assert {name for name, r in python.items() if r["ok"]} == VALID | PAYOUT_VALID

    v = visit()
    v.open()
    browser = v.page.evaluate(SCENARIO_CHECK, {"vkey": vkey, "scenarios": proofs})
    assert {name: r["ok"] for name, r in browser.items()} == {
        name: r["ok"] for name, r in python.items()
    }
    for name, category in FAILS_AT.items():
        assert category in browser[name]["failed"], (name, browser[name])
    # The browser's report in the shared shape (Report.toJSON, ledger/verify/report.py): the
    # page's verdict and failed checks, and the same failed categories as the Python report.
    for name, r in browser.items():
        report = r["report"]
        assert set(report) == {"ok", "checks"}, name
        assert report["ok"] == r["ok"], name
        assert _failed_categories(report) == set(r["failed"]), name
        assert _failed_categories(report) == _failed_categories(python[name]), name
        for check in report["checks"]:
            assert set(check) == {"category", "name", "status", "detail"}, (name, check)
            assert check["status"] in ("ok", "fail", "skip"), (name, check)
            # English texts, not message keys.
            assert not re.fullmatch(r"[a-z_]+(\.[a-z_]+)+", check["name"]), (name, check)
    revoked = [c for c in browser["key_revoked"]["report"]["checks"] if c["status"] == "fail"]
    assert revoked and all(c["category"] == "authority" for c in revoked)
    assert revoked[0]["name"] == "Step 2: Decision"
    assert revoked[0]["detail"].startswith("The officer key was revoked at 2026-")
    # The rating rule, step by step: seqs 7-9 are ratings after the close (seq 6).
    assert browser["rating_duplicate"]["broken"] == [[9, "err.rule_rating_duplicate"]]
    assert browser["rating_of_an_unrateable_step"]["broken"] == [[7, "err.rule_rating_target"]]
    assert browser["rating_of_itself"]["broken"] == [[7, "err.rule_rating_target"]]
    # The playbook rules: each broken chain breaks at the same step, by the same rule, in both.
    for name, (seq, code, key) in PLAYBOOK_BREAKS.items():
        assert browser[name]["broken"] == [[seq, f"err.{key}"]], (name, browser[name]["broken"])
        details = [c["detail"] for c in python[name]["checks"] if c["status"] == "fail"]
        assert details and details[0].startswith(f"{code} at event {seq}:"), (name, details)
    # Messages, scores and owners: the same step refused, by the same rule, in both.
    for name, (seq, code, key) in {**MESSAGE_BREAKS, **ASSIGNMENT_BREAKS}.items():
        assert browser[name]["broken"] == [[seq, f"err.{key}"]], (name, browser[name]["broken"])
        details = [c["detail"] for c in python[name]["checks"] if c["status"] == "fail"]
        assert details and details[0].startswith(f"{code} at event {seq}:"), (name, details)
    # A signature made before another step than a letter: that step's signature, in both.
    for name, (seq, code) in CONTEXT_BREAKS.items():
        failed = [c for c in browser[name]["report"]["checks"] if c["status"] == "fail"]
        assert [c["category"] for c in failed] == ["signatures"], (name, failed)
        assert failed[0]["name"] == f"Step {seq}: Decision", (name, failed)
        details = [c["detail"] for c in python[name]["checks"] if c["status"] == "fail"]
        assert details and details[0].startswith(f"{code} at event {seq}:"), (name, details)
    # Officer limits and dual control: the same step refused, for the same reason, in both.
    for name, (seq, code, key) in LIMIT_BREAKS.items():
        assert browser[name]["denied"] == [[seq, f"err.{key}"]], (name, browser[name]["denied"])
        details = [c["detail"] for c in python[name]["checks"] if c["status"] == "fail"]
        assert details and details[0].startswith(f"{code} at event {seq}:"), (name, details)
    cosig = browser["limits_cosignature_invalid"]["report"]["checks"]
    cosigner = _cosigner(proofs["limits_cosignature_invalid"])
    assert [c["detail"] for c in cosig if c["status"] == "fail"] == [
        f"The co-signature does not verify with key {cosigner}."
    ]
    dual = [c["detail"] for c in browser["limits_dual_signed"]["report"]["checks"]]
    cosigned = [d for d in dual if "co-signed by key" in d or "co-signature by key" in d]
    assert len(cosigned) == 4, dual  # authority and signature of the offer and the payment
    # Vault payouts: the same payout checks, named, judged and explained alike, in both; a
    # complaint without a vault payout has none.
    for name in proofs:
        payout = [c for c in browser[name]["report"]["checks"] if c["category"] == "payout"]
        assert payout == [c for c in python[name]["checks"] if c["category"] == "payout"], name
        assert bool(payout) == (name in PAYOUT_SCENARIOS or name == "vault_paid_by_the_worker")
    for name, (check, detail) in PAYOUT_BREAKS.items():
        failed = [c for c in browser[name]["report"]["checks"] if c["status"] == "fail"]
        assert [(c["name"], c["detail"]) for c in failed if c["category"] == "payout"] == [
            (check, detail)
        ], name

    # One of them through the page itself: a bundle checked against a key pasted by the user.
    page = v.page
    page.click("#key-paste-box summary")
    page.fill("#key-paste", vkey)
    page.click("#key-use")
    expect(page.locator("#key-origin")).to_have_attribute("data-origin", "pasted")
    page.set_input_files(
        "#bundle",
        files=[{"name": "revoked.zip", "mimeType": "application/zip",
                "buffer": _bundle(proofs["key_revoked"], zipfile.ZIP_DEFLATED)}],
    )  # fmt: skip
    expect(page.locator("#summary")).to_contain_text("revoked.zip")
    assert v.verdict() == "fail"
    assert v.check_status("checkpoint") == "ok"
    assert v.check_status("authority") == "fail"
    expect(page.locator("li.check[data-check=authority]")).to_contain_text("was revoked at")
    decision = page.locator("#timeline li.event[data-type=decision]")
    expect(decision.locator("[data-mark=fail]").first).to_be_visible()
    v.screenshot("bundle-key-revoked-en")
    assert v.errors == []


# --- the service playbook: public fields, and the new steps on the page --------------------------

PUBLIC_CHECK = """
async ({leaves}) => {
  const out = [];
  for (const leaf of leaves) {
    try {
      window.VerifyCore.parseEnvelope(leaf);
      out.push(null);
    } catch (e) {
      out.push(e.code || String(e));
    }
  }
  return out;
}
"""
_SIGNATURE = {"key_id": "ab" * 16, "sig": "cd" * 64}
_OFFERED = {"state": "compensation_offered", "signature": _SIGNATURE}
_EUR10 = {"amount": "10.00", "currency": "EUR"}
# (event type, public, whether payloads.validate_public accepts it)
PUBLIC_CASES: list[tuple[str, dict, bool]] = [
    ("compensation_offered", {**_OFFERED, "kind": "discount", "method": "in_kind", **_EUR10}, True),
    ("compensation_offered", {**_OFFERED, "kind": "free_service", "method": "in_kind"}, True),
    ("compensation_offered", {**_OFFERED, "kind": "discount", "method": "bank_transfer",
                              **_EUR10}, False),
    ("compensation_offered", {**_OFFERED, "method": "in_kind", **_EUR10}, False),  # money
    ("compensation_offered", {**_OFFERED, "kind": "fee_refund", "method": "in_kind",
                              **_EUR10}, False),
    ("compensation_offered", {**_OFFERED, "kind": "fee_refund", "method": "card_refund",
                              **_EUR10}, True),
    ("compensation_offered", {**_OFFERED, "method": "bank_transfer",
                              "identity_required": True}, True),
    ("compensation_offered", {**_OFFERED, "method": "bank_transfer",
                              "identity_required": 1}, False),
    ("compensation_offered", {**_OFFERED, "method": "bank_transfer",
                              "identity_required": "true"}, False),
    ("compensation_offered", {**_OFFERED, "kind": "gift", "method": "bank_transfer"}, False),
    ("compensation_paid", {"state": "compensation_paid", "signature": _SIGNATURE,
                           "kind": "discount", "method": "in_kind", **_EUR10}, True),
    ("target_set", {"state": "acknowledged", "target_minutes": 60, "limit_minutes": 60}, True),
    ("target_set", {"state": "acknowledged", "target_minutes": 61, "limit_minutes": 60}, False),
    ("target_set", {"state": "acknowledged", "target_minutes": 0, "limit_minutes": 60}, False),
    ("target_set", {"state": "acknowledged", "target_minutes": 60,
                    "limit_minutes": 525_601}, False),
    ("playbook_step", {"state": "investigating", "step": "fix_confirmed",
                       "confirmation": "lapsed"}, True),
    ("playbook_step", {"state": "investigating", "step": "fix_confirmed",
                       "confirmation": "lapsed", "confirm_by": "2026-01-08T10:00:00Z"}, False),
    ("playbook_step", {"state": "investigating", "step": "fix_deployed",
                       "confirm_by": "2026-01-08T10:00:00Z"}, True),
    ("playbook_step", {"state": "investigating", "step": "fix_deployed",
                       "confirm_by": "2026-02-30T10:00:00Z"}, False),
    ("playbook_step", {"state": "investigating", "step": "reboot"}, False),
    ("playbook_step", {"state": "investigating", "step": "fix_confirmed",
                       "confirmation": "maybe"}, False),
    ("identity_verified", {"state": "acknowledged", "method": "video_call"}, True),
    ("identity_verified", {"state": "acknowledged", "method": "passport"}, False),
    ("identity_verified", {"state": "acknowledged", "method": "video_call",
                           "check_reference": "IDV-1"}, False),  # the body's, never public
    ("incident_linked", {"state": "acknowledged", "incident": "INC-2026-0042"}, True),
    ("incident_linked", {"state": "acknowledged", "incident": "INC-26-1"}, False),
]  # fmt: skip


def _leaf(event_type: str, public: dict) -> str:
    """A complaint step's envelope (seq 1) around ``public``; signed types by their signer."""
    from ledger.complaints.reference import format_reference
    from ledger.complaints.vocab import SIGNED_EVENTS
    from ledger.log.canonical import canonical_json

    signer = ("officer", public["signature"]["key_id"]) if event_type in SIGNED_EVENTS else None
    role, actor_id = signer or ("agent", "agent-7")
    envelope = {
        "v": 1,
        "log": "scenarios.ledger.example/log",
        "complaint": format_reference(hashlib.sha256(b"complaint").digest()),
        "seq": 1,
        "prev": "0" * 64,
        "type": event_type,
        "at": "2026-01-05T10:00:00.000Z",
        "actor": {"role": role, "id": actor_id},
        "commitment": "1" * 64,
        "public": public,
    }
    return canonical_json(envelope).decode()


def test_browser_and_python_agree_on_the_playbook_public_fields(visit) -> None:
    """The new public fields and their rules (compensation kinds given in kind, the identity
    flag, a target within its limit, a confirming step states no wait, incidents): the
    browser's envelope check accepts exactly what payloads.validate_public accepts."""
    from ledger.complaints.errors import ComplaintError
    from ledger.complaints.events import parse_envelope

    leaves = [_leaf(et, public) for et, public, _ in PUBLIC_CASES]
    python = []
    for leaf in leaves:
        try:
            parse_envelope(leaf.encode())
            python.append(True)
        except ComplaintError:
            python.append(False)
    assert python == [ok for _, _, ok in PUBLIC_CASES]
    v = visit()
    v.open()
    browser = v.page.evaluate(PUBLIC_CHECK, {"leaves": leaves})
    pairs = zip(browser, PUBLIC_CASES, python, strict=True)
    wrong = [(code, case) for code, case, ok in pairs if (code is None) != ok]
    assert wrong == []
    codes = {code for code in browser if code}
    assert {"bad_money", "target_above_limit", "public_value"} <= codes, codes
    assert v.errors == []


# --- officer key limits: the registration's public field, and signers on the page ----------------

_VALID_LIMITS = [
    {"amounts": {}},
    {"amounts": {"EUR": "500.00", "USDC": "1000"}},
    {"amounts": {"EUR": "500.00"}, "categories": ["refund_or_claim", "stuck_transaction"],
     "dual_control_above": {"EUR": "200.00"}},
    {"amounts": {"BTC": "0.000000000000000001"}},
]  # fmt: skip
_BAD_LIMITS = [
    {},
    {"amounts": []},
    {"amounts": {"eur": "1.00"}},
    {"amounts": {"EUR": "0"}},
    {"amounts": {"EUR": "0.00"}},
    {"amounts": {"EUR": "05.00"}},
    {"amounts": {"EUR": 100}},
    {"amounts": {f"T{i:03}": "1" for i in range(51)}},
    {"amounts": {}, "categories": []},
    {"amounts": {}, "categories": ["nope"]},
    {"amounts": {}, "categories": ["stuck_transaction", "refund_or_claim"]},
    {"amounts": {}, "categories": ["refund_or_claim", "refund_or_claim"]},
    {"amounts": {}, "max": "1"},
    {"amounts": {"EUR": "10"}, "dual_control_above": {"USD": "5"}},
    {"amounts": {"EUR": "10"}, "dual_control_above": {"EUR": "x"}},
    {"amounts": {"EUR": "10"}, "dual_control_above": {}},
    [],
    None,
]


def _registration_leaf(limits: object) -> str:
    from ledger.log.canonical import canonical_json

    public = {
        "key_id": "ab" * 16,
        "public_key": "cd" * 32,
        "roles": ["officer"],
        "valid_from": "2026-01-05T10:00:00.000Z",
        "valid_until": None,
        "limits": limits,
    }
    envelope = {
        "v": 1, "log": "scenarios.ledger.example/log", "complaint": None, "seq": 0,
        "prev": None, "type": "officer_key_registered", "at": "2026-01-05T10:00:00.000Z",
        "actor": {"role": "admin", "id": "admin-1"}, "commitment": "1" * 64, "public": public,
    }  # fmt: skip
    return canonical_json(envelope).decode()


def test_browser_and_python_agree_on_officer_limits(visit) -> None:
    """A registration's ``limits``: the browser's envelope check accepts exactly what
    payloads.officer_limits accepts (units, positive amounts, sorted categories, thresholds
    only in a unit the key may use)."""
    from ledger.complaints.errors import ComplaintError
    from ledger.complaints.events import parse_envelope

    cases = [(limits, True) for limits in _VALID_LIMITS] + [(b, False) for b in _BAD_LIMITS]
    leaves = [_registration_leaf(limits) for limits, _ in cases]
    python = []
    for leaf in leaves:
        try:
            parse_envelope(leaf.encode())
            python.append(True)
        except ComplaintError:
            python.append(False)
    assert python == [ok for _, ok in cases]
    v = visit()
    v.open()
    browser = v.page.evaluate(PUBLIC_CHECK, {"leaves": leaves})
    wrong = [(code, case) for code, case in zip(browser, cases, strict=True)
             if (code is None) != case[1]]  # fmt: skip
    assert wrong == []
    assert v.errors == []


def test_dual_signed_steps_show_their_signers_and_limits(visit) -> None:
    """A dual-signed offer and payment: each shows the co-signing key and the signing key's
    limits in words; a step above the threshold signed alone fails its authority check with
    the reason, in the reader's language."""
    signer = _scenario_signer()
    v = visit(locale="en-GB")
    v.open()
    page = v.page
    dual = SCENARIOS["limits_dual_signed"](signer)
    page.click("#key-paste-box summary")
    page.fill("#key-paste", dual["verifier_key"])
    page.click("#key-use")
    drop_bundle(page, "dual.zip", _bundle(dual, zipfile.ZIP_DEFLATED))
    assert v.verdict() == "ok"
    assert v.check_status("authority") == "ok"
    offered = page.locator("#timeline li.event[data-type=compensation_offered]")
    expect(offered).to_contain_text("Co-signed by officer key")
    expect(offered).to_contain_text(_cosigner(dual))
    expect(offered).to_contain_text(
        "at most 100.00\u00a0EUR; only in: Refund or claim, Stuck or pending transaction; "
        "a second signature above 20.00\u00a0EUR"
    )
    expect(page.locator("li.check[data-check=authority]")).to_contain_text("co-signed by key")
    v.screenshot("limits-dual-signed-en-desktop")

    alone = SCENARIOS["limits_alone_above_threshold"](signer)
    drop_bundle(page, "alone.zip", _bundle(alone, zipfile.ZIP_DEFLATED))
    assert v.verdict() == "fail"
    assert v.check_status("authority") == "fail"
    assert v.item_status("authority", 3) == "fail"
    expect(page.locator("li.check[data-check=authority]")).to_contain_text(
        "50.00 EUR is above 20.00 EUR, the most officer key"
    )
    assert v.errors == []


def test_playbook_steps_are_shown_and_checked_on_the_page(visit) -> None:
    """Bundles of playbook chains dropped on the page: the steps, their playbook step names,
    the identity check, the incident and the compensation kind in words; a step out of the
    playbook's order fails with the rule's text, in the reader's language."""
    signer = _scenario_signer()
    v = visit(locale="en-GB")
    v.open()
    page = v.page
    fault = SCENARIOS["playbook_interface_fault_lapsed"](signer)
    page.click("#key-paste-box summary")
    page.fill("#key-paste", fault["verifier_key"])
    page.click("#key-use")
    drop_bundle(page, "interface-fault.zip", _bundle(fault, zipfile.ZIP_DEFLATED))
    assert v.verdict() == "ok"
    assert v.check_status("rules") == "ok"
    timeline = page.locator("#timeline")
    incident = timeline.locator("li.event[data-type=incident_linked]")
    expect(incident).to_contain_text("Linked to an incident")
    expect(incident).to_contain_text("INC-2026-0042")
    expect(incident).to_contain_text("Send button frozen")
    steps = timeline.locator("li.event[data-type=playbook_step]")
    expect(steps).to_have_count(3)
    expect(steps.nth(1)).to_contain_text("Fix deployed")
    expect(steps.nth(1)).to_contain_text("Customer may confirm until")
    expect(steps.nth(2)).to_contain_text("Fix confirmed")
    expect(steps.nth(2)).to_contain_text("No answer within the stated wait")
    paid = page.locator("#timeline li.event[data-type=compensation_paid]")
    expect(paid).to_contain_text("Discount")
    expect(paid).to_contain_text("Given in kind")
    summary = page.locator("#summary")
    expect(summary).to_contain_text("Fault reproduced → Fix deployed → Fix confirmed")
    expect(summary).to_contain_text("INC-2026-0042")
    expect(summary).to_contain_text("10.00\u00a0EUR (Discount)")
    expect(steps.nth(0).locator(".event-title")).to_have_text("3. Playbook step · Fault reproduced")
    v.screenshot("playbook-interface-fault-en-desktop")

    recovery = SCENARIOS["playbook_recovery_phrase"](signer)
    drop_bundle(page, "recovery-phrase.zip", _bundle(recovery, zipfile.ZIP_DEFLATED))
    assert v.verdict() == "ok"
    identity = timeline.locator("li.event[data-type=identity_verified]")
    expect(identity).to_contain_text("Identity verified")
    expect(identity).to_contain_text("Video call")
    expect(identity).to_contain_text("IDV-2026-0107")
    expect(timeline.locator("li.event[data-type=compensation_paid]")).to_contain_text("Money")
    # Reopened: the playbook starts again after the identity check, which stays done.
    expect(summary).to_contain_text("Identity verified → Recovery alternatives proposed")
    assert v.errors == []

    ru = visit(locale="ru-RU")
    ru.open()
    broken = SCENARIOS["playbook_reset_before_identity"](signer)
    ru.page.click("#key-paste-box summary")
    ru.page.fill("#key-paste", broken["verifier_key"])
    ru.page.click("#key-use")
    drop_bundle(ru.page, "reset.zip", _bundle(broken, zipfile.ZIP_DEFLATED))
    assert ru.verdict() == "fail"
    assert ru.check_status("rules") == "fail"
    assert ru.item_status("rules", 2) == "fail"
    expect(ru.page.locator("li.check[data-check=rules]")).to_contain_text(
        "Шаг «Безопасный сброс» нарушает порядок: следующий шаг регламента — "
        "«Личность подтверждена»."
    )
    ru.screenshot("playbook-reset-before-identity-ru-desktop")
    assert ru.errors == []


# --- owners: who was responsible, when ------------------------------------------------------------


def test_owners_are_shown_by_name_with_the_secret_and_by_pseudonym_without(visit) -> None:
    """A claim, a reassignment, an escalation that clears the owner and an automatic
    assignment: each in words with the owner's name; the summary names who is responsible
    now. Without the bodies, the pseudonyms on the record; a broken rule in Portuguese."""
    signer = _scenario_signer()
    v = visit(locale="en-GB")
    v.open()
    page = v.page
    owners = SCENARIOS["owners_claimed_reassigned_escalated"](signer)
    _drop_with_key(v, owners, "owners.zip")
    assert v.verdict() == "ok"
    steps = page.locator("#timeline li.event[data-type=assigned]")
    expect(steps).to_have_count(3)
    expect(steps.nth(0).locator(".event-lead")).to_have_text("Claimed by Ana Silva")
    expect(steps.nth(1).locator(".event-lead")).to_have_text("Reassigned to Rui Costa")
    expect(steps.nth(2).locator(".event-lead")).to_have_text("Assigned to Sara Lima")
    expect(steps.nth(2)).to_contain_text("staff-5e0d")
    expect(steps.nth(0).locator(".event-title")).to_have_text("2. Handler assigned")
    expect(page.locator("#summary")).to_contain_text("Sara Lima")
    v.screenshot("owners-en-desktop")

    hidden = SCENARIOS["owners_without_bodies"](signer)
    drop_bundle(page, "owners-hidden.zip", _bundle(hidden, zipfile.ZIP_DEFLATED))  # same key
    assert v.verdict() == "ok"
    expect(steps.nth(0).locator(".event-lead")).to_have_text("Claimed by agent-7")
    expect(page.locator("#timeline")).not_to_contain_text("Ana Silva")
    assert v.errors == []

    pt = visit(locale="pt-PT")
    pt.open()
    broken = SCENARIOS["owner_claimed_for_another"](signer)
    _drop_with_key(pt, broken, "claimed-for-another.zip")
    assert pt.verdict() == "fail"
    assert pt.item_status("rules", 2) == "fail"
    expect(pt.page.locator("li.check[data-check=rules]")).to_contain_text(
        "agent-7 assumiu a reclamação por staff-3f9a2b1c"
    )
    assert pt.errors == []


# --- a vault payout: checked against the log, its transaction linked to the explorer ------------


def _drop_with_key(v: Visit, proof: dict, name: str) -> None:
    page = v.page
    page.click("#key-paste-box summary")
    page.fill("#key-paste", proof["verifier_key"])
    page.click("#key-use")
    drop_bundle(page, name, _bundle(proof, zipfile.ZIP_DEFLATED))


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_a_vault_payout_is_verified_and_its_transaction_linked(visit, viewport: str) -> None:
    """A bundle of a vault payout on chain 1: the summary shows the amount, the customer's
    address and the transaction, linked to the block explorer the service names for the
    chain; the payout checks pass step by step; this service has no chain node, so the Paid
    event on chain is not checked, saying so; the page never fetches anything from the
    explorer. The same payout on the local development chain 31337 is not linked, although
    the service names an explorer for it too: no public explorer knows that chain."""
    v = visit(locale="en-GB", viewport=PHONE if viewport == "phone" else DESKTOP)
    v.open()
    page = v.page
    signer = _scenario_signer()
    proof = _vault_payout(terms={**VAULT_TERMS, "chain_id": 1})(signer)
    _drop_with_key(v, proof, "payout.zip")
    assert v.verdict() == "ok"
    assert v.check_status("payout") == "ok"
    payout = page.locator("li.check[data-check=payout]")
    # The offer's terms, the acceptance's commitment, the payment's (public, then its text).
    events = [item.get_attribute("data-event") for item in payout.locator("li.item").all()]
    assert events == ["3", "4", "5", "5", "5"]  # ... and its Paid event on chain
    expect(payout.locator("li.item[data-status=ok]")).to_have_count(4)
    expect(payout).to_contain_text("Vault payout")
    expect(payout).to_contain_text(f"Paid to {RECIPIENT}, transaction {PAYOUT_TX}.")
    onchain = payout.locator("li.item[data-status=skip]")
    expect(onchain).to_contain_text("Step 5: the vault's Paid event on chain")
    expect(onchain).to_contain_text("this service has no chain node")

    summary = page.locator("#summary")
    expect(summary.locator(".payout[data-payout=ok]")).to_contain_text("25.50\u00a0USDC")
    expect(summary).to_contain_text(RECIPIENT)
    link = summary.locator("a.explorer")
    expect(link).to_have_text(PAYOUT_TX)
    href = EXPLORER.replace("{tx}", PAYOUT_TX)
    expect(link).to_have_attribute("href", href)
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    expect(summary.locator(".payout-onchain[data-onchain=skip]")).to_be_visible()
    expect(page.locator("#payout-note")).to_contain_text("this service's own chain node")
    expect(page.locator("#payout-note code")).to_have_text("ledger-verify-bundle --rpc")
    expect(page.locator("#verdict")).not_to_contain_text("receipt came from this service")
    paid = page.locator("#timeline li.event[data-type=compensation_paid]")
    expect(paid.locator("a.explorer")).to_have_attribute("href", href)
    expect(paid).to_contain_text("0x" + "5a" * 20)  # the vault
    accepted = page.locator("#timeline li.event[data-type=compensation_accepted]")
    expect(accepted).to_contain_text(RECIPIENT)
    assert len([r for r in v.requests if r.url.endswith("/v1/chains")]) == 1
    asked = [r.url for r in v.requests if "/transactions/" in r.url]
    assert asked == [f"{v.base_url}/v1/chains/1/transactions/{PAYOUT_TX}"]  # same origin
    assert not [r for r in v.requests if "explorer.example" in r.url]
    if viewport == "phone":
        assert v.no_horizontal_scroll()
    v.screenshot(f"payout-en-{viewport}")

    dev = PAYOUT_SCENARIOS["payout_in_a_token"](signer)  # the same payout, on chain 31337
    drop_bundle(page, "payout-dev-chain.zip", _bundle(dev, zipfile.ZIP_DEFLATED))
    assert v.verdict() == "ok"
    expect(summary.locator(".payout[data-payout=ok]")).to_contain_text("25.50\u00a0USDC")
    expect(summary).to_contain_text(PAYOUT_TX)
    expect(paid).to_contain_text("local test chain 31337")
    expect(page.locator("#results a.explorer")).to_have_count(0)
    assert not [r for r in v.requests if "explorer.example" in r.url]
    assert v.errors == []


def test_a_payout_to_another_address_fails_on_the_page(visit) -> None:
    """The payment's text pays an address other than the one the customer accepted with: the
    payout check of the payment fails with the reason, in the reader's language; without
    the texts the page says what it could not check."""
    signer = _scenario_signer()
    v = visit(locale="ru-RU")
    v.open()
    page = v.page
    broken = PAYOUT_SCENARIOS["payout_to_another_address"](signer)
    _drop_with_key(v, broken, "other-address.zip")
    assert v.verdict() == "fail"
    assert v.check_status("payout") == "fail"
    failed = page.locator("li.check[data-check=payout] li.item[data-status=fail]")
    expect(failed).to_have_count(1)  # the Paid event on chain is not looked for
    expect(failed).to_have_attribute("data-event", "5")
    expect(page.locator("#summary .payout-onchain[data-onchain=skip]")).to_be_visible()
    assert v.check_status("commitments") == "ok" and v.check_status("rules") == "ok"
    expect(page.locator("li.check[data-check=payout]")).to_contain_text(
        "Поле recipient платежа не совпадает с принятым."
    )
    expect(page.locator("#summary .payout[data-payout=fail]")).to_be_visible()
    expect(page.locator("#summary a.explorer")).to_have_count(0)  # only a verified payout's
    expect(page.locator("#payout-note")).not_to_contain_text("пакет доказательств")  # disclosed
    expect(page.locator("#timeline li.event[data-type=compensation_paid]")).to_contain_text(
        OTHER_ADDRESS
    )
    v.screenshot("payout-other-address-ru-desktop")

    public = PAYOUT_SCENARIOS["payout_without_bodies"](signer)
    drop_bundle(page, "public.zip", _bundle(public, zipfile.ZIP_DEFLATED))
    assert v.verdict() == "ok"
    payout = page.locator("li.check[data-check=payout]")
    expect(payout.locator("li.item[data-status=skip]")).to_have_count(4)  # 3 texts, on chain
    expect(payout.locator("li.item[data-status=ok]")).to_have_count(1)  # the public commitment
    expect(page.locator("#summary .payout[data-payout=skip]")).to_be_visible()
    expect(page.locator("#payout-note")).to_contain_text("пакет доказательств")
    assert v.errors == []


# --- the vault's Paid event on chain, from this service's chain node -----------------------------

RECEIPTS = "**/v1/chains/*/transactions/*"
ZERO_ADDRESS = "0x" + "00" * 20
BLOCK_HASH = "0x" + "77" * 32
ONCHAIN_ITEM = 'li.check[data-check=payout] li.item:has-text("the vault\'s Paid event on chain")'


def _word(value: int | str) -> str:
    """One ABI word: an integer, or an address / 32-byte hash (0x-hex)."""
    if isinstance(value, str):
        return value.removeprefix("0x").lower().rjust(64, "0")
    return f"{value:064x}"


def _leaf_hash(item: dict) -> str:
    return "0x" + merkle.leaf_hash(item["leaf"].encode()).hex()


def _relayed(proof: dict, **change) -> dict:
    """GET /v1/chains/31337/transactions/<tx>'s answer for the payout of ``proof`` as the
    vault makes it: its Paid event (and the token's Transfer) in block 16 of 18. ``change``
    alters one thing: a field of the event (vault, offer, accept, recipient, token, amount,
    tree_size; "acceptance" for the acceptance's own index), the status, the hash of the
    node's block at that height, or no Transfer."""
    items = {e["type"]: e for e in proof["events"]}
    accepted, body = items["compensation_accepted"], json.loads(items["compensation_paid"]["body"])
    event = {
        "vault": body["vault"],
        "offer": _leaf_hash(items["compensation_offered"]),
        "accept": _leaf_hash(accepted),
        "recipient": body["recipient"],
        "token": body.get("token") or ZERO_ADDRESS,
        "amount": int(body["amount_base_units"]),
        "tree_size": accepted["index"] + 2,
    }
    event |= {k: v for k, v in change.items() if k in event}
    if event["tree_size"] == "acceptance":
        event["tree_size"] = accepted["index"]  # a tree that ends just before it
    paid = {
        "address": event["vault"],
        "topics": [PAID_TOPIC, event["offer"], event["accept"], "0x" + _word(event["recipient"])],
        "data": "0x" + "".join(_word(event[k]) for k in ("token", "amount", "tree_size")),
        "logIndex": "0x1",
    }
    logs = [paid]
    if event["token"] != ZERO_ADDRESS and change.get("transfer", True):
        moved = [TRANSFER_TOPIC, "0x" + _word(event["vault"]), "0x" + _word(event["recipient"])]
        logs.insert(0, {"address": event["token"], "topics": moved,
                        "data": "0x" + _word(event["amount"]), "logIndex": "0x0"})  # fmt: skip
    tx = body["tx_hash"]
    receipt = {"transactionHash": tx, "status": change.get("status", "0x1"), "blockNumber": "0x10",
               "blockHash": BLOCK_HASH, "to": body["vault"], "logs": logs}  # fmt: skip
    at_height = change.get("block_hash_at_height", BLOCK_HASH)
    return {"chain_id": 31337, "tx_hash": tx, "receipt": receipt, "latest_block": "0x12",
            "block_hash_at_height": at_height}  # fmt: skip


class _Relayed:
    """A chain reader answering what the service relayed, for ledger/verify/onchain.py's own
    verdict on the same receipt (the vault's code and its reads are the real vault's)."""

    def __init__(self, answer: dict | None, origin: str) -> None:
        self.answer, self.origin = answer, origin

    def chain_id(self) -> int:
        return 31337

    def block_number(self) -> int:
        return int(self.answer["latest_block"], 16) if self.answer else 0

    def block_hash(self, number: int) -> str | None:
        return self.answer["block_hash_at_height"] if self.answer else None

    def receipt(self, tx_hash: str) -> dict | None:
        return self.answer["receipt"] if self.answer else None

    def transaction(self, tx_hash: str) -> dict | None:
        return None

    def code(self, address: str) -> bytes:
        return bytes.fromhex(load_artifact("CompensationVault").deployed_bytecode[2:])

    def eth_call(self, to: str, data: str) -> bytes:
        if data == "0x" + VAULT_LOG_ID_SELECTOR:
            return hashlib.sha256(self.origin.encode()).digest()
        return bytes(32)  # anchor(): the proofs here name no anchor contract


def _python_verdict(proof: dict, reader) -> str:
    """What ``ledger-verify-bundle --rpc`` says of the proof's vault payout through ``reader``
    (one confirmation, as on the dev chain): ok only when every vault check passed."""
    from ledger.verify.onchain import check_vault_payout
    from ledger.verify.report import Report

    report = Report()
    paid = next(e for e in proof["events"] if e["type"] == "compensation_paid")
    check_vault_payout(report, proof, paid, json.loads(paid["body"]), [reader], 1)
    return "ok" if report.checks and all(c.status == "ok" for c in report.checks) else "fail"


# name: (scenario, change; None: the node knows no such transaction, the status, the text)
ONCHAIN_CASES = {
    "paid": ("payout_in_a_token", {}, "ok", f"Transaction {PAYOUT_TX} succeeded in block 16, "
             "3 confirmations (at least 1 needed); the vault's Paid event pays the offer of "
             f"step 3 and the acceptance of step 4: 25500000 base units of token {TOKEN} to "
             f"{RECIPIENT}"),
    "paid_in_the_native_coin": ("payout_in_the_native_coin", {}, "ok",
                                "15000000000000000 base units of the chain's native coin"),
    "another_recipient": ("payout_in_a_token", {"recipient": OTHER_ADDRESS}, "fail",
                          f"The Paid event pays 25500000 base units of {TOKEN} to "
                          f"{OTHER_ADDRESS}; the log authorises 25500000 of {TOKEN} to "
                          f"{RECIPIENT}."),
    "another_amount": ("payout_in_a_token", {"amount": 1}, "fail", "pays 1 base units"),
    "another_token": ("payout_in_a_token", {"token": "0x" + "71" * 20}, "fail",
                      "the log authorises 25500000 of " + TOKEN),
    "another_acceptance": ("payout_in_a_token", {"accept": "0x" + "ee" * 32}, "fail",
                           "pays another acceptance than the one of step 4"),
    "a_tree_without_the_acceptance": ("payout_in_a_token", {"tree_size": "acceptance"}, "fail",
                                      "does not contain the acceptance"),
    "another_vault": ("payout_in_a_token", {"vault": "0x" + "5b" * 20}, "fail",
                      f"holds no Paid event of vault {VAULT} for the offer of step 3"),
    "reverted": ("payout_in_a_token", {"status": "0x0"}, "fail", f"Transaction {PAYOUT_TX} "
                 "reverted"),
    "reorganised_away": ("payout_in_a_token", {"block_hash_at_height": "0x" + "78" * 32},
                         "fail", "has 0 confirmations on the node's chain; at least 1"),
    "no_token_transfer": ("payout_in_a_token", {"transfer": False}, "fail",
                          f"holds no Transfer of 25500000 base units of token {TOKEN}"),
    "unknown_to_the_node": ("payout_in_a_token", None, "fail",
                            f"knows no mined transaction {PAYOUT_TX} on chain 31337"),
}  # fmt: skip


def test_a_payouts_paid_event_is_checked_on_chain_as_the_command_line_does(visit) -> None:
    """The service relays each receipt (intercepted here); the page checks the vault's Paid
    event in it against the log: the right event passes, and each single thing changed (the
    recipient, amount, token, acceptance, tree size, vault, status, a reorganised block, a
    missing token transfer, an unknown transaction) fails the check, with its reason, and
    the verdict; ledger/verify/onchain.py judges every receipt alike."""
    signer = _scenario_signer()
    proofs = {name: PAYOUT_SCENARIOS[name](signer) for name in ("payout_in_a_token",
              "payout_in_the_native_coin")}  # fmt: skip
    v = visit(locale="en-GB")
    v.open()
    page = v.page
    current: dict = {}

    def relay(route) -> None:
        if current["answer"] is None:
            problem = {"type": "/problems/not-found", "title": "No such resource",
                       "status": 404, "code": "TX_NOT_FOUND"}  # fmt: skip
            route.fulfill(status=404, content_type="application/problem+json",
                          body=json.dumps(problem))  # fmt: skip
        else:
            route.fulfill(status=200, content_type="application/json",
                          body=json.dumps(current["answer"]))  # fmt: skip

    page.route(RECEIPTS, relay)
    page.click("#key-paste-box summary")
    page.fill("#key-paste", proofs["payout_in_a_token"]["verifier_key"])
    page.click("#key-use")
    for name, (scenario, change, status, text) in ONCHAIN_CASES.items():
        proof = proofs[scenario]
        answer = None if change is None else _relayed(proof, **change)
        current["answer"] = answer
        assert _python_verdict(proof, _Relayed(answer, proof["log"])) == status, name
        drop_bundle(page, f"{name}.zip", _bundle(proof, zipfile.ZIP_DEFLATED))
        assert v.verdict() == status, name
        assert v.check_status("payout") == status, name
        item = page.locator(ONCHAIN_ITEM)
        expect(item).to_have_attribute("data-status", status)
        expect(item).to_have_attribute("data-event", "5")
        expect(item).to_contain_text(text)
        summary = page.locator("#summary")
        expect(summary.locator(f".payout-onchain[data-onchain={status}]")).to_be_visible()
        expect(summary.locator(f".payout[data-payout={status}]")).to_be_visible()
        # The receipt is this service's word: the page says so, and how to check it alone.
        expect(page.locator("#verdict .caveats")).to_contain_text(
            "receipt came from this service's chain node; run ledger-verify-bundle --rpc"
        )
        if name in ("paid", "another_recipient"):
            v.screenshot(f"payout-onchain-{name.replace('_', '-')}-en-desktop")
    assert len([r for r in v.requests if "/transactions/" in r.url]) == len(ONCHAIN_CASES)
    assert v.errors == []


def test_a_payout_naming_another_contracts_transaction_fails_on_chain(visit, anvil) -> None:
    """The service's own chain node (anvil) relays the receipts: a payment whose transaction
    is a token transfer of another contract has no Paid event of the vault, and fails, in the
    reader's language; a transaction the node does not know fails too; a payout on a chain
    this node is not on is not checked, saying so."""
    signer = _scenario_signer()
    _, tx = token_transfer(anvil.url)
    other = _vault_payout(paid={"tx_hash": tx})(signer)
    assert _python_verdict(other, JsonRpcChain(anvil.url)) == "fail"
    v = visit(locale="pt-PT")
    v.open()
    page = v.page
    _drop_with_key(v, other, "another-contract.zip")
    assert v.verdict() == "fail"
    assert v.check_status("payout") == "fail"
    payout = page.locator("li.check[data-check=payout]")
    expect(payout.locator("li.item[data-status=ok]")).to_have_count(4)  # the log agrees
    failed = payout.locator("li.item[data-status=fail]")
    expect(failed).to_have_count(1)
    expect(failed).to_contain_text("Passo 5: o evento Paid do cofre na cadeia")
    expect(failed).to_contain_text(
        f"A transação não contém nenhum evento Paid do cofre {VAULT} para a oferta do passo 3."
    )
    expect(page.locator("#summary .payout-onchain[data-onchain=fail]")).to_be_visible()
    expect(page.locator("#payout-note")).to_contain_text("nó de cadeia deste próprio serviço")
    v.screenshot("payout-onchain-another-contract-pt-desktop")

    unknown = _vault_payout()(signer)  # PAYOUT_TX: never sent to this node
    drop_bundle(page, "unknown.zip", _bundle(unknown, zipfile.ZIP_DEFLATED))
    assert v.verdict() == "fail"
    expect(page.locator(ONCHAIN_ITEM.replace("the vault's Paid event on chain",
                                             "o evento Paid do cofre na cadeia"))).to_contain_text(
        f"não conhece nenhuma transação minerada {PAYOUT_TX} na cadeia 31337"
    )  # fmt: skip

    elsewhere = _vault_payout(terms={**VAULT_TERMS, "chain_id": 1})(signer)
    drop_bundle(page, "chain-1.zip", _bundle(elsewhere, zipfile.ZIP_DEFLATED))
    assert v.verdict() == "ok"
    skipped = payout.locator("li.item[data-status=skip]")
    expect(skipped).to_contain_text("o nó de cadeia deste serviço não está na cadeia 1")
    expect(page.locator("#summary .payout-onchain[data-onchain=skip]")).to_be_visible()
    assert v.errors == []


# --- one rulebook: an evidence export followed by more steps (issue 12) --------------------------


def _export_bundle(actors: dict, ref: str) -> bytes:
    """Export the complaint's evidence bundle as legal (POST); a new export is logged as a
    bundle_exported step (201)."""
    legal = Client(actors["url"], actors["tokens"]["legal"])
    r = legal.session.post(f"{actors['url']}/v1/complaints/{ref}/bundle", json={}, timeout=60)
    assert r.status_code == 201, r.text
    return r.content


def test_complaint_with_an_export_and_later_steps_verifies(visit, actors, ledger) -> None:
    """The browser knows bundle_exported from the generated rules: an export in the middle of
    a chain is a valid step, from the reference form and from the bundle file alike."""
    anon, agent = actors["anon"], actors["agent"]
    filed = anon.post("/v1/complaints", {"category": "refund_or_claim", "channel": "email",
                      "description": "I was charged twice for one card payment."})  # fmt: skip
    ref, secret = filed["reference"], filed["secret"]
    customer = Client(actors["url"], secret)
    agent.post(f"/v1/complaints/{ref}/events", {"type": "acknowledged"})  # seq 1
    _export_bundle(actors, ref)  # seq 2: bundle_exported
    agent.post(f"/v1/complaints/{ref}/events", {"type": "info_requested",
               "body": {"request": "Please send the card statement."}})  # fmt: skip
    customer.post(f"/v1/complaints/{ref}/events", {"type": "info_received",
                  "body": {"text": "Statement attached: two charges of 40 EUR."}})  # fmt: skip
    decision = {
        "outcome": "upheld",
        "finding": "The payment was captured twice by our card processor.",
        "rules": ["PSD2 Art. 73"],
        "evidence": [],
        "root_cause": "process_failure",
        "remedy": "We refund the second charge.",
    }
    signed_step(actors, ref, "decision", decision, {k: decision[k] for k in
                    ("outcome", "root_cause", "rules", "evidence")})  # fmt: skip  # seq 5
    agent.post(f"/v1/complaints/{ref}/events", {"type": "closed"})  # seq 6
    customer.post(f"/v1/complaints/{ref}/events", {"type": "rated",
                  "public": {"csat": 5, "rates": 5}})  # fmt: skip  # seq 7
    anchor_latest_checkpoint(ledger)

    v = visit(locale="en-GB")
    v.open()
    page = v.page
    v.check(ref, secret)
    assert v.verdict() == "ok"
    expect(page.locator("#verdict-title")).to_have_text("Verified")
    for name in ("checkpoint", "inclusion", "chain", "rules", "commitments", "authority",
                 "signatures", "server_status"):  # fmt: skip
        assert v.check_status(name) == "ok", name
    assert page.locator("li.check li[data-status=fail]").count() == 0
    expect(page.locator("#timeline li.event")).to_have_count(8)
    assert page.locator("#timeline li.event[data-status=ok]").count() == 8
    export = page.locator("#timeline li.event[data-type=bundle_exported]")
    expect(export).to_contain_text("Evidence bundle exported")
    expect(export).to_have_attribute("data-status", "ok")
    assert v.item_status("rules", 2) == "ok"
    assert v.item_status("rules", 3) == "ok"  # the step after the export
    rating = page.locator("#timeline li.event[data-type=rated]")
    expect(rating).to_contain_text("step 5 (Decision)")
    v.screenshot("export-then-steps-en-desktop")

    # The bundle of a later export holds the first export and the steps after it.
    data = _export_bundle(actors, ref)
    drop_bundle(page, "evidence-bundle.zip", data)
    assert v.verdict() == "ok"
    expect(page.locator("#summary")).to_contain_text("evidence bundle evidence-bundle.zip")
    expect(page.locator("#timeline li.event")).to_have_count(8)
    assert v.item_status("rules", 2) == "ok"
    assert v.check_status("rules") == "ok"
    v.screenshot("export-then-steps-bundle-en-desktop")
    assert v.errors == []


def test_rules_are_loaded_once_from_the_page_origin(visit, client) -> None:
    """rules.json is served beside the scripts (same origin, CSP intact) and fetched once, so a
    bundle dropped later is checked without the network."""
    resp = client.get("/verify/static/rules.json")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    assert "Content-Security-Policy" in resp.headers
    assert resp.get_data() == (ROOT / "api/static/verify/rules.json").read_bytes()
    v = visit()
    v.open()
    rules_requests = [r for r in v.requests if r.url.endswith("/verify/static/rules.json")]
    assert len(rules_requests) == 1
    v.context.set_offline(True)
    proof = SCENARIOS["export_then_more_steps"](_scenario_signer())
    v.page.click("#key-paste-box summary")
    v.page.fill("#key-paste", proof["verifier_key"])
    v.page.click("#key-use")
    drop_bundle(v.page, "offline.zip", _bundle(proof, zipfile.ZIP_DEFLATED))
    assert v.verdict() == "ok"
    assert v.check_status("rules") == "ok"
    assert len([r for r in v.requests if r.url.endswith("/rules.json")]) == 1
    assert v.errors == []


def _scenario_signer():
    from ledger.log.note import Signer

    return Signer.generate("scenarios.ledger.example/log")


# --- served as a self-contained page -------------------------------------------------------------


def test_page_is_self_contained_and_locked_down(client) -> None:
    resp = client.get("/verify")
    assert resp.status_code == 200
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp
    assert "default-src 'none'" in csp and "form-action 'none'" in csp
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert resp.headers["Cache-Control"] == "no-store"
    html = resp.get_data(as_text=True)
    assert "<script>" not in html and "style=" not in html  # nothing inline
    static = ROOT / "api" / "static" / "verify"
    files = [*static.rglob("*.js"), *static.rglob("*.css"), ROOT / "api/templates/verify.html"]
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert "http://" not in text and "https://" not in text, path  # no CDN, no third party
    for lang in ("en", "ca", "pt", "zh", "lt", "ru"):
        r = client.get(f"/verify/static/i18n/{lang}.json")
        assert r.status_code == 200 and r.json["ui"]["title"]


def _flat(d: dict, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


@pytest.mark.parametrize("lang", ["ca", "pt", "zh", "lt", "ru"])
def test_every_ui_string_is_translated(lang: str) -> None:
    folder = ROOT / "api" / "static" / "verify" / "i18n"
    english = _flat(json.loads((folder / "en.json").read_text(encoding="utf-8")))
    other = _flat(json.loads((folder / f"{lang}.json").read_text(encoding="utf-8")))
    assert set(other) == set(english)
    for key, text in english.items():
        names = set(re.findall(r"\{(\w+)\}", text))
        assert set(re.findall(r"\{(\w+)\}", other[key])) == names, key
