"""The status answer comes from the read model the write path keeps (``work_items.status_view``):
it is what the chain gives, it matches the documented schema field for field, and a row
without a view (or one made under other service rules) is answered from the chain alike."""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import text

from api.schemas import ComplaintStatus
from ledger.casework.worklist import WorkItemRow


@pytest.fixture
def worked(actors) -> dict:
    body = {"category": "hacked_account", "channel": "email", "language": "pt",
            "description": "Someone moved my funds."}  # fmt: skip
    filed = actors["anon"].post("/v1/complaints", body)
    ref = filed["reference"]
    agent = actors["agent"]
    agent.post(f"/v1/complaints/{ref}/events", {"type": "acknowledged"})
    agent.post(f"/v1/complaints/{ref}/events",
               {"type": "info_requested", "body": {"request": "Which address?"}})  # fmt: skip
    agent.post(f"/v1/complaints/{ref}/events", {"type": "note_added", "body": {"text": "x"}})
    return filed


def _status(live_server, ref: str, token: str, lang: str) -> requests.Response:
    return requests.get(f"{live_server.url}/v1/complaints/{ref}?lang={lang}", timeout=30,
                        headers={"Authorization": f"Bearer {token}"})  # fmt: skip


def test_the_stored_view_is_the_chains_and_the_answer_is_the_schemas(
    live_server, ledger, actors, worked
) -> None:
    ref = worked["reference"]
    views = ledger.complaints.status_views
    assert views.get(ref) == views.from_chain(ref)
    with ledger.engine.connect() as conn:
        stored = conn.execute(
            text("SELECT status_view FROM work_items WHERE reference = :r"), {"r": ref}
        ).scalar()
    assert stored is not None  # kept by the write path
    agent_token = actors["agent"].session.headers["Authorization"].split()[1]
    for token in (worked["secret"], agent_token):
        for lang in ("en", "pt"):
            got = _status(live_server, ref, token, lang)
            assert got.status_code == 200
            body = got.json()
            # Encoded without the schema: it loads (no unknown or mistyped field) and the
            # schema's own dump of it changes nothing.
            schema = ComplaintStatus()
            assert schema.dump(schema.load(body)) == body
            assert body["language"] == lang and body["status"] == "investigating"
            assert body["events"] == 4 and body["clocks"]


def test_a_row_without_a_view_or_under_other_rules_is_answered_from_the_chain(
    live_server, ledger, actors, worked, monkeypatch
) -> None:
    ref, secret = worked["reference"], worked["secret"]
    first = _status(live_server, ref, secret, "en")
    with ledger.engine.begin() as conn:
        conn.execute(
            WorkItemRow.__table__.update()
            .where(WorkItemRow.reference == ref)
            .values(status_view=None)
        )
    again = _status(live_server, ref, secret, "en")
    assert again.json() == first.json() and again.headers["ETag"] == first.headers["ETag"]

    views = ledger.complaints.status_views
    made = []
    from_chain = views.from_chain
    monkeypatch.setattr(views, "from_chain", lambda r: made.append(r) or from_chain(r))
    # A step records a view again; a deployment whose rules differ does not use it.
    actors["agent"].post(f"/v1/complaints/{ref}/events", {"type": "note_added",
                         "body": {"text": "y"}})  # fmt: skip
    assert _status(live_server, ref, secret, "en").status_code == 200
    assert made == []
    monkeypatch.setattr(views, "rules_fingerprint", "0" * 32)
    assert _status(live_server, ref, secret, "en").status_code == 200
    assert made == [ref]
