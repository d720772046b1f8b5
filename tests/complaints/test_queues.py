"""Queues by category, specialism and language: every id, its parse, and a replayed complaint's."""

from __future__ import annotations

import itertools

import pytest

from ledger.complaints.errors import QueueError
from ledger.complaints.queues import Queue, all_queues, parse_queue, queue_of, queue_of_state
from ledger.complaints.states import replay
from ledger.complaints.vocab import Category, EscalationLevel, Language, Specialism
from ledger.monitor.chains import start_chain, step_chain
from tests.support.complaint_chain import Chain


@pytest.mark.parametrize(
    ("category", "language", "level"),
    list(itertools.product(Category, Language, (EscalationLevel.BOT, EscalationLevel.AGENT))),
)
def test_below_the_specialists_a_complaint_waits_in_its_categorys_queue(category, language, level):
    queue_id = queue_of(category, language, level)
    assert queue_id == f"{category}.{language}"
    assert parse_queue(queue_id) == Queue(queue_id, category, None, language)
    # A specialism named below the specialist level does not move it.
    assert queue_of(category, language, level, Specialism.LEGAL) == queue_id


@pytest.mark.parametrize(
    ("category", "language", "specialism"),
    list(itertools.product(Category, Language, Specialism)),
)
def test_a_specialist_complaint_waits_in_its_specialisms_queue(category, language, specialism):
    queue_id = queue_of(category, language, EscalationLevel.SPECIALIST, specialism)
    assert queue_id == f"specialist-{specialism}.{language}"
    assert parse_queue(queue_id) == Queue(queue_id, None, specialism, language)


def test_every_queue_is_listed_once_and_parses_back() -> None:
    queues = all_queues()
    assert len(queues) == (len(Category) + len(Specialism)) * len(Language)
    assert len({q.id for q in queues}) == len(queues)
    assert all(parse_queue(q.id) == q for q in queues)
    reachable = {
        queue_of(c, lang, level, s)
        for c, lang, level, s in itertools.product(
            Category, Language, EscalationLevel, (*Specialism, None)
        )
        if level != EscalationLevel.SPECIALIST or s is not None
    }
    assert reachable == {q.id for q in queues}
    # Plain strings work as well as the vocabularies' members.
    assert queue_of("sync_fault", "lt", "agent") == "sync_fault.lt"


@pytest.mark.parametrize(
    "queue_id",
    [
        "",
        "refund_or_claim",
        "refund_or_claim.",
        "refund_or_claim.fr",
        "refund_or_claim.EN",
        "unknown.en",
        "specialist-.en",
        "specialist-cooking.en",
        "specialist-security",
        "specialist-security.pt.pt",
        "Refund_or_claim.en",
        " refund_or_claim.en",
    ],
)
def test_anything_else_is_not_a_queue(queue_id) -> None:
    with pytest.raises(QueueError) as exc:
        parse_queue(queue_id)
    assert exc.value.code == "BAD_QUEUE"


def test_facts_that_give_no_queue_are_refused() -> None:
    with pytest.raises(QueueError):
        queue_of(Category.SYNC_FAULT, Language.EN, EscalationLevel.SPECIALIST)
    with pytest.raises(ValueError):
        queue_of("nothing", "en", "agent")
    with pytest.raises(ValueError):
        queue_of("sync_fault", "fr", "agent")


def test_a_replayed_complaint_moves_queue_when_escalated() -> None:
    c = Chain(category="sync_fault", language="pt").run("acknowledged")
    assert queue_of_state(c.state) == "sync_fault.pt"  # the bot's level
    c.run("escalated")  # to an agent: the same queue
    assert queue_of_state(c.state) == "sync_fault.pt"
    c.run("escalated")  # to a technical specialist (complaint_chain.default_step)
    assert queue_of_state(c.state) == "specialist-technical.pt"
    assert queue_of_state(replay(c.leaves)) == "specialist-technical.pt"
    # The monitor's mutable state answers alike.
    monitor = start_chain(c.envelopes[0], c.state.reference)
    for env in c.envelopes[1:]:
        step_chain(monitor, env, None)
    assert queue_of_state(monitor) == "specialist-technical.pt"
