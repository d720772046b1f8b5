"""Valid complaint leaves, for logs the tests build and rewrite."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ledger.complaints.events import Actor, build_event
from ledger.complaints.vocab import Role

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def received_leaf(origin: str, i: int, tag: str = "") -> bytes:
    """A valid received event (for logs built in tests)."""
    return build_event(
        log=origin,
        complaint=None,
        seq=0,
        prev=None,
        type="received",
        at=T0 + timedelta(minutes=i),
        actor=Actor(Role.CUSTOMER, "customer"),
        public={"state": "received", "category": "sync_fault", "channel": "email",
                "language": "en", "jurisdiction": "EU-PSD2"},
        body={"description": f"complaint {i} {tag}"},
        salt=bytes([i % 256]) * 31 + tag.encode()[:1].ljust(1, b"-"),
    ).leaf  # fmt: skip
