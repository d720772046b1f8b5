"""Holiday calendars and business-day / service-hour arithmetic."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.complaints.calendars import (
    ENGLAND_AND_WALES,
    LITHUANIA,
    TARGET2,
    HolidayCalendar,
    ServiceHours,
    add_business_days,
    add_service_time,
    business_days_between,
    service_time_between,
)
from ledger.complaints.errors import CalendarError

# --- independent rule-based derivation, to cross-check the pinned lists ---------------------


def easter(year: int) -> date:
    """Anonymous Gregorian algorithm (Meeus/Jones/Butcher)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month, day = divmod(h + l_ - 7 * m + 114, 31)
    return date(year, month, day + 1)


def monday_on_or_after(d: date) -> date:
    return d + timedelta(days=(7 - d.weekday()) % 7)


def last_monday(year: int, month: int) -> date:
    d = date(year, month + 1, 1) - timedelta(days=1)
    return d - timedelta(days=d.weekday())


def england_wales_rules(year: int) -> set[date]:
    e = easter(year)
    days = {
        e - timedelta(days=2),
        e + timedelta(days=1),
        monday_on_or_after(date(year, 5, 1)),
        last_monday(year, 5),
        last_monday(year, 8),
    }
    new_year = date(year, 1, 1)
    days.add(monday_on_or_after(new_year) if new_year.weekday() >= 5 else new_year)
    christmas, boxing = date(year, 12, 25), date(year, 12, 26)
    if christmas.weekday() == 5:  # Sat: Mon 27 and Tue 28
        days |= {date(year, 12, 27), date(year, 12, 28)}
    elif christmas.weekday() == 4:  # Fri: Boxing Day Sat -> Mon 28
        days |= {christmas, date(year, 12, 28)}
    elif christmas.weekday() == 6:  # Sun: Mon 26 is Boxing Day, Christmas -> Tue 27
        days |= {boxing, date(year, 12, 27)}
    else:
        days |= {christmas, boxing}
    return days


@pytest.mark.parametrize("year", [2025, 2026, 2027, 2028])
def test_england_wales_list_matches_the_rules(year):
    pinned = {d for d in ENGLAND_AND_WALES.holidays if d.year == year}
    assert pinned == england_wales_rules(year)


@pytest.mark.parametrize("year", [2025, 2026, 2027, 2028])
def test_target2_list_matches_the_rules(year):
    e = easter(year)
    expected = {date(year, 1, 1), e - timedelta(days=2), e + timedelta(days=1), date(year, 5, 1)}
    expected |= {date(year, 12, 25), date(year, 12, 26)}
    assert {d for d in TARGET2.holidays if d.year == year} == expected


@pytest.mark.parametrize("year", [2025, 2026, 2027, 2028])
def test_lithuania_has_easter_monday(year):
    assert easter(year) + timedelta(days=1) in LITHUANIA.holidays
    assert date(year, 2, 16) in LITHUANIA.holidays and date(year, 7, 6) in LITHUANIA.holidays


def test_known_days():
    assert not ENGLAND_AND_WALES.is_business_day(date(2025, 8, 25))  # summer bank holiday
    assert ENGLAND_AND_WALES.is_business_day(date(2025, 8, 26))
    assert not ENGLAND_AND_WALES.is_business_day(date(2026, 12, 28))  # Boxing Day substitute
    assert not ENGLAND_AND_WALES.is_business_day(date(2025, 8, 23))  # Saturday
    assert TARGET2.is_business_day(date(2025, 8, 25))  # not a TARGET2 holiday
    assert TARGET2.is_business_day(date(2025, 12, 24))
    assert not LITHUANIA.is_business_day(date(2025, 12, 24))


def test_outside_coverage_fails_loudly():
    with pytest.raises(CalendarError) as exc:
        ENGLAND_AND_WALES.is_business_day(date(2029, 1, 2))
    assert exc.value.code == "CALENDAR_NOT_COVERED"
    with pytest.raises(CalendarError):
        add_business_days(date(2028, 12, 20), 15, TARGET2)


