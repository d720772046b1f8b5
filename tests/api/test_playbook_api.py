"""The wallet's own service rules over real HTTP: the published rules (and a deployment's
own), playbook progress in the status, the identity gate on payouts, identity_required on
large offers, the disclosure gate, the progress letter, and mass incidents."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta

import pytest
import requests

from api import create_app
from ledger.anchoring.config import ConfigError
from ledger.complaints.officers import sign_body
from ledger.complaints.service_rules import DEFAULT_RULES, rules_to_json
from ledger.complaints.texts import compensation_kind_name
from ledger.complaints.timestamps import as_utc
from ledger.config import Settings
from ledger.runtime import open_ledger
from ledger.verify.complaint import verify_complaint_proof
from tests.support.complaint_api import Client, signed_step

INCIDENT = "INC-2026-0042"
PROBLEM = "application/problem+json"
DECISION = {
    "outcome": "upheld",
    "finding": "Our records confirm what the customer describes.",
    "rules": ["PSD2 Art. 73"],
    "root_cause": "product_defect",
    "remedy": "We compensate you.",
}


def file(actors, category: str, **extra) -> tuple[str, Client]:
    """File a complaint as its customer; its reference and the customer's client."""
    filed = actors["anon"].post(
        "/v1/complaints",
        {"category": category, "channel": "in_app", "language": "en",
         "jurisdiction": "EU-PSD2", "description": "Something went wrong.", **extra},
    )  # fmt: skip
    return filed["reference"], Client(actors["url"], filed["secret"])


def step(client: Client, ref: str, type_: str, public=None, body=None, expect: int = 201):
    payload = {"type": type_, "public": public or {}, "body": body or {}}
    return client.post(f"/v1/complaints/{ref}/events", payload, expect=expect)


def decide(actors, ref: str) -> None:
    evidence = actors["agent"].get(f"/v1/complaints/{ref}/timeline")["events"][0]["leaf_hash"]
    decision = {**DECISION, "evidence": [evidence]}
    public = {k: decision[k] for k in ("outcome", "root_cause", "rules", "evidence")}
    signed_step(actors, ref, "decision", decision, public)


def pay(actors, ref: str, paid: dict, public: dict, expect: int = 201) -> requests.Response:
    """Sign and send a payment; the raw response (it may be refused)."""
    officer = actors["officer"]
    to_sign = officer.post(f"/v1/complaints/{ref}/signing-body",
                           {"type": "compensation_paid", "content": paid}, expect=200)  # fmt: skip
    sig = sign_body(actors["officer_key"], to_sign["body_jcs"].encode("utf-8"))
    public = {**public, "signature": {"key_id": actors["key_id"], "sig": sig.hex()}}
    r = officer.session.post(
        f"{actors['url']}/v1/complaints/{ref}/events",
        json={"type": "compensation_paid", "public": public, "body": to_sign["body"]},
        headers={"Idempotency-Key": uuid.uuid4().hex},
        timeout=30,
    )
    assert r.status_code == expect, r.text
    return r


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def size(ledger) -> int:
    return ledger.store.latest_checkpoint().size


def events(actors, ref: str) -> list[dict]:
    return actors["agent"].get(f"/v1/complaints/{ref}/timeline")["events"]


# --- the service rules --------------------------------------------------------------------


def test_service_rules_are_published_and_cacheable(actors) -> None:
    url = f"{actors['url']}/v1/service-rules"
    r = requests.get(url, timeout=30)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    assert r.json() == rules_to_json(DEFAULT_RULES)
    assert r.json()["categories"]["hacked_account"]["step_targets_minutes"] == {
        "access_blocked": 15
    }
    assert "public" in r.headers["Cache-Control"] and r.headers["ETag"]
    again = requests.get(url, headers={"If-None-Match": r.headers["ETag"]}, timeout=30)
    assert again.status_code == 304
    spec = requests.get(f"{actors['url']}/openapi.json", timeout=30).json()
    assert "/v1/service-rules" in spec["paths"]
    assert "/v1/incidents/{incident}/holding-reply" in spec["paths"]
    assert "playbook" in spec["components"]["schemas"]["ComplaintStatus"]["properties"]


