"""Clocks: service targets and statutory deadlines across weekends, holidays and Christmas."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from ledger.complaints.calendars import ENGLAND_AND_WALES, ServiceHours
from ledger.complaints.deadlines import (
    JURISDICTIONS,
    ClockName,
    ClockStatus,
    due_report,
    final_response_due,
    get_jurisdiction,
    initial_deadlines,
    overdue_cutoff,
)
from ledger.complaints.errors import CalendarError
from ledger.complaints.payloads import validate_public
from tests.support.complaint_chain import Chain

PSD2 = JURISDICTIONS["EU-PSD2"]
PSD2_LT = JURISDICTIONS["EU-PSD2-LT"]
DISP = JURISDICTIONS["UK-FCA-DISP"]
PSR = JURISDICTIONS["UK-FCA-PSR"]


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def clock(report, name, cycle=0):
    return next(c for c in report.clocks if c.name == name and c.cycle == cycle)


# --- statutory dates ----------------------------------------------------------------------

FRIDAY_BEFORE_BANK_HOLIDAY = utc(2025, 8, 22, 13, 0)  # 14:00 BST; Monday 25 Aug is a holiday


def test_uk_payment_services_15_business_days_skip_the_bank_holiday():
    assert PSR.final_response_date(FRIDAY_BEFORE_BANK_HOLIDAY) == date(2025, 9, 15)
    # without the holiday it would be Friday 12 September
    assert final_response_due(FRIDAY_BEFORE_BANK_HOLIDAY, PSR) == utc(2025, 9, 15, 23)  # BST
    assert PSR.final_response_date(FRIDAY_BEFORE_BANK_HOLIDAY, extended=True) == date(2025, 10, 13)


def test_uk_disp_is_eight_calendar_weeks():
    assert DISP.final_response_date(FRIDAY_BEFORE_BANK_HOLIDAY) == date(2025, 10, 17)
    assert final_response_due(FRIDAY_BEFORE_BANK_HOLIDAY, DISP) == utc(2025, 10, 17, 23)
    # 8 weeks from Monday 10 March 2025 is the early May bank holiday: not moved
    assert DISP.final_response_date(utc(2025, 3, 10, 12)) == date(2025, 5, 5)
    with pytest.raises(CalendarError) as exc:
        DISP.final_response_date(utc(2025, 3, 10, 12), extended=True)
    assert exc.value.code == "NO_EXTENSION"


def test_uk_receipt_just_after_midnight_local_counts_from_the_local_day():
    # 23:30 UTC on Sunday 24 Aug 2025 is 00:30 BST on Monday 25 Aug (a bank holiday)
    assert DISP.final_response_date(utc(2025, 8, 24, 23, 30)) == date(2025, 10, 20)
    assert PSR.final_response_date(utc(2025, 8, 24, 23, 30)) == date(2025, 9, 15)


DEC_8 = utc(2025, 12, 8, 10, 0)  # Monday 8 December 2025


def test_psd2_15_vs_35_business_days_over_christmas():
    assert PSD2.final_response_date(DEC_8) == date(2025, 12, 31)  # 25, 26 Dec closed
    assert PSD2.final_response_date(DEC_8, extended=True) == date(2026, 1, 29)  # and 1 Jan
    assert final_response_due(DEC_8, PSD2) == utc(2025, 12, 31, 23)  # midnight CET


def test_member_state_calendar_differs_from_target2():
    # Lithuania also closes on 24 December and 1 January
    assert PSD2_LT.final_response_date(DEC_8) == date(2026, 1, 2)


def test_psd2_weekend_and_local_midnight_receipt():
    assert PSD2.final_response_date(utc(2025, 12, 6, 12)) == date(2025, 12, 30)  # Saturday
    # Sunday 23:30 in Brussels vs Monday 00:30 in Brussels
    assert PSD2.final_response_date(utc(2025, 12, 7, 22, 30)) == date(2025, 12, 30)
    assert PSD2.final_response_date(utc(2025, 12, 7, 23, 30)) == date(2025, 12, 31)


def test_unknown_jurisdiction():
    with pytest.raises(CalendarError) as exc:
        get_jurisdiction("US-CFPB")
    assert exc.value.code == "UNKNOWN_JURISDICTION"


def _latest_overdue_day(j, now: datetime, extended: bool) -> date:
    """Brute force: the last local receipt day whose final response is overdue at ``now``
    (the due instant depends only on the local day of receipt)."""
    days = [j.local_date(now) - timedelta(days=n) for n in range(120)]
    noon = [datetime.combine(d, time(12), ZoneInfo(j.timezone)) for d in days]
    overdue = [
        d
        for d, r in zip(days, noon, strict=True)
        if final_response_due(r, j, extended=extended) <= now
    ]
    assert days[-1] in overdue  # the scan reaches back far enough
    return max(overdue)


@pytest.mark.parametrize("j", [PSD2, PSD2_LT, DISP, PSR], ids=lambda j: j.code)
@pytest.mark.parametrize(
    "now",
    [
        # The bisection starts 400 days back: every instant here is within the calendars.
        utc(2027, 1, 4, 8, 30),  # after Christmas and New Year's Day
        utc(2026, 3, 29, 0, 30),  # the night clocks go forward
        utc(2026, 4, 7, 23, 59),  # after Easter Monday, a minute before midnight UTC
        utc(2026, 10, 25, 23, 0),  # the day clocks go back: local midnight in Brussels
    ],
)
def test_overdue_cutoff_agrees_with_a_scan_of_receipt_days(j, now) -> None:
    for extended in (False, True) if j.extended_business_days else (False,):
        cutoff = overdue_cutoff(j, now, extended=extended)
        # The first receipt instant not yet overdue: the start of the next local day.
        boundary = j.end_of_day(_latest_overdue_day(j, now, extended))
        assert boundary - timedelta(minutes=1) <= cutoff < boundary
        assert final_response_due(cutoff, j, extended=extended) <= now


# --- due reports over real chains -----------------------------------------------------------


def test_holding_reply_in_time_extends_psd2_deadline():
    c = Chain(start=DEC_8, jurisdiction="EU-PSD2").run("acknowledged")
    c.add("holding_reply", at=utc(2025, 12, 31, 20))  # 21:00 CET on the 15th business day
    report = due_report(c.envelopes, utc(2026, 1, 15))
    final = clock(report, ClockName.FINAL_RESPONSE)
    assert final.due_date == date(2026, 1, 29) and final.status == ClockStatus.RUNNING
    assert "extended" in final.basis and final.statutory
    c.add("decision", at=utc(2026, 1, 20, 9))
    final = clock(due_report(c.envelopes, utc(2026, 2, 15)), ClockName.FINAL_RESPONSE)
    assert final.status == ClockStatus.MET and final.completed_at == utc(2026, 1, 20, 9)


def test_late_holding_reply_does_not_extend():
    c = Chain(start=DEC_8, jurisdiction="EU-PSD2").run("acknowledged")
    c.add("holding_reply", at=utc(2025, 12, 31, 23, 30))  # already 1 January in Brussels
    report = due_report(c.envelopes, utc(2026, 1, 15))
    final = clock(report, ClockName.FINAL_RESPONSE)
    assert final.due_date == date(2025, 12, 31) and final.status == ClockStatus.OVERDUE
    assert final in report.overdue and final in report.breaches
    c.add("decision", at=utc(2026, 1, 20, 9))
    final = clock(due_report(c.envelopes, utc(2026, 2, 1)), ClockName.FINAL_RESPONSE)
    assert final.status == ClockStatus.MISSED


def test_disp_holding_reply_does_not_move_eight_weeks():
    c = Chain(start=FRIDAY_BEFORE_BANK_HOLIDAY, jurisdiction="UK-FCA-DISP").run("acknowledged")
    c.add("holding_reply", at=utc(2025, 9, 1, 9))
    final = clock(due_report(c.envelopes, utc(2025, 9, 2)), ClockName.FINAL_RESPONSE)
    assert final.due_date == date(2025, 10, 17) and final.status == ClockStatus.RUNNING


def test_first_response_clock():
    start = utc(2026, 3, 2, 10)
    c = Chain(start=start)
    running = clock(due_report(c.envelopes, utc(2026, 3, 2, 11, 59, 59)), ClockName.FIRST_RESPONSE)
    assert running.status == ClockStatus.RUNNING and running.due_at == utc(2026, 3, 2, 12)
    overdue = due_report(c.envelopes, utc(2026, 3, 2, 12))
    assert clock(overdue, ClockName.FIRST_RESPONSE).status == ClockStatus.OVERDUE
    c.add("acknowledged", at=utc(2026, 3, 2, 12, 30))
    late = clock(due_report(c.envelopes, utc(2026, 3, 2, 13)), ClockName.FIRST_RESPONSE)
    assert late.status == ClockStatus.MISSED and late.breached
    c2 = Chain(start=start)
    c2.add("acknowledged", at=utc(2026, 3, 2, 11))
    met = clock(due_report(c2.envelopes, utc(2026, 3, 5)), ClockName.FIRST_RESPONSE)
    assert met.status == ClockStatus.MET and not met.breached


def test_category_clock_pauses_while_waiting_for_the_customer():
    start = utc(2026, 3, 2, 10)  # hacked account: target 1 h, limit 3 h
    c = Chain(start=start, category="hacked_account").run("acknowledged")
    # access blocked within its own 15 min target, so no clock here is breached
    c.add("playbook_step", public={"step": "access_blocked"}, at=utc(2026, 3, 2, 10, 10))
    c.add("info_requested", at=utc(2026, 3, 2, 10, 30))
    paused = due_report(c.envelopes, utc(2026, 3, 2, 12))
    target = clock(paused, ClockName.TARGET_RESOLUTION)
    assert target.status == ClockStatus.PAUSED and target.due_at is None
    assert target not in paused.overdue
    c.add("info_received", at=utc(2026, 3, 2, 12, 30))  # 2 h paused
    resumed = due_report(c.envelopes, utc(2026, 3, 2, 12, 40))
    assert clock(resumed, ClockName.TARGET_RESOLUTION).due_at == utc(2026, 3, 2, 13)
    assert clock(resumed, ClockName.RESOLUTION_LIMIT).due_at == utc(2026, 3, 2, 15)
    c.add("evidence_added", at=utc(2026, 3, 2, 12, 40))
    c.add("playbook_step", public={"step": "keys_changed"}, at=utc(2026, 3, 2, 12, 42))
    # The resolution clocks stop when the solution is carried out (playbooks.resolves: here
    # the playbook's last step), no longer at the decision: an upheld decision still runs.
    c.add("decision", at=utc(2026, 3, 2, 12, 44))
    decided = due_report(c.envelopes, utc(2026, 3, 2, 12, 44))
    assert clock(decided, ClockName.TARGET_RESOLUTION).status == ClockStatus.RUNNING
    assert clock(decided, ClockName.FINAL_RESPONSE).status == ClockStatus.MET
    c.add("playbook_step", public={"step": "security_validated"}, at=utc(2026, 3, 2, 12, 45))
    done = due_report(c.envelopes, utc(2026, 3, 3))
    assert clock(done, ClockName.TARGET_RESOLUTION).completed_at == utc(2026, 3, 2, 12, 45)
    assert clock(done, ClockName.TARGET_RESOLUTION).status == ClockStatus.MET
    assert clock(done, ClockName.RESOLUTION_LIMIT).status == ClockStatus.MET
    assert not done.breaches


def test_pause_does_not_rescue_an_already_missed_target():
    start = utc(2026, 3, 2, 10)
    c = Chain(start=start, category="hacked_account").run("acknowledged")
    c.add("info_requested", at=utc(2026, 3, 2, 11, 30))  # target (11:00) already passed
    c.add("info_received", at=utc(2026, 3, 2, 14))
    report = due_report(c.envelopes, utc(2026, 3, 2, 14, 5))
    assert clock(report, ClockName.TARGET_RESOLUTION).due_at == utc(2026, 3, 2, 11)
    assert clock(report, ClockName.TARGET_RESOLUTION).status == ClockStatus.OVERDUE
    # the limit (3 h) had 1.5 h used when the pause began: 1.5 h left after 14:00
    assert clock(report, ClockName.RESOLUTION_LIMIT).due_at == utc(2026, 3, 2, 15, 30)


def test_withdrawn_stops_clocks():
    c = Chain(start=utc(2026, 3, 2, 10)).run("acknowledged", "withdrawn")
    report = due_report(c.envelopes, utc(2026, 6, 1))
    for name in (ClockName.TARGET_RESOLUTION, ClockName.FINAL_RESPONSE):
        assert clock(report, name).status == ClockStatus.STOPPED
    assert not report.overdue


def test_reopening_starts_a_new_cycle():
    c = Chain(start=utc(2026, 3, 2, 10)).run("acknowledged", "decision", "closed")
    reopened = c.add("reopened", at=utc(2026, 4, 1, 9))
    report = due_report(c.envelopes, utc(2026, 4, 2))
    assert clock(report, ClockName.FINAL_RESPONSE, 0).status == ClockStatus.MET
    new = clock(report, ClockName.FINAL_RESPONSE, 1)
    assert new.started_at == reopened.envelope.at_datetime
    assert new.due_date == date(2026, 4, 24)  # 15 TARGET2 days after 1 Apr (3 and 6 Apr closed)
    assert all(c.cycle == 1 for c in report.current)
    assert ClockName.FIRST_RESPONSE not in {c.name for c in report.current}
    assert report.next_due.cycle == 1


def test_service_hours_option():
    hours = ServiceHours(ENGLAND_AND_WALES, "Europe/London", time(9), time(17))
    c = Chain(start=utc(2025, 8, 22, 15, 30), jurisdiction="UK-FCA-DISP")
    report = due_report(c.envelopes, utc(2025, 8, 23), service_hours=hours)
    first = clock(report, ClockName.FIRST_RESPONSE)
    assert first.due_at == utc(2025, 8, 26, 9, 30) and first.status == ClockStatus.RUNNING


def test_initial_deadlines_fit_the_received_event():
    deadlines = initial_deadlines(DEC_8, "stuck_transaction", PSD2)
    assert deadlines == {
        "first_response": "2025-12-08T12:00:00.000Z",
        "first_response_goal": "2025-12-08T11:00:00.000Z",
        "target_resolution": "2025-12-08T14:00:00.000Z",
        "resolution_limit": "2025-12-08T22:00:00.000Z",
        "final_response": "2025-12-31T23:00:00.000Z",
    }
    validate_public(
        "received",
        {
            "state": "received",
            "category": "stuck_transaction",
            "channel": "web_form",
            "language": "ca",
            "jurisdiction": "EU-PSD2",
            "deadlines": deadlines,
        },
    )


def test_due_report_needs_the_received_event():
    c = Chain().run("acknowledged")
    with pytest.raises(CalendarError) as exc:
        due_report(c.envelopes[1:], utc(2026, 3, 3))
    assert exc.value.code == "NO_RECEIVED"
    with pytest.raises(CalendarError):
        due_report(c.envelopes, utc(2026, 3, 1))  # before the complaint existed


def test_due_report_as_of_an_earlier_time_ignores_later_events():
    c = Chain(start=utc(2026, 3, 2, 10)).run("acknowledged")  # acknowledged at 10:05
    before = due_report(c.envelopes, utc(2026, 3, 2, 10, 1))
    first = clock(before, ClockName.FIRST_RESPONSE)
    assert first.status == ClockStatus.RUNNING and first.completed_at is None
    assert before.next_due == first
    after = due_report(c.envelopes, utc(2026, 3, 2, 10, 6))
    assert clock(after, ClockName.FIRST_RESPONSE).status == ClockStatus.MET
    assert after.next_due.name == ClockName.TARGET_RESOLUTION


def test_due_report_accepts_leaf_bytes():
    c = Chain().run("acknowledged")
    assert due_report(c.leaves, utc(2026, 3, 3)) == due_report(c.envelopes, utc(2026, 3, 3))
