"""Queues: where a complaint waits to be claimed, by category, specialism and language.

At the bot and agent levels a complaint waits in its category's queue for its language
(``"refund_or_claim.pt"``); escalated to a specialist, in the specialism's queue for its
language (``"specialist-security.pt"``), whatever its category. Queue ids are derived, never
stored: the replayed state (level, specialism) says which queue a complaint is in now.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ledger.complaints.errors import QueueError
from ledger.complaints.states import StepState
from ledger.complaints.vocab import Category, EscalationLevel, Language, Specialism

SPECIALIST_PREFIX = "specialist-"


@dataclass(frozen=True)
class Queue:
    """One queue: a category's (bot and agent levels) or a specialism's, in one language."""

    id: str
    category: Category | None
    specialism: Specialism | None
    language: Language


def queue_of(
    category: Category | str,
    language: Language | str,
    level: EscalationLevel | str,
    specialism: Specialism | str | None = None,
) -> str:
    """The id of the queue a complaint with these facts waits in."""
    lang = Language(language)
    if EscalationLevel(level) == EscalationLevel.SPECIALIST:
        if specialism is None:
            raise QueueError("a specialist-level complaint names its specialism")
        return f"{SPECIALIST_PREFIX}{Specialism(specialism)}.{lang}"
    return f"{Category(category)}.{lang}"


class QueueFacts(StepState, Protocol):
    """What queue_of_state reads: a replayed state, which also knows its language."""

    @property
    def language(self) -> Language: ...


def queue_of_state(state: QueueFacts) -> str:
    """The queue a replayed complaint (``ComplaintState`` or the monitor's) waits in now."""
    return queue_of(state.category, state.language, state.level, state.specialism)


def all_queues() -> list[Queue]:
    """Every queue: each category's, then each specialism's, in every language (vocab order)."""
    queues = [
        Queue(f"{category}.{lang}", category, None, lang)
        for category in Category
        for lang in Language
    ]
    queues += [
        Queue(f"{SPECIALIST_PREFIX}{specialism}.{lang}", None, specialism, lang)
        for specialism in Specialism
        for lang in Language
    ]
    return queues


def parse_queue(queue_id: str) -> Queue:
    """The queue an id names; QueueError (BAD_QUEUE) for anything else (one spelling only)."""
    if not isinstance(queue_id, str):
        raise QueueError("a queue id is a string", "BAD_QUEUE")
    name, dot, lang = queue_id.rpartition(".")
    try:
        language = Language(lang)
        if not dot:
            raise ValueError(queue_id)
        if name.startswith(SPECIALIST_PREFIX):
            specialism = Specialism(name.removeprefix(SPECIALIST_PREFIX))
            return Queue(queue_id, None, specialism, language)
        return Queue(queue_id, Category(name), None, language)
    except ValueError:
        raise QueueError(f"{queue_id!r} is not a queue id", "BAD_QUEUE") from None