def _own_rules(settings: Settings, tmp_path, doc) -> Settings:
    path = tmp_path / "rules.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return Settings(
        data_dir=settings.data_dir,
        database_url=settings.database_url,
        log_origin=settings.log_origin,
        log_key_file=settings.log_key_file,
        service_rules_file=path,
    )


def test_a_deployments_rules_file_sets_the_deadlines_of_new_complaints(settings, tmp_path):
    doc = {
        "format": "service-rules/1",
        "name": "night shift",
        "first_response": {"limit_minutes": 60, "goal_minutes": 30},
        "categories": {"sync_fault": {"target_minutes": 30, "limit_minutes": 90}},
    }
    led = open_ledger(_own_rules(settings, tmp_path, doc))
    try:
        client = create_app(led.settings, led).test_client()
        rules = client.get("/v1/service-rules").json
        assert rules["name"] == "night shift"
        assert rules["categories"]["sync_fault"]["limit_minutes"] == 90
        filed = client.post("/v1/complaints", json={"category": "sync_fault", "channel": "chat",
                            "description": "Balance shows 0."}).json  # fmt: skip
        at = as_utc(filed["event"]["at"])
        deadlines = filed["event"]["public"]["deadlines"]
        assert as_utc(deadlines["first_response"]) - at == timedelta(minutes=60)
        assert as_utc(deadlines["first_response_goal"]) - at == timedelta(minutes=30)
        assert as_utc(deadlines["target_resolution"]) - at == timedelta(minutes=30)
        assert as_utc(deadlines["resolution_limit"]) - at == timedelta(minutes=90)
        status = client.get(
            f"/v1/complaints/{filed['reference']}",
            headers={"Authorization": f"Bearer {filed['secret']}"},
        ).json
        clocks = {c["name"]: c for c in status["clocks"]}
        assert when(clocks["resolution_limit"]["due_at"]) - at == timedelta(minutes=90)
        assert when(clocks["first_response"]["due_at"]) - at == timedelta(minutes=60)
    finally:
        led.close()


@pytest.mark.parametrize(
    ("doc", "problem"),
    [
        ("{not json", "not valid JSON"),
        ({"format": "service-rules/1", "categories": {"lost_wallet": {}}}, "unknown category"),
        ({"format": "other/1"}, "format"),
        (
            {
                "format": "service-rules/1",
                "first_response": {"limit_minutes": 10, "goal_minutes": 20},
            },
            "goal is after its limit",
        ),
        ({"format": "service-rules/1", "categories": ["sync_fault"]}, "must be an object"),
    ],
)
def test_a_bad_rules_file_stops_the_start_naming_the_problem(settings, tmp_path, doc, problem):
    with pytest.raises(ConfigError) as raised:
        open_ledger(_own_rules(settings, tmp_path, doc))
    assert "LEDGER_SERVICE_RULES" in str(raised.value) and problem in str(raised.value)


def test_a_missing_rules_file_stops_the_start(settings, tmp_path):
    bad = Settings(
        data_dir=settings.data_dir,
        database_url=settings.database_url,
        log_origin=settings.log_origin,
        log_key_file=settings.log_key_file,
        service_rules_file=tmp_path / "absent.json",
    )
    with pytest.raises(ConfigError, match="cannot be read"):
        open_ledger(bad)


# --- the playbook in the status, the progress letter, the customer's confirmation ----------


def test_status_shows_the_playbook_step_in_two_languages(actors, ledger) -> None:
    ref, customer = file(actors, "stuck_transaction")
    agent = actors["agent"]
    step(agent, ref, "acknowledged")
    status = customer.get(f"/v1/complaints/{ref}")
    assert status["playbook"]["number"] == 0 and status["playbook"]["total"] == 3
    assert status["playbook"]["next"] == "chain_error_found"
    assert status["identity_verified"] is False and status["incident"] is None
    step(agent, ref, "playbook_step", {"step": "chain_error_found"})
    wait = {"step": "customer_updated", "confirm_by": "2099-01-01T00:00:00.000Z"}
    step(agent, ref, "playbook_step", wait)

    en = customer.get(f"/v1/complaints/{ref}", lang="en")["playbook"]
    pt = customer.get(f"/v1/complaints/{ref}", lang="pt")["playbook"]
    assert en["text"] == "Step 2 of 3: Update sent"
    assert pt["text"].startswith("Passo 2 de 3")
    assert en["number"] == pt["number"] == 2 and en["next"] == "resolution_confirmed"
    assert [s["done"] for s in en["steps"]] == [True, True, False]
    assert en["steps"][0]["name"] != pt["steps"][0]["name"]
    labels = {c["name"]: c["label"] for c in customer.get(f"/v1/complaints/{ref}")["clocks"]}
    assert labels["first_response"] == "First response"
    pt_labels = customer.get(f"/v1/complaints/{ref}", lang="pt")["clocks"]
    assert {c["label"] for c in pt_labels} != set(labels.values())


