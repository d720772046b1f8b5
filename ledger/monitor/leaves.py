"""Reading one leaf fast, with ``events.parse_envelope``'s verdict.

The fast path decides only "valid" or "refused"; a refused leaf is handed to
``parse_envelope``, which accepts it (a valid leaf the fast checks cannot prove valid, e.g. one
with non-ASCII text) or raises the domain's own error for it. So the fast path must never
accept a leaf ``parse_envelope`` rejects; refusing too much only costs time.

Canonical JSON is checked by re-encoding with a C encoder (orjson when installed), which for
ASCII leaves is byte-identical to RFC 8785 on every value a valid envelope can hold (a leaf with
a float or an out-of-range integer fails the envelope checks anyway), with RFC 8785 itself as
the fallback. Verdicts on values that repeat across leaves (log origins, ``public`` objects,
actors) are remembered; unique values (hashes, timestamps) are checked every time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from ledger.complaints import events as _events
from ledger.complaints.errors import ComplaintError, EnvelopeError
from ledger.complaints.events import ENVELOPE_FIELDS, MAX_SEQ, Actor, Envelope, parse_envelope
from ledger.complaints.figures import epoch_ms
from ledger.complaints.payloads import HEX32, PUBLIC_SPECS, validate_public
from ledger.complaints.reference import is_canonical_reference
from ledger.complaints.vocab import SIGNED_EVENTS, EventType

try:  # optional accelerator: byte-identical results, RFC 8785 stays the reference
    import orjson

    _loads = orjson.loads
    _dumps = orjson.dumps
    _SORTED = orjson.OPT_SORT_KEYS

    def _sorted_encoding(value: Any) -> bytes:
        return _dumps(value, option=_SORTED)

except ImportError:  # pragma: no cover - exercised where orjson is not installed
    _loads = json.loads

    def _sorted_encoding(value: Any) -> bytes:
        out = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return out.encode()


E = EventType
_LOG_ORIGIN = _events._LOG_ORIGIN
_AT = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{3})?Z$")
_EVENT_TYPES = {t.value: t for t in EventType}
# Where an event type sits in its chain (events._check_position): first, second, or later.
_FIRST, _SECOND, _LATER = 0, 1, 2
_POSITION = {
    t: _FIRST if t in (E.RECEIVED, E.OFFICER_KEY_REGISTERED)
    else _SECOND if t == E.OFFICER_KEY_REVOKED
    else _LATER
    for t in EventType
}  # fmt: skip
_CACHE_LIMIT = 65536
_ENVELOPE_SIZE = len(ENVELOPE_FIELDS)


class FastPathRefused(Exception):  # a signal to take the slow path, not an error
    """The fast checks cannot decide this leaf; ``parse_envelope`` decides instead."""


def _at_ms(at: Any) -> int:
    """``metrics.epoch_ms`` of a timestamp ``timestamps.parse_timestamp`` accepts (ASCII);
    FastPathRefused, or ValueError for a day that does not exist, otherwise.

    Hours seen are remembered (a log's events crowd into few of them, and an hour is
    remembered only once its whole timestamp was checked); the rest of the text is looked up:
    minutes and seconds, then "Z" or a fraction and "Z".
    """
    if type(at) is not str:
        raise FastPathRefused
    hour = _HOURS.get(at[:13])
    if hour is None:
        if _AT.fullmatch(at) is None or at[11:13] >= "24":
            raise FastPathRefused
        hour = epoch_ms(at[:13] + ":00:00Z")  # ValueError: no such day
        _remember(_HOURS, at[:13], hour)
    in_hour = _MINUTE_SECOND.get(at[13:19])
    fraction = _FRACTION.get(at[19:])
    if in_hour is None or fraction is None:
        raise FastPathRefused
    return hour + in_hour + fraction


_MINUTE_SECOND = {f":{m:02d}:{s:02d}": m * 60_000 + s * 1000 for m in range(60) for s in range(60)}
_FRACTION = {"Z": 0, **{f".{ms:03d}Z": ms for ms in range(1000)}}


def time_key(at: str) -> str:
    """A string that sorts like the instant (both allowed spellings, ms or not)."""
    return at if len(at) == 24 else at[:19] + ".000Z"


class LeafView:
    """The parsed fields of a leaf, as on ``events.Envelope`` (lighter to build in bulk), and
    its time in milliseconds since the epoch (``at_ms``)."""

    __slots__ = (
        "actor",
        "at",
        "at_ms",
        "commitment",
        "complaint",
        "leaf",
        "leaf_hash",
        "log",
        "prev",
        "public",
        "seq",
        "type",
        "v",
    )  # fmt: skip

    def __init__(
        self, log, complaint, seq, prev, type, at, actor, commitment, public, leaf, lh, at_ms
    ):
        self.v = 1
        self.log = log
        self.complaint = complaint
        self.seq = seq
        self.prev = prev
        self.type = type
        self.at = at
        self.actor = actor
        self.commitment = commitment
        self.public = public
        self.leaf = leaf
        self.leaf_hash = lh
        self.at_ms = at_ms

    @classmethod
    def of(cls, env: Envelope) -> LeafView:
        e = env
        return cls(e.log, e.complaint, e.seq, e.prev, e.type, e.at, e.actor, e.commitment,
                   e.public, e.leaf, e.leaf_hash, epoch_ms(e.at))  # fmt: skip

    def envelope(self) -> Envelope:
        return Envelope(
            v=1, log=self.log, complaint=self.complaint, seq=self.seq, prev=self.prev,
            type=self.type, at=self.at, actor=self.actor, commitment=self.commitment,
            public=self.public, leaf=self.leaf, leaf_hash=self.leaf_hash,
        )  # fmt: skip


# --- remembered verdicts ------------------------------------------------------------------------

_VALID_PUBLIC: dict[tuple, bool] = {}
_HOURS: dict[str, int] = {}  # "YYYY-MM-DDTHH" -> ms since the epoch
_VALID_LOGS: dict[str, bool] = {}
_ACTORS: dict[tuple, Actor] = {}
# A signed event's signature object is checked on its own with the domain's validator: its
# value (a unique signature) does not change the verdict on the rest of ``public``.
_SIGNATURE_CHECKS = {t: PUBLIC_SPECS[t]["signature"].check for t in SIGNED_EVENTS}


def _remember(cache: dict, key: Any, value: Any) -> None:
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[key] = value


def _public_key(event_type: EventType, public: dict) -> tuple | None:
    """A hashable stand-in for ``public`` with the same verdict, or None (check it every time).

    Every value keeps its type next to it, so 1, 1.0 and True never share a verdict; lists of
    strings become tuples; the only object allowed is a signed event's signature, checked here.
    """
    parts: list[Any] = [event_type]
    for name, value in public.items():
        kind = type(value)
        if kind is list:
            if not all(type(item) is str for item in value):
                return None
            value = tuple(value)
        elif kind is dict:
            check = _SIGNATURE_CHECKS.get(event_type) if name == "signature" else None
            if check is None:
                return None
            check(value, "public.signature")  # raises PayloadError when it is not valid
            value = None
        parts += (name, kind, value)
    return tuple(parts)


def _public_bytes(data: bytes, event_type: EventType) -> tuple | None:
    """A key for the verdict on ``public`` out of a canonical leaf's bytes: its encoding.

    In a leaf that re-encodes to itself with exactly the envelope's fields, the last
    ``,"seq":`` is the top-level one (only "type" and "v" follow it), and the last
    ``,"public":`` before it is the top-level one unless ``public`` itself holds a "public"
    key; the bytes between them are then either ``public``'s canonical encoding (equal bytes:
    equal values of equal types) or not a JSON value at all, which no valid ``public`` is, so
    a remembered valid verdict is never found for an invalid one.
    """
    end = data.rfind(b',"seq":')
    begin = data.rfind(b',"public":', 0, end)
    if begin < 0:
        return None
    return (event_type, data[begin + 10 : end])


def _unsigned(key: tuple, event_type: EventType, public: Any) -> tuple | None:
    """A signed event's ``_public_bytes`` key without its signature, which is checked here.

    ``public``'s encoding is then A + ``"signature":`` + S + B, with S the signature's canonical
    encoding, and the key is (type, A, B). In a valid ``public`` that member is the first place
    those bytes occur (no other member holds an object, and a quote inside a string is
    escaped), so A leaves a parser inside ``public`` before a member: another leaf with the
    same A and B differs only in the signature's value, checked on its own (as in
    ``_public_key``), and shares the verdict.
    """
    signature = public.get("signature") if type(public) is dict else None
    if type(signature) is not dict:
        return None
    _SIGNATURE_CHECKS[event_type](signature, "public.signature")  # PayloadError when not valid
    member = b'"signature":' + _sorted_encoding(signature)
    encoded = key[1]
    i = encoded.find(member)
    if i < 0:
        return None
    return (event_type, encoded[:i], encoded[i + len(member) :])


def _validate_public(event_type: EventType, public: Any) -> None:
    """``payloads.validate_public``, remembering verdicts on valid objects (see _public_key)."""
    key = _public_key(event_type, public) if type(public) is dict else None
    if key is None:
        validate_public(event_type, public)
    elif key not in _VALID_PUBLIC:
        validate_public(event_type, public)
        _remember(_VALID_PUBLIC, key, True)


def _actor(value: Any, event_type: EventType, public: Mapping[str, Any]) -> Actor:
    """``events.parse_actor``, remembering valid actors (role, id and, when signed, key)."""
    if type(value) is not dict or len(value) != 2:
        raise FastPathRefused
    signer = public["signature"]["key_id"] if event_type in SIGNED_EVENTS else None
    key = (event_type, value["role"], value["id"], signer)
    actor = _ACTORS.get(key)
    if actor is None:
        actor = _events.parse_actor(value, event_type, public)
        _remember(_ACTORS, key, actor)
    return actor


def _log_ok(log: Any) -> bool:
    if log in _VALID_LOGS:
        return True
    if type(log) is not str or not _LOG_ORIGIN.fullmatch(log):
        return False
    _remember(_VALID_LOGS, log, True)
    return True


# --- parsing ------------------------------------------------------------------------------------


def parse_leaf(data: bytes, leaf_hash: bytes, known_references: Mapping[str, Any]) -> Envelope:
    """``events.parse_envelope`` with the leaf hash given and the canonical check done fast."""
    return read_leaf(data, leaf_hash, known_references).envelope()


def read_leaf(data: bytes, leaf_hash: bytes, known_references: Mapping[str, Any]) -> LeafView:
    """A LeafView of a valid leaf (from ``parse_envelope`` when the fast checks cannot decide);
    raises the domain's error for an invalid leaf.

    ``known_references`` holds references already proven canonical (they skip that check).
    """
    try:
        return _fast(data, leaf_hash, known_references)
    except (FastPathRefused, ComplaintError, KeyError, TypeError, ValueError):
        env = parse_envelope(data)  # raises the domain's error for this leaf
        if env.leaf_hash != leaf_hash:  # pragma: no cover - parse_envelope hashes the same bytes
            raise EnvelopeError("leaf hash mismatch", "LEAF_HASH") from None
        return LeafView.of(env)


def _fast(data: bytes, leaf_hash: bytes, known: Mapping[str, Any]) -> LeafView:
    """The fast checks (all of ``parse_envelope``'s); FastPathRefused or another error when
    they cannot prove the leaf valid."""
    if not data.isascii():
        raise FastPathRefused
    obj = _loads(data)
    if _sorted_encoding(obj) != data:
        raise FastPathRefused
    # Ten keys, and each of the ten fields is read below (a missing one: KeyError, refused).
    if type(obj) is not dict or len(obj) != _ENVELOPE_SIZE:
        raise FastPathRefused
    v = obj["v"]
    if v != 1 or type(v) is not int:
        raise FastPathRefused
    log = obj["log"]
    if not _log_ok(log):
        raise FastPathRefused
    event_type = _EVENT_TYPES[obj["type"]]  # KeyError or TypeError: refused
    seq = obj["seq"]
    if type(seq) is not int or not 0 <= seq <= MAX_SEQ:
        raise FastPathRefused
    prev = obj["prev"]
    complaint = obj["complaint"]
    position = _POSITION[event_type]
    if position == _LATER:
        if seq < 1 or type(prev) is not str or not HEX32.fullmatch(prev):
            raise FastPathRefused
        if complaint not in known and not is_canonical_reference(complaint):
            raise FastPathRefused  # None is not canonical: a later event names its complaint
    elif complaint is not None:
        raise FastPathRefused
    elif position == _FIRST:
        if seq != 0 or prev is not None:
            raise FastPathRefused
    elif seq != 1 or type(prev) is not str or not HEX32.fullmatch(prev):
        raise FastPathRefused
    at = obj["at"]
    at_ms = _at_ms(at)
    commitment = obj["commitment"]
    if type(commitment) is not str or not HEX32.fullmatch(commitment):
        raise FastPathRefused
    public = obj["public"]
    key = _public_bytes(data, event_type)
    if key is not None and event_type in SIGNED_EVENTS:
        key = _unsigned(key, event_type, public)
    if key is None:
        _validate_public(event_type, public)
    elif key not in _VALID_PUBLIC:
        validate_public(event_type, public)
        _remember(_VALID_PUBLIC, key, True)
    actor = _actor(obj["actor"], event_type, public)
    return LeafView(log, complaint, seq, prev, event_type, at, actor, commitment, public, data,
                    leaf_hash, at_ms)  # fmt: skip
