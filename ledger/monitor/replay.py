"""Replaying log entries in order: envelopes, chains, officer keys, facts, problems.

A ``Replayer`` may own only one partition of the complaints (``partition`` of
``partitions``): it then replays the events of its own complaints and every officer-key entry
(rare, and every partition needs the registry), and skips the rest. ``route`` picks a leaf's
partition from its bytes alone, before parsing; once a leaf is parsed the replayer checks the
choice against the envelope (``misrouted``), so a log that fooled the router is noticed and
replayed again in one process instead of being judged differently.
"""

from __future__ import annotations

import bisect
import contextlib
import gc
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from operator import attrgetter

from ledger.complaints.errors import ChainError, ComplaintError
from ledger.complaints.figures import FACT_FIELDS, Fact, FactDeriver, derive_fact
from ledger.complaints.officers import OfficerRegistry
from ledger.complaints.reference import ALPHABET, format_reference
from ledger.complaints.vocab import OFFICER_KEY_EVENTS, EventType
from ledger.monitor.chains import ChainState, start_chain, step_chain
from ledger.monitor.leaves import read_leaf

try:
    from orjson import dumps as _json_bytes
    from orjson import loads as _json_loads
except ImportError:  # pragma: no cover - exercised where orjson is not installed
    import json

    _json_loads = json.loads

    def _json_bytes(value) -> bytes:  # type: ignore[misc]
        return json.dumps(value, separators=(",", ":")).encode()


MAX_PROBLEMS = 50
E_RATED = EventType.RATED
BROADCAST = -1  # route(): every partition replays this leaf (officer-key entries)
FACT_BLOCK = 4096  # facts are stored in blocks of this many log entries (see StateFile)
SETTLE_ENTRIES = 4 * FACT_BLOCK  # see Replayer.settle
ChainRow = tuple[str, str | None, str | None]
fact_values = attrgetter(*FACT_FIELDS)
_BOOL_FIELDS = tuple(
    i for i, name in enumerate(FACT_FIELDS) if Fact.__annotations__[name] in ("bool", bool)
)


# A reference's first symbol (after "CMP-") is the top five bits of its received leaf hash, so
# a complaint's partition is known from the received event's hash without formatting the
# reference, and from any later event's reference without decoding it.
_SYMBOL_VALUES = {c: i for i, c in enumerate(ALPHABET)}
_BYTE_VALUES = {ord(c): i for c, i in _SYMBOL_VALUES.items()}


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Cyclic garbage collection off for a replay, as it was before afterwards.

    A replay keeps every fact and chain state it makes (hundreds of thousands of objects that
    never form cycles); with collection on, each full pass walks all of them again, which costs
    the replay about a sixth of its time. Reference counting still frees everything else.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def owner_of(reference: str, partitions: int) -> int:
    """The partition that replays a complaint (stable across runs and processes)."""
    return _SYMBOL_VALUES.get(reference[4:5], 0) % partitions


def owner_of_received(leaf_hash: bytes, partitions: int) -> int:
    """``owner_of(format_reference(leaf_hash), partitions)``, without formatting it."""
    return (leaf_hash[0] >> 3) % partitions


def route(data: bytes, leaf_hash: bytes, partitions: int) -> int:
    """The partition of a leaf, or BROADCAST, read from its bytes without parsing them.

    In a valid envelope (RFC 8785: keys sorted, quotes inside strings escaped) the first
    ``,"complaint":`` is the top-level field and the last ``"type":"`` is the event type (only
    ``"v"`` follows it). Invalid leaves may land anywhere: they change no state, and the
    replayer that gets them reports them once.
    """
    i = data.find(b',"complaint":')
    if i < 0:
        return 0
    i += 13
    if data.startswith(b"null", i):
        t = data.rfind(b'"type":"')
        if t >= 0 and data.startswith(b"officer_key_", t + 8):
            return BROADCAST
        return owner_of_received(leaf_hash, partitions)
    # The reference's first symbol: after the quote and "CMP-".
    return _BYTE_VALUES.get(data[i + 5] if len(data) > i + 5 else 0, 0) % partitions


