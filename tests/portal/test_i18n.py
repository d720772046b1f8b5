"""The portal's words: one catalogue per language with the same keys and placeholders, a
word for every code a page shows, and pages in the language chosen, the complaint's, or the
browser's."""

from __future__ import annotations

import re

import pytest

from api.portal.i18n import LANGUAGES, catalogue
from ledger.complaints.deadlines import ClockStatus
from ledger.complaints.vocab import (
    COMPLAINT_EVENTS,
    DeclineReason,
    DeliveryChannel,
    DeliveryOutcome,
    EscalationLevel,
    ReferralTarget,
    Specialism,
)
from tests.portal.helpers import complaint_page, file_complaint, html

PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_language_has_the_same_keys_and_placeholders(lang) -> None:
    english, other = catalogue("en"), catalogue(lang)
    assert set(other) == set(english)
    for key, words in english.items():
        assert set(PLACEHOLDER.findall(other[key])) == set(PLACEHOLDER.findall(words)), key
        assert other[key].strip(), key


def test_every_code_a_page_shows_has_words() -> None:
    words = catalogue("en")
    needed = (
        [f"event.{t}" for t in COMPLAINT_EVENTS]
        + [f"clock.{s}" for s in ClockStatus]
        + [f"decline.{r}" for r in DeclineReason]
        + [f"level.{lv}" for lv in EscalationLevel]
        + [f"specialism.{s}" for s in Specialism]
        + [f"refer.{t}" for t in ReferralTarget]
        + [f"channel.{c}" for c in DeliveryChannel]
        + [f"delivery.{o}" for o in DeliveryOutcome]
    )
    assert [k for k in needed if k not in words] == []


def test_the_catalogues_are_translated() -> None:
    """Not copies of the English (a few words, like 'Portal', may stay the same)."""
    english = catalogue("en")
    for lang in LANGUAGES:
        if lang == "en":
            continue
        same = [k for k, v in catalogue(lang).items() if v == english[k]]
        assert len(same) < len(english) * 0.05, (lang, same)


def test_the_browser_language_then_the_choice_then_the_complaint(app) -> None:
    client = app.test_client()
    page = html(client.get("/portal/", headers={"Accept-Language": "lt-LT,lt;q=0.9"}))
    assert '<html lang="lt"' in page and catalogue("lt")["start.title"] in page
    page = html(client.get("/portal/?lang=zh"))  # the switch: remembered in a cookie
    assert '<html lang="zh-Hans"' in page
    assert '<html lang="zh-Hans"' in html(client.get("/portal/file"))
    # A complaint in Portuguese, seen from a browser that chose nothing: in Portuguese.
    fresh = app.test_client()
    filed = file_complaint(fresh, language="pt")
    page = complaint_page(fresh, filed.reference)
    assert '<html lang="pt"' in page and catalogue("pt")["complaint.status_heading"] in page


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_page_renders_in_every_language(app, lang) -> None:
    client = app.test_client()
    for path in ("/portal/", "/portal/file", "/portal/sign-in"):
        resp = client.get(f"{path}?lang={lang}")
        assert resp.status_code == 200
    filed = file_complaint(client, language=lang)
    assert catalogue(lang)["filed.keep_warning"] in filed.page
    page = complaint_page(client, filed.reference)
    assert catalogue(lang)["timeline.heading"] in page