def test_playbook_steps_carry_a_progress_letter_but_not_the_customers_own(actors) -> None:
    ref, customer = file(actors, "interface_fault")
    agent = actors["agent"]
    step(agent, ref, "acknowledged")
    first = step(agent, ref, "playbook_step", {"step": "fault_reproduced"})
    assert first["event"]["public"] == {"step": "fault_reproduced", "state": "investigating"}
    step(agent, ref, "playbook_step",
         {"step": "fix_deployed", "confirm_by": "2099-01-01T00:00:00.000Z"})  # fmt: skip
    confirmed = step(customer, ref, "playbook_step",
                     {"step": "fix_confirmed", "confirmation": "customer"})  # fmt: skip
    assert confirmed["status"] == "investigating"
    bodies = {e["seq"]: e["body"] for e in customer.get(f"/v1/complaints/{ref}/timeline")["events"]}
    letter = bodies[first["event"]["seq"]]["message"]
    assert letter["language"] == "en" and ref in letter["subject"]
    assert "1" in letter["text"] and "3" in letter["text"]
    assert "message" not in bodies[confirmed["event"]["seq"]]
    status = customer.get(f"/v1/complaints/{ref}")
    assert status["playbook"]["number"] == 3 and status["playbook"]["next"] is None


def test_a_customer_records_only_their_confirmation(actors, ledger) -> None:
    ref, customer = file(actors, "stuck_transaction")
    step(actors["agent"], ref, "acknowledged")
    before = size(ledger)
    refused = requests.post(
        f"{actors['url']}/v1/complaints/{ref}/events",
        json={"type": "playbook_step", "public": {"step": "chain_error_found"}},
        headers={"Authorization": customer.session.headers["Authorization"]},
        timeout=30,
    )
    assert refused.status_code == 403 and refused.headers["Content-Type"] == PROBLEM
    assert refused.json()["code"] == "ROLE_NOT_ALLOWED"
    assert refused.json()["type"] == "/problems/role-not-allowed"
    out_of_order = step(actors["agent"], ref, "playbook_step", {"step": "customer_updated"},
                        expect=409)  # fmt: skip
    assert out_of_order["code"] == "PLAYBOOK_ORDER"
    assert size(ledger) == before


# --- identity: the payout gate, identity_required on a large offer --------------------------


def test_a_lost_recovery_phrase_payout_waits_for_the_identity_check(actors, ledger) -> None:
    ref, customer = file(actors, "lost_recovery_phrase")
    agent = actors["agent"]
    step(agent, ref, "acknowledged")
    decide(actors, ref)
    offer = {"kind": "fee_refund", "amount": "25.00", "currency": "EUR", "method": "bank_transfer"}
    offered = signed_step(actors, ref, "compensation_offered", offer, offer)
    assert "identity_required" not in offered["event"]["public"]  # below the threshold
    step(customer, ref, "compensation_accepted")
    paid = {**offer, "payment_reference": "SEPA-1"}
    before = size(ledger)
    refused = pay(actors, ref, paid, offer, expect=409)
    assert refused.headers["Content-Type"] == PROBLEM
    assert refused.json()["code"] == "IDENTITY_NOT_VERIFIED"
    assert size(ledger) == before
    step(agent, ref, "identity_verified", {"method": "video_call"},
         {"check_reference": "IDV-123"})  # fmt: skip
    assert pay(actors, ref, paid, offer).json()["status"] == "compensation_paid"
    offer_letter = events(actors, ref)[offered["event"]["seq"]]["body"]["message"]["text"]
    assert compensation_kind_name("fee_refund", "en") in offer_letter
    status = customer.get(f"/v1/complaints/{ref}")
    assert status["identity_verified"] is True
    assert status["playbook"]["steps"][0] == {**status["playbook"]["steps"][0], "done": True}


