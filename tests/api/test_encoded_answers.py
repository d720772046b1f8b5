"""Answers encoded without a schema round trip (a filing, a step, an idempotent replay of
either) still have exactly the shape their documented schemas give."""

from __future__ import annotations

import uuid

import requests

from api.schemas import FiledComplaint, RecordedEvent


def _same_through(schema, body: dict) -> None:
    # Loads (no unknown or mistyped field), and the schema's own dump changes nothing.
    assert schema.dump(schema.load(body)) == body


def test_filing_step_and_replay_answers_match_their_schemas(live_server, actors) -> None:
    body = {"category": "sync_fault", "channel": "email", "language": "en",
            "description": "My balance does not sync."}  # fmt: skip
    filed = requests.post(f"{live_server.url}/v1/complaints", json=body, timeout=30)
    assert filed.status_code == 201 and filed.headers["Content-Type"] == "application/json"
    _same_through(FiledComplaint(), filed.json())
    ref = filed.json()["reference"]

    agent = actors["agent"].session
    key = uuid.uuid4().hex
    step = {"type": "note_added", "body": {"text": "Checked the node."}}
    url = f"{live_server.url}/v1/complaints/{ref}/events"
    first = agent.post(url, json=step, headers={"Idempotency-Key": key}, timeout=30)
    again = agent.post(url, json=step, headers={"Idempotency-Key": key}, timeout=30)
    assert first.status_code == again.status_code == 201
    _same_through(RecordedEvent(), first.json())
    _same_through(RecordedEvent(), again.json())
    assert again.json()["event"] == first.json()["event"]
    assert again.json()["receipt"]["log_index"] == first.json()["receipt"]["log_index"]
