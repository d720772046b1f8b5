"""Clock bases in the customer's language: every rule, jurisdiction and language."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from ledger.complaints.deadlines import JURISDICTIONS, ClockName, due_report
from ledger.complaints.texts import clock_basis, locale
from ledger.complaints.vocab import Category, Language
from tests.support.complaint_chain import Chain

START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
OTHER_LANGUAGES = [lang for lang in Language if lang != Language.EN]


def clocks(jurisdiction: str = "EU-PSD2", category: str = "stuck_transaction", holding=False):
    chain = Chain(start=START, jurisdiction=jurisdiction, category=category).run("acknowledged")
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
    for clock_name in (ClockName.TARGET_RESOLUTION, ClockName.RESOLUTION_LIMIT):
        worded = clock_basis(by_name[clock_name], lang)
        assert name in worded and str(category) not in worded
    if lang != "en":
        english = clock_basis(by_name[ClockName.FIRST_RESPONSE], "en")
        assert first != english and "Service target" not in first


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
