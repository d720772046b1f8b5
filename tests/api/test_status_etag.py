"""Conditional status reads over HTTP: ``GET /v1/complaints/<ref>`` carries an ETag; sent back
as If-None-Match it gives a 304 without a body (and without reading the chain) while nothing
changed, and a new answer and tag once a step is recorded (also by another writer), a clock
falls due, or the language or the reader's role differs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests

import api.complaints_routes as routes
from ledger.casework.service import ComplaintService
from ledger.complaints.events import Actor
from ledger.complaints.vocab import Role


@pytest.fixture
def filed(actors) -> dict:
    body = {"category": "stuck_transaction", "channel": "email", "language": "en",
            "description": "My withdrawal has been pending for 9 hours."}  # fmt: skip
    return actors["anon"].post("/v1/complaints", body)


def status(live_server, ref: str, token: str, tag: str | None = None, **headers):
    if tag is not None:
        headers["If-None-Match"] = tag
    return requests.get(f"{live_server.url}/v1/complaints/{ref}", timeout=30,
                        headers={"Authorization": f"Bearer {token}", **headers})  # fmt: skip


class FrozenNow(datetime):
    """``datetime`` whose ``now`` is the instant a test sets."""

    at = datetime.now(UTC)

    @classmethod
    def now(cls, tz=None):
        return cls.at


def test_an_unchanged_status_is_a_304_without_reading_the_chain(
    live_server, ledger, filed, monkeypatch
) -> None:
    ref, secret = filed["reference"], filed["secret"]
    first = status(live_server, ref, secret)
    assert first.status_code == 200 and first.headers["ETag"].startswith('"')
    assert "Authorization" in first.headers["Vary"] and "Accept-Language" in first.headers["Vary"]

    def no_chain(*_args, **_kw):
        raise AssertionError("a 304 reads no chain")

    monkeypatch.setattr(ledger.complaints.reads, "events", no_chain)
    again = status(live_server, ref, secret, first.headers["ETag"])
    assert again.status_code == 304 and again.content == b""
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.headers["Cache-Control"] == "no-store"  # as every authenticated answer
    # A tag from elsewhere, or none: the answer in full.
    monkeypatch.undo()
    assert status(live_server, ref, secret, '"0123"').status_code == 200


def test_a_new_step_changes_the_tag_also_when_another_writer_records_it(
    live_server, ledger, actors, filed
) -> None:
    ref, secret = filed["reference"], filed["secret"]
    tag = status(live_server, ref, secret).headers["ETag"]
    actors["agent"].post(f"/v1/complaints/{ref}/events", {"type": "acknowledged"})
    changed = status(live_server, ref, secret, tag)
    assert changed.status_code == 200 and changed.json()["status"] == "acknowledged"
    tag = changed.headers["ETag"]
    assert status(live_server, ref, secret, tag).status_code == 304

    # Another process's write path (its own caches) records a note: the tag moves too.
    other = ComplaintService(ledger.engine, ledger.store, ledger.sequencer, ledger.officer_keys)
    other.writes.record(ref, type="note_added", public={}, body={"text": "Checked the node."},
                        actor=Actor(Role.AGENT, "agent-2"))  # fmt: skip
    moved = status(live_server, ref, secret, tag)
    assert moved.status_code == 200 and moved.json()["events"] == 3
    assert moved.headers["ETag"] != tag


def test_language_and_role_have_their_own_tags(live_server, actors, filed) -> None:
    ref, secret = filed["reference"], filed["secret"]
    agent = actors["agent"].session.headers["Authorization"].removeprefix("Bearer ")
    english = status(live_server, ref, secret)
    portuguese = status(live_server, ref, secret, **{"Accept-Language": "pt"})
    staff = status(live_server, ref, agent)
    tags = {english.headers["ETag"], portuguese.headers["ETag"], staff.headers["ETag"]}
    assert len(tags) == 3
    assert status(live_server, ref, secret, portuguese.headers["ETag"]).status_code == 200
    assert status(live_server, ref, agent, english.headers["ETag"]).status_code == 200
    again = status(live_server, ref, agent, staff.headers["ETag"])
    assert again.status_code == 304


def test_a_clock_falling_due_changes_the_tag(live_server, filed, monkeypatch) -> None:
    ref, secret = filed["reference"], filed["secret"]
    monkeypatch.setattr(routes, "datetime", FrozenNow)
    FrozenNow.at = datetime.now(UTC)
    first = status(live_server, ref, secret)
    clocks = {c["name"]: c for c in first.json()["clocks"]}
    due = datetime.fromisoformat(clocks["first_response"]["due_at"])
    assert clocks["first_response"]["status"] == "running"

    FrozenNow.at = due - timedelta(microseconds=1)
    assert status(live_server, ref, secret, first.headers["ETag"]).status_code == 304
    FrozenNow.at = due  # the first response falls due: the answer says overdue
    late = status(live_server, ref, secret, first.headers["ETag"])
    assert late.status_code == 200 and "first_response" in late.json()["overdue"]
    assert late.headers["ETag"] != first.headers["ETag"]
    FrozenNow.at = due + timedelta(minutes=1)
    assert status(live_server, ref, secret, late.headers["ETag"]).status_code == 304
