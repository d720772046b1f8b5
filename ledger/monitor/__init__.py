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
5. Derive the audit facts from the public fields (``figures.derive_fact``), recompute the
   regulator figures (``figures.figures_from_facts``), ask the API for the same figures as
   of the same checkpoint and instant, and report every difference.

State (last size, root, compact range, each complaint's chain state and last fact, officer
key entries, the facts) lives in one SQLite file (``state``), saved in one transaction at the
end of a run, so a second run only processes new entries.

A large replay is shared by worker processes, one partition of the complaints each
(``parallel``), with the same report and the same saved state as a replay in one process
(``Monitor(workers=1)``).

The replay hot path avoids doing work twice but drops no check: each leaf is hashed once
(the hash serves the tile check, the compact range and the chain links); a leaf is read by
``leaves.read_leaf``, whose fast checks refuse whatever they cannot prove valid and leave it to
``events.parse_envelope``, which gives the authoritative verdict and reason; chain states are
updated in place (``chains``). Every rule comes from the domain: payload specs, the transition
table, its guards and effects (``states.GUARDS``, ``states.EFFECTS``), the chain state's fields
(``states.ComplaintState``), ``officers.check_authority``, ``figures.derive_fact``.
``tests/audit/test_monitor_fast.py`` checks the fast paths against ``states.replay`` and
``parse_envelope`` on valid and broken chains.
"""

from ledger.monitor.chains import ChainState, start_chain, step_chain
from ledger.monitor.core import (
    PARALLEL_MIN_ENTRIES,
    FiguresFetch,
    Monitor,
    Report,
    default_workers,
    directory_fetch,
    http_fetch,
    http_figures,
)
from ledger.monitor.leaves import LeafView, _validate_public, parse_leaf, read_leaf
from ledger.monitor.memory import STATE_VERSION, Saved, StateFile, StateFileError
from ledger.monitor.replay import MAX_PROBLEMS, Replayer, ReplayResult

__all__ = [
    "MAX_PROBLEMS",
    "PARALLEL_MIN_ENTRIES",
    "STATE_VERSION",
    "ChainState",
    "FiguresFetch",
    "LeafView",
    "Monitor",
    "ReplayResult",
    "Replayer",
    "Report",
    "Saved",
    "StateFile",
    "StateFileError",
    "_validate_public",
    "default_workers",
    "directory_fetch",
    "http_fetch",
    "http_figures",
    "parse_leaf",
    "read_leaf",
    "start_chain",
    "step_chain",
]