@dataclass
class ReplayResult:
    """What one replay contributes to the state file and the report."""

    problems: list[tuple[int, str]] = field(default_factory=list)  # (entry, text), log order
    chain_rows: list[ChainRow] = field(default_factory=list)
    fact_blocks: list[tuple[int, int, int, bytes]] = field(default_factory=list)
    officer_leaves: dict[int, bytes] = field(default_factory=dict)
    complaints: int = 0
    officer_keys: int = 0

    def problem_lines(self) -> list[str]:
        lines = [text for _, text in sorted(self.problems, key=lambda p: p[0])]
        if len(lines) > MAX_PROBLEMS:
            lines = [*lines[:MAX_PROBLEMS], "(further problems not listed)"]
        return lines

    @classmethod
    def merge(cls, parts: Iterable[ReplayResult]) -> ReplayResult:
        """One result from the partitions' results (their complaints are disjoint)."""
        out = cls()
        for part in parts:
            out.problems += part.problems
            out.chain_rows += part.chain_rows
            out.fact_blocks += part.fact_blocks
            out.officer_leaves.update(part.officer_leaves)
            out.complaints += part.complaints
            out.officer_keys = max(out.officer_keys, part.officer_keys)
        out.problems.sort(key=lambda p: p[0])
        del out.problems[MAX_PROBLEMS + 1 :]
        out.chain_rows.sort()
        out.fact_blocks.sort()
        return out


def encode_facts(facts: Iterable[Fact]) -> bytes:
    return _json_bytes([fact_values(f) for f in facts])


def decode_facts(data: bytes) -> list[Fact]:
    return [Fact(*row) for row in _json_loads(data)]


def fact_blocks(facts: list[Fact], start: int, end: int, part: int) -> list[tuple]:
    """(first, part, last, data): the facts of log entries [first, last), cut at multiples of
    FACT_BLOCK within the run's range [start, end); ``facts`` are in log order."""
    blocks = []
    i = 0
    while i < len(facts):
        chunk = facts[i].log_index // FACT_BLOCK
        j = i
        while j < len(facts) and facts[j].log_index // FACT_BLOCK == chunk:
            j += 1
        first = max(start, chunk * FACT_BLOCK)
        last = min(end, (chunk + 1) * FACT_BLOCK)
        blocks.append((first, part, last, encode_facts(facts[i:j])))
        i = j
    return blocks


def fact_from_row(row: Iterable) -> Fact:
    """A Fact from stored values (older state files keep booleans as 0 and 1)."""
    values = list(row)
    for i in _BOOL_FIELDS:
        values[i] = bool(values[i])
    return Fact(*values)


