"""The verification report every verifier gives: plain-words checks, each ok, failed or skipped.

A skip is something that could not be checked (no chain reader, a body not disclosed), never
a failure. ``Report.to_json()`` is the verification report shape shared with the browser
verifier (``docs/spec/README.md``); ``Report.lines()`` is the text the bundle command prints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

Status = Literal["ok", "fail", "skip"]


class CheckJSON(TypedDict):
    category: str
    name: str
    status: Status
    detail: str


class ReportJSON(TypedDict):
    ok: bool
    checks: list[CheckJSON]


@dataclass(frozen=True)
class Check:
    """One check: ``name`` says in plain words what holds; ``category`` is a stable short id."""

    name: str
    status: Status
    detail: str = ""
    category: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_json(self) -> CheckJSON:
        return {
            "category": self.category,
            "name": self.name,
            "status": self.status,
            "detail": self.detail,
        }


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """At least one check passed and none failed (skips are neither)."""
        return any(c.status == "ok" for c in self.checks) and not self.failures

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.status == "fail"]

    def add(self, name: str, ok: bool, detail: str = "", category: str = "") -> bool:
        """Record a passed or failed check; returns ``ok`` so callers can stop on a failure."""
        self.checks.append(Check(name, "ok" if ok else "fail", detail, category))
        return bool(ok)

    def skip(self, name: str, detail: str = "", category: str = "") -> None:
        """Record what could not be checked, and why."""
        self.checks.append(Check(name, "skip", detail, category))

    def lines(self) -> list[str]:
        """Every check in plain words, what could not be checked, then the result."""
        checked = [c for c in self.checks if c.status != "skip"]
        out = [f"{'passed' if c.ok else 'FAILED'}: {_text(c)}" for c in checked]
        out += [f"note: {_text(c)}" for c in self.checks if c.status == "skip"]
        if self.ok:
            out.append(f"RESULT: all {len(checked)} checks passed")
        else:
            out.append(f"RESULT: {len(self.failures)} of {len(checked)} checks FAILED")
        return out

    def to_json(self) -> ReportJSON:
        return {"ok": self.ok, "checks": [c.to_json() for c in self.checks]}


def _text(check: Check) -> str:
    return check.name + (f" ({check.detail})" if check.detail else "")


def describe(exc: BaseException, limit: int = 200) -> str:
    """An unexpected exception in a few plain words, for a failed check's detail."""
    if isinstance(exc, RecursionError):
        return "nested too deeply to verify"
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def checked(
    report: Report, name: str, check: Callable[..., object], *args: Any, category: str = ""
) -> None:
    """Run ``check(*args)``; input of a shape no check anticipated (wrong types, absurd values,
    nesting too deep) becomes the failed check ``name``, never an exception: a verifier always
    gives a verdict."""
    try:
        check(*args)
    except Exception as exc:
        report.add(name, False, describe(exc), category)
