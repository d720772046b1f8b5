"""The attachment API: uploads with their limits and type checks (clear problem+json, nothing
stored), downloads that no browser renders in our origin, who may do either, the access
record of staff reads, and the write path's check that a step lists only uploaded files."""

from __future__ import annotations

import hashlib
import http.client
import json

import pytest
import requests

from ledger.attachments.backends import blob_key
from tests.attachments.conftest import JPEG, PDF, TEXT, WEBP, auth, png

PROBLEM = "application/problem+json"


def stored_files(ledger) -> list[str]:
    root = ledger.attachments.backend.root
    return sorted(p.name for p in root.rglob("*") if p.is_file()) if root.exists() else []


def events(client, case) -> int:
    return client.get(f"/v1/complaints/{case.ref}", headers=auth(case.secret)).json["events"]


@pytest.mark.parametrize(
    ("data", "media_type"),
    [(png(), "image/png"), (JPEG, "image/jpeg"), (WEBP, "image/webp"), (PDF, "application/pdf"),
     (TEXT, "text/plain; charset=utf-8")],
)  # fmt: skip
def test_upload_and_download_each_accepted_type(client, ledger, case, data, media_type) -> None:
    sha = hashlib.sha256(data).hexdigest()
    r = case.upload(client, data, media_type, **{"X-Filename": "r%C3%A9sum%C3%A9 1.bin"})
    assert r.status_code == 201, r.json
    assert r.json == {
        "sha256": sha,
        "size": len(data),
        "media_type": media_type.split(";")[0],
        "name": "résumé 1.bin",
    }
    assert r.headers["Location"] == f"/v1/complaints/{case.ref}/attachments/{sha}"
    assert r.headers["Cache-Control"] == "no-store"
    path = ledger.settings.data_dir / "attachments" / blob_key(sha)
    assert path.read_bytes() == data

    d = client.get(r.headers["Location"], headers=auth(case.secret))
    assert d.status_code == 200 and d.data == data
    assert d.mimetype == media_type.split(";")[0]
    assert d.headers["X-Content-Type-Options"] == "nosniff"
    assert d.headers["Content-Security-Policy"] == "sandbox; default-src 'none'"
    assert d.headers["Content-Disposition"] == (
        "attachment; filename=\"r_sum_ 1.bin\"; filename*=UTF-8''r%C3%A9sum%C3%A9%201.bin"
    )
    assert d.headers["Cache-Control"] == "no-store" and d.headers["ETag"] == f'"{sha}"'


def test_staff_upload_and_a_file_twice_is_the_same_file(client, ledger, case) -> None:
    first = case.upload(client, PDF, "application/pdf", case.keys["agent"])
    again = case.upload(client, PDF, "application/pdf", case.keys["legal"])
    assert first.status_code == again.status_code == 201
    assert first.json["sha256"] == again.json["sha256"]
    assert first.json["name"] == f"attachment-{first.json['sha256'][:12]}.pdf"
    assert stored_files(ledger) == [first.json["sha256"]]


@pytest.mark.parametrize(
    ("data", "media_type", "status", "type_", "code", "words"),
    [
        (PDF, "image/png", 415, "unsupported-media-type", "ATTACHMENT_TYPE_MISMATCH",
         "bytes are a PDF document, not a PNG image"),
        (b"<svg onload=alert(1)>", "image/png", 415, "unsupported-media-type",
         "ATTACHMENT_TYPE_MISMATCH", "not a PNG image"),
        (b"MZ\x90\x00\x03\x00\x00\x00", "application/pdf", 415, "unsupported-media-type",
         "ATTACHMENT_TYPE_MISMATCH", "none of PNG, JPEG, WebP, PDF or plain text"),
        (b"<html><script>x</script></html>", "text/html", 415, "unsupported-media-type",
         "ATTACHMENT_TYPE_NOT_ALLOWED", "text/html are not accepted"),
        (b'{"a": 1}', "application/json", 415, "unsupported-media-type",
         "ATTACHMENT_TYPE_NOT_ALLOWED", "application/json are not accepted"),
        (png(), "", 415, "unsupported-media-type", "ATTACHMENT_TYPE_NOT_ALLOWED",
         "Content-Type"),
        (b"", "image/png", 422, "validation-error", "ATTACHMENT_EMPTY", "empty"),
    ],
)  # fmt: skip
def test_refusals_are_clear_and_store_nothing(
    client, ledger, case, data, media_type, status, type_, code, words
) -> None:
    r = case.upload(client, data, media_type)
    assert r.status_code == status and r.mimetype == PROBLEM, r.json
    assert r.json["type"] == f"/problems/{type_}" and r.json["code"] == code
    assert words in r.json["detail"]
    if status == 415:
        assert r.json["accepted"] == [
            "image/png", "image/jpeg", "image/webp", "application/pdf", "text/plain"
        ]  # fmt: skip
    assert stored_files(ledger) == []


