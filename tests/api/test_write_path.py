"""The lean write and read paths: batched rows per append batch, audit facts derived from the
service's memory, cached API keys and capability hashes, all without weakening a guarantee."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import event, select, update

from ledger.access import apikeys
from ledger.access.models import ApiKey
from ledger.casework.appends import ChainConflict
from ledger.casework.facts import AuditFact, fact_row
from ledger.casework.records import ComplaintEvent, ComplaintRecord, EventBody
from ledger.casework.service import ComplaintService
from ledger.complaints.events import Actor
from ledger.complaints.figures import facts_from_envelopes
from ledger.complaints.vocab import Role

FILE = {"category": "sync_fault", "channel": "in_app", "description": "Balance shows 0."}
AGENT = Actor(Role.AGENT, "agent-1")
CUSTOMER = Actor(Role.CUSTOMER, "customer")


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _file(ledger) -> str:
    public = {"category": "sync_fault", "channel": "web_form", "language": "en",
              "jurisdiction": ledger.settings.jurisdiction}  # fmt: skip
    recorded, _ = ledger.complaints.writes.file(public, {"description": "x"}, CUSTOMER)
    return recorded.state.reference


def _note(ledger, reference: str, text: str):
    return ledger.complaints.writes.record(
        reference, type="note_added", public={}, body={"text": text}, actor=AGENT
    )


class _Captured(Exception):
    pass


def _capture_pending(ledger, monkeypatch) -> list:
    """Make the service hand its PendingEntry over instead of appending it."""
    captured: list = []

    def capture(item, timeout=None):
        captured.append(item)
        raise _Captured

    monkeypatch.setattr(ledger.sequencer, "append", capture)
    return captured


def _stored_facts(ledger) -> list[dict]:
    with ledger.engine.connect() as conn:
        table = AuditFact.__table__
        rows = conn.execute(select(table).order_by(table.c.log_index)).all()
    return [dict(r._mapping) for r in rows]


def _replayed_facts(ledger) -> list[dict]:
    size = ledger.store.size()
    return [fact_row(f) for f in facts_from_envelopes(ledger.store.entries(0, size))]


def test_a_rejected_step_writes_nothing_and_the_rest_of_its_batch_commits(
    ledger, monkeypatch
) -> None:
    refs = [_file(ledger) for _ in range(3)]
    captured = _capture_pending(ledger, monkeypatch)
    for i, ref in enumerate(refs):
        with pytest.raises(_Captured):
            _note(ledger, ref, f"note {i}")
    monkeypatch.undo()
    # Another writer moves complaint 1 on before the batch is appended: its step is stale.
    _note(ledger, refs[1], "got there first")
    stale_leaf = captured[1].data

    results = ledger.store.append_batch(captured)

    assert isinstance(results[1], ChainConflict)
    assert results[0].index + 1 == results[2].index
    with ledger.engine.connect() as conn:
        events = conn.execute(select(ComplaintEvent.reference, ComplaintEvent.seq)).all()
        bodies = conn.execute(select(EventBody.leaf_hash)).scalars().all()
        heads = dict(conn.execute(select(ComplaintRecord.reference, ComplaintRecord.seq)).all())
    assert sorted(events) == sorted(
        [(r, 0) for r in refs] + [(refs[0], 1), (refs[1], 1), (refs[2], 1)]
    )
    assert stale_leaf not in ledger.store.entries(0, ledger.store.size())
    from ledger.log.merkle import leaf_hash

    assert leaf_hash(stale_leaf).hex() not in bodies
    assert heads == {refs[0]: 1, refs[1]: 1, refs[2]: 1}
    # Exactly one fact per committed event, equal to what a replay of the log derives.
    assert _stored_facts(ledger) == _replayed_facts(ledger)


def test_batch_rows_are_inserted_one_statement_per_table(ledger, monkeypatch) -> None:
    refs = [_file(ledger) for _ in range(4)]
    captured = _capture_pending(ledger, monkeypatch)
    for ref in refs:
        with pytest.raises(_Captured):
            _note(ledger, ref, "n")
    monkeypatch.undo()
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement.split("(")[0].strip())

    event.listen(ledger.engine, "before_cursor_execute", seen)
    try:
        results = ledger.store.append_batch(captured)
    finally:
        event.remove(ledger.engine, "before_cursor_execute", seen)
    assert all(not isinstance(r, Exception) for r in results)
    for table in ("complaint_events", "event_bodies", "audit_facts", "log_entries"):
        assert statements.count(f"INSERT INTO {table}") == 1, (table, statements)
    assert not any(s.startswith("SELECT") and "audit_facts" in s for s in statements)


def test_facts_from_memory_equal_facts_read_back(ledger) -> None:
    ref = _file(ledger)
    _note(ledger, ref, "warm: fact from the service's memory")
    # A cold service (another process, or evicted caches) reads the previous fact instead.
    cold = ComplaintService(ledger.engine, ledger.store, ledger.sequencer, ledger.officer_keys)
    cold.writes.record(ref, type="note_added", public={}, body={"text": "cold"}, actor=AGENT)
    _note(ledger, ref, "stale cache: the fact it holds is not the previous one")
    _note(ledger, ref, "warm again")
    assert [f["seq"] for f in _stored_facts(ledger)] == [0, 1, 2, 3, 4]
    assert _stored_facts(ledger) == _replayed_facts(ledger)


def test_revoked_api_key_is_refused_at_once_in_process(ledger, client) -> None:
    token, principal = apikeys.create_api_key(ledger.engine, "agent", "agent")
    ref = client.post("/v1/complaints", json=FILE).json["reference"]
    assert client.get(f"/v1/complaints/{ref}", headers=auth(token)).status_code == 200
    assert apikeys.revoke_api_key(ledger.engine, principal.id)
    resp = client.get(f"/v1/complaints/{ref}", headers=auth(token))
    assert resp.status_code == 401
    assert resp.mimetype == "application/problem+json"


def test_revocation_by_another_process_is_seen_within_the_cache_ttl(
    ledger, client, monkeypatch
) -> None:
    now = [1000.0]  # the key cache's clock (it reads time.monotonic), moved by hand
    monkeypatch.setattr(apikeys, "time", SimpleNamespace(monotonic=lambda: now[0]))
    token, principal = apikeys.create_api_key(ledger.engine, "agent", "agent")
    ref = client.post("/v1/complaints", json=FILE).json["reference"]
    assert client.get(f"/v1/complaints/{ref}", headers=auth(token)).status_code == 200
    with ledger.engine.begin() as conn:  # as scripts/create_api_key.py --revoke elsewhere does
        conn.execute(
            update(ApiKey).where(ApiKey.key_id == principal.id).values(revoked_at=ApiKey.created_at)
        )
    assert client.get(f"/v1/complaints/{ref}", headers=auth(token)).status_code == 200  # cached
    now[0] += apikeys.CACHE_TTL + 0.1
    assert client.get(f"/v1/complaints/{ref}", headers=auth(token)).status_code == 401


def test_cached_api_key_still_checks_the_secret(ledger) -> None:
    token, principal = apikeys.create_api_key(ledger.engine, "agent", "agent")
    assert apikeys.authenticate(ledger.engine, token) == principal
    assert apikeys.authenticate(ledger.engine, token) == principal  # from the cache
    assert apikeys.authenticate(ledger.engine, token[:-2] + "xx") is None
    assert apikeys.authenticate(ledger.engine, f"lk_{principal.id}_") is None


def test_capability_check_is_cached_and_still_exact(ledger, client) -> None:
    filed = client.post("/v1/complaints", json=FILE).json
    other = client.post("/v1/complaints", json=FILE).json
    ref, secret = filed["reference"], filed["secret"]
    fresh = ComplaintService(ledger.engine, ledger.store, ledger.sequencer, ledger.officer_keys)
    for service in (ledger.complaints, fresh, fresh):  # filed here, read once, cached
        assert service.reads.check_secret(ref, secret)
        assert not service.reads.check_secret(ref, other["secret"])
        assert not service.reads.check_secret(ref, secret + "x")
        assert not service.reads.check_secret("CMP-00000-00000", secret)
    assert client.get(f"/v1/complaints/{ref}", headers=auth(other["secret"])).status_code == 401
