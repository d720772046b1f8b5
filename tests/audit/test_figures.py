"""Audit figures on a small realistic dataset: hand-checked numbers, and the SQL path over the
facts table equals the pure recomputation from the log's leaves (every prefix, several
windows), on SQLite and (with LEDGER_DATABASE_URL) PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ledger.casework.facts import backfill, sql_figures
from ledger.complaints.figures import (
    Window,
    compute_figures,
    epoch_ms,
    percentile,
    statutory_due_ms,
)
from ledger.complaints.vocab import Category
from tests.support.audit_dataset import AGENT, MARCH, at

APRIL_1 = MARCH[1]


def figures(ledger, start, end, as_of, size=None):
    size = ledger.store.latest_checkpoint().size if size is None else size
    return sql_figures(ledger.engine, Window.of(start, end, as_of, size))


def test_march_totals_are_the_hand_computed_ones(ledger, march) -> None:
    f = figures(ledger, *MARCH, APRIL_1)
    assert f["period"] == {"from": "2026-03-01T00:00:00.000Z", "to": "2026-04-01T00:00:00.000Z"}
    t = f["totals"]
    # A, B, C, D, E, F received in March (G in February).
    assert t["received"] == 6
    # B (referred to the ombudsman) and D (never answered) are open at the end of March.
    assert t["open_at_end"] == 2
    assert (t["closed"], t["withdrawn"], t["referred"], t["reopened"]) == (6, 1, 1, 1)
    assert t["decisions"] == {
        "total": 6,
        "upheld": 3,  # A, E, G (first cycle)
        "partially_upheld": 1,  # C
        "rejected": 2,  # B, G (after reopening)
        "upheld_rate": 0.5,
        "partially_upheld_rate": 0.1667,
        "rejected_rate": 0.3333,
        # Upheld and partially upheld decisions found a product defect, rejections no fault.
        "root_causes": {
            **{code: 0 for code in t["decisions"]["root_causes"]},
            "product_defect": 4,
            "no_fault_found": 2,
        },
    }
    # First responses in March: D 10 min, A 30 min, B 1 h, E 1 h, C 4 h (G's was in February,
    # F never got one). Nearest rank: median = 3rd of 5, p90 = 5th of 5. Goal 1 h (strictly
    # before): D and A; limit 2 h: all but C.
    assert t["time_to_first_response"] == {
        "count": 5,
        "mean_seconds": 4800.0,
        "median_seconds": 3600.0,
        "p90_seconds": 14400.0,
        "within_goal": 2,
        "within_limit": 4,
        "within_goal_rate": 0.4,
        "within_limit_rate": 0.8,
    }
    # Decisions: A 1 d, G-reopened 1 d (from its reopening), B 2 d, C 3 d, E 23 d, G 25 d.
    assert t["time_to_final_response"] == {
        "count": 6,
        "mean_seconds": 792000.0,
        "median_seconds": 172800.0,
        "p90_seconds": 2160000.0,
    }
    # Resolutions (the solution carried out, waits for the customer excluded): G-reopened's
    # rejection 24 h after its reopening, A paid after 27.5 h, B's rejection after 48 h less
    # the 3.5 h waiting for its screenshots (44.5 h), C paid after 75 h, E paid after 555 h,
    # G paid after 603 h. Every one missed its category's target and limit.
    assert t["time_to_resolution"] == {
        "count": 6,
        "mean_seconds": 797400.0,  # 1329 h / 6
        "median_seconds": 160200.0,
        "p90_seconds": 2170800.0,
        "with_target": 6,
        "within_target": 0,
        "within_limit": 0,
        "within_target_rate": 0.0,
        "within_limit_rate": 0.0,
    }
    assert t["hour_target_breaches"] == {
        "first_response": 1,  # C, after 4 h
        "target_resolution": 6,
        "resolution_limit": 6,
    }
    # At first contact: A, C and G's first cycle (B needed information, E a holding reply).
    assert t["first_contact_resolution"] == {"resolved": 3, "rate": 0.5}
    assert t["automation"] == {"resolved_by_bot": 0, "rate": 0.0}
    assert t["linked_to_incidents"] == 0 and f["by_incident"] == {}
    # PSD2 deadlines falling due in March: A (23 Mar, met), C (24 Mar, met), D (23 Mar, never
    # answered: breached); E's was extended to 22 April by its holding reply. Lithuania: G's
    # 15 business days (11 March is a holiday) end on 16 March; decided on the 17th: breached.
    assert t["deadline_breaches"] == {
        "due": 4,
        "breached": 2,
        "breach_rate": 0.5,
        "by_jurisdiction": {
            "EU-PSD2": {"due": 3, "breached": 1, "breach_rate": 0.3333},
            "EU-PSD2-LT": {"due": 1, "breached": 1, "breach_rate": 1.0},
        },
    }
    # A 50.00 EUR + G 10.00 EUR, C 25.50 USDC on chain, E paid with the amount withheld.
    nothing = {"payments": 0, "by_currency": {}, "by_asset": {}}
    assert t["redress_paid"] == {
        "payments": 4,
        "amount_undisclosed": 1,
        "by_currency": {"EUR": "60.00"},
        "by_asset": {"USDC": "25.50"},
        "by_kind": {
            "money": {
                "payments": 3,
                "by_currency": {"EUR": "60.00"},
                "by_asset": {"USDC": "25.50"},
            },
            "fee_refund": nothing,
            "discount": nothing,
            "bonus_credit": nothing,
            "free_service": nothing,
        },
    }
    # A 5, B 2, C 4 and G 3 rate their decisions; D 1 its acknowledgement.
    assert t["csat"] == {
        "ratings": 5,
        "mean": 3.0,
        "distribution": {"1": 1, "2": 1, "3": 1, "4": 1, "5": 1},
    }


def test_march_breakdowns(ledger, march) -> None:
    f = figures(ledger, *MARCH, APRIL_1)
    assert set(f["by_category"]) == {c.value for c in Category}  # zeros included
    assert set(f["by_language"]) == {"en", "ca", "pt", "zh", "lt", "ru"}
    stuck = f["by_category"]["stuck_transaction"]  # A (EU-PSD2, en) and G (EU-PSD2-LT, ru)
    assert stuck["received"] == 1
    assert stuck["decisions"]["total"] == 3 and stuck["decisions"]["upheld"] == 2
    assert stuck["time_to_final_response"] == {
        "count": 3,
        "mean_seconds": 777600.0,
        "median_seconds": 86400.0,
        "p90_seconds": 2160000.0,
    }
    assert stuck["deadline_breaches"]["by_jurisdiction"] == {
        "EU-PSD2": {"due": 1, "breached": 0, "breach_rate": 0.0},
        "EU-PSD2-LT": {"due": 1, "breached": 1, "breach_rate": 1.0},
    }
    assert stuck["redress_paid"]["by_currency"] == {"EUR": "60.00"}
    assert stuck["csat"]["mean"] == 4.0
    english = f["by_language"]["en"]  # A and D
    assert english["open_at_end"] == 1
    assert english["time_to_first_response"] == {
        "count": 2,
        "mean_seconds": 1200.0,
        "median_seconds": 600.0,
        "p90_seconds": 1800.0,
        "within_goal": 2,
        "within_limit": 2,
        "within_goal_rate": 1.0,
        "within_limit_rate": 1.0,
    }
    assert english["deadline_breaches"]["breached"] == 1
    social = f["by_channel"]["social"]  # F, withdrawn without a response
    assert social["received"] == 1 and social["withdrawn"] == 1
    assert social["time_to_first_response"] == {
        "count": 0,
        "mean_seconds": None,
        "median_seconds": None,
        "p90_seconds": None,
        "within_goal": 0,
        "within_limit": 0,
        "within_goal_rate": None,
        "within_limit_rate": None,
    }
    assert f["by_language"]["zh"]["redress_paid"]["amount_undisclosed"] == 1


def test_as_of_an_earlier_instant(ledger, march) -> None:
    f = figures(ledger, MARCH[0], MARCH[1], at("2026-03-20T00:00:00Z"))
    t = f["totals"]
    assert t["received"] == 6
    assert t["decisions"]["total"] == 4  # A, B, C, G; G's second decision is on the 20th
    # B referred, D and E still running, G reopened on the 19th.
    assert t["open_at_end"] == 4
    # Only G's Lithuanian deadline (16 March) has passed by the 20th.
    assert (t["deadline_breaches"]["due"], t["deadline_breaches"]["breached"]) == (1, 1)
    assert t["redress_paid"]["by_currency"] == {"EUR": "60.00"}
    assert t["redress_paid"]["amount_undisclosed"] == 0


def test_a_late_answer_is_still_a_breach(ledger, march) -> None:
    ledger.complaints.writes.clock.now = at("2026-04-02T09:00:00Z")
    ledger.complaints.writes.record(
        march["D"], type="holding_reply", public={}, body={"reason": "late"}, actor=AGENT
    )
    f = figures(ledger, *MARCH, at("2026-04-03T00:00:00Z"))
    # The holding reply came after the deadline had passed: no extension, still breached.
    assert f["totals"]["deadline_breaches"]["breached"] == 2


WINDOWS = [
    (MARCH[0], MARCH[1], APRIL_1),
    (MARCH[0], MARCH[1], at("2026-03-20T00:00:00Z")),
    (at("2026-02-01T00:00:00Z"), MARCH[0], MARCH[0]),
    (datetime(1970, 1, 1, tzinfo=UTC), at("2030-01-01T00:00:00Z"), at("2030-01-01T00:00:00Z")),
    (at("2026-03-17T09:00:00Z"), at("2026-03-17T12:00:00Z"), at("2026-03-23T23:00:00Z")),
]


@pytest.mark.parametrize("window", range(len(WINDOWS)))
def test_sql_path_equals_pure_replay_of_the_log(ledger, march, window) -> None:
    start, end, as_of = WINDOWS[window]
    size = ledger.store.latest_checkpoint().size
    leaves = ledger.store.entries(0, size)
    for n in (size, size - 1, size // 2, 3, 1):  # every figure as of several checkpoints
        w = Window.of(start, end, as_of, n)
        assert sql_figures(ledger.engine, w) == compute_figures(leaves, w), n


def test_sql_equals_pure_at_every_checkpoint(ledger, march) -> None:
    size = ledger.store.latest_checkpoint().size
    leaves = ledger.store.entries(0, size)
    for n in range(1, size + 1):
        ledger.store.checkpoint(n)  # each step was its own batch: a signed checkpoint per size
        w = Window.of(*MARCH, APRIL_1, n)
        assert sql_figures(ledger.engine, w) == compute_figures(leaves[:n], w), n


def test_backfill_rebuilds_the_same_rows(ledger, march) -> None:
    from sqlalchemy import select

    from ledger.casework.facts import AuditFact

    with ledger.engine.connect() as conn:
        before = conn.execute(select(AuditFact).order_by(AuditFact.log_index)).all()
        assert backfill(conn) == 0  # nothing missing
    size = ledger.store.latest_checkpoint().size
    complaint_events = sum(1 for _ in ledger.store.entries(0, size)) - 1  # one officer key
    assert len(before) == complaint_events


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 50) is None
    assert percentile([7], 90) == 7
    assert percentile([1, 2, 3, 4], 50) == 2  # lower middle
    assert percentile(list(range(1, 11)), 90) == 9
    assert percentile(list(range(1, 12)), 90) == 10  # ceil(9.9) = 10


def test_statutory_due_matches_the_deadlines_module() -> None:
    from ledger.complaints.deadlines import final_response_due, get_jurisdiction

    for code in ("EU-PSD2", "EU-PSD2-LT", "UK-FCA-DISP", "UK-FCA-PSR"):
        for when in ("2026-03-02T09:00:00Z", "2026-12-24T23:30:00.000Z", "2027-03-28T00:30:00Z"):
            j = get_jurisdiction(code)
            expected = final_response_due(when, j)
            assert statutory_due_ms(code, epoch_ms(when)) == int(expected.timestamp() * 1000)
    assert statutory_due_ms("UK-FCA-DISP", 0, extended=True) is None
    assert statutory_due_ms("XX-UNKNOWN", 0) is None
    assert statutory_due_ms("EU-PSD2", epoch_ms("2035-01-01T00:00:00Z")) is None  # no calendar


@pytest.mark.slow
def test_known_zones_change_offset_at_most_once_a_day() -> None:
    """What lets ``statutory_due_ms`` convert once per UTC day from 1980 to 2060: no zone of a
    known jurisdiction changes its offset twice within a day (sampled every three hours, each
    change found to the millisecond)."""
    from itertools import pairwise
    from zoneinfo import ZoneInfo

    from ledger.complaints.deadlines import JURISDICTIONS
    from ledger.complaints.figures import _day_offsets, _offset_ms

    step = 3 * 3_600_000
    start, end = epoch_ms("1980-01-01T00:00:00Z"), epoch_ms("2061-01-01T00:00:00Z")
    for code, jurisdiction in JURISDICTIONS.items():
        zone = ZoneInfo(jurisdiction.timezone)
        changes = []
        previous = _offset_ms(zone, start)
        for ms in range(start + step, end, step):
            now = _offset_ms(zone, ms)
            if now == previous:
                continue
            lo, hi = ms - step, ms
            while hi - lo > 1:
                mid = (lo + hi) // 2
                lo, hi = (mid, hi) if _offset_ms(zone, mid) == previous else (lo, mid)
            changes.append(hi)
            for instant, offset in ((hi - 1, previous), (hi, now)):
                before, change, after = _day_offsets(code, instant // 86_400_000)
                assert (before if instant < change else after) == offset, (code, instant)
            previous = now
        assert len(changes) > 100, code  # summer time, twice a year
        assert all(b - a > 86_400_000 for a, b in pairwise(changes)), code


def test_statutory_due_per_day_equals_the_exact_computation() -> None:
    from ledger.complaints.figures import _statutory_due_ms

    instants = []
    for day in ("2025-03-30", "2025-10-26", "2026-03-29", "2026-12-31", "2027-10-31"):
        base = epoch_ms(f"{day}T00:00:00Z")
        instants += [base + m * 60_000 + d for m in range(-180, 240, 15) for d in (-1, 0, 1)]
    for code in ("EU-PSD2", "EU-PSD2-LT", "UK-FCA-DISP", "UK-FCA-PSR", "XX-UNKNOWN"):
        for ms in instants:
            for extended in (False, True):
                exact = _statutory_due_ms(code, ms, extended)
                assert statutory_due_ms(code, ms, extended=extended) == exact, (code, ms)
