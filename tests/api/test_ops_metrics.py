"""The ops metrics' sources: the sequencer's batch callback and the complaint counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client import REGISTRY

from ledger.casework.overview import complaint_counts
from ledger.complaints.deadlines import JURISDICTIONS, final_response_due
from ledger.complaints.events import Actor
from ledger.complaints.vocab import Role
from ledger.logstore.sequencer import Sequencer

CUSTOMER = Actor(Role.CUSTOMER, "customer")
RECEIVED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_the_sequencer_reports_each_committed_batch_and_ignores_its_callback_failing(
    ledger,
) -> None:
    sizes: list[int] = []
    sequencer = Sequencer(ledger.store, on_batch=sizes.append)
    try:
        sequencer.append_many([b"a", b"b"])
        assert sizes == [2]

        def broken(_size: int) -> None:
            raise RuntimeError("metrics backend down")

        sequencer.on_batch = broken
        assert sequencer.append(b"c").index == 2  # the write path does not notice
    finally:
        sequencer.close()


def test_the_app_counts_log_batches_in_its_histogram(app, client) -> None:
    def batches() -> float:
        return REGISTRY.get_sample_value("ledger_sequencer_batch_size_count") or 0.0

    before = batches()
    filed = {"category": "sync_fault", "channel": "in_app", "description": "Balance shows 0."}
    assert client.post("/v1/complaints", json=filed).status_code == 201
    assert batches() == before + 1


def test_complaint_counts_by_status_and_overdue(ledger) -> None:
    ledger.complaints.writes.clock = lambda: RECEIVED
    public = {"category": "sync_fault", "channel": "web_form", "language": "en",
              "jurisdiction": "EU-PSD2"}  # fmt: skip
    ledger.complaints.writes.file(public, {"description": "x"}, CUSTOMER)
    due = final_response_due(RECEIVED, JURISDICTIONS["EU-PSD2"])

    before = complaint_counts(ledger.engine, due - timedelta(minutes=5))
    assert before.by_status == {"received": 1}
    assert before.overdue == {("EU-PSD2", "standard"): 0, ("EU-PSD2", "extended"): 0}
    after = complaint_counts(ledger.engine, due + timedelta(minutes=5))
    assert after.overdue == {("EU-PSD2", "standard"): 1, ("EU-PSD2", "extended"): 0}
