"""The answer of ``GET /v1/complaints/<ref>``: a complaint's status view (its read model,
``ledger.complaints.status_view``) worded in the reader's language, for the reader's role, as
of now, and its ETag.

The answer depends on the complaint's chain (its head), the reader's language and role (the
next steps allowed), the service rules in force, and on time only through clocks falling due.
So the tag covers the rules, the reference, the head, the language, the role and how many of
the open clocks' due instants have passed: a polling client whose status has not changed gets
a 304 for one small query. Texts depend on a few facts and the language only: they are cached.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

import orjson
from flask import Response

from ledger.casework.cache import BoundedCache
from ledger.casework.status_reads import StoredView
from ledger.complaints.deadlines import Clock, ClockName, ClockStatus
from ledger.complaints.status_view import clocks_at, passed, status_tag
from ledger.complaints.texts import clock_basis, clock_name, playbook_progress, status_text

# A status answer depends on who asks (role, the customer's secret) and in which language.
STATUS_VARY = "Authorization, Accept-Language"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_status_text = functools.lru_cache(maxsize=512)(status_text)
_clock_name = functools.lru_cache(maxsize=256)(clock_name)


@functools.lru_cache(maxsize=4096)
def _basis(clock_key: tuple[ClockName, str, tuple[tuple[str, str], ...], str], lang: str) -> str:
    name, rule, rule_args, basis = clock_key
    # Only the rule, its arguments and the English basis word a clock's basis.
    clock = Clock(name, 0, basis, _EPOCH, None, ClockStatus.RUNNING, rule=rule, rule_args=rule_args)
    return clock_basis(clock, lang)


@functools.lru_cache(maxsize=2048)
def _playbook(category: str, done: tuple[str, ...], language: str) -> Any:
    return playbook_progress(category, done, language)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


# Encoded answers by tag: a tag names one answer (view, language, role, clocks fallen due).
_bodies: BoundedCache[str, bytes] = BoundedCache(8192)


class StatusAnswer:
    """One reader's answer from a stored view: ``tag`` always, the body when it is sent."""

    def __init__(
        self, reference: str, stored: StoredView, language: str, role: str, now: datetime
    ) -> None:
        self.reference, self.stored, self.language, self.role = reference, stored, language, role
        self.now = now
        view = stored.view
        count = passed(stored.instants, now)
        self.tag = status_tag(view["rules"], reference, view["head"], language, role, count)

    def body(self) -> dict[str, Any]:
        view, lang = self.stored.view, self.language
        clocks = clocks_at(self.stored.clocks, self.now)
        return {
            "reference": self.reference,
            "status": view["status"],
            "status_text": _status_text(view["status"], lang, info_pending=view["info_pending"]),
            "language": lang,
            "category": view["category"],
            "channel": view["channel"],
            "jurisdiction": view["jurisdiction"],
            "escalation_level": view["escalation_level"],
            "outcome": view["outcome"],
            "events": view["events"],
            "head": view["head"],
            "clocks": [
                {
                    "name": str(c.name),
                    "label": _clock_name(str(c.name), lang),
                    "cycle": c.cycle,
                    "basis": _basis((c.name, c.rule, c.rule_args, c.basis), lang),
                    "status": str(c.status),
                    "started_at": _iso(c.started_at),
                    "due_at": _iso(c.due_at),
                    "completed_at": _iso(c.completed_at),
                    "statutory": c.statutory,
                }
                for c in clocks
            ],
            "overdue": [str(c.name) for c in clocks if c.status == ClockStatus.OVERDUE],
            "next_steps": view["next_steps"][self.role],
            "playbook": _playbook(view["category"], tuple(view["playbook"]), lang),
            "identity_verified": view["identity_verified"],
            "incident": view["incident"],
        }

    def response(self) -> Response:
        """200 with the body, encoded once per tag without a schema round trip (the schema
        ``ComplaintStatus`` documents it; the tests check the body against it)."""
        encoded = _bodies.get(self.tag)
        if encoded is None:
            encoded = orjson.dumps(self.body())
            _bodies.put(self.tag, encoded)
        return self._headers(Response(encoded, mimetype="application/json"))

    def not_modified(self) -> Response:
        """304: the status the client holds (its ETag) is the one it would get now."""
        return self._headers(Response(status=304))

    def _headers(self, resp: Response) -> Response:
        resp.set_etag(self.tag)
        resp.headers["Vary"] = STATUS_VARY
        return resp
