"""A log monitor: verify everything the log says, from its key alone, and check the operator's
regulator figures against a recomputation from the log.

What one run does (``Monitor.run``):

1. Fetch the signed checkpoint and verify it with the log's verifier key.
2. Check it against the last checkpoint this monitor saw (kept in its state file): the log
   must not shrink or fork, and an RFC 9162 consistency proof built from the new tree's hash
   tiles must link the two roots.
3. Fetch the entry bundles after the last size, check every entry against its level-0 hash
   tile, and fold every leaf hash into the saved compact range: the result must be the signed
   root, so every entry, and every tile it was checked against, is authenticated.
4. Replay every new entry: canonical JSON and envelope checks, each complaint's hash chain
   (seq, prev, reference, time order) and state machine (``ledger.complaints.states``),
   officer keys folded in log order and the authority of each signed event's key at its time.
5. Derive the audit facts from the public fields (``metrics.derive_fact``), recompute the
   regulator figures (``metrics.figures_from_facts``), ask the API for the same figures as
   of the same checkpoint and instant, and report every difference.

State (last size, root, compact range, each complaint's chain state and last fact, officer
key entries, the facts) lives in one SQLite file, saved in one transaction at the end of a
run, so a second run only processes new entries.

The replay hot path avoids doing work twice but drops no check: each leaf is hashed once
(the hash serves the tile check, the compact range and the chain links); canonical JSON is
checked by re-encoding with a C encoder (orjson when installed), which for ASCII leaves is
byte-identical to RFC 8785 on every value a valid envelope can hold (a leaf with a float or an
out-of-range integer fails the envelope checks anyway), with RFC 8785 itself as the fallback;
public fields are validated once (``states.apply`` would validate them again); chain states
are updated in place. Every rule comes from the domain: payload specs, the transition table,
``states._guard`` and ``states._effect``, ``officers.check_authority``; whenever the fast path
refuses a leaf, ``events.parse_envelope`` is run on it to give the authoritative reason, and
``tests/audit/test_monitor_fast.py`` checks the fast path against ``states.replay`` and
``parse_envelope`` on valid and broken chains.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import operator
import re
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from ledger.complaints import events as _events
from ledger.complaints import states as _states
from ledger.complaints.errors import ChainError, ComplaintError, EnvelopeError, TransitionError
from ledger.complaints.events import ENVELOPE_FIELDS, MAX_SEQ, Envelope, parse_envelope
from ledger.complaints.metrics import (
    FACT_FIELDS,
    Fact,
    FactDeriver,
    Window,
    figures_from_facts,
    format_ms,
    to_ms,
)
from ledger.complaints.officers import OfficerRegistry, check_authority
from ledger.complaints.payloads import HEX32, Money, validate_public
from ledger.complaints.reference import format_reference, is_canonical_reference
from ledger.complaints.timestamps import parse_timestamp
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
from ledger.log import merkle
from ledger.log.checkpoint import Checkpoint, CheckpointError
from ledger.log.client import Fetch, TileClient
from ledger.log.note import Verifier
from ledger.log.tiles import TILE_WIDTH, TileCoord, decode_entry_bundle, tile_path

try:  # optional accelerator: byte-identical results, RFC 8785 stays the reference
    import orjson

    def _loads_sorted(data: bytes) -> tuple[Any, bytes]:
        value = orjson.loads(data)
        return value, orjson.dumps(value, option=orjson.OPT_SORT_KEYS)

except ImportError:  # pragma: no cover - exercised where orjson is not installed

    def _loads_sorted(data: bytes) -> tuple[Any, bytes]:
        value = json.loads(data)
        out = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return value, out.encode()


E = EventType
_RECEIVED = E.RECEIVED
_LOG_ORIGIN = _events._LOG_ORIGIN
_AT = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{3})?Z$")
_EVENT_TYPES = {t.value: t for t in EventType}
_sha256 = hashlib.sha256
MAX_PROBLEMS = 50


class FastPathRefused(Exception):
    """The fast checks cannot decide this leaf; ``parse_envelope`` decides instead."""


@lru_cache(maxsize=8192)
def _day_ok(day: str) -> bool:
    try:
        date.fromisoformat(day)
    except ValueError:
        return False
    return True


def _at_ok(at: Any) -> bool:
    """Same verdict as ``timestamps.parse_timestamp`` on ASCII strings."""
    return (
        type(at) is str
        and _AT.match(at) is not None
        and _day_ok(at[:10])
        and at[11:13] < "24"
        and at[14:16] < "60"
        and at[17:19] < "60"
    )


def _time_key(at: str) -> str:
    """A string that sorts like the instant (both allowed spellings, ms or not)."""
    return at if len(at) == 24 else at[:19] + ".000Z"


def _canonical_value(data: bytes) -> Any:
    """The parsed leaf, if the fast check proves it canonical; else FastPathRefused."""
    if not data.isascii():
        raise FastPathRefused
    try:
        value, encoded = _loads_sorted(data)
    except ValueError:
        raise FastPathRefused from None
    if encoded != data:
        raise FastPathRefused
    return value


class LeafView:
    """The parsed fields of a leaf, as on ``events.Envelope`` (lighter to build in bulk)."""

    __slots__ = (
        "actor",
        "at",
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

    def __init__(self, log, complaint, seq, prev, type, at, actor, commitment, public, leaf, lh):
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

    def envelope(self) -> Envelope:
        return Envelope(
            v=1, log=self.log, complaint=self.complaint, seq=self.seq, prev=self.prev,
            type=self.type, at=self.at, actor=self.actor, commitment=self.commitment,
            public=self.public, leaf=self.leaf, leaf_hash=self.leaf_hash,
        )  # fmt: skip


_VALID_PUBLIC: dict[tuple, bool] = {}


def _validate_public(event_type: EventType, public: Any) -> None:
    """``payloads.validate_public``, remembering verdicts for flat objects.

    A flat object's validity depends only on its keys, values and value types (the key holds
    the types too, so 1, 1.0 and True never share a verdict); nested ones are always checked.
    """
    if type(public) is not dict:
        validate_public(event_type, public)
        return
    key = (event_type, tuple(public.items()), tuple(map(type, public.values())))
    try:
        if key in _VALID_PUBLIC:
            return
    except TypeError:  # a nested list or object: not hashable, check it every time
        validate_public(event_type, public)
        return
    validate_public(event_type, public)
    if len(_VALID_PUBLIC) >= 65536:
        _VALID_PUBLIC.clear()
    _VALID_PUBLIC[key] = True


def parse_leaf(data: bytes, leaf_hash: bytes, known_references: Mapping[str, Any]) -> Envelope:
    """``events.parse_envelope`` with the leaf hash given and the canonical check done fast."""
    view = _parse(data, leaf_hash, known_references)
    return view if isinstance(view, Envelope) else view.envelope()


def _parse(data: bytes, leaf_hash: bytes, known_references: Mapping[str, Any]):
    """A LeafView of a valid leaf (or the Envelope from ``parse_envelope`` when the fast
    checks cannot decide). Checks run in ``parse_envelope``'s order; any refusal is re-decided
    by ``parse_envelope``, which raises the authoritative error.
    """
    try:
        obj = _canonical_value(data)
        if type(obj) is not dict or obj.keys() != ENVELOPE_FIELDS:
            raise FastPathRefused
        if type(obj["v"]) is not int or obj["v"] != 1:
            raise FastPathRefused
        log = obj["log"]
        if type(log) is not str or not _LOG_ORIGIN.match(log):
            raise FastPathRefused
        event_type = _EVENT_TYPES.get(obj["type"]) if type(obj["type"]) is str else None
        if event_type is None:
            raise FastPathRefused
        seq = obj["seq"]
        if type(seq) is not int or not 0 <= seq <= MAX_SEQ:
            raise FastPathRefused
        prev = obj["prev"]
        if prev is not None and not (type(prev) is str and HEX32.match(prev)):
            raise FastPathRefused
        complaint = obj["complaint"]
        if (
            complaint is not None
            and complaint not in known_references
            and not is_canonical_reference(complaint)
        ):
            raise FastPathRefused
        _events._check_position(event_type, complaint, seq, prev)
        at = obj["at"]
        if not _at_ok(at):
            raise FastPathRefused
        commitment = obj["commitment"]
        if type(commitment) is not str or not HEX32.match(commitment):
            raise FastPathRefused
        public = obj["public"]
        _validate_public(event_type, public)
        actor = _events._parse_actor(obj["actor"], event_type, public)
    except (FastPathRefused, ComplaintError, KeyError, TypeError, ValueError):
        env = parse_envelope(data)  # raises the domain's error for this leaf
        if env.leaf_hash != leaf_hash:  # pragma: no cover - parse_envelope hashes the same bytes
            raise EnvelopeError("leaf hash mismatch", "LEAF_HASH") from None
        return env
    return LeafView(log, complaint, seq, prev, event_type, at, actor, commitment, public, data,
                    leaf_hash)  # fmt: skip


# --- chain states ------------------------------------------------------------------------------


@dataclass(slots=True)
class ChainState:
    """A complaint's state while replaying: ``states.ComplaintState``'s fields, mutable.

    ``states._guard`` reads it and ``states._effect`` updates it (via ``dataclasses.replace``),
    so the rules beyond the transition table are the domain's own code.
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
    last_at: str = ""  # _time_key of the last event
    events: dict[str, EventType] = field(default_factory=dict)

    def event_type_of(self, leaf_hash_hex: str) -> EventType | None:
        return self.events.get(leaf_hash_hex)

    def to_json(self) -> dict[str, Any]:
        def money(m: Money | None):
            return None if m is None else [str(m.amount), m.unit, m.is_asset]

        return {
            "status": str(self.status),
            "category": str(self.category),
            "channel": str(self.channel),
            "language": str(self.language),
            "jurisdiction": self.jurisdiction,
            "level": str(self.level),
            "specialism": None if self.specialism is None else str(self.specialism),
            "info_pending": self.info_pending,
            "holding_reply_sent": self.holding_reply_sent,
            "outcome": None if self.outcome is None else str(self.outcome),
            "offer": money(self.offer),
            "payments": [money(p) for p in self.payments],
            "reopen_count": self.reopen_count,
            "ratings": list(self.ratings),
            "erased": sorted(self.erased),
            "log": self.log,
            "reference": self.reference,
            "seq": self.seq,
            "head": self.head,
            "last_at": self.last_at,
            "events": [[h, str(t)] for h, t in self.events.items()],
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


def start_chain(env: Envelope, reference: str) -> ChainState:
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
    return ChainState(
        status=Status.RECEIVED,
        category=Category(public["category"]),
        channel=Channel(public["channel"]),
        language=Language(public["language"]),
        jurisdiction=public["jurisdiction"],
        level=EscalationLevel(public.get("level", EscalationLevel.AGENT)),
        log=env.log,
        reference=reference,
        seq=0,
        head=h,
        last_at=_time_key(env.at),
        events={h: _RECEIVED},
    )


def step_chain(state: ChainState, env: Envelope, registry: Mapping[str, Any] | None) -> ChainState:
    """``states.step(state, env, registry)`` on a mutable state (the same checks, same order)."""
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
    key = _time_key(env.at)
    if key < state.last_at:
        raise ChainError(
            f"event time {env.at} is before the previous event's {state.last_at}",
            "TIME_WENT_BACKWARDS",
        )
    et = env.type
    role = env.actor.role
    public = env.public
    if registry is not None and et in SIGNED_EVENTS:
        check_authority(registry, public["signature"]["key_id"], role, env.at)
    if et in OFFICER_KEY_EVENTS:
        raise TransitionError(f"{et} is a log entry, not a complaint step", "NOT_A_COMPLAINT_EVENT")
    target = _states.transition_target(state, et, role)
    # public was validated when the leaf was parsed; apply() would only validate it again.
    if public["state"] != target:
        raise TransitionError(
            f"public.state says {public['state']} but {et} leads to {target}", "STATE_MISMATCH"
        )
    _states._guard(state, et, public)
    state.status = target
    state = _states._effect(state, et, public)
    h = env.leaf_hash.hex()
    state.seq = env.seq
    state.head = h
    state.last_at = key
    state.events[h] = et
    return state


# --- replay ------------------------------------------------------------------------------------


@dataclass
class Replayer:
    """Checks and folds log entries in order; collects facts and plain-word problems."""

    origin: str
    chains: dict[str, ChainState] = field(default_factory=dict)
    broken: set[str] = field(default_factory=set)
    registry: OfficerRegistry = field(default_factory=OfficerRegistry)
    officer_leaves: dict[int, bytes] = field(default_factory=dict)
    deriver: FactDeriver = field(default_factory=FactDeriver)
    facts: list[Fact] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    dirty: set[str] = field(default_factory=set)
    entries: int = 0

    def problem(self, text: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(text)
        elif len(self.problems) == MAX_PROBLEMS:
            self.problems.append("(further problems not listed)")

    def feed(self, index: int, data: bytes, leaf_hash: bytes) -> None:
        """Check one entry (already matched against its tile and the compact range)."""
        self.entries += 1
        chains = self.chains
        try:
            env = _parse(data, leaf_hash, chains)
        except ComplaintError as exc:
            self.problem(f"entry {index} is not a valid event: {exc.code}: {exc.message}")
            return
        if env.log != self.origin:
            self.problem(f"entry {index} names log {env.log!r}, this log is {self.origin!r}")
            return
        et = env.type
        try:
            if et in OFFICER_KEY_EVENTS:
                if isinstance(env, LeafView):
                    env = env.envelope()
                self.registry = self.registry.add(env)
                self.officer_leaves[index] = data
                return
            ref = env.complaint
            if ref is None:
                ref = format_reference(leaf_hash)
                if ref in chains or ref in self.broken:
                    raise ChainError("this complaint has already been received", "DUPLICATE")
                chains[ref] = start_chain(env, ref)
            else:
                state = chains.get(ref)
                if state is None:
                    if ref in self.broken:
                        return  # already reported
                    raise ChainError(
                        f"a complaint chain starts with received, not {et} "
                        "(no received event for this reference)",
                        "CHAIN_START",
                    )
                chains[ref] = step_chain(state, env, self.registry)
            self.dirty.add(ref)
            fact = self.deriver.add(env, index, ref)
            if fact is not None:
                self.facts.append(fact)
        except ComplaintError as exc:
            ref = env.complaint or format_reference(leaf_hash)
            self.chains.pop(ref, None)
            self.deriver.last.pop(ref, None)
            self.broken.add(ref)
            self.dirty.add(ref)
            self.problem(
                f"entry {index} ({et} of complaint {ref}, seq {env.seq}) breaks the rules: "
                f"{exc.code}: {exc.message}"
            )


# --- state file --------------------------------------------------------------------------------

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chains (reference TEXT PRIMARY KEY, state TEXT, fact TEXT);
CREATE TABLE IF NOT EXISTS officer_entries (idx INTEGER PRIMARY KEY, leaf BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS facts ({columns}, PRIMARY KEY (log_index));
""".format(columns=", ".join(FACT_FIELDS))
_fact_values = operator.attrgetter(*FACT_FIELDS)
STATE_VERSION = "1"


@dataclass
class Saved:
    origin: str | None = None
    log_key: str | None = None
    size: int = 0
    root: bytes = merkle.EMPTY_ROOT
    frontier: list[bytes] = field(default_factory=list)
    note: str | None = None


class StateFile:
    """The monitor's memory between runs (one SQLite file, written in one transaction)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.db = sqlite3.connect(self.path)
        self.db.executescript(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    def meta(self) -> Saved:
        rows = dict(self.db.execute("SELECT key, value FROM meta").fetchall())
        if not rows:
            return Saved()
        if rows.get("version") != STATE_VERSION:
            raise ValueError(f"{self.path}: unknown state file version {rows.get('version')}")
        return Saved(
            origin=rows["origin"],
            log_key=rows["log_key"],
            size=int(rows["size"]),
            root=base64.b64decode(rows["root"]),
            frontier=[base64.b64decode(h) for h in json.loads(rows["frontier"])],
            note=rows.get("note"),
        )

    def load_replayer(self, origin: str) -> Replayer:
        r = Replayer(origin)
        for reference, state, fact in self.db.execute("SELECT reference, state, fact FROM chains"):
            if state is None:
                r.broken.add(reference)
                continue
            r.chains[reference] = ChainState.from_json(json.loads(state))
            r.deriver.last[reference] = Fact(*json.loads(fact))
        leaves = dict(self.db.execute("SELECT idx, leaf FROM officer_entries ORDER BY idx"))
        r.officer_leaves = leaves
        r.registry = OfficerRegistry.fold(leaves[i] for i in sorted(leaves))
        return r

    def facts(self) -> Iterable[Fact]:
        columns = ", ".join(FACT_FIELDS)
        for row in self.db.execute(f"SELECT {columns} FROM facts ORDER BY log_index"):
            yield Fact(*row)

    def save(self, saved: Saved, replayer: Replayer) -> None:
        with self.db:  # one transaction: all of a run, or nothing
            meta = {
                "version": STATE_VERSION,
                "origin": saved.origin,
                "log_key": saved.log_key,
                "size": str(saved.size),
                "root": base64.b64encode(saved.root).decode(),
                "frontier": json.dumps([base64.b64encode(h).decode() for h in saved.frontier]),
                "note": saved.note or "",
            }
            self.db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", meta.items())
            rows = []
            for ref in replayer.dirty:
                state = replayer.chains.get(ref)
                if state is None:
                    rows.append((ref, None, None))
                else:
                    fact = replayer.deriver.last[ref]
                    rows.append(
                        (
                            ref,
                            json.dumps(state.to_json()),
                            json.dumps(_fact_values(fact)),
                        )
                    )
            self.db.executemany("INSERT OR REPLACE INTO chains VALUES (?, ?, ?)", rows)
            self.db.executemany(
                "INSERT OR IGNORE INTO officer_entries VALUES (?, ?)",
                replayer.officer_leaves.items(),
            )
            marks = ", ".join("?" * len(FACT_FIELDS))
            self.db.executemany(
                f"INSERT OR IGNORE INTO facts ({', '.join(FACT_FIELDS)}) VALUES ({marks})",
                map(_fact_values, replayer.facts),
            )


# --- the run ---------------------------------------------------------------------------------

FiguresFetch = Callable[[int, str, str, str], dict[str, Any]]  # (size, from, to, as_of) -> JSON


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    size: int = 0
    new_entries: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        out = [*self.notes]
        if self.problems:
            out.append(f"PROBLEMS ({len(self.problems)}):")
            out += [f"  - {p}" for p in self.problems]
        else:
            out.append("OK: no problems found")
        return out


def _differences(ours: Any, theirs: Any, path: str = "") -> list[str]:
    """Paths where two JSON values differ, in plain words."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        out = []
        for key in sorted(set(ours) | set(theirs), key=str):
            where = f"{path}.{key}" if path else str(key)
            if key not in theirs:
                out.append(f"{where}: missing from the API's figures")
            elif key not in ours:
                out.append(f"{where}: the API reports a figure the log does not have")
            else:
                out += _differences(ours[key], theirs[key], where)
        return out
    if ours != theirs:
        return [f"{path}: the API says {theirs!r}, the log says {ours!r}"]
    return []


class Monitor:
    """One monitor over one log. ``fetch`` reads log paths ("checkpoint", "tile/...")."""

    def __init__(
        self,
        fetch: Fetch,
        state: StateFile,
        log_key: str | None = None,
        figures: FiguresFetch | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.fetch = fetch
        self.state = state
        self.log_key = log_key
        self.figures_fetch = figures
        self.clock = clock

    def run(self, period_from: datetime | None = None, period_to: datetime | None = None) -> Report:
        report = Report()
        saved = self.state.meta()
        key = self.log_key or saved.log_key
        if key is None:
            report.problems.append("no log key: pass --log-key (the log's verifier key)")
            return report
        if saved.log_key is not None and key != saved.log_key:
            report.problems.append(
                "the log key given differs from the one this state file was made with"
            )
            return report
        verifier = Verifier.from_string(key)
        client = TileClient(self.fetch, verifier, saved.origin)  # type: ignore[arg-type]
        try:
            cp, note = client.checkpoint()
        except (CheckpointError, ValueError) as exc:
            report.problems.append(f"the checkpoint does not verify with the log key: {exc}")
            return report
        report.size = cp.size
        report.notes.append(f"log {cp.origin}: checkpoint of size {cp.size} verifies")
        if not self._consistent(client, saved, cp, report):
            return report
        replayer = self.state.load_replayer(cp.origin)
        frontier = list(saved.frontier)
        try:
            self._replay(client, saved.size, cp, frontier, replayer, report)
        except (merkle.ProofError, ValueError) as exc:
            report.problems.append(f"tiles: {exc}")
            return report
        root = merkle.root_from_frontier(frontier)
        if root != cp.root:
            report.problems.append(
                f"the entries up to {cp.size} do not hash to the signed root: the log's "
                "tiles or entries were altered"
            )
            return report
        report.new_entries = cp.size - saved.size
        report.notes.append(
            f"replayed {report.new_entries} new entries ({saved.size} -> {cp.size}); "
            f"{len(replayer.chains)} complaints, {len(replayer.registry)} officer keys"
        )
        if replayer.problems:
            # Not saved: the same entries are checked (and reported) again next run.
            report.problems += replayer.problems
            return report
        self.state.save(Saved(cp.origin, key, cp.size, cp.root, frontier, note), replayer)
        if self.figures_fetch is not None:
            self._compare_figures(cp, note, period_from, period_to, report)
        return report

    def _consistent(self, client: TileClient, saved: Saved, cp: Checkpoint, report) -> bool:
        if saved.origin is not None and cp.origin != saved.origin:
            report.problems.append(f"the log's origin changed from {saved.origin} to {cp.origin}")
            return False
        if cp.size < saved.size:
            report.problems.append(
                f"the log shrank: checkpoint size {cp.size} after {saved.size} was seen"
            )
            return False
        if cp.size == saved.size:
            if cp.root != saved.root:
                report.problems.append(f"fork: two different roots signed for tree size {cp.size}")
                return False
            return True
        if saved.size > 0:
            try:
                proof = client.consistency_proof(saved.size, cp.size)
                merkle.verify_consistency(saved.size, cp.size, saved.root, cp.root, proof)
            except (merkle.ProofError, ValueError) as exc:
                report.problems.append(
                    f"the checkpoint of size {cp.size} is not consistent with the one of size "
                    f"{saved.size} seen before: {exc}"
                )
                return False
            report.notes.append(f"consistent with the previous checkpoint (size {saved.size})")
        return True

    def _replay(
        self,
        client: TileClient,
        start: int,
        cp: Checkpoint,
        frontier: list[bytes],
        replayer: Replayer,
        report: Report,
    ) -> None:
        size = cp.size
        append = merkle.frontier_append
        for bundle in range(start // TILE_WIDTH, -(-size // TILE_WIDTH)):
            first = bundle * TILE_WIDTH
            width = min(TILE_WIDTH, size - first)
            blob = client.fetch(tile_path(TileCoord(-1, bundle, width)))
            entries = decode_entry_bundle(blob)
            if len(entries) != width:
                raise merkle.ProofError(f"entry bundle {bundle} has {len(entries)} entries")
            hashes = client.fetch(tile_path(TileCoord(0, bundle, width)))
            if len(hashes) != width * 32:
                raise merkle.ProofError(f"hash tile 0/{bundle} has the wrong length")
            for k in range(max(0, start - first), width):
                data = entries[k]
                lh = _sha256(b"\x00" + data).digest()
                index = first + k
                if lh != hashes[32 * k : 32 * k + 32]:
                    raise merkle.ProofError(
                        f"entry {index} does not match its hash tile: the entry or the tile "
                        "was altered"
                    )
                append(frontier, index, lh)
                replayer.feed(index, data, lh)

    def _compare_figures(self, cp, note, period_from, period_to, report: Report) -> None:
        as_of = self.clock()
        start = period_from or datetime(1970, 1, 1, tzinfo=UTC)
        end = period_to or as_of
        assert self.figures_fetch is not None
        try:
            answer = self.figures_fetch(cp.size, _ts(start), _ts(end), _ts(as_of))
        except Exception as exc:  # network, HTTP or JSON: reported in plain words
            report.problems.append(f"could not get the API's figures: {exc}")
            return
        got = answer.get("checkpoint") or {}
        if got.get("size") != cp.size or got.get("root") != base64.b64encode(cp.root).decode():
            report.problems.append(
                "the API's figures are not bound to the checkpoint just verified "
                f"(it says size {got.get('size')}, root {got.get('root')})"
            )
            return
        theirs = answer.get("figures") or {}
        period = theirs.get("period") or {}
        try:
            window = Window.of(
                parse_timestamp(period["from"]),
                parse_timestamp(period["to"]),
                parse_timestamp(theirs["as_of"]),
                cp.size,
            )
        except (KeyError, TypeError, ValueError) as exc:
            report.problems.append(f"the API's figures do not state their period: {exc}")
            return
        ours = figures_from_facts(self.state.facts(), window)
        diffs = _differences(ours, theirs)
        if diffs:
            report.problems.append(
                f"the API's audit figures differ from the log's ({len(diffs)} figures, period "
                f"{period['from']} to {period['to']}, as of {theirs['as_of']}):"
            )
            report.problems += [f"  {d}" for d in diffs[:30]]
        else:
            report.notes.append(
                f"the API's audit figures match a recomputation from the log (period "
                f"{period['from']} to {period['to']}, as of {theirs['as_of']})"
            )


def _ts(value: datetime) -> str:
    return format_ms(to_ms(value))


# --- HTTP edge ---------------------------------------------------------------------------------


def http_fetch(base_url: str, session=None, timeout: float = 30) -> Fetch:
    """``fetch(path)`` for the log's tiles served under ``<base_url>/log/``."""
    import requests

    s = session or requests.Session()
    base = base_url.rstrip("/") + "/log/"

    def fetch(path: str) -> bytes:
        r = s.get(base + path, timeout=timeout)
        if r.status_code != 200:
            raise ValueError(f"GET {path}: HTTP {r.status_code}")
        return r.content

    return fetch


def http_figures(base_url: str, api_key: str, session=None, timeout: float = 60) -> FiguresFetch:
    import requests

    s = session or requests.Session()
    url = base_url.rstrip("/") + "/v1/audit/figures"

    def figures(size: int, start: str, end: str, as_of: str) -> dict[str, Any]:
        r = s.get(
            url,
            params={"as_of_size": size, "from": start, "to": end, "as_of": as_of},
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=timeout,
        )
        if r.status_code != 200:
            detail = ""
            with contextlib.suppress(ValueError, AttributeError):
                detail = f": {r.json().get('detail')}"
            raise ValueError(f"HTTP {r.status_code}{detail}")
        return r.json()

    return figures


def directory_fetch(root: str | Path) -> Fetch:
    """``fetch(path)`` from a local mirror of the log (``checkpoint`` and ``tile/...`` files)."""
    base = Path(root)

    def fetch(path: str) -> bytes:
        return (base / path).read_bytes()

    return fetch


__all__ = [
    "ChainState",
    "Monitor",
    "Replayer",
    "Report",
    "StateFile",
    "directory_fetch",
    "http_fetch",
    "http_figures",
    "parse_leaf",
    "start_chain",
    "step_chain",
]
