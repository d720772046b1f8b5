"""One rating per interaction, over HTTP: a rating names the step it rates, a second rating of
the same step is refused with nothing written, and the regulator's CSAT figures follow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ledger.access.apikeys import create_api_key

FILE = {"category": "sync_fault", "channel": "in_app", "description": "Balance shows 0."}


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _csat(client, regulator: str) -> dict:
    day = timedelta(days=1)
    now = datetime.now(UTC)
    r = client.get(
        "/v1/audit/figures",
        query_string={"from": (now - day).isoformat(), "to": (now + day).isoformat()},
        headers=auth(regulator),
    )
    assert r.status_code == 200, r.json
    return r.json["figures"]["totals"]["csat"]


def test_three_ratings_of_one_step_count_once(client, ledger) -> None:
    agent = create_api_key(ledger.engine, "ratings agent", "agent")[0]
    regulator = create_api_key(ledger.engine, "ratings regulator", "regulator")[0]
    filed = client.post("/v1/complaints", json=FILE).json
    ref, secret = filed["reference"], filed["secret"]
    events = f"/v1/complaints/{ref}/events"
    status = client.get(f"/v1/complaints/{ref}", headers=auth(secret)).json
    assert "rated" not in status["next_steps"]  # nothing the firm did yet to rate
    assert "bundle_exported" not in status["next_steps"]

    r = client.post(events, json={"type": "acknowledged"}, headers=auth(agent))
    assert r.status_code == 201, r.json
    ack_seq = r.json["event"]["seq"]
    status = client.get(f"/v1/complaints/{ref}", headers=auth(secret)).json
    assert "rated" in status["next_steps"]

    rating = {"type": "rated", "public": {"csat": 1, "rates": ack_seq}}
    r = client.post(events, json=rating, headers=auth(secret))
    assert r.status_code == 201, r.json
    size = ledger.store.size()
    after_first = _csat(client, regulator)
    assert after_first["ratings"] == 1 and after_first["mean"] == 1.0

    for _ in range(2):
        r = client.post(events, json=rating, headers=auth(secret))
        assert r.status_code == 409, r.json
        assert r.mimetype == "application/problem+json"
        assert r.json["code"] == "RATING_DUPLICATE"
        assert r.json["type"].endswith("/invalid-transition")
    assert ledger.store.size() == size
    assert _csat(client, regulator) == after_first
    status = client.get(f"/v1/complaints/{ref}", headers=auth(secret)).json
    assert "rated" not in status["next_steps"]  # the only interaction is rated

    # Another interaction is rated once too: the figures count one rating per interaction.
    ask = {"type": "info_requested", "body": {"request": "A screenshot, please."}}
    r = client.post(events, json=ask, headers=auth(agent))
    assert r.status_code == 201, r.json
    second = {"type": "rated", "public": {"csat": 5, "rates": r.json["event"]["seq"]}}
    assert client.post(events, json=second, headers=auth(secret)).status_code == 201
    assert client.post(events, json=second, headers=auth(secret)).status_code == 409
    assert _csat(client, regulator) == {
        "ratings": 2,
        "mean": 3.0,
        "distribution": {"1": 1, "2": 0, "3": 0, "4": 0, "5": 1},
    }


def test_a_rating_must_name_a_rateable_earlier_step(client, ledger) -> None:
    filed = client.post("/v1/complaints", json=FILE).json
    ref, secret = filed["reference"], filed["secret"]
    events = f"/v1/complaints/{ref}/events"
    size = ledger.store.size()
    r = client.post(events, json={"type": "rated", "public": {"csat": 5}}, headers=auth(secret))
    assert r.status_code == 422 and r.json["code"] == "MISSING_FIELD", r.json
    for target in (0, 1, 7):  # the received event itself, the rating's own seq, a later one
        public = {"csat": 5, "rates": target}
        r = client.post(events, json={"type": "rated", "public": public}, headers=auth(secret))
        assert r.status_code == 409 and r.json["code"] == "RATING_TARGET", r.json
    assert ledger.store.size() == size
