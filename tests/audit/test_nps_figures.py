"""Net Promoter Score and CSAT per interaction type: the hand-checked March figures (docs/audit.md),
the SQL path equal to the pure one, and the monitor's recomputation equal to the API's."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from ledger.casework.facts import sql_figures
from ledger.complaints.figures import (
    INTERACTIONS,
    NPS_VALUES,
    Window,
    compute_figures,
    figures_table,
)
from ledger.complaints.vocab import RATEABLE_EVENTS
from tests.audit.test_monitor import drop_append_only, run
from tests.support.audit_dataset import CUSTOMER, MARCH, FakeClock, Writer, at

APRIL_1 = MARCH[1]


def _figures(ledger, start, end, as_of):
    return sql_figures(ledger.engine, Window.of(start, end, as_of, ledger.store.size()))


def _distribution(**counts: int) -> dict[str, int]:
    return {str(v): counts.get(f"n{v}", 0) for v in NPS_VALUES}


def test_march_nps_is_the_hand_computed_one(ledger, march) -> None:
    f = _figures(ledger, *MARCH, APRIL_1)
    # A 10 and G 9 (promoters, G before its reopening), C 8 (passive), B 3 (detractor); E's 0
    # came in April. Score: 2 of 4 promoters - 1 of 4 detractors = 50% - 25%.
    assert f["totals"]["nps"] == {
        "responses": 4,
        "promoters": 2,
        "passives": 1,
        "detractors": 1,
        "score": 25.0,
        "distribution": _distribution(n3=1, n8=1, n9=1, n10=1),
    }
    languages = f["by_language"]
    assert languages["en"]["nps"]["score"] == 100.0  # A
    assert languages["ca"]["nps"]["score"] == -100.0  # B
    assert languages["pt"]["nps"] == {
        "responses": 1, "promoters": 0, "passives": 1, "detractors": 0, "score": 0.0,
        "distribution": _distribution(n8=1),
    }  # fmt: skip
    assert languages["zh"]["nps"]["responses"] == 0 and languages["zh"]["nps"]["score"] is None
    assert f["by_category"]["stuck_transaction"]["nps"]["promoters"] == 2  # A and G
    # With April, E's 0 is a fifth response and a second detractor: (2 - 2) / 5.
    spring = _figures(ledger, MARCH[0], at("2026-05-01T00:00:00Z"), at("2026-05-01T00:00:00Z"))
    nps = spring["totals"]["nps"]
    assert (nps["responses"], nps["detractors"], nps["score"]) == (5, 2, 0.0)


def test_march_csat_per_interaction(ledger, march) -> None:
    f = _figures(ledger, *MARCH, APRIL_1)
    by = f["totals"]["csat_by_interaction"]
    assert list(by) == list(INTERACTIONS) == sorted(RATEABLE_EVENTS)
    # A 5, B 2, C 4 and G 3 rated their decisions; D rated its acknowledgement 1.
    assert by["decision"] == {
        "ratings": 4,
        "mean": 3.5,
        "distribution": {"1": 0, "2": 1, "3": 1, "4": 1, "5": 1},
    }
    assert by["acknowledged"] == {
        "ratings": 1,
        "mean": 1.0,
        "distribution": {"1": 1, "2": 0, "3": 0, "4": 0, "5": 0},
    }
    nothing = {"ratings": 0, "mean": None, "distribution": {str(v): 0 for v in range(1, 6)}}
    assert all(by[t] == nothing for t in INTERACTIONS if t not in ("decision", "acknowledged"))
    # Every rating names its step here, so the types add up to the whole.
    assert sum(part["ratings"] for part in by.values()) == f["totals"]["csat"]["ratings"]
    assert f["by_category"]["sync_fault"]["csat_by_interaction"]["acknowledged"]["ratings"] == 1


def test_a_message_is_not_a_response(ledger, march) -> None:
    """D's receipt letter left 5 minutes after filing, its acknowledgement 10 minutes after:
    the first response is the acknowledgement (the letter is only its delivery)."""
    sync = _figures(ledger, *MARCH, APRIL_1)["by_category"]["sync_fault"]  # D alone
    assert sync["time_to_first_response"]["count"] == 1
    assert sync["time_to_first_response"]["mean_seconds"] == 600.0


def test_nps_in_the_csv(ledger, march) -> None:
    names, rows = figures_table(_figures(ledger, *MARCH, APRIL_1))
    for column in ("nps.score", "nps.promoters", "nps.distribution.10",
                   "csat_by_interaction.decision.mean"):  # fmt: skip
        assert column in names, column
    totals = dict(zip(names, rows[0], strict=True))
    assert totals["slice"] == "totals"
    assert (totals["nps.score"], totals["csat_by_interaction.decision.mean"]) == (25.0, 3.5)


WINDOWS = [
    (MARCH[0], MARCH[1], APRIL_1),
    (MARCH[0], MARCH[1], at("2026-03-04T12:15:00Z")),  # before B's score
    (at("2026-03-03T00:00:00Z"), at("2026-04-03T00:00:00Z"), at("2026-04-03T00:00:00Z")),
]


@pytest.mark.parametrize("window", range(len(WINDOWS)))
def test_sql_nps_equals_the_pure_replay(ledger, march, window) -> None:
    size = ledger.store.size()
    leaves = ledger.store.entries(0, size)
    for n in (size, size - 1, size - 8, size // 2):
        w = Window.of(*WINDOWS[window], n)
        sql, pure = sql_figures(ledger.engine, w), compute_figures(leaves, w)
        assert sql == pure, n
        assert sql["totals"]["nps"] == pure["totals"]["nps"]


def test_the_monitor_recomputes_nps_and_catches_a_changed_score(
    live_server, ledger, march, tokens, tmp_path, is_postgres
) -> None:
    state = tmp_path / "monitor.sqlite3"
    report = run(live_server.url, state, ledger, tokens["regulator"])
    assert report.ok, report.lines()
    # Someone with database access turns B's detractor score into a promoter's, in the facts
    # table only: the log (and so the monitor's recomputation) still says 3.
    with ledger.engine.begin() as conn:
        drop_append_only(conn, "audit_facts", is_postgres)
        conn.execute(text("UPDATE audit_facts SET nps = 10 WHERE type = 'nps_given' AND nps = 3"))
    report = run(live_server.url, state, ledger, tokens["regulator"])
    assert not report.ok
    problems = "\n".join(report.problems)
    # All time: A 10, G 9 (promoters), C 8, B 3 and E 0 (detractors).
    assert "totals.nps.promoters: the API says 3, the log says 2" in problems, problems
    assert "totals.nps.score: the API says 40.0, the log says 0.0" in problems


# --- over HTTP: the customer gives the score, the regulator sees it -----------------------------


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_customer_scores_a_closed_complaint_once(client, ledger, tokens) -> None:
    clock = FakeClock()
    ledger.complaints.writes.clock = clock
    ledger.officer_keys.clock = clock
    w = Writer(ledger, clock)
    clock.now = at("2026-03-02T09:00:00Z")
    public = {"category": "sync_fault", "channel": "email", "language": "en",
              "jurisdiction": "EU-PSD2"}  # fmt: skip
    body = {"description": "Balance shows 0.", "contact": {"email": "ana@example.org",
                                                           "consent": True}}  # fmt: skip
    recorded, secret = ledger.complaints.writes.file(public, body, CUSTOMER)
    ref = recorded.state.reference
    events = f"/v1/complaints/{ref}/events"
    score = {"type": "nps_given", "public": {"nps": 9}}
    w.step(ref, "2026-03-02T09:30:00Z", "acknowledged")
    clock.now = at("2026-03-02T09:40:00Z")
    size = ledger.store.size()
    r = client.post(events, json=score, headers=_auth(secret))
    assert r.status_code == 409 and r.json["code"] == "NPS_BEFORE_CLOSURE", r.json
    assert r.json["type"].endswith("/invalid-transition")
    assert ledger.store.size() == size  # nothing written
    status = client.get(f"/v1/complaints/{ref}", headers=_auth(secret)).json
    assert "nps_given" not in status["next_steps"]

    w.decide(ref, "2026-03-03T09:00:00Z", "rejected")
    w.step(ref, "2026-03-03T10:00:00Z", "closed")
    clock.now = at("2026-03-03T11:00:00Z")
    status = client.get(f"/v1/complaints/{ref}", headers=_auth(secret)).json
    assert "nps_given" in status["next_steps"] and "message_sent" not in status["next_steps"]
    r = client.post(events, json=score, headers=_auth(secret))
    assert r.status_code == 201, r.json
    assert r.json["status"] == "closed"
    r = client.post(events, json={"type": "nps_given", "public": {"nps": 2}},
                    headers=_auth(secret))  # fmt: skip
    assert r.status_code == 409 and r.json["code"] == "NPS_ALREADY_GIVEN", r.json
    r = client.post(events, json={"type": "nps_given", "public": {"nps": 11}},
                    headers=_auth(secret))  # fmt: skip
    assert r.status_code == 422, r.json
    # Staff cannot score for the customer.
    r = client.post(events, json=score, headers=_auth(tokens["agent"]))
    assert r.status_code == 403 and r.json["code"] == "ROLE_NOT_ALLOWED", r.json

    r = client.get(
        "/v1/audit/figures",
        query_string={"from": "2026-03-01T00:00:00Z", "to": "2026-04-01T00:00:00Z",
                      "as_of": "2026-04-01T00:00:00Z"},
        headers=_auth(tokens["regulator"]),
    )  # fmt: skip
    assert r.status_code == 200, r.json
    assert r.json["figures"]["totals"]["nps"]["responses"] == 1
    assert r.json["figures"]["totals"]["nps"]["score"] == 100.0
    csv = client.get(
        "/v1/audit/figures",
        query_string={"from": "2026-03-01T00:00:00Z", "to": "2026-04-01T00:00:00Z",
                      "as_of": "2026-04-01T00:00:00Z", "format": "csv"},
        headers=_auth(tokens["regulator"]),
    )  # fmt: skip
    assert csv.status_code == 200 and "nps.score" in csv.get_data(as_text=True).splitlines()[0]


def test_a_contact_filed_over_http_states_consent(client, ledger) -> None:
    filing = {"category": "sync_fault", "channel": "web_form", "description": "Balance shows 0."}
    r = client.post("/v1/complaints", json={**filing, "contact": {"email": "ana@example.org"}})
    assert r.status_code == 201, r.json
    proof = client.get(
        f"/v1/complaints/{r.json['reference']}/proof", headers=_auth(r.json["secret"])
    ).json
    received = json.loads(proof["events"][0]["body"])
    # Not given: the customer did not agree to be written to.
    assert received["contact"] == {"email": "ana@example.org", "consent": False}
    given = {"email": "ana@example.org", "consent": True, "channel": "email"}
    r = client.post("/v1/complaints", json={**filing, "contact": given})
    assert r.status_code == 201, r.json
    for bad in ({"consent": "maybe"}, {"channel": "sms"}):
        r = client.post("/v1/complaints", json={**filing, "contact": {**given, **bad}})
        assert r.status_code == 422, r.json