def test_a_large_offer_needs_the_identity_and_its_signature_still_verifies(actors, ledger):
    ref, customer = file(actors, "stuck_transaction")
    step(actors["agent"], ref, "acknowledged")
    decide(actors, ref)
    offer = {"amount": "1500.00", "currency": "EUR", "method": "bank_transfer"}
    offered = signed_step(actors, ref, "compensation_offered", offer, offer)
    assert offered["event"]["public"]["identity_required"] is True
    step(customer, ref, "compensation_accepted")
    paid = {**offer, "payment_reference": "SEPA-2"}
    assert pay(actors, ref, paid, offer, expect=409).json()["code"] == "IDENTITY_NOT_VERIFIED"
    step(actors["agent"], ref, "identity_verified", {"method": "document_check"},
         {"check_reference": "IDV-456"})  # fmt: skip
    pay(actors, ref, paid, offer)
    vkey = actors["anon"].get("/v1/log/keys")["verifier_key"]
    report = verify_complaint_proof(customer.get(f"/v1/complaints/{ref}/proof"), vkey)
    assert report.ok, report.failures


# --- the disclosure gate ----------------------------------------------------------------------


def test_bodies_wait_for_the_identity_check_for_the_secret_not_for_staff(actors, ledger):
    ref, customer = file(actors, "lost_recovery_phrase")
    agent = actors["agent"]
    ack = step(agent, ref, "acknowledged")["event"]["seq"]
    asked = step(agent, ref, "info_requested", body={"request": "Your old device's model?"})
    step(customer, ref, "info_received", body={"text": "A Pixel 6."})

    timeline = customer.get(f"/v1/complaints/{ref}/timeline")["events"]
    by_seq = {e["seq"]: e for e in timeline}
    for seq in (ack, asked["event"]["seq"]):
        assert by_seq[seq]["body"] is None and by_seq[seq]["withheld"] == "identity_not_verified"
    assert by_seq[0]["body"]["description"] == "Something went wrong."  # their own
    assert by_seq[3]["body"] == {"text": "A Pixel 6."} and "withheld" not in by_seq[3]
    proof = customer.get(f"/v1/complaints/{ref}/proof")
    gated = {e["seq"]: e for e in proof["events"]}
    assert "body" not in gated[ack] and "salt" not in gated[ack]
    assert gated[ack]["withheld"] == "identity_not_verified" and "body" in gated[0]
    vkey = actors["anon"].get("/v1/log/keys")["verifier_key"]
    assert verify_complaint_proof(proof, vkey).ok

    staff = agent.get(f"/v1/complaints/{ref}/timeline")["events"]
    assert all(e["body"] is not None and "withheld" not in e for e in staff)
    reads = actors["regulator"].get(f"/v1/complaints/{ref}/access-log")["reads"]
    assert ("agent", "timeline") in {(r["role"], r["action"]) for r in reads}

    step(agent, ref, "identity_verified", {"method": "knowledge_check"},
         {"check_reference": "IDV-789"})  # fmt: skip
    opened = customer.get(f"/v1/complaints/{ref}/timeline")["events"]
    assert all(e["body"] is not None and "withheld" not in e for e in opened)
    assert "message" in opened[ack]["body"]
    proof = customer.get(f"/v1/complaints/{ref}/proof")
    assert all("body" in e and "withheld" not in e for e in proof["events"])


def _bodies_in(bundle: bytes) -> set[int]:
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(bundle)) as zf:
        names = [n for n in zf.namelist() if n.startswith("events/") and n.endswith(".body.json")]
    return {int(n.split("/")[1].split("-")[0]) for n in names}


