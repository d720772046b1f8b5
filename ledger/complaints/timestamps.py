"""RFC 3339 UTC timestamps as used in event envelopes: ``YYYY-MM-DDTHH:MM:SS[.mmm]Z``."""

from __future__ import annotations

import re
from datetime import UTC, datetime

# One spelling per instant family: upper-case T and Z, no offsets, seconds or milliseconds only,
# so a timestamp string can be compared and hashed without re-normalising it.
_TIMESTAMP = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{3}))?Z$")


def parse_timestamp(text: str) -> datetime:
    """Parse an envelope timestamp into an aware UTC datetime; ValueError when malformed."""
    m = _TIMESTAMP.fullmatch(text) if isinstance(text, str) else None
    if not m:
        raise ValueError(f"not an RFC 3339 UTC timestamp (YYYY-MM-DDTHH:MM:SS[.mmm]Z): {text!r}")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    millis = int(m.group(7) or 0)
    try:
        return datetime(year, month, day, hour, minute, second, millis * 1000, tzinfo=UTC)
    except ValueError as exc:  # 2025-02-30, 24:00:00, leap second 60
        raise ValueError(f"invalid timestamp {text!r}: {exc}") from None


def format_timestamp(value: datetime) -> str:
    """Format an aware datetime as UTC with milliseconds (sub-millisecond digits are dropped)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("timestamp must be timezone-aware")
    v = value.astimezone(UTC)
    return v.strftime("%Y-%m-%dT%H:%M:%S") + f".{v.microsecond // 1000:03d}Z"


def as_utc(value: datetime | str) -> datetime:
    """Accept an envelope timestamp string or an aware datetime; return an aware UTC datetime."""
    if isinstance(value, str):
        return parse_timestamp(value)
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("datetime must be timezone-aware")
    return value.astimezone(UTC)
