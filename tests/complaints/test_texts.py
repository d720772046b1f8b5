"""Customer-facing texts: every template in every language and category, safely filled."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from ledger.complaints.errors import TemplateError
from ledger.complaints.playbooks import playbook
from ledger.complaints.texts import (
    MessageFacts,
    MessageKind,
    TimeFrame,
    format_amount,
    format_date,
    locale,
    negotiate_language,
    placeholders,
    render,
    render_message,
    status_text,
)
from ledger.complaints.vocab import (
    Category,
    CompensationKind,
    Language,
    Outcome,
    PaymentMethod,
    Status,
)

REF = "CMP-5NRHC-GNQ4T-R480B-2FJMZ-QB1JG"


def facts(category=Category.HACKED_ACCOUNT, **kw) -> MessageFacts:
    base = dict(
        reference=REF,
        category=category,
        jurisdiction="EU-PSD2",
        received_at="2026-03-02T10:00:00Z",
        final_response_date=date(2026, 3, 23),
        respond_by=date(2026, 3, 9),
        requested_info="A screenshot of the error.",
        delay_reason="We are waiting for records from the exchange.",
        outcome=Outcome.PARTIALLY_UPHELD,
        finding="The fee estimate was wrong.",
        rules=["PSD2 Art. 73", "T&C 7.2"],
        remedy="We refund the fee.",
        amount="1234.50",
        currency="EUR",
        method=PaymentMethod.BANK_TRANSFER,
        step=playbook(category)[1] if category in list(Category) else None,
        incident="INC-2026-0042",
        customer_name="Ana Silva",
        responsible="Marta Soler",
        time_frame=TimeFrame(timedelta(hours=4), timedelta(hours=12)),
        payment_reference="SEPA-2026-0001",
        portal_url="https://complaints.example/portal",
    )
    base.update(kw)
    return MessageFacts(**base)


def structure(value):
    """The key skeleton of a locale (values replaced by placeholder sets)."""
    if isinstance(value, dict):
        return {k: structure(v) for k, v in value.items() if k != "language"}
    if isinstance(value, list):
        return len(value)
    return frozenset(re.findall(r"\{([a-z_]+)\}", value))


@pytest.mark.parametrize("lang", list(Language))
def test_locale_files_have_the_same_keys_and_placeholders_as_english(lang):
    assert locale(lang)["language"] == lang
    assert structure(locale(lang)) == {
        **structure(locale(Language.EN)),
        "date": structure(locale(lang))["date"],  # date formats legitimately differ
    }


@pytest.mark.parametrize("kind", list(MessageKind))
@pytest.mark.parametrize("lang", list(Language))
@pytest.mark.parametrize("category", list(Category))
def test_every_template_renders_in_every_language_and_category(kind, lang, category):
    msg = render_message(kind, lang, facts(category))
    assert msg.language == lang and msg.kind == kind
    for text in (msg.subject, msg.body):
        assert "{" not in text and "}" not in text
        assert text.strip() == text and "  " not in text
    assert REF in msg.subject
    if "category_name" in placeholders(kind, lang):
        assert locale(lang)["categories"][category]["name"] in msg.body


@pytest.mark.parametrize("kind", list(MessageKind))
def test_placeholders_identical_across_languages(kind):
    english = placeholders(kind, Language.EN)
    assert english
    for lang in Language:
        assert placeholders(kind, lang) == english


def test_facts_appear_localised():
    en = render_message("compensation_offer", "en", facts())
    assert (
        "1,234.50\u00a0EUR" in en.body and "Bank transfer" in en.body and "9 March 2026" in en.body
    )
    lt = render_message("compensation_offer", "lt", facts())
    assert "1\u00a0234,50\u00a0EUR" in lt.body and "2026 m. kovo 9 d." in lt.body
    ru = render_message("decision", "ru", facts(jurisdiction="UK-FCA-DISP"))
    assert "2 марта 2026 г." in ru.body and "Financial Ombudsman Service" in ru.body
    assert "PSD2 Art. 73, T&C 7.2" in ru.body
    zh = render_message("decision", "zh", facts())
    assert "2026年3月2日" in zh.body and "PSD2 Art. 73、T&C 7.2" in zh.body
    assert "部分成立" in zh.body
    ca = render_message("acknowledgement", "ca", facts(final_response_date=date(2026, 4, 1)))
    assert "el dia 1 d'abril de 2026" in ca.body


@pytest.mark.parametrize("lang", list(Language))
def test_compensation_offer_names_the_kind_of_redress(lang):
    kinds = locale(lang)["compensation_kinds"]
    money = render_message("compensation_offer", lang, facts())
    assert kinds["money"] in money.body  # no kind given: money
    for kind in CompensationKind:
        method = "in_kind" if kind in ("discount", "free_service") else "bank_transfer"
        msg = render_message("compensation_offer", lang, facts(kind=kind, method=method))
        assert kinds[kind] in msg.body and locale(lang)["methods"][method] in msg.body
        assert format_amount("1234.50", "EUR", lang) in msg.body
    with pytest.raises(TemplateError) as exc:
        render_message("compensation_offer", lang, facts(kind="voucher"))
    assert exc.value.code == "BAD_FACT"


def test_decision_without_remedy_and_referral_rights_per_jurisdiction():
    msg = render_message("decision", "pt", facts(outcome="rejected", remedy=None))
    assert "improcedente" in msg.body and locale("pt")["no_remedy"] in msg.body
    assert "entidade de resolução alternativa de litígios no prazo de 12 meses" in msg.body
    uk = render_message("decision", "en", facts(jurisdiction="UK-FCA-PSR"))
    assert "Financial Ombudsman Service" in uk.body


def test_dates_are_shown_in_the_jurisdiction_timezone():
    late = facts(received_at="2026-03-02T23:30:00Z")  # already 3 March in Brussels
    assert "3 March 2026" in render_message("acknowledgement", "en", late).body
    uk = facts(received_at="2026-03-02T23:30:00Z", jurisdiction="UK-FCA-DISP")
    assert "2 March 2026" in render_message("acknowledgement", "en", uk).body
    tz = facts(received_at="2026-03-02T23:30:00Z", timezone="Asia/Shanghai")
    assert "2026年3月3日" in render_message("acknowledgement", "zh", tz).body


def test_missing_facts_are_named():
    with pytest.raises(TemplateError) as exc:
        render_message("compensation_offer", "en", facts(amount=None, method=None))
    assert exc.value.code == "MISSING_FACT"
    assert "amount" in exc.value.message and "method" in exc.value.message
    with pytest.raises(TemplateError):
        render_message("decision", "en", facts(rules=()))
    with pytest.raises(TemplateError):
        render_message("acknowledgement", "en", facts(final_response_date=None))
    with pytest.raises(TemplateError) as exc:
        render_message("playbook_step", "en", facts(step=None))
    assert exc.value.code == "MISSING_FACT" and "step" in exc.value.message
    with pytest.raises(TemplateError) as exc:
        render_message("incident_holding_reply", "en", facts(incident=None, delay_reason=""))
    assert "incident" in exc.value.message and "delay_reason" in exc.value.message


def test_user_text_is_inserted_verbatim_never_expanded():
    sneaky = "Please see {reference} and {0.__class__} {amount}"
    msg = render_message("info_request", "en", facts(requested_info=sneaky))
    assert sneaky in msg.body
    assert render("{a}{b}", {"a": "{b}", "b": "x"}) == "{b}x"
    with pytest.raises(TemplateError):
        render("{a} {b}", {"a": "1"})


def test_unknown_language_kind_or_category():
    with pytest.raises(TemplateError) as exc:
        render_message("decision", "fr", facts())
    assert exc.value.code == "UNSUPPORTED_LANGUAGE"
    with pytest.raises(TemplateError) as exc:
        render_message("apology", "en", facts())
    assert exc.value.code == "UNKNOWN_TEMPLATE"
    with pytest.raises(TemplateError):
        render_message("acknowledgement", "en", facts(category="lost_cat"))


@pytest.mark.parametrize("lang", list(Language))
def test_status_texts_for_every_status(lang):
    texts = {status_text(s, lang) for s in Status}
    assert len(texts) == len(Status)
    pending = status_text("investigating", lang, info_pending=True)
    assert pending not in texts


@pytest.mark.parametrize(
    ("header", "query", "expected"),
    [
        (None, None, "en"),
        ("", None, "en"),
        ("ca", None, "ca"),
        ("pt-BR,pt;q=0.9,en;q=0.8", None, "pt"),
        ("fr-FR, de;q=0.9, ru;q=0.5", None, "ru"),
        ("en;q=0.2, lt;q=0.9", None, "lt"),
        ("zh-Hant-TW", None, "zh"),
        ("zh_CN", None, "zh"),
        ("LT-lt", None, "lt"),
        ("ru;q=0, en;q=0.1", None, "en"),  # q=0 means "not Russian"
        ("ru;q=0", None, "en"),
        ("fr, *;q=0.5", None, "en"),
        ("ru;q=abc, ca;q=0.4", None, "ca"),  # malformed q skipped
        ("ru;q=1.5", None, "en"),
        ("de, ru", "ca", "ca"),  # explicit choice wins
        ("ru", "xx", "ru"),  # unsupported query falls back to the header
        ("ru", "PT-pt", "pt"),
        (",,;q=1,", None, "en"),
    ],
)
def test_negotiate_language(header, query, expected):
    assert negotiate_language(header, query) == expected


def test_format_helpers():
    assert format_amount("0.00012345", "BTC", "ru") == "0,00012345\u00a0BTC"
    assert format_amount("1000000", "JPY", "en") == "1,000,000\u00a0JPY"
    assert format_amount("999", "EUR", "ca") == "999\u00a0EUR"
    with pytest.raises(TemplateError):
        format_amount("1e5", "EUR", "en")
    assert format_date(date(2026, 8, 1), "ca") == "1 d'agost de 2026"
    assert format_date(date(2026, 12, 25), "pt") == "25 de dezembro de 2026"
    assert format_date(date(2026, 5, 9), "lt") == "2026 m. gegužės 9 d."
