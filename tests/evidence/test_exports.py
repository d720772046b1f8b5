"""Exporting evidence (issue 12): the longest texts render in every script, an export is a POST
recorded once per distinct bundle and fetched again by a cheap GET, exports are limited per
caller, a bulk export records exactly what it delivers, and regulators never get bodies."""

from __future__ import annotations

import dataclasses
import hashlib
import html
import json

import pytest
from sqlalchemy import func, select, update

from api import create_app
from ledger.access.apikeys import create_api_key
from ledger.casework.records import AccessRecord, ComplaintEvent, EventBody
from ledger.complaints.payloads import MAX_TEXT
from ledger.runtime import open_ledger
from ledger.verify.bundle import verify_bundle, verify_export
from tests.support.bundles import export, get_bundle, unzip
from tests.support.complaint_api import Client, run_lifecycle
from tests.support.pdftext import pdf_pages, report_text, squeeze

# One sentence per language of the service; repeated to the longest text the API accepts.
SCRIPTS = {
    "en": "My withdrawal of 0.5 BTC (ref #42) has been pending since Monday & <nothing> moves. ",
    "ca": "La meva retirada s'ha endarrerit; l'àvia va pagar 12,50 € i ningú no respon. Però? ",
    "pt": "A transferência não chegou à minha conta; já paguei as comissões duas vezes. Ações? ",
    "zh": "我的提现已经等待了好几个小时，交易哈希是零叉甲乙丙，请尽快处理并退还手续费。",
    "lt": "Mano pervedimas užstrigo; ąčęėįšųūž ĄČĘĖĮŠŲŪŽ – mokestis buvo nuskaičiuotas dukart. ",
    "ru": "Мой перевод завис уже девять часов; комиссия списана дважды. Ёлки-палки, где деньги? ",
}


def longest(language: str, tag: str = "") -> str:
    """A text of exactly MAX_TEXT characters, numbered so that no part repeats another."""
    parts, n = [], 0
    while sum(map(len, parts)) < MAX_TEXT:
        parts.append(f"{tag}{n}. {SCRIPTS[language]}")
        n += 1
    return "".join(parts)[: MAX_TEXT - 1] + "."