def test_the_evidence_bundle_waits_for_the_identity_check_too(actors, ledger):
    ref, customer = file(actors, "lost_recovery_phrase")
    agent = actors["agent"]
    ack = step(agent, ref, "acknowledged")["event"]["seq"]
    url = f"{actors['url']}/v1/complaints/{ref}/bundle"
    # The customer's own export leaves out what the secret may not read yet.
    r = customer.session.post(url, json={}, timeout=60)
    assert r.status_code == 201, r.text
    assert _bodies_in(r.content) == {0}  # their own description only
    # Legal's export holds every body: the secret may not fetch it while the gate is closed.
    legal = Client(actors["url"], actors["tokens"]["legal"])
    r = legal.session.post(url, json={}, timeout=60)
    assert r.status_code == 201, r.text
    assert ack in _bodies_in(r.content)
    stored = f"{actors['url']}{r.headers['Location']}"
    refused = customer.session.get(stored, timeout=30)
    assert refused.status_code == 403, refused.text
    assert refused.headers["Content-Type"] == PROBLEM
    step(agent, ref, "identity_verified", {"method": "video_call"}, {"check_reference": "IDV-1"})
    opened = customer.session.get(stored, timeout=30)
    assert opened.status_code == 200 and ack in _bodies_in(opened.content)


def test_other_categories_show_the_secret_every_body(actors) -> None:
    ref, customer = file(actors, "sync_fault")
    step(actors["agent"], ref, "acknowledged")
    timeline = customer.get(f"/v1/complaints/{ref}/timeline")["events"]
    assert all(e["body"] is not None and "withheld" not in e for e in timeline)


# --- mass incidents ---------------------------------------------------------------------------


def _linked(actors, n: int) -> list[str]:
    refs = []
    for category in ("stuck_transaction", "sync_fault", "integration_problem")[:n]:
        ref, _ = file(actors, category)
        step(actors["agent"], ref, "acknowledged")
        step(actors["agent"], ref, "incident_linked", {"incident": INCIDENT},
             {"title": "Node outage"})  # fmt: skip
        refs.append(ref)
    return refs


def test_one_holding_reply_to_every_linked_complaint(actors, ledger) -> None:
    refs = _linked(actors, 3)
    agent, regulator = actors["agent"], actors["regulator"]
    # One already had its holding reply: the domain allows one per cycle.
    step(agent, refs[2], "holding_reply", body={"reason": "Checking with our bank partner."})

    view = regulator.get(f"/v1/incidents/{INCIDENT}")
    assert [c["reference"] for c in view["complaints"]] == refs
    assert {c["status"] for c in view["complaints"]} == {"acknowledged", "investigating"}
    assert view["complaints"][1]["category"] == "sync_fault"
    assert all(c["linked_at"] for c in view["complaints"])
    assert agent.get(f"/v1/complaints/{refs[0]}")["incident"] == INCIDENT

    before = {ref: len(events(actors, ref)) for ref in refs}
    reason = {"reason": "A node outage delays every transfer; we are on it."}
    key = uuid.uuid4().hex
    answer = agent.post(f"/v1/incidents/{INCIDENT}/holding-reply", reason, expect=200, key=key)
    assert answer["recorded"] == 2 and answer["skipped"] == 1
    outcomes = {c["reference"]: c for c in answer["complaints"]}
    assert outcomes[refs[2]]["outcome"] == "skipped"
    assert outcomes[refs[2]]["code"] == "HOLDING_REPLY_ALREADY_SENT"
    assert len(events(actors, refs[2])) == before[refs[2]]  # nothing written for it
    for ref in refs[:2]:
        assert outcomes[ref]["outcome"] == "recorded"
        assert outcomes[ref]["status"] == "investigating"
        last = events(actors, ref)[-1]
        assert last["type"] == "holding_reply" and last["log_index"] == outcomes[ref]["log_index"]
        assert last["body"]["incident"] == INCIDENT
        assert last["body"]["reason"] == reason["reason"]
        letter = last["body"]["message"]
        assert INCIDENT in letter["subject"] and reason["reason"] in letter["text"]
        assert len(events(actors, ref)) == before[ref] + 1

    # A retry with the same key answers the same, and writes nothing.
    logged = size(ledger)
    again = agent.post(f"/v1/incidents/{INCIDENT}/holding-reply", reason, expect=200, key=key)
    assert again == answer and size(ledger) == logged
    # The same key for another request is refused before anything is written.
    other = requests.post(
        f"{actors['url']}/v1/incidents/{INCIDENT}/holding-reply",
        json={"reason": "Something else."},
        headers={"Authorization": f"Bearer {actors['tokens']['agent']}", "Idempotency-Key": key},
        timeout=30,
    )
    assert other.status_code == 422 and other.json()["type"] == "/problems/idempotency-key-reused"
    # Without a key, a second reply is refused on every complaint: nothing written.
    second = agent.post(f"/v1/incidents/{INCIDENT}/holding-reply", reason, expect=200)
    assert second["recorded"] == 0 and size(ledger) == logged
    assert {c["code"] for c in second["complaints"]} == {"HOLDING_REPLY_ALREADY_SENT"}