def test_add_business_days_over_weekend_and_holiday():
    fri = date(2025, 8, 22)  # Friday before the August bank holiday
    assert add_business_days(fri, 1, ENGLAND_AND_WALES) == date(2025, 8, 26)
    assert add_business_days(fri, 1, TARGET2) == date(2025, 8, 25)
    assert add_business_days(fri, 0, ENGLAND_AND_WALES) == fri
    sat = date(2025, 8, 23)
    assert add_business_days(sat, 1, ENGLAND_AND_WALES) == date(2025, 8, 26)
    assert business_days_between(fri, date(2025, 8, 29), ENGLAND_AND_WALES) == 4
    assert business_days_between(date(2025, 8, 29), fri, ENGLAND_AND_WALES) == 0
    with pytest.raises(ValueError):
        add_business_days(fri, -1, TARGET2)


@given(
    st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 12, 31)),
    st.integers(1, 60),
    st.sampled_from([ENGLAND_AND_WALES, TARGET2, LITHUANIA]),
)
def test_add_business_days_properties(start, n, calendar):
    end = add_business_days(start, n, calendar)
    assert calendar.is_business_day(end)
    assert business_days_between(start, end, calendar) == n
    assert business_days_between(start, end - timedelta(days=1), calendar) == n - 1


def test_custom_calendar():
    cal = HolidayCalendar.from_dates("test", ["2026-03-03"], 2026, 2026)
    assert add_business_days(date(2026, 3, 2), 1, cal) == date(2026, 3, 4)
    cal2 = cal.with_holidays([date(2026, 3, 4)])
    assert add_business_days(date(2026, 3, 2), 1, cal2) == date(2026, 3, 5)
    with pytest.raises(CalendarError):
        HolidayCalendar.from_dates("bad", ["2027-01-01"], 2026, 2026)
    friday_weekend = HolidayCalendar.from_dates("fri-sat", [], 2026, 2026, weekend=(4, 5))
    assert add_business_days(date(2026, 3, 5), 1, friday_weekend) == date(2026, 3, 8)


LONDON_HOURS = ServiceHours(ENGLAND_AND_WALES, "Europe/London", time(9), time(17))


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_service_hours_skip_weekend_and_bank_holiday():
    # Friday 22 Aug 2025 16:30 BST: 30 min left that day, Monday is a bank holiday.
    start = utc(2025, 8, 22, 15, 30)
    due = add_service_time(start, timedelta(hours=2), LONDON_HOURS)
    assert due == utc(2025, 8, 26, 9, 30)  # Tuesday 10:30 BST
    assert service_time_between(start, due, LONDON_HOURS) == timedelta(hours=2)


def test_service_hours_before_opening_and_across_dst():
    # Saturday 29 Mar 2025 (GMT) to Monday 31 Mar (BST): opening is 09:00 local either way.
    due = add_service_time(utc(2025, 3, 29, 12), timedelta(hours=1), LONDON_HOURS)
    assert due == utc(2025, 3, 31, 9)  # 10:00 BST
    due = add_service_time(utc(2025, 3, 27, 6), timedelta(hours=9), LONDON_HOURS)
    assert due == utc(2025, 3, 28, 10)  # Thu 09-17 GMT (8 h) + Fri 1 h


def test_24_7_by_default():
    start = utc(2025, 8, 22, 15, 30)
    assert add_service_time(start, timedelta(hours=2), None) == utc(2025, 8, 22, 17, 30)
    assert service_time_between(start, utc(2025, 8, 23, 15, 30), None) == timedelta(hours=24)


def test_bad_service_hours():
    with pytest.raises(CalendarError):
        ServiceHours(ENGLAND_AND_WALES, "Europe/London", time(17), time(9))
