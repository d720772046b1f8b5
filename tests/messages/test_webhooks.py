"""Webhooks per Standard Webhooks: endpoints registered by an admin (the secret shown once,
sealed at rest), every delivery signed and verified by the receiver, retried with the same
webhook-id until taken, and nothing sent to a removed endpoint."""

from __future__ import annotations

import logging
import stat

from sqlalchemy import select

from ledger.access.apikeys import create_api_key
from ledger.messages.models import WebhookEndpoint
from tests.messages.conftest import EMAIL, acknowledge, events_of, file_complaint, outbox, payloads


def auth(ledger, role: str = "admin") -> dict:
    token, _ = create_api_key(ledger.engine, f"test {role}", role)
    return {"Authorization": f"Bearer {token}"}


def register(client, headers, url: str, event_types=None) -> dict:
    body = {"url": url} if event_types is None else {"url": url, "event_types": event_types}
    resp = client.post("/v1/webhook-endpoints", json=body, headers=headers)
    assert resp.status_code == 201, resp.json
    return resp.json


def test_the_secret_is_shown_once_and_sealed_at_rest(ledger, client) -> None:
    admin = auth(ledger)
    created = register(client, admin, "https://hooks.example/in", ["acknowledged", "decision"])
    secret = created["secret"]
    assert secret.startswith("whsec_") and created["id"].startswith("ep_")
    assert created["event_types"] == ["acknowledged", "decision"] and created["active"]
    listing = client.get("/v1/webhook-endpoints", headers=admin)
    assert listing.status_code == 200
    assert [e["id"] for e in listing.json["endpoints"]] == [created["id"]]
    assert (
        secret not in listing.get_data(as_text=True)
        and "secret" not in listing.json["endpoints"][0]
    )
    with ledger.engine.connect() as conn:
        sealed = conn.execute(select(WebhookEndpoint.secret_sealed)).scalar_one()
    assert secret.encode() not in sealed and secret.removeprefix("whsec_").encode() not in sealed
    assert ledger.messages.endpoints.secret(created["id"]) == secret
    key_file = ledger.settings.webhook_key_file
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

    assert client.delete(f"/v1/webhook-endpoints/{created['id']}", headers=admin).status_code == 204
    assert client.delete(f"/v1/webhook-endpoints/{created['id']}", headers=admin).status_code == 204
    [removed] = client.get("/v1/webhook-endpoints", headers=admin).json["endpoints"]
    assert removed["active"] is False and removed["disabled_at"]
    assert ledger.messages.endpoints.secret(created["id"]) is None
    gone = client.delete("/v1/webhook-endpoints/ep_nothing", headers=admin)
    assert gone.status_code == 404 and gone.mimetype == "application/problem+json"


def test_bad_endpoints_are_refused(ledger, client) -> None:
    admin = auth(ledger)
    for body, field in (
        ({"url": "ftp://hooks.example/in"}, "url"),
        ({"url": "https://user:pw@hooks.example/in"}, "url"),
        ({"url": "https://hooks.example/in", "event_types": ["acknowledged", "nonsense"]},
         "event_types"),
        ({"url": "https://hooks.example/in", "event_types": []}, "event_types"),
        ({"url": "https://hooks.example/in", "extra": 1}, "extra"),
    ):  # fmt: skip
        resp = client.post("/v1/webhook-endpoints", json=body, headers=admin)
        assert resp.status_code == 422, (body, resp.json)
        assert resp.mimetype == "application/problem+json"
        assert field in resp.json["errors"]["json"]
    staff = client.post(
        "/v1/webhook-endpoints", json={"url": "https://h.example/"}, headers=auth(ledger, "agent")
    )
    assert staff.status_code == 403


def test_every_delivery_is_signed_retried_with_its_id_and_kept_once(
    ledger, client, receiver, mail, dispatcher, clock, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    created = register(client, auth(ledger), receiver.url)
    receiver.secret = created["secret"]
    receiver.fail_first = 3  # the receiver is unwell at first
    ref = file_complaint(ledger)
    ack = acknowledge(ledger, ref)
    for _ in range(6):
        dispatcher.step()
        clock.advance(25)  # past the backoff; signatures stay within the 5-minute tolerance
    assert receiver.bad_signatures == 0  # Webhook.verify accepted every request
    hooks = {r.message_id: r for r in outbox(ledger) if r.channel == "webhook"}
    assert set(receiver.kept) == set(hooks)  # each kept once, by webhook-id
    assert {r.state for r in hooks.values()} == {"delivered"}
    ids = [r["headers"]["webhook-id"] for r in receiver.requests]
    assert len(ids) == len(hooks) + 3 and set(ids) == set(hooks)  # retries: the same ids
    by_type = {p["type"]: p for p in receiver.kept.values()}
    assert set(by_type) == {
        "complaint.received",
        "complaint.acknowledged",
        "complaint.message_sent",
    }
    data = by_type["complaint.acknowledged"]["data"]
    assert data == {
        "reference": ref,
        "seq": 1,
        "type": "acknowledged",
        "state": "acknowledged",
        "leaf_hash": ack.envelope.leaf_hash_hex,
        "log_index": ack.receipt.index,
        "message": {"language": "en", "subject": "We have your complaint",
                    "text": "Dear Jane Roe,\nThanks."},
    }  # fmt: skip
    assert by_type["complaint.acknowledged"]["timestamp"] == ack.envelope.at
    assert "message" not in by_type["complaint.received"]["data"]
    # The same payload bytes on every retry of one message.
    for mid in hooks:
        bodies = {r["body"] for r in receiver.requests if r["headers"]["webhook-id"] == mid}
        assert len(bodies) == 1
    # Webhooks are not customer messages: only the email's message_sent is on the log.
    assert len(events_of(ledger, ref, "message_sent")) == 1
    # Nothing of ours logs the secret, the address or the letter (the test's own SMTP server,
    # aiosmtpd's "mail.log", does log the envelope; a real relay's logs are the relay's).
    ours = [r.getMessage() for r in caplog.records if r.name != "mail.log"]
    assert not [m for m in ours if created["secret"] in m or EMAIL in m or "Dear Jane" in m]


def test_nothing_is_sent_to_a_removed_endpoint(ledger, client, receiver, dispatcher) -> None:
    admin = auth(ledger)
    created = register(client, admin, receiver.url)
    receiver.secret = created["secret"]
    file_complaint(ledger, email=None)
    client.delete(f"/v1/webhook-endpoints/{created['id']}", headers=admin)
    dispatcher.step()
    [row] = outbox(ledger)
    assert row.state == "skipped" and row.last_error == "the webhook endpoint was removed"
    assert receiver.requests == []
    file_complaint(ledger, email=None)
    assert len(outbox(ledger)) == 1  # no new row for it


def test_gone_is_given_up_at_once(ledger, client, dispatcher) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Gone(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(410)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Gone)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        register(client, auth(ledger), f"http://127.0.0.1:{server.server_address[1]}/")
        file_complaint(ledger, email=None)
        dispatcher.step()
    finally:
        server.shutdown()
        server.server_close()
    [row] = outbox(ledger)
    assert (row.state, row.attempts, row.last_error) == ("dead", 1, "webhook endpoint answered 410")
    assert payloads is not None
