"""One monitor run: checkpoint, consistency, tiles and root, replay, figures (see the package
docstring); and the HTTP and local-directory ``fetch`` functions."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ledger.complaints.figures import Window, figures_from_facts, format_ms, to_ms
from ledger.complaints.timestamps import parse_timestamp
from ledger.log import merkle
from ledger.log.checkpoint import Checkpoint, CheckpointError
from ledger.log.client import Fetch, TileClient
from ledger.log.note import Verifier
from ledger.monitor.entries import replay_entries
from ledger.monitor.memory import Saved, StateFile, StateFileError
from ledger.monitor.parallel import replay_parallel
from ledger.monitor.replay import ReplayResult, gc_paused

# Below this many new entries, starting worker processes costs more than it saves.
PARALLEL_MIN_ENTRIES = 20_000


def default_workers() -> int:
    """Replay processes by default: one per CPU this process may use (at most 8)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 8))


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
        workers: int | None = None,
    ) -> None:
        """``workers``: replay processes (1: replay in this process; default: one per CPU),
        used when a run has at least ``parallel_min_entries`` new entries."""
        self.fetch = fetch
        self.state = state
        self.log_key = log_key
        self.figures_fetch = figures
        self.clock = clock
        self.workers = default_workers() if workers is None else workers
        self.parallel_min_entries = PARALLEL_MIN_ENTRIES

    def run(self, period_from: datetime | None = None, period_to: datetime | None = None) -> Report:
        report = Report()
        try:
            saved = self.state.meta()
        except StateFileError as exc:
            report.problems.append(str(exc))
            return report
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
        try:
            self._replay_and_save(client, saved, key, cp, note, report)
        finally:
            self.state.discard()  # what a run that was not saved had staged (after a save: no-op)
        if report.ok and self.figures_fetch is not None:
            self._compare_figures(cp, note, period_from, period_to, report)
        return report

    def _replay_and_save(
        self, client: TileClient, saved: Saved, key: str, cp: Checkpoint, note: str, report: Report
    ) -> None:
        """Replay the new entries, check them against the signed root and save the run, or
        add to ``report`` why not."""
        frontier = list(saved.frontier)
        try:
            result = self._replay(client, saved.size, cp, frontier)
        except (merkle.ProofError, ValueError) as exc:
            report.problems.append(f"tiles: {exc}")
            return
        root = merkle.root_from_frontier(frontier)
        if root != cp.root:
            report.problems.append(
                f"the entries up to {cp.size} do not hash to the signed root: the log's "
                "tiles or entries were altered"
            )
            return
        report.new_entries = cp.size - saved.size
        report.notes.append(
            f"replayed {report.new_entries} new entries ({saved.size} -> {cp.size}); "
            f"{result.complaints} complaints, {result.officer_keys} officer keys"
        )
        if result.problems:
            # Not saved: the same entries are checked (and reported) again next run.
            report.problems += result.problem_lines()
            return
        self.state.save(Saved(cp.origin, key, cp.size, cp.root, frontier, note), result)

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
        self, client: TileClient, start: int, cp: Checkpoint, frontier: list[bytes]
    ) -> ReplayResult:
        """Entries [start, cp.size): checked against the tiles, folded into ``frontier`` and
        replayed, by worker processes when there are enough of them (same result)."""
        with gc_paused():
            return self._replay_entries(client, start, cp, frontier)

    def _replay_entries(
        self, client: TileClient, start: int, cp: Checkpoint, frontier: list[bytes]
    ) -> ReplayResult:
        if self.workers > 1 and cp.size - start >= max(1, self.parallel_min_entries):
            begin = list(frontier)
            result = replay_parallel(
                client,
                start,
                cp,
                frontier,
                self.state.chain_rows(),
                self.state.officer_leaves(),
                self.workers,
                stage=self.state.stage,
            )
            if result is not None:
                return result
            self.state.discard()  # a leaf fooled the router: replay again in this process
            frontier[:] = begin
        replayer = self.state.load_replayer(cp.origin)
        replay_entries(client, start, cp.size, frontier, replayer)
        return replayer.result(start, cp.size)

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
        if got.get("size") != cp.size or got.get("root") != cp.root.hex():
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