def test_a_complaint_is_linked_to_one_incident(actors) -> None:
    [ref] = _linked(actors, 1)
    again = step(actors["agent"], ref, "incident_linked", {"incident": "INC-2026-0043"},
                 expect=409)  # fmt: skip
    assert again["code"] == "INCIDENT_ALREADY_LINKED"


@pytest.mark.parametrize(
    ("path", "body", "status", "slug"),
    [
        (f"/v1/incidents/{INCIDENT}/holding-reply", {}, 422, "validation-error"),
        (f"/v1/incidents/{INCIDENT}/holding-reply", {"reason": ""}, 422, "validation-error"),
        (
            f"/v1/incidents/{INCIDENT}/holding-reply",
            {"reason": "x", "extra": 1},
            422,
            "validation-error",
        ),
        ("/v1/incidents/INC-42/holding-reply", {"reason": "x"}, 404, "not-found"),
        ("/v1/incidents/INC-2026-9999/holding-reply", {"reason": "x"}, 404, "not-found"),
    ],
)
def test_bad_incident_requests_are_problems_and_write_nothing(
    actors, ledger, path, body, status, slug
) -> None:
    _linked(actors, 1)
    before = size(ledger)
    r = requests.post(
        actors["url"] + path,
        json=body,
        headers={"Authorization": f"Bearer {actors['tokens']['agent']}"},
        timeout=30,
    )
    assert r.status_code == status and r.headers["Content-Type"] == PROBLEM, r.text
    assert r.json()["type"] == f"/problems/{slug}"
    assert size(ledger) == before


def test_incidents_are_for_staff(actors, ledger) -> None:
    [ref] = _linked(actors, 1)
    url = f"{actors['url']}/v1/incidents/{INCIDENT}"
    assert requests.get(url, timeout=30).status_code == 401
    before = size(ledger)
    for token, status in ((actors["tokens"]["regulator"], 403), (actors["tokens"]["legal"], 403)):
        r = requests.post(url + "/holding-reply", json={"reason": "x"},
                          headers={"Authorization": f"Bearer {token}"}, timeout=30)  # fmt: skip
        assert r.status_code == status and r.headers["Content-Type"] == PROBLEM
    assert size(ledger) == before
    bad = requests.get(f"{actors['url']}/v1/incidents/inc-1",
                       headers={"Authorization": f"Bearer {actors['tokens']['agent']}"},
                       timeout=30)  # fmt: skip
    assert bad.status_code == 404 and bad.json()["code"] == "INVALID_INCIDENT"
    wrong = step(actors["agent"], ref, "incident_linked", {"incident": "outage"}, expect=422)
    assert wrong["type"] == "/problems/invalid-payload"


def test_bad_playbook_input_is_refused_with_nothing_written(actors, ledger) -> None:
    ref, _ = file(actors, "hacked_account")
    agent = actors["agent"]
    step(agent, ref, "acknowledged")
    before = size(ledger)
    fixed = step(agent, ref, "target_set", {"target_minutes": 60, "limit_minutes": 120},
                 expect=409)  # fmt: skip
    assert fixed["code"] == "TARGET_FIXED"
    unknown = step(agent, ref, "playbook_step", {"step": "answer_given"}, expect=409)
    assert unknown["code"] == "PLAYBOOK_STEP_UNKNOWN"
    bad = step(agent, ref, "playbook_step", {"step": "teleported"}, expect=422)
    assert bad["type"] == "/problems/invalid-payload"
    no_method = step(agent, ref, "identity_verified", {}, {"check_reference": "x"}, expect=422)
    assert no_method["type"] == "/problems/invalid-payload"
    assert size(ledger) == before
