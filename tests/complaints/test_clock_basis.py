"""Clock bases in the customer's language: every rule, jurisdiction and language."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from ledger.complaints.deadlines import JURISDICTIONS, ClockName, due_report
from ledger.complaints.playbooks import UNTIMED_CATEGORIES
from ledger.complaints.texts import clock_basis, clock_name, locale
from ledger.complaints.vocab import Category, Language
from tests.support.complaint_chain import Chain

START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
OTHER_LANGUAGES = [lang for lang in Language if lang != Language.EN]


def clocks(
    jurisdiction: str = "EU-PSD2",
    category: str = "stuck_transaction",
    holding=False,
    target: tuple[int, int] | None = None,
):
    """The clocks four days in; ``target`` (minutes) is an untimed category's handler target."""
    chain = Chain(start=START, jurisdiction=jurisdiction, category=category).run("acknowledged")
    if target is not None:
        chain.add("target_set", public={"target_minutes": target[0], "limit_minutes": target[1]})
    if holding:
        chain.add("holding_reply", at=START + timedelta(days=3))
    return {c.name: c for c in due_report(chain.envelopes, START + timedelta(days=4)).clocks}


@pytest.mark.parametrize("jurisdiction", sorted(JURISDICTIONS))
def test_english_statutory_basis_is_the_clock_basis(jurisdiction):
    final = clocks(jurisdiction)[ClockName.FINAL_RESPONSE]
    assert clock_basis(final, "en") == final.basis == JURISDICTIONS[jurisdiction].basis


@pytest.mark.parametrize("lang", OTHER_LANGUAGES)
@pytest.mark.parametrize("jurisdiction", sorted(JURISDICTIONS))
def test_statutory_basis_is_worded_in_each_language(lang, jurisdiction):
    final = clocks(jurisdiction)[ClockName.FINAL_RESPONSE]
    worded = clock_basis(final, lang)
    assert worded == locale(lang)["clock_bases"]["statutory"][jurisdiction]
    assert worded != final.basis
    # The rule's citation and figures survive translation.
    assert "DISP" in worded if "DISP" in final.basis else "101" in worded
    assert ("8" in worded) if jurisdiction == "UK-FCA-DISP" else ("15" in worded)


@pytest.mark.parametrize("lang", list(Language))
def test_extended_basis_says_so_in_each_language(lang):
    final = clocks(holding=True)[ClockName.FINAL_RESPONSE]
    assert final.rule == "statutory_extended" and "extended" in final.basis
    plain = locale(lang)["clock_bases"]["statutory"]["EU-PSD2"]
    worded = clock_basis(final, lang)
    assert worded.startswith(plain) and len(worded) > len(plain)
    if lang == "en":
        assert worded == final.basis


@pytest.mark.parametrize("lang", list(Language))
@pytest.mark.parametrize("category", list(Category))
def test_service_targets_name_the_category_in_each_language(lang, category):
    by_name = clocks(category=str(category))
    name = locale(lang)["categories"][str(category)]["name"]
    first = clock_basis(by_name[ClockName.FIRST_RESPONSE], lang)
    assert "2" in first
    if category in UNTIMED_CATEGORIES:
        # No resolution clocks until the handler sets a target (handler_target, below).
        assert ClockName.TARGET_RESOLUTION not in by_name
        return
    for resolution in (ClockName.TARGET_RESOLUTION, ClockName.RESOLUTION_LIMIT):
        worded = clock_basis(by_name[resolution], lang)
        assert name in worded and str(category) not in worded
    if lang != "en":
        english = clock_basis(by_name[ClockName.FIRST_RESPONSE], "en")
        assert first != english and "Service target" not in first


@pytest.mark.parametrize("lang", list(Language))
def test_step_target_names_the_step_in_each_language(lang):
    block = clocks(category="hacked_account")[ClockName.ACCESS_BLOCK]
    assert block.rule == "step_target" and dict(block.rule_args)["minutes"] == "15"
    worded = clock_basis(block, lang)
    assert locale(lang)["playbook_steps"]["access_blocked"]["name"] in worded
    assert "15" in worded and "access_blocked" not in worded
    if lang == "en":
        assert worded == "Service target: Access blocked within 15 min"
    else:
        assert worded != clock_basis(block, "en") and "Service target" not in worded
    half = replace(block, rule_args=(("step", "access_blocked"), ("minutes", "7.5")))
    assert locale(lang)["number"]["decimal"].join(("7", "5")) in clock_basis(half, lang)


@pytest.mark.parametrize("lang", list(Language))
@pytest.mark.parametrize("category", sorted(UNTIMED_CATEGORIES))
def test_handler_target_is_worded_in_each_language(lang, category):
    by_name = clocks(category=str(category), target=(90, 360))
    bases = set()
    for resolution in (ClockName.TARGET_RESOLUTION, ClockName.RESOLUTION_LIMIT):
        clock = by_name[resolution]
        assert clock.rule == "handler_target"
        assert dict(clock.rule_args) == {"target": "1.5", "limit": "6"}
        bases.add(clock_basis(clock, lang))
    (worded,) = bases
    decimal = locale(lang)["number"]["decimal"]
    assert f"1{decimal}5" in worded and "6" in worded
    template = locale(lang)["clock_bases"]["handler_target"]
    assert worded == template.replace("{target}", f"1{decimal}5").replace("{limit}", "6")
    if lang == "en":
        assert worded == "Target set by your handler: resolution within 1.5–6 h"
    else:
        assert "Target set" not in worded


@pytest.mark.parametrize("lang", list(Language))
def test_every_clock_has_a_name_in_each_language(lang):
    names = {clock_name(c, lang) for c in ClockName}
    assert len(names) == len(ClockName) and all(names)
    if lang != "en":
        assert names.isdisjoint({clock_name(c, "en") for c in ClockName})


def test_fractional_hours_use_the_language_decimal_separator():
    first = clocks()[ClockName.FIRST_RESPONSE]
    half = replace(first, rule_args=(("hours", "1.5"),))
    assert "1,5" in clock_basis(half, "pt") and "1.5" in clock_basis(half, "en")


def test_a_clock_without_a_worded_rule_keeps_its_english_basis():
    final = clocks()[ClockName.FINAL_RESPONSE]
    custom = replace(final, rule_args=(("jurisdiction", "XX-LOCAL"),), basis="Local rule 7")
    assert clock_basis(custom, "ru") == "Local rule 7"
    assert clock_basis(replace(final, rule=""), "zh") == final.basis


@pytest.mark.parametrize("lang", list(Language))
def test_status_api_words_every_clock_basis_in_the_requested_language(client, lang):
    filed = client.post(
        "/v1/complaints",
        json={"category": "hacked_account", "channel": "in_app", "description": "Lost USDC."},
    ).json
    r = client.get(
        f"/v1/complaints/{filed['reference']}?lang={lang}",
        headers={"Authorization": f"Bearer {filed['secret']}"},
    )
    assert r.status_code == 200 and r.json["language"] == lang
    bases = locale(lang)["clock_bases"]
    by_name = {c["name"]: c["basis"] for c in r.json["clocks"]}
    assert set(by_name) == {c.value for c in ClockName}
    assert by_name["final_response"] == bases["statutory"][r.json["jurisdiction"]]
    name = locale(lang)["categories"]["hacked_account"]["name"]
    assert name in by_name["target_resolution"] and name in by_name["resolution_limit"]
    if lang != "en":
        assert not any("Service target" in b or "business days" in b for b in by_name.values())
