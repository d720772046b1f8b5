"""The letters customers receive: in every language, each letter quotes the customer's own
facts (name, reference, time frame, responsible person, transaction and explorer link, apology,
referral rights, the invitation to rate us), and a fact it needs that is missing is an error,
never a blank."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import pytest

from ledger.casework.letters import (
    LETTERS,
    LetterSettings,
    customer_name,
    needs_letter,
    render_letter,
    render_reminder,
    time_frame,
)
from ledger.complaints.errors import TemplateError
from ledger.complaints.service_rules import DEFAULT_RULES
from ledger.complaints.texts import (
    TO_BE_SET,
    MessageFacts,
    MessageKind,
    TimeFrame,
    format_count,
    format_date,
    locale,
    placeholders,
    referral_rights,
    render_message,
    time_frame_text,
)
from ledger.complaints.vocab import Category, Language, Outcome
from tests.support.complaint_chain import Chain

REF = "CMP-5NRHC-GNQ4T-R480B-2FJMZ-QB1JG"
NAME = "Ana Silva"
HANDLER = "Marta Soler"
TX = "0x" + "5d" * 32
EXPLORER = "https://explorer.example/tx/" + TX
PORTAL = "https://complaints.example/portal"
H = timedelta(hours=1)
LANGUAGES = list(Language)


def facts(**kw) -> MessageFacts:
    base = dict(
        reference=REF,
        category=Category.STUCK_TRANSACTION,
        jurisdiction="EU-PSD2",
        received_at="2026-03-02T10:00:00Z",
        final_response_date=date(2026, 3, 23),
        respond_by=date(2026, 3, 16),
        requested_info="The transaction hash and the network.",
        delay_reason="We are waiting for records from the exchange.",
        outcome=Outcome.UPHELD,
        finding="The fee estimate was wrong.",
        rules=["PSD2 Art. 73"],
        remedy="We refund the fee.",
        amount="25.00",
        currency="EUR",
        method="bank_transfer",
        payment_reference="SEPA-2026-0001",
        step="chain_error_found",
        incident="INC-2026-0042",
        customer_name=NAME,
        responsible=HANDLER,
        time_frame=TimeFrame(4 * H, 12 * H),
        portal_url=PORTAL,
    )
    base.update(kw)
    return MessageFacts(**base)


def letter(kind: str, lang: Language, **kw) -> str:
    msg = render_message(kind, lang, facts(**kw))
    assert REF in msg.subject and REF in msg.body
    for text in (msg.subject, msg.body):
        assert "{" not in text and "}" not in text
        assert text.strip() == text and "  " not in text
    return msg.body


def missing(kind: str, lang: Language = Language.EN, **kw) -> str:
    """The message of the MISSING_FACT error that rendering ``kind`` without a fact raises."""
    with pytest.raises(TemplateError) as exc:
        render_message(kind, lang, facts(**kw))
    assert exc.value.code == "MISSING_FACT"
    return exc.value.message


# --- every letter, every language: the customer's name and the reference ---------------------


@pytest.mark.parametrize("kind", list(MessageKind))
@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_letter_names_the_customer_and_the_reference(kind, lang):
    body = letter(kind, lang)
    salutation = locale(lang)["salutation"]["named"].replace("{customer_name}", NAME)
    assert body.startswith(salutation + "\n\n")
    assert body.endswith(locale(lang)["sign_off"])


@pytest.mark.parametrize("kind", list(MessageKind))
@pytest.mark.parametrize("lang", LANGUAGES)
def test_without_a_name_the_letter_uses_the_formal_generic_salutation(kind, lang):
    for name in (None, "", "   "):
        body = letter(kind, lang, customer_name=name)
        assert body.startswith(locale(lang)["salutation"]["generic"] + "\n\n")
        assert NAME not in body


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_language_has_its_own_wording(lang):
    loc, en = locale(lang), locale(Language.EN)
    if lang != Language.EN:
        for key in ("sign_off", "apologies", "referral_rights", "time_frame"):
            assert loc[key] != en[key], key
        for kind in MessageKind:
            assert loc["templates"][kind] != en["templates"][kind], kind


# --- the acknowledgement: the person responsible and the time frame --------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
def test_acknowledgement_names_the_responsible_person_and_the_time_frame(lang):
    body = letter("acknowledgement", lang)
    assert HANDLER in body
    assert time_frame_text(TimeFrame(4 * H, 12 * H), lang) in body
    assert format_date(date(2026, 3, 23), lang) in body  # the statutory final-response date
    untimed = letter(
        "acknowledgement", lang, category=Category.SECURITY_QUESTION, time_frame=TO_BE_SET
    )
    assert locale(lang)["time_frame"]["to_be_set"] in untimed


@pytest.mark.parametrize(
    ("lang", "frame", "words"),
    [
        ("en", TimeFrame(4 * H, 12 * H), "4 to 12 hours"),
        ("en", TimeFrame(1 * H, 3 * H), "1 to 3 hours"),
        ("en", TimeFrame(timedelta(minutes=15), 2 * H), "15 minutes to 2 hours"),
        ("en", TimeFrame(24 * H, 24 * H), "within 24 hours"),
        ("en", TimeFrame(1 * H, 1 * H), "within 1 hour"),
        ("en", TimeFrame(timedelta(minutes=90), timedelta(minutes=90)), "within 90 minutes"),
        ("pt", TimeFrame(4 * H, 12 * H), "de 4 a 12 horas"),
        ("pt", TimeFrame(timedelta(minutes=15), 2 * H), "de 15 minutos a 2 horas"),
        ("pt", TimeFrame(24 * H, 24 * H), "até 24 horas"),
        ("pt", TimeFrame(1 * H, 1 * H), "até 1 hora"),
        ("ca", TimeFrame(1 * H, 3 * H), "entre 1 i 3 hores"),
        ("ca", TimeFrame(24 * H, 24 * H), "com a màxim 24 hores"),
        ("ru", TimeFrame(4 * H, 12 * H), "от 4 до 12 часов"),
        ("ru", TimeFrame(timedelta(minutes=15), 2 * H), "от 15 минут до 2 часов"),
        ("ru", TimeFrame(21 * H, 21 * H), "до 21 часа"),
        ("ru", TimeFrame(11 * H, 11 * H), "до 11 часов"),
        ("lt", TimeFrame(4 * H, 12 * H), "nuo 4 iki 12 valandų"),
        ("lt", TimeFrame(1 * H, 21 * H), "nuo 1 iki 21 valandos"),
        ("lt", TimeFrame(24 * H, 24 * H), "iki 24 valandų"),
        ("zh", TimeFrame(4 * H, 12 * H), "4至12小时"),
        ("zh", TimeFrame(timedelta(minutes=15), 2 * H), "15分钟至2小时"),
        ("zh", TimeFrame(24 * H, 24 * H), "24小时内"),
    ],
)
def test_time_frames_in_words(lang, frame, words):
    assert time_frame_text(frame, lang) == words
    assert words in letter("acknowledgement", Language(lang), time_frame=frame)


def test_a_time_frame_runs_from_its_target_to_its_limit():
    for target, limit in ((2 * H, H), (None, H), (timedelta(0), H)):
        with pytest.raises(TemplateError):
            TimeFrame(target, limit)
    with pytest.raises(TemplateError):  # not whole minutes
        time_frame_text(TimeFrame(timedelta(seconds=30), H), "en")


def test_counts_take_the_form_their_number_needs():
    assert [format_count(n, "month", "en") for n in (1, 6)] == ["1 month", "6 months"]
    assert [format_count(n, "month", "ru") for n in (1, 6, 11, 21, 12)] == [
        "1 месяца",
        "6 месяцев",
        "11 месяцев",
        "21 месяца",
        "12 месяцев",
    ]
    assert [format_count(n, "hour", "lt") for n in (1, 2, 10, 11, 31)] == [
        "1 valandos",
        "2 valandų",
        "10 valandų",
        "11 valandų",
        "31 valandos",
    ]
    assert format_count(1, "month", "pt") == "1 mês" and format_count(12, "month", "pt") == (
        "12 meses"
    )
    with pytest.raises(TemplateError):
        format_count(2, "fortnight", "en")


# --- the decision: the apology and the referral rights ---------------------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
def test_decision_apologises_where_the_complaint_is_upheld(lang):
    apologies = locale(lang)["apologies"]
    upheld = letter("decision", lang, outcome="upheld")
    partly = letter("decision", lang, outcome="partially_upheld")
    rejected = letter("decision", lang, outcome="rejected", remedy=None)
    assert apologies["upheld"] in upheld and apologies["partially_upheld"] not in upheld
    assert apologies["partially_upheld"] in partly and apologies["upheld"] not in partly
    assert not any(a in rejected for a in apologies.values())
    assert locale(lang)["outcomes"]["upheld"] in upheld


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize(
    ("jurisdiction", "scheme", "months"),
    [
        ("EU-PSD2", "eu_adr", 12),
        ("EU-PSD2-LT", "bank_of_lithuania", 12),
        ("UK-FCA-DISP", "financial_ombudsman", 6),
        ("UK-FCA-PSR", "financial_ombudsman", 6),
    ],
)
def test_decision_gives_the_referral_rights_of_its_jurisdiction(lang, jurisdiction, scheme, months):
    body = letter("decision", lang, jurisdiction=jurisdiction)
    rights = referral_rights(jurisdiction, lang)
    assert rights in body and format_count(months, "month", lang) in rights
    scheme_text = locale(lang)["referral_rights"][scheme]
    assert scheme_text.split("{time_limit}")[0] in rights
    if scheme == "financial_ombudsman":
        assert "Financial Ombudsman Service" in rights and "financial-ombudsman.org.uk" in rights
    if scheme == "bank_of_lithuania":
        assert "www.lb.lt" in rights


def test_referral_rights_read_in_portuguese():
    assert referral_rights("EU-PSD2", "pt") == (
        "Se não estiver satisfeito com a nossa resposta, pode apresentar a sua reclamação à "
        "autoridade nacional competente ou a uma entidade de resolução alternativa de litígios "
        "no prazo de 12 meses a contar da data em que nos apresentou a reclamação. Se o "
        "solicitar, fornecemos-lhe os respetivos contactos."
    )
    assert "no prazo de 6 meses a contar da data da nossa resposta final" in referral_rights(
        "UK-FCA-DISP", "pt"
    )
    with pytest.raises(TemplateError) as exc:
        referral_rights("XX-NOWHERE", "pt")
    assert exc.value.code == "MISSING_FACT"


# --- the payment: the transaction and its explorer link --------------------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
def test_payment_letter_gives_the_transaction_and_its_explorer_link(lang):
    on_chain = dict(method="on_chain", asset="USDC", currency=None, payment_reference=None)
    linked = letter("payment_confirmation", lang, tx_hash=TX, explorer_url=EXPLORER, **on_chain)
    assert TX in linked and EXPLORER in linked
    details = locale(lang)["payment_details"]
    assert details["tx_link"].replace("{tx_hash}", TX).replace("{explorer_url}", EXPLORER) in (
        linked
    )
    bare = letter("payment_confirmation", lang, tx_hash=TX, **on_chain)  # no explorer known
    assert TX in bare and "http" not in bare.replace(PORTAL, "")
    assert details["tx"].replace("{tx_hash}", TX) in bare
    bank = letter("payment_confirmation", lang)
    assert "SEPA-2026-0001" in bank and TX not in bank
    assert locale(lang)["methods"]["bank_transfer"] in bank


# --- the closure: the invitation to rate us; the reminder: what, by when ---------------------


@pytest.mark.parametrize("lang", LANGUAGES)
def test_closure_letter_invites_the_customer_to_rate_us_in_the_portal(lang):
    body = letter("closure", lang)
    assert PORTAL in body
    for scale in ("1", "5", "0", "10"):
        assert scale in body


@pytest.mark.parametrize("lang", LANGUAGES)
def test_info_request_and_reminder_say_what_and_by_when(lang):
    for kind in ("info_request", "info_reminder"):
        body = letter(kind, lang)
        assert "The transaction hash and the network." in body
        assert format_date(date(2026, 3, 16), lang) in body and PORTAL in body


# --- a fact a letter uses that is missing: an error that names it ----------------------------


def test_a_missing_fact_is_an_error_never_a_blank():
    assert "responsible" in missing("acknowledgement", responsible=None)
    assert "responsible" in missing("acknowledgement", responsible="")
    assert "time_frame" in missing("acknowledgement", time_frame=None)
    on_chain = dict(method="on_chain", asset="USDC", currency=None)
    assert "tx_hash" in missing("payment_confirmation", **on_chain)
    assert "payment_reference" in missing("payment_confirmation", payment_reference=None)
    assert "method" in missing("payment_confirmation", method=None)
    assert "portal_url" in missing("closure", portal_url=None)
    message = missing("info_reminder", requested_info=None, respond_by=None)
    assert "requested_info" in message and "respond_by" in message
    for lang in LANGUAGES:
        missing("acknowledgement", lang, responsible=None)


def test_each_letter_uses_exactly_its_facts():
    expected = {
        "acknowledgement": {"responsible", "time_frame", "final_response_date"},
        "payment_confirmation": {"payment_details", "amount", "method", "compensation_kind"},
        "closure": {"portal_url"},
        "info_reminder": {"requested_info", "respond_by_date", "portal_url"},
        "info_request": {"requested_info", "respond_by_date", "portal_url"},
        "decision": {"outcome_sentence", "referral_rights"},
    }
    for kind, names in expected.items():
        used = placeholders(kind, "en")
        assert names <= used and {"salutation", "sign_off", "reference"} <= used, kind


# --- the write path's letters: from a step and the complaint's facts -------------------------


def test_letters_cover_payment_and_closure():
    assert LETTERS["compensation_paid"] == MessageKind.PAYMENT_CONFIRMATION
    assert LETTERS["closed"] == MessageKind.CLOSURE
    assert needs_letter("closed", {}) and not needs_letter("closed", {"message": {}})
    assert not needs_letter("rated", {})


def test_customer_name_comes_from_the_contact():
    assert customer_name({"name": "  Ana Silva ", "consent": True}) == "Ana Silva"
    for contact in (None, {}, {"name": ""}, {"name": "  "}, {"name": 5}, "Ana"):
        assert customer_name(contact) is None


def test_time_frame_from_the_service_rules_or_the_handler():
    timed = Chain(category="stuck_transaction")
    assert time_frame(timed.state, [], DEFAULT_RULES) == TimeFrame(4 * H, 12 * H)
    untimed = Chain(category="security_question").run("acknowledged")
    history = [b.envelope for b in untimed.built]
    assert time_frame(untimed.state, history, DEFAULT_RULES) == TO_BE_SET
    untimed.add("target_set", public={"target_minutes": 90, "limit_minutes": 240})
    history = [b.envelope for b in untimed.built]
    assert time_frame(untimed.state, history) == TimeFrame(timedelta(minutes=90), 4 * H)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_render_letter_quotes_the_step_and_the_complaint(lang):
    chain = Chain(category="stuck_transaction", jurisdiction="UK-FCA-DISP")
    state = dataclasses.replace(chain.state, language=Language(lang))
    received = chain.built[0].envelope.at_datetime
    explorers = {8453: EXPLORER.replace(TX, "{tx}")}
    settings = LetterSettings(portal_url=PORTAL, explorer_tx_urls=explorers)
    contact = {"name": NAME, "email": "ana@example.org", "consent": True}

    def step_letter(event_type: str, body: dict, **kw) -> str:
        kw = {"contact": contact, "settings": settings, **kw}
        now = received + timedelta(hours=1)
        rendered = render_letter(REF, state, received, event_type, body, body, now, **kw)
        assert rendered["language"] == lang and REF in rendered["subject"]
        return rendered["text"]

    frame = TimeFrame(4 * H, 12 * H)
    ack = step_letter("acknowledged", {"responsible": HANDLER}, frame=frame)
    assert NAME in ack and HANDLER in ack and time_frame_text(frame, lang) in ack
    with pytest.raises(TemplateError) as exc:
        step_letter("acknowledged", {}, frame=frame)
    assert exc.value.code == "MISSING_FACT" and "responsible" in exc.value.message
    paid = {"amount": "20.00", "asset": "USDC", "method": "on_chain", "tx_hash": TX}
    on_base = step_letter("compensation_paid", {**paid, "chain_id": 8453})
    assert EXPLORER in on_base and NAME in on_base
    elsewhere = step_letter("compensation_paid", {**paid, "chain_id": 1}, contact=None)
    assert TX in elsewhere and "explorer.example" not in elsewhere
    assert locale(lang)["salutation"]["generic"] in elsewhere
    closed = step_letter("closed", {"reason": "resolved"})
    assert PORTAL in closed and NAME in closed
    decision = {"outcome": "partially_upheld", "finding": "Late.", "rules": ["DISP 1.4"],
                "remedy": "A refund."}  # fmt: skip
    decided = step_letter("decision", decision)
    assert locale(lang)["apologies"]["partially_upheld"] in decided
    assert referral_rights("UK-FCA-DISP", lang) in decided


@pytest.mark.parametrize("lang", LANGUAGES)
def test_render_reminder(lang):
    chain = Chain(category="sync_fault")
    state = dataclasses.replace(chain.state, language=Language(lang))
    received = chain.built[0].envelope.at_datetime
    reminder = render_reminder(
        REF,
        state,
        received,
        "Your wallet address.",
        "2026-03-16T12:00:00Z",
        {"name": NAME},
        settings=LetterSettings(portal_url=PORTAL),
    )
    assert set(reminder) == {"language", "subject", "text"} and reminder["language"] == lang
    text = reminder["text"]
    assert REF in reminder["subject"] and NAME in text and "Your wallet address." in text
    assert format_date(date(2026, 3, 16), lang) in text and PORTAL in text
    generic = render_reminder(REF, state, received, "Your wallet address.", date(2026, 3, 16), None)
    assert generic["text"].startswith(locale(lang)["salutation"]["generic"])
    assert "/portal" in generic["text"]
    with pytest.raises(TemplateError) as exc:
        render_reminder(REF, state, received, "", "2026-03-16T12:00:00Z", None)
    assert exc.value.code == "MISSING_FACT"


# --- the handler's personal paragraph --------------------------------------------------------

PARAGRAPH = "Olá Ana, I have read your message {twice} and will call you tomorrow.\nRui"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_personal_paragraph_follows_the_opening_lines_as_given(lang):
    plain = render_message("acknowledgement", lang, facts()).body
    msg = render_message("acknowledgement", lang, facts(paragraph=PARAGRAPH))
    parts, plain_parts = msg.body.split("\n\n"), plain.split("\n\n")
    # Salutation and opening lines, then the paragraph word for word, then the rest unchanged.
    assert parts[:2] == plain_parts[:2]
    assert "\n\n".join(parts[2:]).startswith(PARAGRAPH)  # braces and all: never a placeholder
    assert msg.body == "\n\n".join([*plain_parts[:2], PARAGRAPH, *plain_parts[2:]])
    assert msg.subject == render_message("acknowledgement", lang, facts()).subject


def test_without_a_paragraph_the_letter_is_unchanged():
    plain = render_message("acknowledgement", Language.EN, facts()).body
    for nothing in (None, "", "  \n "):
        assert render_message("acknowledgement", Language.EN, facts(paragraph=nothing)).body == (
            plain
        )
    # Surrounding blank lines are the writer's, not the letter's.
    padded = render_message("acknowledgement", Language.EN, facts(paragraph="\n Hello. \n"))
    assert "\n\nHello.\n\n" in padded.body


def test_the_acknowledgement_step_carries_its_paragraph_into_the_letter():
    chain = Chain(category="stuck_transaction")
    received = chain.built[0].envelope.at_datetime
    body = {"responsible": HANDLER, "paragraph": PARAGRAPH}
    frame = TimeFrame(4 * H, 12 * H)
    now = received + timedelta(hours=1)
    ack = render_letter(REF, chain.state, received, "acknowledged", {}, body, now, frame=frame)
    assert PARAGRAPH in ack["text"] and HANDLER in ack["text"]
    # Only the acknowledgement prints one: other letters ignore a stray field.
    closed = render_letter(REF, chain.state, received, "closed", {}, {"paragraph": "x y"}, now)
    assert "x y" not in closed["text"]
