"""Summarise py-spy collapsed stacks (``bench_api.py --profile DIR``): where the samples went.

For each file: the samples per thread kind (request threads, the log sequencer's writer, ...)
and, per kind, the functions with the largest share of its samples, inclusive (the function
or anything it called) and self (the function's own code). Frames are named
``function (file)`` without line numbers, so one function's lines count together.

Usage: python scripts/profile_summary.py DIR/append.txt [...] [--top 25] [--thread log-sequencer]
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

_LINE = re.compile(r"^(?P<stack>.*) (?P<count>\d+)$")
_FRAME = re.compile(r"^(?P<name>.*?) \((?P<file>[^():]*)(?::\d+)?\)$")
_THREAD = re.compile(r"^thread \(\w+\)(?:: (?P<name>.*))?$")


def _kind(thread: str) -> str:
    """A thread's kind: its name without the pool's numbering."""
    return re.sub(r"[-_]\d+(_\d+)?$", "", thread) or "main"


def _frame(text: str) -> str:
    found = _FRAME.match(text)
    if found is None:
        return text
    path = found["file"]
    short = "/".join(path.split("/")[-2:])
    return f"{found['name']} ({short})"


def parse(path: Path) -> dict[str, list[tuple[list[str], int]]]:
    """Stacks (outermost frame first) with their sample counts, per thread kind."""
    out: dict[str, list[tuple[list[str], int]]] = {}
    for line in path.read_text(errors="replace").splitlines():
        found = _LINE.match(line)
        if found is None:
            continue
        parts = found["stack"].split(";")
        kind, frames = "unknown", []
        for part in parts:
            if part.startswith("process "):
                continue
            thread = _THREAD.match(part)
            if thread is not None:
                kind = _kind(thread["name"] or "main")
                continue
            frames.append(_frame(part))
        out.setdefault(kind, []).append((frames, int(found["count"])))
    return out


def summarise(stacks: list[tuple[list[str], int]], top: int) -> tuple[int, list, list]:
    total = sum(n for _, n in stacks)
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for frames, n in stacks:
        for name in set(frames):
            inclusive[name] += n
        if frames:
            own[frames[-1]] += n
    return total, inclusive.most_common(top), own.most_common(top)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--thread", action="append", help="only these thread kinds")
    args = parser.parse_args(argv)
    for path in args.files:
        kinds = parse(path)
        grand = sum(n for stacks in kinds.values() for _, n in stacks)
        print(f"\n### {path} ({grand} samples)")
        for kind, stacks in sorted(kinds.items(), key=lambda kv: -sum(n for _, n in kv[1])):
            if args.thread and kind not in args.thread:
                continue
            total, inclusive, own = summarise(stacks, args.top)
            if total < grand * 0.02:
                continue
            print(f"\n[{kind}] {total} samples ({100 * total / grand:.0f}%)")
            print("  inclusive:")
            for name, n in inclusive:
                print(f"    {100 * n / total:5.1f}%  {name}")
            print("  self:")
            for name, n in own[: max(10, args.top // 2)]:
                print(f"    {100 * n / total:5.1f}%  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