def test_an_oversized_file_is_refused_unread(client, ledger, case, live_server) -> None:
    ledger.attachments.max_bytes = 1000
    big = png(b"x" * 1000)
    r = case.upload(client, big, "image/png")
    assert r.status_code == 413 and r.mimetype == PROBLEM
    assert r.json["type"] == "/problems/payload-too-large"
    assert r.json["code"] == "ATTACHMENT_TOO_LARGE" and r.json["max_bytes"] == 1000
    assert "at most 1000 bytes" in r.json["detail"]
    # Exactly the maximum is fine; without a Content-Length (chunked), refused at the first
    # byte over it, over real HTTP.
    ok = png(b"y" * (1000 - len(png(b""))))
    assert len(ok) == 1000 and case.upload(client, ok, "image/png").status_code == 201

    sent = []

    def chunks():
        for _ in range(64):  # 64 KiB offered; the server stops reading after 1001 bytes
            sent.append(1)
            yield b"\x89PNG\r\n\x1a\n" + b"z" * 1016

    url = f"{live_server.url}/v1/complaints/{case.ref}/attachments"
    r = requests.post(
        url, data=chunks(), headers={**auth(case.secret), "Content-Type": "image/png"}, timeout=30
    )
    assert r.status_code == 413 and r.json()["code"] == "ATTACHMENT_TOO_LARGE"
    assert stored_files(ledger) == [hashlib.sha256(ok).hexdigest()]


def test_a_declared_oversized_body_is_refused_before_it_is_read(ledger, case, live_server) -> None:
    ledger.attachments.max_bytes = 1000
    host, port = live_server.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.putrequest("POST", f"/v1/complaints/{case.ref}/attachments")
    for name, value in {**auth(case.secret), "Content-Type": "image/png"}.items():
        conn.putheader(name, value)
    conn.putheader("Content-Length", str(50 * 1024 * 1024))  # declared; 8 bytes are sent
    conn.endheaders(b"\x89PNG\r\n\x1a\n")
    r = conn.getresponse()  # answered at once: the server does not wait for 50 MiB
    assert r.status == 413 and json.loads(r.read())["code"] == "ATTACHMENT_TOO_LARGE"
    conn.close()


def test_who_may_upload_and_download(client, ledger, case, other) -> None:
    url = f"/v1/complaints/{case.ref}/attachments"
    for role in ("regulator", "admin"):
        r = case.upload(client, PDF, "application/pdf", case.keys[role])
        assert r.status_code == 403 and r.mimetype == PROBLEM
    r = client.post(url, data=PDF, headers={"Content-Type": "application/pdf"})
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
    r = case.upload(client, PDF, "application/pdf", other.secret)  # another complaint's secret
    assert r.status_code == 401 and r.mimetype == PROBLEM
    assert stored_files(ledger) == []

    sha = case.upload(client, PDF, "application/pdf").json["sha256"]
    file_url = f"{url}/{sha}"
    assert client.get(file_url).status_code == 401
    assert client.get(file_url, headers=auth(other.secret)).status_code == 401
    # The other complaint's own secret on its own reference: no such file there.
    r = client.get(f"/v1/complaints/{other.ref}/attachments/{sha}", headers=auth(other.secret))
    assert r.status_code == 404 and r.json["code"] == "ATTACHMENT_NOT_FOUND"
    for role in ("agent", "officer", "supervisor", "legal", "regulator", "admin"):
        r = client.get(file_url, headers=auth(case.keys[role]))
        assert r.status_code == 200 and r.data == PDF, role
    for bad in ("0" * 64, "not-a-hash", sha.upper()):
        r = client.get(f"{url}/{bad}", headers=auth(case.secret))
        assert r.status_code == 404 and r.mimetype == PROBLEM
    r = client.post(
        "/v1/complaints/CMP-00000-00000-00000-00000-00000/attachments",
        data=PDF,
        headers={**auth(case.keys["agent"]), "Content-Type": "application/pdf"},
    )
    assert r.status_code == 404 and r.mimetype == PROBLEM


def test_staff_reads_are_in_the_access_record(client, case) -> None:
    sha = case.upload(client, TEXT, "text/plain").json["sha256"]
    url = f"/v1/complaints/{case.ref}/attachments/{sha}"
    assert client.get(url, headers=auth(case.secret)).status_code == 200  # customers: not
    for role in ("agent", "regulator"):
        assert client.get(url, headers=auth(case.keys[role])).status_code == 200
    log = client.get(f"/v1/complaints/{case.ref}/access-log", headers=auth(case.keys["admin"]))
    reads = [(r["role"], r["action"]) for r in log.json["reads"]]
    assert reads == [("agent", f"attachment:{sha[:32]}"), ("regulator", f"attachment:{sha[:32]}")]
    assert client.get(f"{url[:-1]}0", headers=auth(case.keys["agent"])).status_code == 404
    assert len(client.get(f"/v1/complaints/{case.ref}/access-log",
                          headers=auth(case.keys["admin"])).json["reads"]) == 2  # fmt: skip


