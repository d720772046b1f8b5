"""The worklist read model: kept by every step, ordered by what falls due next, filtered,
searched by reference, transaction hash and (keyed) e-mail address, and erased with the body."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from ledger.casework.work_items import backfill
from ledger.casework.worklist import WorkFilter, WorkItemRow, WorkSearchRow
from ledger.complaints.events import Actor
from ledger.complaints.vocab import Role
from tests.support.complaint_api import TX_HASH, run_lifecycle
from tests.support.sla import OWNER, T0, SetClock, claim, file_complaint

H = timedelta(hours=1)


@pytest.fixture
def clock(ledger) -> SetClock:
    clock = SetClock()
    ledger.complaints.writes.clock = clock
    return clock


@pytest.fixture
def three(ledger, clock) -> dict[str, str]:
    """A general question (resolution target 15 min), a stuck transaction (first response
    2 h) claimed by OWNER, and a Lithuanian refund by chat (first response 2 h), filed 10 min
    apart."""
    refs = {"question": file_complaint(ledger, category="general_question")}
    clock.at(minutes=10)
    refs["stuck"] = file_complaint(ledger, category="stuck_transaction", email="Jo.Doe@Example.org")
    clock.at(minutes=15)
    claim(ledger, refs["stuck"], OWNER)
    clock.at(minutes=20)
    refs["refund"] = file_complaint(ledger, category="refund_or_claim", language="lt",
                                    channel="chat", email=None)  # fmt: skip
    return refs


def refs_of(result) -> list[str]:
    return [item.reference for item in result[1]]


def test_ordered_by_next_due_with_risk(ledger, three) -> None:
    now = T0 + H
    total, items = ledger.worklist.items(WorkFilter(), now)
    assert total == 3
    assert [i.reference for i in items] == [three["question"], three["stuck"], three["refund"]]
    question, stuck, refund = items
    assert (question.next_clock, question.next_due_at) == (
        "target_resolution", T0 + timedelta(minutes=15))  # fmt: skip
    assert question.risk == pytest.approx(4.0) and question.breached  # 60 of 15 minutes
    assert (stuck.next_clock, stuck.next_due_at) == ("first_response", T0 + timedelta(minutes=130))
    assert stuck.risk == pytest.approx(50 / 120) and not stuck.breached
    assert stuck.owner == OWNER.pseudonym and stuck.queue == "stuck_transaction.en"
    assert refund.risk == pytest.approx(40 / 120) and refund.queue == "refund_or_claim.lt"
    assert ledger.worklist.items(WorkFilter(), T0 + timedelta(minutes=20))[1][2].risk == 0.0


def test_every_filter(ledger, three) -> None:
    now = T0 + H
    wl = ledger.worklist
    assert refs_of(wl.items(WorkFilter(queue="refund_or_claim.lt"), now)) == [three["refund"]]
    assert refs_of(wl.items(WorkFilter(category="stuck_transaction"), now)) == [three["stuck"]]
    assert refs_of(wl.items(WorkFilter(language="lt"), now)) == [three["refund"]]
    assert refs_of(wl.items(WorkFilter(channel="chat"), now)) == [three["refund"]]
    assert refs_of(wl.items(WorkFilter(owner=OWNER.pseudonym), now)) == [three["stuck"]]
    assert refs_of(wl.items(WorkFilter(overdue=True), now)) == [three["question"]]
    assert refs_of(wl.items(WorkFilter(overdue=False), now)) == [three["stuck"], three["refund"]]
    later = T0 + 3 * H  # the two first responses are overdue by then
    assert wl.items(WorkFilter(overdue=True), later)[0] == 3
    assert wl.items(WorkFilter(status="received"), now)[0] == 3
    ledger.complaints.writes.record(
        three["refund"],
        type="withdrawn",
        public={},
        body={},
        actor=Actor(Role.CUSTOMER, "customer"),
    )
    assert wl.items(WorkFilter(status="withdrawn"), now)[0] == 0  # closed ones are not open
    assert refs_of(wl.items(WorkFilter(status="withdrawn", open=None), now)) == [three["refund"]]
    assert refs_of(wl.items(WorkFilter(open=False), now)) == [three["refund"]]
    assert wl.items(WorkFilter(), now, offset=1, limit=1) == (2, wl.items(WorkFilter(), now)[1][1:])
    assert wl.queue_counts(now) == {"general_question.en": (1, 1), "stuck_transaction.en": (1, 0)}


def test_search_by_reference_and_keyed_email(ledger, three) -> None:
    now = T0 + H
    wl = ledger.worklist
    assert [i.reference for i in wl.search(three["stuck"].lower(), now)] == [three["stuck"]]
    # The address is matched however it is typed, and is nowhere in clear.
    assert [i.reference for i in wl.search("  jo.doe@EXAMPLE.org ", now)] == [three["stuck"]]
    assert wl.search("someone@example.org", now) == []
    with ledger.engine.connect() as conn:
        dump = repr(conn.execute(select(WorkSearchRow.__table__)).all())
        dump += repr(conn.execute(select(WorkItemRow.__table__)).all())
    assert "doe" not in dump.lower() and "jane" not in dump.lower()


def test_erasure_removes_the_search_key(ledger, three) -> None:
    ref = three["stuck"]
    erases = ledger.complaints.reads.events(ref)[0].envelope.leaf_hash_hex
    ledger.complaints.writes.record(
        ref, type="erased", public={"erases": erases, "basis": "gdpr_art17"}, body={},
        actor=Actor(Role.LEGAL, "legal-1"),
    )  # fmt: skip
    assert ledger.worklist.search("jo.doe@example.org", T0 + H) == []
    with ledger.engine.connect() as conn:
        assert conn.execute(select(WorkSearchRow).where(WorkSearchRow.reference == ref)).all() == []


def test_the_backfill_gives_the_rows_the_write_path_gave(ledger, three) -> None:
    def rows():
        with ledger.engine.connect() as conn:
            items = conn.execute(select(WorkItemRow.__table__).order_by("reference")).all()
            keys = conn.execute(select(WorkSearchRow.__table__).order_by("key")).all()
        return items, keys

    before = rows()
    with ledger.engine.begin() as conn:
        conn.execute(WorkSearchRow.__table__.delete())
        conn.execute(WorkItemRow.__table__.delete())
        lookup_key = ledger.complaints.writes.work_items.lookup_key
        assert backfill(conn, ledger.service_rules, lookup_key) == 3
    assert rows() == before


def test_search_by_transaction_hash(ledger, actors) -> None:
    ref, _ = run_lifecycle(actors)
    now = datetime.now(UTC)
    [found] = ledger.worklist.search(TX_HASH.upper().replace("0X", "0x"), now)
    assert found.reference == ref and found.status == "closed"
    [by_mail] = ledger.worklist.search("ana@example.org", now)
    assert by_mail.reference == ref
    assert ledger.worklist.items(WorkFilter(), now)[0] == 0  # closed: not on the open list


def test_the_worklist_migration_fills_rows_for_complaints_filed_before_it(ledger, three) -> None:
    """Upgrading a database with complaints across 0014 (the worklist) and 0017 (status
    views): the backfill of 0014 writes only the columns its table has then."""
    from ledger import migrations

    migrations.downgrade(ledger.engine, "0013_staff_accounts")
    migrations.upgrade(ledger.engine)
    with ledger.engine.connect() as conn:
        rows = conn.execute(select(WorkItemRow.reference, WorkItemRow.status_view)).all()
    assert sorted(r.reference for r in rows) == sorted(three.values())
    assert all(r.status_view is None for r in rows)  # made from the chain until a next step
    for ref in three.values():
        assert ledger.complaints.status_views.get(ref).view["head"]
