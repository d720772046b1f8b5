"""The service playbook's customer texts: steps, progress, redress kinds, identity methods and
the two playbook letters, in every language."""

from __future__ import annotations

from datetime import date

import pytest

from ledger.complaints.errors import TemplateError
from ledger.complaints.playbooks import PLAYBOOKS, playbook
from ledger.complaints.texts import (
    MessageFacts,
    clock_name,
    compensation_kind_name,
    format_date,
    identity_method_name,
    locale,
    placeholders,
    playbook_progress,
    referral_rights,
    render,
    render_message,
)
from ledger.complaints.vocab import (
    Category,
    CompensationKind,
    IdentityMethod,
    Language,
    PaymentMethod,
    PlaybookStep,
)

REF = "CMP-5NRHC-GNQ4T-R480B-2FJMZ-QB1JG"
OTHER_LANGUAGES = [lang for lang in Language if lang != Language.EN]
# Where a time frame is fixed, the category's note states it (service_rules.DEFAULT_RULES).
TIME_FRAMES = {
    Category.GENERAL_QUESTION: ("2",),
    Category.INTEGRATION_PROBLEM: ("4", "8"),
    Category.BANK_INTEGRATION: ("24",),
}


def facts(category: Category, **kw) -> MessageFacts:
    base = dict(
        reference=REF,
        category=category,
        jurisdiction="EU-PSD2",
        received_at="2026-03-02T10:00:00Z",
        final_response_date=date(2026, 4, 20),
        delay_reason="Our node provider's outage is still being investigated.",
        incident="INC-2026-0042",
        step=playbook(category)[0],
    )
    base.update(kw)
    return MessageFacts(**base)


def vocabularies(lang: Language) -> list[tuple[str, dict[str, str], list[str]]]:
    loc = locale(lang)
    return [
        ("methods", dict(loc["methods"]), [str(m) for m in PaymentMethod]),
        ("compensation_kinds", dict(loc["compensation_kinds"]), [str(k) for k in CompensationKind]),
        ("identity_methods", dict(loc["identity_methods"]), [str(m) for m in IdentityMethod]),
        (
            "playbook_steps",
            {s: t["name"] for s, t in loc["playbook_steps"].items()},
            [str(s) for s in PlaybookStep],
        ),
    ]


@pytest.mark.parametrize("lang", list(Language))
def test_every_code_has_a_distinct_text_in_every_language(lang):
    for table, texts, codes in vocabularies(lang):
        assert sorted(texts) == sorted(codes), table
        assert all(t.strip() == t and t for t in texts.values()), table
        if table != "playbook_steps":  # a step may share its name across playbooks
            assert len(set(texts.values())) == len(texts), table


@pytest.mark.parametrize("lang", OTHER_LANGUAGES)
def test_texts_are_translated_not_copied_from_english(lang):
    english = dict((t, x) for t, x, _ in vocabularies(Language.EN))
    for table, texts, _ in vocabularies(lang):
        assert all(texts[c] != english[table][c] for c in texts), table
    for code, step in locale(lang)["playbook_steps"].items():
        assert step["note"] != locale("en")["playbook_steps"][code]["note"]
    for category in Category:
        for key, text in locale(lang)["categories"][category].items():
            assert text != locale("en")["categories"][category][key], (category, key)


@pytest.mark.parametrize("lang", list(Language))
def test_step_notes_are_whole_sentences(lang):
    for code, step in locale(lang)["playbook_steps"].items():
        assert step["note"][-1] in ".。", code
        assert len(step["name"]) < 45 and "." not in step["name"], code


@pytest.mark.parametrize("lang", list(Language))
def test_category_notes_state_their_time_frame(lang):
    for category, figures in TIME_FRAMES.items():
        note = locale(lang)["categories"][category]["note"]
        assert all(figure in note for figure in figures), category


@pytest.mark.parametrize("lang", list(Language))
def test_name_lookups(lang):
    loc = locale(lang)
    for kind in CompensationKind:
        assert compensation_kind_name(kind, lang) == loc["compensation_kinds"][kind]
    for method in IdentityMethod:
        assert identity_method_name(str(method), lang) == loc["identity_methods"][method]
    assert clock_name("access_block", lang) == loc["clock_names"]["access_block"]
    for lookup, bad in (
        (compensation_kind_name, "voucher"),
        (identity_method_name, "fingerprint"),
        (clock_name, "lunch_break"),
    ):
        with pytest.raises(TemplateError) as exc:
            lookup(bad, lang)
        assert exc.value.code == "BAD_FACT"


@pytest.mark.parametrize("lang", list(Language))
@pytest.mark.parametrize("category", list(Category))
def test_playbook_progress_counts_the_steps_done(lang, category):
    steps = PLAYBOOKS[category]
    loc = locale(lang)
    for number in range(len(steps) + 1):
        done = [str(s) for s in steps[:number]]
        progress = playbook_progress(category, done, lang)
        assert progress["number"] == number and progress["total"] == 3
        assert progress["next"] == (str(steps[number]) if number < 3 else None)
        assert [s["step"] for s in progress["steps"]] == [str(s) for s in steps]
        assert [s["done"] for s in progress["steps"]] == [i < number for i in range(3)]
        for entry in progress["steps"]:
            assert entry["name"] == loc["playbook_steps"][entry["step"]]["name"]
            assert entry["note"] == loc["playbook_steps"][entry["step"]]["note"]
        text = progress["text"]
        assert "3" in text and "{" not in text
        if number == 0:
            assert text == render(loc["playbook_not_started"], {"total": "3"})
        elif number == 3:
            assert text == render(loc["playbook_complete"], {"total": "3"})
        else:
            last = loc["playbook_steps"][done[-1]]["name"]
            assert text == render(
                loc["playbook_progress"], {"number": str(number), "total": "3", "step_name": last}
            )
            assert str(number) in text and text.endswith(last)


