"""Complaint chains while replaying: ``states.step`` on a mutable state.

The transition table (``states.transition_target``), the guards (``states.GUARDS``), the
effects (``states.EFFECTS``) and officer authority (``officers.check_authority``, and
``officers.check_signed_step`` for limits and dual control) are the domain's own.
``ChainState`` is made from ``states.ComplaintState``'s own fields, mutable: a step's effects
are set in place (a new frozen state per step, as ``states.apply`` builds, costs more than
the rest of a step). tests/audit/test_monitor_fast.py checks the verdicts and states
against ``states.replay`` on valid and broken chains.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from itertools import islice
from typing import Any

from ledger.complaints import states as _states
from ledger.complaints.errors import ChainError, TransitionError
from ledger.complaints.events import Envelope
from ledger.complaints.figures import epoch_ms, to_ms
from ledger.complaints.officers import OfficerKey, check_authority, check_signed_step
from ledger.complaints.payloads import Money
from ledger.complaints.vocab import (
    OFFICER_KEY_EVENTS,
    SIGNED_EVENTS,
    Category,
    Channel,
    EscalationLevel,
    EventType,
    Language,
    Status,
)
from ledger.monitor.leaves import LeafView, time_key

E = EventType
_RECEIVED = E.RECEIVED
_CATEGORIES, _CHANNELS, _LANGUAGES, _LEVELS = (
    {m.value: m for m in kind} for kind in (Category, Channel, Language, EscalationLevel)
)
_GUARDS = _states.GUARDS
_check_position = _states.check_position
_EFFECTS = _states.EFFECTS
_check_context = _states.check_context
_CONTEXT_EVENTS = _states.CONTEXT_EVENTS

# --- the state: the domain's fields, mutable, plus where the monitor is in the chain ---------

Decode = Callable[[Any], Any] | None  # None: the JSON value as it is


def _money_json(m: Money) -> list:
    return [str(m.amount), m.unit, m.is_asset]


def _money(v: list) -> Money:
    return Money(Decimal(v[0]), v[1], v[2])


def _codec(name: str, kind: Any) -> tuple[str, Decode]:
    """How a field's value is kept in the state file: a Python expression that encodes the
    value ``{v}`` (compiled into ``to_json``), and how to read it back. Unknown field types
    fail here, at import, so a field added to ``ComplaintState`` cannot be saved wrongly."""
    if kind in (str, int, bool):
        return ("{v}", None)
    if isinstance(kind, type) and issubclass(kind, StrEnum):
        return ("{v}", kind)  # members are ``str``s; read back as members
    if kind is Money:
        return ("_money_json({v})", _money)
    args = typing.get_args(kind)
    if isinstance(kind, types.UnionType) and len(args) == 2 and type(None) in args:
        enc, dec = _codec(name, args[0] if args[1] is type(None) else args[1])
        if enc != "{v}":
            enc = "(None if {v} is None else " + enc + ")"
        return (enc, dec and (lambda v: None if v is None else dec(v)))
    origin = typing.get_origin(kind)
    if origin in (tuple, frozenset) and args:
        enc, dec = _codec(name, args[0])
        each = "[" + enc.format(v="x") + " for x in {v}]"
        if origin is tuple and args[1:] == (Ellipsis,):  # a tuple is a JSON array as it is
            return (
                "{v}" if enc == "{v}" else each,
                (lambda v: tuple(map(dec, v))) if dec else tuple,
            )
        if origin is frozenset:
            return (
                "sorted({v})" if enc == "{v}" else "sorted(" + each + ")",
                (lambda v: frozenset(map(dec, v))) if dec else frozenset,
            )
    raise TypeError(f"ChainState: no state-file form for ComplaintState.{name} ({kind!r})")


_HINTS = typing.get_type_hints(_states.ComplaintState)
_CASE_FIELDS = [
    f for f in dataclasses.fields(_states.ComplaintState) if f.name not in _states.CHAIN_FIELDS
]
# (name, codec, default or MISSING): a saved state without a field added later (e.g.
# ``rated``) reads as the field's default.
_CASE_CODECS = [(f.name, _codec(f.name, _HINTS[f.name]), f.default) for f in _CASE_FIELDS]


def _compile_to_json() -> Callable[[Any], dict[str, Any]]:
    """``to_json`` as one dict display (as dataclasses compiles ``__init__``): it runs for
    every complaint a replay saves, and a loop over the fields costs much more."""
    items = [f"{name!r}: " + enc.format(v=f"self.{name}") for name, (enc, _), _ in _CASE_CODECS]
    items += [f"{n!r}: self.{n}" for n in ("log", "reference", "seq", "head", "last_at")]
    items.append("'events': list(self.events.items())")
    source = "def to_json(self):\n    return {" + ", ".join(items) + "}\n"
    env: dict[str, Any] = {"_money_json": _money_json}
    exec(source, env)  # the source holds only the dataclass's field names and the codecs
    to_json = env["to_json"]
    to_json.__doc__ = "JSON-ready fields (enum members are ``str``s, tuples encode as arrays)."
    return to_json


def _event_type_of(self, leaf_hash_hex: str) -> EventType | None:
    return self.events.get(leaf_hash_hex)


def _event_type_at(self, seq: int) -> EventType | None:
    if 0 <= seq < len(self.events):
        return next(islice(self.events.values(), seq, None))
    return None


def _from_json(cls, d: Mapping[str, Any]):
    values: dict[str, Any] = {}
    for name, (_, dec), default in _CASE_CODECS:
        if name not in d and default is not dataclasses.MISSING:
            continue
        value = d[name]
        values[name] = value if dec is None else dec(value)
    return cls(
        **values,
        log=d["log"],
        reference=d["reference"],
        seq=d["seq"],
        head=d["head"],
        last_at=d["last_at"],
        events={h: EventType(t) for h, t in d["events"]},
    )


ChainState = dataclasses.make_dataclass(
    "ChainState",
    [
        *(
            (f.name, _HINTS[f.name])
            if f.default is dataclasses.MISSING
            else (f.name, _HINTS[f.name], dataclasses.field(default=f.default))
            for f in _CASE_FIELDS
        ),
        # Where the chain is, in the monitor's own form: ``last_at`` is a ``time_key`` and
        # ``events`` maps leaf hashes to types (``states.ComplaintState`` keeps a tuple).
        ("log", str, dataclasses.field(default="")),
        ("reference", str, dataclasses.field(default="")),
        ("seq", int, dataclasses.field(default=0)),
        ("head", str, dataclasses.field(default="")),
        ("last_at", str, dataclasses.field(default="")),
        ("events", dict, dataclasses.field(default_factory=dict)),
    ],
    namespace={
        "__doc__": "A complaint's state while replaying: ``states.ComplaintState``'s fields, "
        "mutable (``states.StepState`` for the guards and effects).",
        "event_type_of": _event_type_of,
        "event_type_at": _event_type_at,
        "to_json": _compile_to_json(),
        "from_json": classmethod(_from_json),
    },
    slots=True,
)
ChainState.__module__ = __name__  # for repr and pickling (make_dataclass has no module= in 3.11)


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
    _check_position(state.log, state.reference, state.seq + 1, state.head, env)
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
        key_id = public["signature"]["key_id"]
        _check_authority(registry, key_id, role, env)
        signer = registry[key_id]
        # Limits and dual control: only for keys registered with limits, or co-signed steps.
        if signer.limits is not None or "cosignature" in public:
            check_signed_step(registry, signer, et, public, at, state.category)
    if et in OFFICER_KEY_EVENTS:
        raise TransitionError(f"{et} is a log entry, not a complaint step", "NOT_A_COMPLAINT_EVENT")
    target = _states.transition_target(state, et, role)  # type: ignore[arg-type]
    # public was validated when the leaf was parsed; apply() would only validate it again.
    if public["state"] != target:
        raise TransitionError(
            f"public.state says {public['state']} but {et} leads to {target}", "STATE_MISMATCH"
        )
    check = _GUARDS.get(et)
    if check is not None:
        check(state, public)
    if et in _CONTEXT_EVENTS:
        _check_context(state, et, role, public, at, env.actor.id)
    state.status = target
    effect = _EFFECTS.get(et)
    if effect is not None:
        for name, value in effect(state, public).items():
            setattr(state, name, value)
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