def test_a_step_lists_only_files_uploaded_to_its_complaint(client, ledger, case, other) -> None:
    mine = case.upload(client, png(b"mine"), "image/png").json
    theirs = other.upload(client, png(b"theirs"), "image/png").json
    before = events(client, case)

    def refused(listing, why):
        r = case.step(client, "evidence_added", {"description": "s", "attachments": [listing]})
        assert r.status_code == 422 and r.mimetype == PROBLEM, r.json
        assert r.json["code"] == "ATTACHMENT_NOT_UPLOADED" and why in r.json["detail"]
        assert r.json["errors"] == {"json": {"body.attachments[0]": [r.json["detail"][21:]]}}

    refused({**mine, "sha256": "ab" * 32}, "no file with SHA-256")
    refused(theirs, "no file with SHA-256")  # uploaded, but to another complaint
    refused({**mine, "size": mine["size"] + 1}, f"has size {mine['size']}")
    refused({**mine, "media_type": "image/jpeg"}, "media_type image/png")
    refused({"name": "x.png", "sha256": mine["sha256"]}, "list it with the size and media_type")
    assert events(client, case) == before  # nothing written

    r = case.step(client, "evidence_added", {"description": "s", "attachments": [mine]})
    assert r.status_code == 201, r.json
    timeline = client.get(f"/v1/complaints/{case.ref}/timeline", headers=auth(case.secret)).json
    assert timeline["events"][-1]["body"]["attachments"] == [mine]


def test_files_are_taken_only_while_a_step_could_list_them(client, case) -> None:
    r = case.step(client, "withdrawn", {})
    assert r.status_code == 201, r.json
    r = case.upload(client, PDF, "application/pdf")
    assert r.status_code == 409 and r.json["code"] == "ATTACHMENTS_NOT_ACCEPTED"
    assert "withdrawn" in r.json["detail"]


def test_the_openapi_documents_both_endpoints(client) -> None:
    spec = client.get("/openapi.json").json
    upload = spec["paths"]["/v1/complaints/{reference}/attachments"]["post"]
    assert set(upload["requestBody"]["content"]) == {
        "image/png", "image/jpeg", "image/webp", "application/pdf", "text/plain"
    }  # fmt: skip
    assert {"201", "401", "403", "404", "409", "413", "415", "422"} <= set(upload["responses"])
    assert any(p["name"] == "X-Filename" for p in upload["parameters"])
    download = spec["paths"]["/v1/complaints/{reference}/attachments/{sha256}"]["get"]
    assert "image/png" in download["responses"]["200"]["content"]


def test_uploads_are_not_held_to_the_json_request_limit(client, ledger, case) -> None:
    big = b"line of a long statement\n" * 20_000  # 500 kB, over LEDGER_MAX_REQUEST_BYTES
    assert len(big) > ledger.settings.max_request_bytes
    r = case.upload(client, big, "text/plain")
    assert r.status_code == 201 and r.json["size"] == len(big)
    r = client.post(
        f"/v1/complaints/{case.ref}/events",
        data=b'{"type": "withdrawn", "body": {"x": "' + b"y" * 70_000 + b'"}}',
        headers={**auth(case.secret), "Content-Type": "application/json"},
    )
    assert r.status_code == 413  # the JSON API keeps its own limit


def test_files_wait_for_the_identity_check_as_their_bodies_do(client, keys) -> None:
    """lost_recovery_phrase: the default rules show the secret staff's bodies only once the
    customer's identity is verified; so the files those bodies list."""
    filed = client.post(
        "/v1/complaints",
        json={"category": "lost_recovery_phrase", "channel": "email", "description": "lost"},
    ).json
    ref, secret = filed["reference"], filed["secret"]
    staff = client.post(
        f"/v1/complaints/{ref}/attachments",
        data=PDF,
        headers={**auth(keys["agent"]), "Content-Type": "application/pdf"},
    ).json
    mine = client.post(
        f"/v1/complaints/{ref}/attachments",
        data=TEXT,
        headers={**auth(secret), "Content-Type": "text/plain"},
    ).json
    for token, listing in ((keys["agent"], staff), (secret, mine)):
        r = client.post(
            f"/v1/complaints/{ref}/events",
            json={"type": "evidence_added", "body": {"description": "d", "attachments": [listing]}},
            headers=auth(token),
        )
        assert r.status_code == 201, r.json
    url = f"/v1/complaints/{ref}/attachments"
    assert client.get(f"{url}/{staff['sha256']}", headers=auth(secret)).status_code == 404
    assert client.get(f"{url}/{staff['sha256']}", headers=auth(keys["agent"])).status_code == 200
    assert client.get(f"{url}/{mine['sha256']}", headers=auth(secret)).status_code == 200