def test_playbook_progress_wording():
    done = ["chain_error_found", "customer_updated"]
    assert playbook_progress("stuck_transaction", done, "en")["text"] == "Step 2 of 3: Update sent"
    assert playbook_progress("stuck_transaction", done, "ru")["text"].startswith("Шаг 2 из 3: ")
    assert playbook_progress("stuck_transaction", done, "zh")["text"].startswith(
        "第 2 步（共 3 步）"
    )
    assert playbook_progress("hacked_account", [], "en")["text"] == "Not started yet: 3 steps"
    steps = [str(s) for s in PLAYBOOKS[Category.SYNC_FAULT]]
    assert playbook_progress("sync_fault", steps, "en")["text"] == "All 3 steps done"


def test_playbook_progress_refuses_a_record_the_state_machine_would_not_keep():
    for category, done in (
        ("stuck_transaction", ["customer_updated"]),  # out of order
        ("stuck_transaction", ["access_blocked"]),  # another playbook's step
        ("hacked_account", ["access_blocked", "keys_changed", "security_validated", "x"]),
    ):
        with pytest.raises(TemplateError) as exc:
            playbook_progress(category, done, "en")
        assert exc.value.code == "BAD_FACT"
    with pytest.raises(TemplateError):
        playbook_progress("lost_cat", [], "en")
    with pytest.raises(TemplateError) as exc:
        playbook_progress("hacked_account", [], "fr")
    assert exc.value.code == "UNSUPPORTED_LANGUAGE"


@pytest.mark.parametrize("lang", list(Language))
def test_new_letters_use_exactly_their_facts(lang):
    assert placeholders("playbook_step", lang) == {
        "reference", "category_name", "step_number", "step_total", "step_name", "step_note",
        "salutation", "sign_off",
    }  # fmt: skip
    assert placeholders("incident_holding_reply", lang) == {
        "reference", "incident", "delay_reason", "final_response_date", "referral_rights",
        "salutation", "sign_off",
    }  # fmt: skip
    assert "compensation_kind" in placeholders("compensation_offer", lang)


@pytest.mark.parametrize("lang", list(Language))
@pytest.mark.parametrize("category", list(Category))
def test_playbook_step_letter_for_every_step(lang, category):
    loc = locale(lang)
    for number, step in enumerate(PLAYBOOKS[category], start=1):
        msg = render_message("playbook_step", lang, facts(category, step=step))
        assert REF in msg.subject and "{" not in msg.subject + msg.body
        assert msg.body.strip() == msg.body and "  " not in msg.body
        for text in (
            loc["categories"][category]["name"],
            loc["playbook_steps"][step]["name"],
            loc["playbook_steps"][step]["note"],
        ):
            assert text in msg.body
        assert str(number) in msg.body and "3" in msg.body


@pytest.mark.parametrize("lang", list(Language))
def test_playbook_step_letter_needs_a_step_of_the_category(lang):
    with pytest.raises(TemplateError) as exc:
        render_message("playbook_step", lang, facts(Category.SYNC_FAULT, step="access_blocked"))
    assert exc.value.code == "BAD_FACT"
    with pytest.raises(TemplateError) as exc:
        render_message("playbook_step", lang, facts(Category.SYNC_FAULT, step="tea_served"))
    assert exc.value.code == "BAD_FACT"
    with pytest.raises(TemplateError) as exc:
        render_message("playbook_step", lang, facts(Category.SYNC_FAULT, step=None))
    assert exc.value.code == "MISSING_FACT"


@pytest.mark.parametrize("lang", list(Language))
@pytest.mark.parametrize("jurisdiction", ["EU-PSD2", "UK-FCA-PSR"])
def test_incident_holding_reply_gives_the_date_and_the_right_to_refer(lang, jurisdiction):
    f = facts(Category.STUCK_TRANSACTION, jurisdiction=jurisdiction)
    msg = render_message("incident_holding_reply", lang, f)
    loc = locale(lang)
    assert REF in msg.subject and "INC-2026-0042" in msg.subject + msg.body
    assert f.delay_reason in msg.body
    assert format_date(date(2026, 4, 20), lang) in msg.body
    assert referral_rights(jurisdiction, lang) in msg.body
    assert msg.body.strip() == msg.body and "  " not in msg.body
    # It mirrors the ordinary holding reply: same apology for the delay, same promised date.
    holding = loc["templates"]["holding_reply"]["body"]
    paragraph = next(p for p in holding.split("\n\n") if "{final_response_date}" in p)
    promise = paragraph.split("{final_response_date}")[0]
    assert promise and promise in msg.body


def test_incident_letter_is_inserted_verbatim():
    sneaky = "See {reference} {referral_rights}"
    msg = render_message(
        "incident_holding_reply", "en", facts(Category.SYNC_FAULT, delay_reason=sneaky)
    )
    assert sneaky in msg.body
