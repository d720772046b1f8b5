"""Complaint chains while replaying: ``states.step`` on a mutable state.

The transition table (``states.transition_target``), the guards (``states._guard``) and
officer authority (``officers.check_authority``) are the domain's own code. The effects of a
step are applied in place (``states._effect`` builds a new frozen state with
``dataclasses.replace``, which costs more than the rest of a step); ``_EFFECTS`` mirrors it
field for field, and tests/audit/test_monitor_fast.py checks both against each other and
against ``states.replay``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from ledger.complaints import states as _states
from ledger.complaints.errors import ChainError, TransitionError
from ledger.complaints.events import Envelope
from ledger.complaints.metrics import epoch_ms, to_ms
from ledger.complaints.officers import OfficerKey, check_authority
from ledger.complaints.payloads import Money
from ledger.complaints.vocab import (
    OFFICER_KEY_EVENTS,
    SIGNED_EVENTS,
    Category,
    Channel,
    EscalationLevel,
    EventType,
    Language,
    Outcome,
    Specialism,
    Status,
)
from ledger.monitor.leaves import LeafView, time_key

E = EventType
_RECEIVED = E.RECEIVED
_CATEGORIES, _CHANNELS, _LANGUAGES, _LEVELS = (
    {m.value: m for m in kind} for kind in (Category, Channel, Language, EscalationLevel)
)


@dataclass(slots=True)
class ChainState:
    """A complaint's state while replaying: ``states.ComplaintState``'s fields, mutable.

    ``states._guard`` reads it, so the rules beyond the transition table are the domain's.
    """

    status: Status
    category: Category
    channel: Channel
    language: Language
    jurisdiction: str
    level: EscalationLevel = EscalationLevel.AGENT
    specialism: Specialism | None = None
    info_pending: bool = False
    holding_reply_sent: bool = False
    outcome: Outcome | None = None
    offer: Money | None = None
    payments: tuple[Money, ...] = ()
    reopen_count: int = 0
    ratings: tuple[int, ...] = ()
    erased: frozenset[str] = frozenset()
    log: str = ""
    reference: str = ""
    seq: int = 0
    head: str = ""
    last_at: str = ""  # time_key of the last event
    events: dict[str, EventType] = field(default_factory=dict)

    def event_type_of(self, leaf_hash_hex: str) -> EventType | None:
        return self.events.get(leaf_hash_hex)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready fields (enum members are ``str``s, tuples encode as arrays)."""
        return {
            "status": self.status,
            "category": self.category,
            "channel": self.channel,
            "language": self.language,
            "jurisdiction": self.jurisdiction,
            "level": self.level,
            "specialism": self.specialism,
            "info_pending": self.info_pending,
            "holding_reply_sent": self.holding_reply_sent,
            "outcome": self.outcome,
            "offer": _money_json(self.offer),
            "payments": [_money_json(p) for p in self.payments],
            "reopen_count": self.reopen_count,
            "ratings": self.ratings,
            "erased": sorted(self.erased),
            "log": self.log,
            "reference": self.reference,
            "seq": self.seq,
            "head": self.head,
            "last_at": self.last_at,
            "events": list(self.events.items()),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> ChainState:
        def money(m):
            return None if m is None else Money(Decimal(m[0]), m[1], m[2])

        return cls(
            status=Status(d["status"]),
            category=Category(d["category"]),
            channel=Channel(d["channel"]),
            language=Language(d["language"]),
            jurisdiction=d["jurisdiction"],
            level=EscalationLevel(d["level"]),
            specialism=None if d["specialism"] is None else Specialism(d["specialism"]),
            info_pending=d["info_pending"],
            holding_reply_sent=d["holding_reply_sent"],
            outcome=None if d["outcome"] is None else Outcome(d["outcome"]),
            offer=money(d["offer"]),
            payments=tuple(money(p) for p in d["payments"]),
            reopen_count=d["reopen_count"],
            ratings=tuple(d["ratings"]),
            erased=frozenset(d["erased"]),
            log=d["log"],
            reference=d["reference"],
            seq=d["seq"],
            head=d["head"],
            last_at=d["last_at"],
            events={h: EventType(t) for h, t in d["events"]},
        )


def _money_json(m: Money | None) -> list | None:
    return None if m is None else [str(m.amount), m.unit, m.is_asset]


Event = Envelope | LeafView


def start_chain(env: Event, reference: str) -> ChainState:
    """``states.step(None, env)`` for a received event."""
    role = env.actor.role
    if role not in _states.START_ROLES:
        raise TransitionError(
            f"a {role} may not register a complaint; allowed: "
            f"{', '.join(sorted(_states.START_ROLES))}",
            "ROLE_NOT_ALLOWED",
        )
    public = env.public
    if public["state"] != Status.RECEIVED:
        raise TransitionError(
            f"public.state says {public['state']} but received leads to received",
            "STATE_MISMATCH",
        )
    h = env.leaf_hash.hex()
    # The values were checked with the leaf (payloads.validate_public): look the members up.
    return ChainState(
        status=Status.RECEIVED,
        category=_CATEGORIES[public["category"]],
        channel=_CHANNELS[public["channel"]],
        language=_LANGUAGES[public["language"]],
        jurisdiction=public["jurisdiction"],
        level=_LEVELS[public.get("level", EscalationLevel.AGENT)],
        log=env.log,
        reference=reference,
        seq=0,
        head=h,
        last_at=time_key(env.at),
        events={h: _RECEIVED},
    )


def step_chain(state: ChainState, env: Event, registry: Mapping[str, Any] | None) -> ChainState:
    """``states.step(state, env, registry)`` on a mutable state (the same checks, same order);
    returns ``state``, updated in place."""
    if env.log != state.log:
        raise ChainError(f"event is from log {env.log!r}, not {state.log!r}", "LOG_MISMATCH")
    if env.complaint != state.reference:
        raise ChainError(
            f"event names complaint {env.complaint}, the chain is {state.reference}",
            "REFERENCE_MISMATCH",
        )
    if env.seq != state.seq + 1:
        raise ChainError(f"seq is {env.seq}, expected {state.seq + 1}", "BAD_SEQ")
    if env.prev != state.head:
        raise ChainError(
            f"prev is {env.prev}, but the previous event's leaf hash is {state.head}",
            "BROKEN_PREV",
        )
    at = env.at
    key = at if len(at) == 24 else at[:19] + ".000Z"  # time_key, inline: this runs per event
    if key < state.last_at:
        raise ChainError(
            f"event time {at} is before the previous event's {state.last_at}",
            "TIME_WENT_BACKWARDS",
        )
    et = env.type
    role = env.actor.role
    public = env.public
    if registry is not None and et in SIGNED_EVENTS:
        _check_authority(registry, public["signature"]["key_id"], role, env)
    if et in OFFICER_KEY_EVENTS:
        raise TransitionError(f"{et} is a log entry, not a complaint step", "NOT_A_COMPLAINT_EVENT")
    target = _states.transition_target(state, et, role)  # type: ignore[arg-type]
    # public was validated when the leaf was parsed; apply() would only validate it again.
    if public["state"] != target:
        raise TransitionError(
            f"public.state says {public['state']} but {et} leads to {target}", "STATE_MISMATCH"
        )
    if et in GUARDED:
        _states._guard(state, et, public)  # type: ignore[arg-type]
    state.status = target
    effect = _EFFECTS.get(et)
    if effect is not None:
        effect(state, public)
    h = env.leaf_hash.hex()
    state.seq = env.seq
    state.head = h
    state.last_at = key
    state.events[h] = et
    return state


# id(OfficerKey) -> (the key, first ms it may sign at, first ms it may not (or None), roles)
_KEY_BOUNDS: dict[int, tuple[OfficerKey, int, int | None, frozenset[str]]] = {}


def _ceil_ms(instant: datetime) -> int:
    """The first whole millisecond at or after ``instant``."""
    return to_ms(instant) + (instant.microsecond % 1000 != 0)


def _key_bounds(key: OfficerKey) -> tuple[OfficerKey, int, int | None, frozenset[str]]:
    bounds = _KEY_BOUNDS.get(id(key))
    if bounds is None or bounds[0] is not key:
        ends = [t for t in (key.revoked_at, key.valid_until) if t is not None]
        end = _ceil_ms(min(ends)) if ends else None
        bounds = (key, _ceil_ms(key.effective_from), end, frozenset(key.roles))
        if len(_KEY_BOUNDS) >= 4096:
            _KEY_BOUNDS.clear()
        _KEY_BOUNDS[id(key)] = bounds
    return bounds


def _check_authority(registry: Mapping[str, Any], key_id: str, role: str, env: Event) -> None:
    """``officers.check_authority`` at the event's time, compared in milliseconds.

    A timestamp has whole milliseconds, so ``at >= t`` exactly when ``at_ms >= _ceil_ms(t)``;
    anything not plainly allowed goes to ``check_authority``, which raises the domain's error.
    """
    key = registry.get(key_id)
    if key is not None:
        at_ms = env.at_ms if type(env) is LeafView else epoch_ms(env.at)
        _, start, end, roles = _key_bounds(key)
        if start <= at_ms and (end is None or at_ms < end) and role in roles:
            return
    check_authority(registry, key_id, role, env.at)


# Event types ``states._guard`` has rules for (a test reads them out of its source): the
# others skip the call.
GUARDED = frozenset({
    E.INFO_RECEIVED, E.ESCALATED, E.HOLDING_REPLY, E.DECISION, E.COMPENSATION_OFFERED,
    E.COMPENSATION_PAID, E.CLOSED, E.ERASED,
})  # fmt: skip


# --- effects: ``states._effect``, in place ----------------------------------------------------


def _info_requested(s: ChainState, public: Mapping[str, Any]) -> None:
    s.info_pending = True


def _info_received(s: ChainState, public: Mapping[str, Any]) -> None:
    s.info_pending = False


def _escalated(s: ChainState, public: Mapping[str, Any]) -> None:
    s.level = EscalationLevel(public["level"])
    s.specialism = Specialism(public["specialism"]) if "specialism" in public else None


def _holding_reply(s: ChainState, public: Mapping[str, Any]) -> None:
    s.holding_reply_sent = True


def _decision(s: ChainState, public: Mapping[str, Any]) -> None:
    s.outcome = Outcome(public["outcome"])
    s.info_pending = False


def _offered(s: ChainState, public: Mapping[str, Any]) -> None:
    s.offer = Money.from_fields(public)


def _declined(s: ChainState, public: Mapping[str, Any]) -> None:
    s.offer = None


def _paid(s: ChainState, public: Mapping[str, Any]) -> None:
    paid = Money.from_fields(public)
    if paid is not None:
        s.payments = (*s.payments, paid)
    s.offer = None


def _reopened(s: ChainState, public: Mapping[str, Any]) -> None:
    # A new cycle: a new decision and new clocks; payments already made stay recorded.
    s.outcome = None
    s.offer = None
    s.info_pending = False
    s.holding_reply_sent = False
    s.reopen_count += 1


def _rated(s: ChainState, public: Mapping[str, Any]) -> None:
    s.ratings = (*s.ratings, public["csat"])


def _erased(s: ChainState, public: Mapping[str, Any]) -> None:
    s.erased = s.erased | {public["erases"]}


_EFFECTS = {
    E.INFO_REQUESTED: _info_requested,
    E.INFO_RECEIVED: _info_received,
    E.ESCALATED: _escalated,
    E.HOLDING_REPLY: _holding_reply,
    E.DECISION: _decision,
    E.COMPENSATION_OFFERED: _offered,
    E.COMPENSATION_DECLINED: _declined,
    E.COMPENSATION_PAID: _paid,
    E.REOPENED: _reopened,
    E.RATED: _rated,
    E.ERASED: _erased,
}
