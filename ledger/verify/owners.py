"""Who was responsible for a complaint, step by step: its ``assigned`` steps in words.

The leaf names the owner's pseudonym; the disclosed body gives the display name the
customer sees. Escalation clears the owner (states._escalated): the complaint waits in
another queue until someone claims it or is assigned it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ledger.complaints.events import Envelope
from ledger.complaints.vocab import EventType

# How the owner got the complaint, as the browser verifier words it (ui.assigned_*).
VERBS = {"claim": "Claimed by", "assign": "Assigned to", "reassign": "Reassigned to"}


def assignment_text(public: Mapping[str, Any], body: Mapping[str, Any] | None) -> str:
    """'Assigned to Ana Silva (staff-3f9a)': the display name when the body is disclosed, and
    the owner's pseudonym always (alone when the body is erased or withheld)."""
    verb = VERBS.get(str(public.get("how")), "Assigned to")
    owner = str(public.get("owner", ""))
    name = (body or {}).get("owner_name")
    return f"{verb} {name} ({owner})" if isinstance(name, str) else f"{verb} {owner}"


def owner_history(steps: Iterable[tuple[Envelope, Mapping[str, Any] | None]]) -> list[str]:
    """One line per change of owner ('step 3: Reassigned to ...', 'step 4: escalated, no
    owner'), in chain order; empty when the complaint was never assigned."""
    lines: list[str] = []
    owned = False
    for env, body in steps:
        if env.type == EventType.ASSIGNED:
            lines.append(f"step {env.seq}: {assignment_text(env.public, body)}")
            owned = True
        elif env.type == EventType.ESCALATED and owned:
            lines.append(f"step {env.seq}: escalated, no owner")
            owned = False
    return lines
