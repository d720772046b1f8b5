"""Holiday calendars and business-day / business-hour arithmetic.

Built-in calendars are explicit date lists, not a third-party holiday package: a deadline
recorded in the log must be recomputable years later by anyone, so the data it depends on
is pinned here, readable, and versioned with the code. Asking about a year a calendar does
not cover raises CalendarError instead of silently treating holidays as working days.

* ``ENGLAND_AND_WALES``: UK bank holidays in England and Wales, 2025–2028 (gov.uk list;
  2028 follows the standing rules, no one-off holiday announced yet).
* ``TARGET2``: TARGET2/T2 closing days, the EU-wide payment-system calendar (1 Jan, Good
  Friday, Easter Monday, 1 May, 25 and 26 Dec), 2025–2028. The default for EU PSD2 clocks.
* ``LITHUANIA``: Lithuanian public holidays 2025–2028, an example member state (many e-money
  and crypto-asset firms are licensed there). Build others with ``HolidayCalendar.from_dates``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ledger.complaints.errors import CalendarError

SATURDAY, SUNDAY = 5, 6


@dataclass(frozen=True)
class HolidayCalendar:
    """Non-business days: a weekend plus listed holidays, valid for ``first_year..last_year``."""

    name: str
    holidays: frozenset[date]
    first_year: int
    last_year: int
    weekend: frozenset[int] = field(default=frozenset({SATURDAY, SUNDAY}))

    @classmethod
    def from_dates(
        cls,
        name: str,
        dates: Iterable[date | str],
        first_year: int,
        last_year: int,
        weekend: Iterable[int] = (SATURDAY, SUNDAY),
    ) -> HolidayCalendar:
        """A calendar from explicit dates (``date`` or ISO strings); all must be in range."""
        days = frozenset(d if isinstance(d, date) else date.fromisoformat(d) for d in dates)
        outside = sorted(d for d in days if not first_year <= d.year <= last_year)
        if outside:
            raise CalendarError(f"{name}: {outside[0]} is outside {first_year}–{last_year}")
        return cls(name, days, first_year, last_year, frozenset(weekend))

    def with_holidays(self, dates: Iterable[date]) -> HolidayCalendar:
        """This calendar plus one-off holidays (e.g. a royal event)."""
        return HolidayCalendar.from_dates(
            self.name, self.holidays | set(dates), self.first_year, self.last_year, self.weekend
        )

    def covers(self, day: date) -> bool:
        return self.first_year <= day.year <= self.last_year

    def is_business_day(self, day: date) -> bool:
        if not self.covers(day):
            raise CalendarError(
                f"the {self.name} calendar covers {self.first_year}–{self.last_year}, "
                f"not {day.isoformat()}; add that year's holidays before computing deadlines"
            )
        return day.weekday() not in self.weekend and day not in self.holidays


def add_business_days(start: date, days: int, calendar: HolidayCalendar) -> date:
    """The ``days``-th business day after ``start`` (``start`` itself is never counted).

    ``days == 0`` returns ``start``. A start on a weekend or holiday works naturally: the next
    business day is day 1.
    """
    if days < 0:
        raise ValueError("days must be >= 0")
    current, counted = start, 0
    while counted < days:
        current += timedelta(days=1)
        if calendar.is_business_day(current):
            counted += 1
    return current


def business_days_between(start: date, end: date, calendar: HolidayCalendar) -> int:
    """How many business days lie in ``(start, end]`` (0 when ``end <= start``)."""
    count, current = 0, start
    while current < end:
        current += timedelta(days=1)
        if calendar.is_business_day(current):
            count += 1
    return count


@dataclass(frozen=True)
class ServiceHours:
    """Opening hours for service-level clocks (local time, business days of ``calendar``)."""

    calendar: HolidayCalendar
    timezone: str
    opens: time = time(9, 0)
    closes: time = time(17, 0)

    def __post_init__(self) -> None:
        if self.closes <= self.opens:
            raise CalendarError("service hours must close after they open", "BAD_SERVICE_HOURS")
        ZoneInfo(self.timezone)

    def window(self, day: date) -> tuple[datetime, datetime] | None:
        """The open interval of ``day`` as aware datetimes, or None on a closed day."""
        if not self.calendar.is_business_day(day):
            return None
        tz = ZoneInfo(self.timezone)
        return datetime.combine(day, self.opens, tz), datetime.combine(day, self.closes, tz)


_MAX_SCAN_DAYS = 3 * 366  # beyond this a calendar gap or a misconfiguration is more likely


def add_service_time(start: datetime, duration: timedelta, hours: ServiceHours | None) -> datetime:
    """The instant ``duration`` of service time after ``start`` (24/7 when ``hours`` is None)."""
    if hours is None:
        return start + duration
    remaining = duration
    day = start.astimezone(ZoneInfo(hours.timezone)).date()
    for _ in range(_MAX_SCAN_DAYS):
        window = hours.window(day)
        if window is not None:
            begin, end = max(window[0], start), window[1]
            if begin < end:
                if end - begin >= remaining:
                    return begin + remaining
                remaining -= end - begin
        day += timedelta(days=1)
    raise CalendarError("no service time found within three years", "BAD_SERVICE_HOURS")


def service_time_between(start: datetime, end: datetime, hours: ServiceHours | None) -> timedelta:
    """Service time elapsed in ``[start, end)`` (24/7 when ``hours`` is None)."""
    if end <= start:
        return timedelta(0)
    if hours is None:
        return end - start
    tz = ZoneInfo(hours.timezone)
    day, last = start.astimezone(tz).date(), end.astimezone(tz).date()
    total = timedelta(0)
    while day <= last:
        window = hours.window(day)
        if window is not None:
            begin, finish = max(window[0], start), min(window[1], end)
            if begin < finish:
                total += finish - begin
        day += timedelta(days=1)
    return total


ENGLAND_AND_WALES = HolidayCalendar.from_dates(
    "England and Wales bank holidays",
    [
        # 2025
        "2025-01-01", "2025-04-18", "2025-04-21", "2025-05-05", "2025-05-26", "2025-08-25",
        "2025-12-25", "2025-12-26",
        # 2026 (Boxing Day is a Saturday: substitute Monday 28 December)
        "2026-01-01", "2026-04-03", "2026-04-06", "2026-05-04", "2026-05-25", "2026-08-31",
        "2026-12-25", "2026-12-28",
        # 2027 (Christmas on a Saturday, Boxing Day on a Sunday: substitutes 27 and 28 Dec)
        "2027-01-01", "2027-03-26", "2027-03-29", "2027-05-03", "2027-05-31", "2027-08-30",
        "2027-12-27", "2027-12-28",
        # 2028 (1 January is a Saturday: substitute Monday 3 January)
        "2028-01-03", "2028-04-14", "2028-04-17", "2028-05-01", "2028-05-29", "2028-08-28",
        "2028-12-25", "2028-12-26",
    ],
    2025,
    2028,
)  # fmt: skip

TARGET2 = HolidayCalendar.from_dates(
    "TARGET2 closing days",
    [
        "2025-01-01", "2025-04-18", "2025-04-21", "2025-05-01", "2025-12-25", "2025-12-26",
        "2026-01-01", "2026-04-03", "2026-04-06", "2026-05-01", "2026-12-25", "2026-12-26",
        "2027-01-01", "2027-03-26", "2027-03-29", "2027-05-01", "2027-12-25", "2027-12-26",
        "2028-01-01", "2028-04-14", "2028-04-17", "2028-05-01", "2028-12-25", "2028-12-26",
    ],
    2025,
    2028,
)  # fmt: skip


def _lithuania(year: int, easter_monday: str) -> list[str]:
    fixed = ["01-01", "02-16", "03-11", "05-01", "06-24", "07-06", "08-15", "11-01", "11-02"]
    fixed += ["12-24", "12-25", "12-26"]
    # Easter Sunday, Mother's Day and Father's Day are also holidays but always Sundays.
    return [f"{year}-{md}" for md in fixed] + [easter_monday]


LITHUANIA = HolidayCalendar.from_dates(
    "Lithuanian public holidays",
    _lithuania(2025, "2025-04-21")
    + _lithuania(2026, "2026-04-06")
    + _lithuania(2027, "2027-03-29")
    + _lithuania(2028, "2028-04-17"),
    2025,
    2028,
)

CALENDARS = {"england_wales": ENGLAND_AND_WALES, "target2": TARGET2, "lithuania": LITHUANIA}