class Replayer:
    """Checks and folds log entries in order; collects facts and plain-word problems."""

    def __init__(self, origin: str, partition: int = 0, partitions: int = 1) -> None:
        self.origin = origin
        self.partition = partition
        self.partitions = partitions
        self.chains: dict[str, ChainState] = {}
        self.broken: set[str] = set()
        self.registry = OfficerRegistry()
        self.officer_leaves: dict[int, bytes] = {}
        self.deriver = FactDeriver()
        self.facts: list[Fact] = []
        self.problems: list[tuple[int, str]] = []
        self.dirty: dict[str, int] = {}  # complaints changed, and the last entry that did
        self.misrouted = False

    @classmethod
    def resume(
        cls,
        origin: str,
        rows: Iterable[tuple[str, str | None, str | None]],
        officer_leaves: Mapping[int, bytes],
        partition: int = 0,
        partitions: int = 1,
    ) -> Replayer:
        """A replayer that goes on from saved chain rows and officer entries."""
        r = cls(origin, partition, partitions)
        for reference, state, fact in rows:
            if state is None:
                r.broken.add(reference)
                continue
            r.chains[reference] = ChainState.from_json(_json_loads(state))
            r.deriver.last[reference] = fact_from_row(_json_loads(fact))  # type: ignore[arg-type]
        r.officer_leaves = dict(officer_leaves)
        r.registry = OfficerRegistry.fold(r.officer_leaves[i] for i in sorted(r.officer_leaves))
        return r

    def problem(self, index: int, text: str) -> None:
        if len(self.problems) <= MAX_PROBLEMS:  # one more than listed: "further problems"
            self.problems.append((index, text))

    def feed(self, index: int, data: bytes, leaf_hash: bytes, routed: int = 0) -> None:
        """Check one entry (already matched against its tile and the compact range).

        ``routed`` is what ``route`` said (always 0 with one partition).
        """
        chains = self.chains
        # A leaf every partition sees is reported by partition 0 only.
        reports = routed != BROADCAST or self.partition == 0
        try:
            env = read_leaf(data, leaf_hash, chains)
        except ComplaintError as exc:
            if reports:
                text = f"entry {index} is not a valid event: {exc.code}: {exc.message}"
                self.problem(index, text)
            return
        if env.log != self.origin:
            if reports:
                text = f"entry {index} names log {env.log!r}, this log is {self.origin!r}"
                self.problem(index, text)
            return
        et = env.type
        if self.partitions != 1 and routed != self._owner(env):
            self.misrouted = True
            return
        try:
            if et in OFFICER_KEY_EVENTS:
                self.registry = self.registry.add(env.envelope())
                if reports:
                    self.officer_leaves[index] = data
                return
            ref = env.complaint
            rated_type = None
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
                step_chain(state, env, self.registry)
                if et == E_RATED and "rates" in env.public:
                    # The chain's rules made it an earlier step: the type is in the chain.
                    rated_type = state.event_type_at(env.public["rates"])
            self.dirty[ref] = index
            # FactDeriver.add, without its checks: this is a complaint event of chain ``ref``.
            last = self.deriver.last
            prev = last.get(ref) if env.complaint else None
            fact = derive_fact(prev, env, index, ref, env.at_ms, rated_type)  # type: ignore[arg-type]
            last[ref] = fact
            self.facts.append(fact)
        except ComplaintError as exc:
            if et in OFFICER_KEY_EVENTS and not reports:
                return
            ref = env.complaint or format_reference(leaf_hash)
            self.chains.pop(ref, None)
            self.deriver.last.pop(ref, None)
            self.broken.add(ref)
            self.dirty[ref] = index
            self.problem(
                index,
                f"entry {index} ({et} of complaint {ref}, seq {env.seq}) breaks the rules: "
                f"{exc.code}: {exc.message}",
            )

    def _owner(self, env) -> int:
        if env.type in OFFICER_KEY_EVENTS:
            return BROADCAST
        if env.complaint is None:
            return owner_of_received(env.leaf_hash, self.partitions)
        return owner_of(env.complaint, self.partitions)

    def settle(self, before: int, start: int, end: int) -> tuple[list[ChainRow], list[tuple]]:
        """What may be saved before the replay of [start, end) ends, once every entry before
        ``before`` has been fed: the facts of whole blocks below it, and the chain rows of
        complaints no entry of the last SETTLE_ENTRIES changed (a later change writes them
        again). Both are left out of ``result``; saving them early keeps the end short."""
        quiet = before - SETTLE_ENTRIES
        refs = sorted(ref for ref, last in self.dirty.items() if last < quiet)
        rows = [self._row(ref) for ref in refs]
        for ref in refs:
            del self.dirty[ref]
        boundary = before // FACT_BLOCK * FACT_BLOCK
        k = bisect.bisect_left(self.facts, boundary, key=attrgetter("log_index"))
        blocks = fact_blocks(self.facts[:k], start, end, self.partition)
        del self.facts[:k]
        return rows, blocks

    def _row(self, ref: str) -> ChainRow:
        state = self.chains.get(ref)
        if state is None:
            return (ref, None, None)
        fact = fact_values(self.deriver.last[ref])
        return (ref, _json_bytes(state.to_json()).decode(), _json_bytes(fact).decode())

    def result(self, start: int, end: int) -> ReplayResult:
        """The replay of entries [start, end), ready for the state file (less what ``settle``
        gave out)."""
        return ReplayResult(
            problems=list(self.problems),
            chain_rows=[self._row(ref) for ref in sorted(self.dirty)],
            fact_blocks=fact_blocks(self.facts, start, end, self.partition),
            officer_leaves=dict(self.officer_leaves) if self.partition == 0 else {},
            complaints=len(self.chains),
            officer_keys=len(self.registry),
        )
