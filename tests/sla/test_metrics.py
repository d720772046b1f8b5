"""SLA figures on /metrics: open, at risk and breached per category and next clock; counters
of alerts by kind and of automatic escalations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ledger.messages.alerts import sla_figures
from tests.support.sla import SetClock, file_complaint, make_monitor


def test_figures_follow_the_clock_and_the_alerts(ledger) -> None:
    clock = SetClock(datetime.now(UTC) - timedelta(minutes=100))  # filed 100 min ago
    ledger.complaints.writes.clock = clock
    file_complaint(ledger, category="stuck_transaction")
    now = clock.now + timedelta(minutes=100)
    figures = sla_figures(ledger.engine, now, 0.75)
    cell = ("stuck_transaction", "first_response")
    assert (figures.running, figures.at_risk, figures.breached) == ({cell: 1}, {cell: 1}, {})
    assert figures.alerts == {"warning": 0, "breach": 0, "escalation": 0}
    clock.now = now + timedelta(minutes=30)  # past the two hours
    assert make_monitor(ledger, clock).scan() == 2
    figures = sla_figures(ledger.engine, clock.now, 0.75)
    # Counted under its next running clock (the escalation step moved it on), as breached.
    assert figures.breached == {("stuck_transaction", "target_resolution"): 1}
    assert figures.at_risk == {}
    assert figures.alerts == {"warning": 0, "breach": 1, "escalation": 1}
    assert figures.escalations == 1


def test_metrics_endpoint_exports_them(ledger, client) -> None:
    file_complaint(ledger, category="general_question")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'ledger_sla_open{category="general_question",clock="target_resolution"} 1.0' in text
    assert 'ledger_sla_alerts_total{kind="breach"} 0.0' in text
    assert "ledger_sla_escalations_total 0.0" in text