def file_complaint(actors: dict, description: str, language: str = "en") -> tuple[str, str]:
    body = {
        "category": "stuck_transaction",
        "channel": "web_form",
        "language": language,
        "description": description,
    }
    # UTF-8 as is (not \u-escaped): 20,000 Chinese characters are 60 kB, within the 64 KiB cap.
    r = actors["anon"].session.post(
        f"{actors['url']}/v1/complaints",
        data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert r.status_code == 201, r.text
    return r.json()["reference"], r.json()["secret"]


def timeline_types(actors: dict, ref: str) -> list[str]:
    events = actors["legal"].get(f"/v1/complaints/{ref}/timeline")["events"]
    return [e["type"] for e in events]


def reads(actors: dict, ref: str) -> list[dict]:
    return actors["legal"].get(f"/v1/complaints/{ref}/access-log")["reads"]


@pytest.mark.parametrize("language", sorted(SCRIPTS))
def test_longest_text_in_every_script_renders_across_pages(actors, vkey, language) -> None:
    text = longest(language)
    assert len(text) == MAX_TEXT
    ref, _ = file_complaint(actors, text, language)
    note = longest(language, "N")  # a second long text: an internal note
    actors["agent"].post(f"/v1/complaints/{ref}/events", {"type": "acknowledged"})
    r = actors["agent"].session.post(
        f"{actors['url']}/v1/complaints/{ref}/events",
        data=json.dumps(
            {"type": "note_added", "body": {"text": note}}, ensure_ascii=False
        ).encode(),
        headers={"Content-Type": "application/json; charset=utf-8"},
        timeout=30,
    )
    assert r.status_code == 201, r.text
    r = get_bundle(actors, ref, expect=201)
    assert verify_bundle(r.content, log_key=vkey).ok
    files = unzip(r.content)
    title = f"Evidence bundle — complaint {ref}"
    pdf = files["report.pdf"]
    rendered = squeeze(report_text(pdf, title))
    # Several pages, and both texts are in the PDF in full (line breaks aside).
    assert len(pdf_pages(pdf)) >= 6
    assert squeeze(text) in rendered
    assert squeeze(note) in rendered
    assert html.escape(text) in files["report.html"].decode("utf-8")


def test_export_is_a_post_recorded_once_and_fetched_again_by_a_read(actors, ledger) -> None:
    ref, _ = run_lifecycle(actors)
    url = f"{actors['url']}/v1/complaints/{ref}/bundle"
    legal = actors["legal"].session
    # The old GET is gone: a GET never builds or records anything.
    old = legal.get(url, timeout=30)
    assert old.status_code == 405 and old.headers["Content-Type"] == "application/problem+json"
    assert old.headers["Allow"] == "OPTIONS, POST"

    first = export(actors, ref)
    assert first.status_code == 201, first.text
    sha = hashlib.sha256(first.content).hexdigest()
    location = first.headers["Location"]
    assert location == f"/v1/complaints/{ref}/bundles/{sha}"
    again = export(actors, ref)
    assert again.status_code == 200 and again.content == first.content
    assert again.headers["X-Export-Log-Index"] == first.headers["X-Export-Log-Index"]
    assert timeline_types(actors, ref).count("bundle_exported") == 1
    assert [x["action"] for x in reads(actors, ref)].count("bundle") == 2  # each read recorded

    size = ledger.store.latest_checkpoint().size
    fetched = legal.get(actors["url"] + location, timeout=30)
    assert fetched.status_code == 200 and fetched.content == first.content
    assert fetched.headers["Content-Type"] == "application/zip"
    assert fetched.headers["X-Bundle-SHA256"] == sha and fetched.headers["ETag"] == f'"{sha}"'
    assert ledger.store.latest_checkpoint().size == size  # no new log entry
    assert any(x["action"] == "bundle-download" for x in reads(actors, ref))
    # Who may fetch: as for exporting.
    assert actors["agent"].session.get(actors["url"] + location, timeout=30).status_code == 403
    assert actors["anon"].session.get(actors["url"] + location, timeout=30).status_code == 401
    missing = legal.get(f"{actors['url']}/v1/complaints/{ref}/bundles/{'0' * 64}", timeout=30)
    assert missing.status_code == 404
    assert missing.headers["Content-Type"] == "application/problem+json"

    # After an erasure the stored bytes (with the erased body) are never served again.
    received = actors["legal"].get(f"/v1/complaints/{ref}/timeline")["events"][0]
    actors["legal"].post(
        f"/v1/complaints/{ref}/erasures", {"target": received["leaf_hash"], "basis": "gdpr_art17"}
    )
    gone = legal.get(actors["url"] + location, timeout=30)
    assert gone.status_code == 410
    assert gone.json()["type"] == "/problems/export-expired"
    with ledger.engine.connect() as conn:
        from ledger.casework.exports import EvidenceExport

        data = conn.execute(
            select(EvidenceExport.data).where(EvidenceExport.bundle_sha256 == sha)
        ).scalar_one()
    assert data is None  # deleted, not just hidden


@pytest.fixture
def limited(settings):
    """An app whose exports are limited to 2 a minute per caller and kept 0 hours."""
    led = open_ledger(
        dataclasses.replace(
            settings,
            export_rate_limit="2/minute",
            bulk_export_rate_limit="1/minute",
            export_retention_hours=0,
        )
    )
    yield led, create_app(led.settings, led).test_client()
    led.close()


def test_exports_are_limited_per_caller(limited) -> None:
    led, client = limited
    filed = client.post(
        "/v1/complaints",
        json={"category": "hacked_account", "channel": "email", "description": "Locked out."},
    )
    assert filed.status_code == 201, filed.data
    ref = filed.json["reference"]
    keys = [create_api_key(led.engine, f"legal {n}", "legal")[0] for n in range(2)]
    headers = [{"Authorization": f"Bearer {k}"} for k in keys]
    url = f"/v1/complaints/{ref}/bundle"
    assert client.post(url, json={}, headers=headers[0]).status_code == 201
    assert client.post(url, json={}, headers=headers[0]).status_code == 200
    refused = client.post(url, json={}, headers=headers[0])
    assert refused.status_code == 429
    assert refused.mimetype == "application/problem+json"
    assert refused.json["type"] == "/problems/rate-limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    # Another caller has its own allowance, and so has the complaint's customer.
    assert client.post(url, json={}, headers=headers[1]).status_code == 200
    # (no internal notes here: the customer's bundle is that same bundle, already recorded)
    secret = {"Authorization": f"Bearer {filed.json['secret']}"}
    assert client.post(url, json={}, headers=secret).status_code == 200

    # Kept for 0 hours: fetching the export again says it is gone (410), export again.
    first = client.post(url, json={}, headers=headers[1])
    expired = client.get(first.headers["Location"], headers=headers[1])
    assert expired.status_code == 410 and expired.json["type"] == "/problems/export-expired"

    # Bulk exports have their own, smaller limit.
    regulator = {"Authorization": f"Bearer {create_api_key(led.engine, 'r', 'regulator')[0]}"}
    body = {"category": "hacked_account"}
    assert client.post("/v1/evidence/exports", json=body, headers=regulator).status_code == 200
    assert client.post("/v1/evidence/exports", json=body, headers=regulator).status_code == 429


def test_bulk_export_failing_part_way_records_nothing(actors, ledger) -> None:
    refs = sorted(file_complaint(actors, f"Complaint number {n}.")[0] for n in range(3))
    # The database's copy of the last complaint's body no longer opens its commitment: the
    # ledger refuses to sign evidence that does not verify, after building the others.
    with ledger.engine.begin() as conn:
        leaf = conn.execute(
            select(ComplaintEvent.leaf_hash).where(
                ComplaintEvent.reference == refs[-1], ComplaintEvent.seq == 0
            )
        ).scalar_one()
        conn.execute(
            update(EventBody)
            .where(EventBody.leaf_hash == leaf)
            .values(body_jcs=b'{"description":"altered"}')
        )
    size = ledger.store.latest_checkpoint().size
    r = actors["legal"].session.post(
        f"{actors['url']}/v1/evidence/exports", json={"category": "stuck_transaction"}, timeout=60
    )
    assert r.status_code == 500, r.text
    assert r.headers["Content-Type"] == "application/problem+json"
    assert ledger.store.latest_checkpoint().size == size  # nothing on the log
    for ref in refs:
        assert "bundle_exported" not in timeline_types(actors, ref)
    with ledger.engine.connect() as conn:
        exported = conn.execute(
            select(func.count())
            .select_from(AccessRecord)
            .where(AccessRecord.action == "bulk-export")
        ).scalar_one()
    assert exported == 0  # nobody received anything, so no read is recorded either


def _note(actors: dict, ref: str, text: str) -> None:
    actors["legal"].post(f"/v1/complaints/{ref}/events", {"type": "reopened"})
    actors["agent"].post(
        f"/v1/complaints/{ref}/events", {"type": "note_added", "body": {"text": text}}
    )


def test_regulator_bulk_export_holds_no_body_salt_or_note(actors, vkey) -> None:
    ref, _ = run_lifecycle(actors)
    _note(actors, ref, "Internal: fee estimator bug #42")
    regulator = actors["regulator"].session
    url = f"{actors['url']}/v1/evidence/exports"
    # Asking for bodies is refused, whatever the default.
    asked = regulator.post(url, json={"category": "stuck_transaction", "include_bodies": True})
    assert asked.status_code == 403
    assert asked.headers["Content-Type"] == "application/problem+json"
    r = regulator.post(url, json={"category": "stuck_transaction"}, timeout=60)
    assert r.status_code == 200, r.text
    assert verify_export(r.content, log_key=vkey).ok
    inner = unzip(unzip(r.content)[f"bundles/{ref}.zip"])
    assert not [n for n in inner if n.endswith((".body.json", ".salt.hex"))]
    proof = json.loads(inner["proof.json"])
    assert not any("body" in e or "salt" in e for e in proof["events"])
    everything = r.content + b"".join(inner.values())
    for private in (b"fee estimator bug", b"Ana Silva", b"pending for 9 hours"):
        assert private not in everything
    assert not any(x["role"] == "regulator" for x in reads(actors, ref))
    assert json.loads(unzip(r.content)["index.json"])["filters"]["include_bodies"] is False


def test_legal_bulk_export_holds_bodies_and_is_in_the_access_log(actors, vkey) -> None:
    ref, _ = run_lifecycle(actors)
    _note(actors, ref, "Internal: fee estimator bug #42")
    r = actors["legal"].session.post(
        f"{actors['url']}/v1/evidence/exports", json={"category": "stuck_transaction"}, timeout=60
    )
    assert r.status_code == 200, r.text
    assert verify_export(r.content, log_key=vkey).ok
    inner = unzip(unzip(r.content)[f"bundles/{ref}.zip"])
    assert "events/000-received.body.json" in inner and "events/000-received.salt.hex" in inner
    assert b"fee estimator bug #42" in inner["events/013-note_added.body.json"]
    exported = [x for x in reads(actors, ref) if x["action"] == "bulk-export"]
    assert len(exported) == 1 and exported[0]["role"] == "legal"
    assert timeline_types(actors, ref)[-1] == "bundle_exported"
    # Without bodies when legal asks so: nothing personal, and no access record.
    lean = actors["legal"].session.post(
        f"{actors['url']}/v1/evidence/exports",
        json={"category": "stuck_transaction", "include_bodies": False},
        timeout=60,
    )
    assert lean.status_code == 200
    lean_bundle = unzip(unzip(lean.content)[f"bundles/{ref}.zip"])
    assert b"fee estimator bug" not in b"".join(lean_bundle.values())
    assert len([x for x in reads(actors, ref) if x["action"] == "bulk-export"]) == 1


def test_simultaneous_exports_of_one_bundle_record_it_once(actors) -> None:
    from concurrent.futures import ThreadPoolExecutor

    ref, _ = run_lifecycle(actors)
    tokens = [actors["tokens"]["legal"], actors["tokens"]["admin"]] * 2
    with ThreadPoolExecutor(len(tokens)) as pool:
        answers = list(pool.map(lambda t: export(actors, ref, t), tokens))
    assert sorted(r.status_code for r in answers) == [200, 200, 200, 201]
    assert len({r.content for r in answers}) == 1
    assert len({r.headers["X-Export-Log-Index"] for r in answers}) == 1
    assert timeline_types(actors, ref).count("bundle_exported") == 1


def test_a_stored_export_is_refused_to_everyone_but_its_readers(actors) -> None:
    """Only legal/admin and the complaint's own customer fetch an export again, and the
    customer only an export without internal notes (as in the customer's timeline)."""
    ref, secret = file_complaint(actors, "The fee on my withdrawal was charged twice.")
    _, other_secret = file_complaint(actors, "My balance shows zero.")
    steps = f"/v1/complaints/{ref}/events"
    actors["agent"].post(steps, {"type": "acknowledged"})
    actors["agent"].post(steps, {"type": "note_added", "body": {"text": "internal: check fee"}})
    staff = export(actors, ref)
    assert staff.status_code == 201, staff.text
    staff_copy = actors["url"] + staff.headers["Location"]
    assert b"internal: check fee" in b"".join(unzip(staff.content).values())

    def fetch(url: str, token: str) -> int:
        return Client(actors["url"], token).session.get(url, timeout=30).status_code

    regulator = actors["tokens"]["regulator"]
    assert fetch(staff_copy, secret) == 403  # holds a note the customer never sees
    assert fetch(staff_copy, other_secret) == 401  # another complaint's secret is no credential
    assert fetch(staff_copy, regulator) == 403  # regulators never receive bodies

    own = export(actors, ref, secret)
    assert own.status_code == 201, own.text
    own_copy = actors["url"] + own.headers["Location"]
    assert own_copy != staff_copy
    assert b"internal: check fee" not in b"".join(unzip(own.content).values())
    assert fetch(own_copy, secret) == 200
    assert fetch(own_copy, other_secret) == 401
    assert fetch(own_copy, regulator) == 403
