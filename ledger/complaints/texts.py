"""Customer-facing texts: status lines and reasoned-response templates in six languages.

Translations live in ``locales/<lang>.json`` (one file per language, same keys). Templates use
``{name}`` placeholders filled in one pass: substituted values are never re-scanned, there is
no attribute or format-spec access, and a missing value is an error, not a blank. Output is
plain text; HTML escaping is the job of whoever renders it into HTML.

Placeholders sit only where grammar does not depend on them (after a colon, or a date after a
preposition that takes the date as written), so one localised value fits every template.
Durations follow the same idea: each language words them in one grammatical form that fits
every phrase it uses them in (Russian and Lithuanian: the genitive, whose number is chosen by
the last digits), so ``durations`` has two forms per unit, ``one`` and ``other``.

Every letter opens with a salutation (the customer's name, or a formal generic one when the
complaint has none: a designed variant, not a blank) and closes with the same sign-off. A
handler's personal paragraph (``MessageFacts.paragraph``, given with the acknowledgement)
follows the letter's opening lines exactly as written: it is the handler's own words, in the
language they chose, and never translated or scanned for placeholders.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import TypedDict, TypeGuard, TypeVar
from zoneinfo import ZoneInfo

from ledger.complaints.deadlines import JURISDICTIONS, Clock, ClockName, Referral
from ledger.complaints.errors import TemplateError
from ledger.complaints.payloads import AMOUNT
from ledger.complaints.playbooks import playbook
from ledger.complaints.timestamps import as_utc
from ledger.complaints.vocab import (
    Category,
    CompensationKind,
    IdentityMethod,
    Language,
    Outcome,
    PaymentMethod,
    PlaybookStep,
    Status,
)

DEFAULT_LANGUAGE = Language.EN
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_Fact = TypeVar("_Fact")
_Code = TypeVar("_Code", bound=StrEnum)


class MessageKind(StrEnum):
    ACKNOWLEDGEMENT = "acknowledgement"
    INFO_REQUEST = "info_request"
    HOLDING_REPLY = "holding_reply"
    DECISION = "decision"
    COMPENSATION_OFFER = "compensation_offer"
    PLAYBOOK_STEP = "playbook_step"  # a progress update: one playbook step done
    INCIDENT_HOLDING_REPLY = "incident_holding_reply"  # the holding reply of a mass incident
    PAYMENT_CONFIRMATION = "payment_confirmation"  # compensation paid: how, with its reference
    CLOSURE = "closure"  # the complaint is closed: the invitation to rate us (CSAT, NPS)
    INFO_REMINDER = "info_reminder"  # the information we asked for is still awaited


@dataclass(frozen=True)
class TimeFrame:
    """The time to resolve a complaint that the letters quote: its target to its limit.

    Both None (``TO_BE_SET``): a category without fixed times whose handler has not set them
    yet; the letter says that the handler will (a designed variant, not a blank).
    """

    target: timedelta | None
    limit: timedelta | None

    def __post_init__(self) -> None:
        if (self.target is None) != (self.limit is None):
            raise TemplateError("a time frame has a target and a limit, or neither", "BAD_FACT")
        if (
            self.target is not None
            and self.limit is not None
            and not (timedelta(0) < self.target <= self.limit)
        ):
            raise TemplateError("a time frame runs from its target to its limit", "BAD_FACT")


TO_BE_SET = TimeFrame(None, None)


@dataclass(frozen=True)
class MessageFacts:
    """The complaint's facts a message may quote. Only those its template uses are required.

    Timestamps are shown as dates in ``timezone`` (default: the jurisdiction's, else UTC).
    """

    reference: str
    category: Category | str
    jurisdiction: str = "EU-PSD2"
    received_at: datetime | str | None = None
    final_response_date: date | None = None
    respond_by: date | datetime | str | None = None
    requested_info: str | None = None
    delay_reason: str | None = None
    outcome: Outcome | str | None = None
    finding: str | None = None
    rules: Sequence[str] = ()
    remedy: str | None = None
    amount: str | None = None
    currency: str | None = None
    asset: str | None = None
    method: PaymentMethod | str | None = None
    timezone: str | None = None
    step: PlaybookStep | str | None = None  # a step of the category's playbook
    incident: str | None = None  # the mass incident's id, e.g. INC-2026-0042
    kind: CompensationKind | str | None = None  # None: money
    customer_name: str | None = None  # None: the formal generic salutation
    responsible: str | None = None  # the named person handling the complaint
    time_frame: TimeFrame | None = None  # the resolution time frame (service rules)
    payment_reference: str | None = None  # a payment's reference (not on chain)
    tx_hash: str | None = None  # an on-chain payment's transaction
    explorer_url: str | None = None  # that transaction's page on a block explorer, if known
    portal_url: str | None = None  # where the customer rates us, answers, follows the complaint
    paragraph: str | None = None  # the handler's own words, after the opening lines, as given


@dataclass(frozen=True)
class Message:
    kind: MessageKind
    language: Language
    subject: str
    body: str


class DateFormat(TypedDict):
    format: str  # placeholders {day}, {month} (a name from months), {month_number}, {year}
    months: Sequence[str]


class NumberFormat(TypedDict):
    decimal: str
    group: str


class ClockBases(TypedDict):
    first_response: str
    service_target: str
    statutory: Mapping[str, str]  # by jurisdiction code
    statutory_extended: str
    step_target: str  # {step_name}, {minutes}
    handler_target: str  # {target}, {limit} (hours)


class Salutation(TypedDict):
    named: str  # {customer_name}
    generic: str  # the formal salutation when the complaint has no name


class TimeFrameTexts(TypedDict):
    range: str  # {target}, {limit}: durations of different units (15 minutes to 2 hours)
    range_same_unit: str  # {target_number}, {limit}: the unit said once (4 to 12 hours)
    within: str  # {limit}: target and limit are the same (within 24 hours)
    to_be_set: str  # an untimed category whose handler has not set its times yet


class PaymentDetails(TypedDict):
    tx_link: str  # {tx_hash}, {explorer_url}
    tx: str  # {tx_hash}: no block explorer is configured for the chain
    reference: str  # {payment_reference}


class Locale(TypedDict):
    """A ``locales/<lang>.json`` file (every language has the same keys; the tests check)."""

    language: str
    date: DateFormat
    number: NumberFormat
    list_separator: str
    sentence_separator: str  # between two sentences of one paragraph (none in Chinese)
    salutation: Salutation
    sign_off: str
    durations: Mapping[str, Mapping[str, str]]  # minute, hour, month -> one, other ({n})
    time_frame: TimeFrameTexts
    apologies: Mapping[str, str]  # by outcome: upheld, partially_upheld
    payment_details: PaymentDetails
    statuses: Mapping[str, str]
    categories: Mapping[str, Mapping[str, str]]  # name, note, info_hint
    outcomes: Mapping[str, str]
    methods: Mapping[str, str]
    compensation_kinds: Mapping[str, str]
    identity_methods: Mapping[str, str]
    playbook_steps: Mapping[str, Mapping[str, str]]  # name, note
    playbook_progress: str  # {number}, {total}, {step_name}
    playbook_not_started: str  # {total}
    playbook_complete: str  # {total}
    referral_rights: Mapping[str, str]  # by Referral.scheme; {time_limit}
    referral_time_limit: Mapping[str, str]  # by Referral.counted_from; {duration}
    no_remedy: str
    templates: Mapping[str, Mapping[str, str]]  # subject, body
    clock_bases: ClockBases
    clock_names: Mapping[str, str]  # by ClockName


@cache
def locale(language: Language | str) -> Locale:
    """The parsed locale file for a supported language."""
    lang = _language(language)
    path = resources.files("ledger.complaints") / "locales" / f"{lang}.json"
    parsed: Locale = json.loads(path.read_text(encoding="utf-8"))
    return parsed


def render(template: str, values: Mapping[str, str]) -> str:
    """Fill ``{name}`` placeholders in one pass; TemplateError lists any missing names."""
    missing = sorted({n for n in _PLACEHOLDER.findall(template) if n not in values})
    if missing:
        raise TemplateError(f"no value for {', '.join(missing)}", "MISSING_FACT")
    return _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), template)


def placeholders(kind: MessageKind | str, language: Language | str) -> frozenset[str]:
    """The placeholder names a template uses (subject and body)."""
    t = _template(kind, language)
    return frozenset(_PLACEHOLDER.findall(t["subject"] + t["body"]))


def status_text(
    status: Status | str, language: Language | str, *, info_pending: bool = False
) -> str:
    """The one-line status a customer sees on the status page."""
    key = str(Status(status))
    if key == Status.INVESTIGATING and info_pending:
        key = "investigating_info_pending"
    return locale(language)["statuses"][key]


def clock_basis(clock: Clock, language: Language | str) -> str:
    """The rule a clock runs on, worded in ``language`` (``clock.basis`` is the English).

    A clock without a rule name, or of a jurisdiction the locales do not word, keeps its
    English basis rather than showing nothing.
    """
    bases = locale(language)["clock_bases"]
    args = dict(clock.rule_args)
    match clock.rule:
        case "first_response":
            return render(bases["first_response"], {"hours": _number(args["hours"], language)})
        case "service_target":
            name = locale(language)["categories"][args["category"]]["name"]
            return render(
                bases["service_target"],
                {
                    "category_name": name,
                    "target": _number(args["target"], language),
                    "limit": _number(args["limit"], language),
                },
            )
        case "step_target":
            return render(
                bases["step_target"],
                {
                    "step_name": _step_text(args["step"], language)["name"],
                    "minutes": _number(args["minutes"], language),
                },
            )
        case "handler_target":
            return render(
                bases["handler_target"],
                {
                    "target": _number(args["target"], language),
                    "limit": _number(args["limit"], language),
                },
            )
        case "statutory" | "statutory_extended":
            basis = bases["statutory"].get(args["jurisdiction"])
            if basis is None:
                return clock.basis
            if clock.rule == "statutory_extended":
                basis = render(bases["statutory_extended"], {"basis": basis})
            return basis
    return clock.basis


def clock_name(name: ClockName | str, language: Language | str) -> str:
    """The short human name of a clock (``first_response`` → "First response")."""
    return _vocab_text(locale(language)["clock_names"], ClockName, name, "clock")


def compensation_kind_name(kind: CompensationKind | str, language: Language | str) -> str:
    """What a redress consists of, as the customer reads it (``fee_refund`` → "Fee refund")."""
    return _vocab_text(
        locale(language)["compensation_kinds"], CompensationKind, kind, "compensation kind"
    )


def identity_method_name(method: IdentityMethod | str, language: Language | str) -> str:
    """How the customer's identity was checked, as the customer reads it."""
    return _vocab_text(
        locale(language)["identity_methods"], IdentityMethod, method, "identity method"
    )


class StepProgress(TypedDict):
    step: str
    name: str
    note: str
    done: bool


class PlaybookProgress(TypedDict):
    number: int  # steps done
    total: int
    next: str | None  # the step the playbook expects next; None once complete
    text: str  # e.g. "Step 2 of 3: Update sent"
    steps: list[StepProgress]


def playbook_progress(
    category: Category | str, done: Sequence[str], language: Language | str
) -> PlaybookProgress:
    """Where a complaint stands in its category's playbook, worded in ``language``.

    ``done`` is the steps done in this cycle, in order (``ComplaintState.playbook``); it must
    be the start of the playbook, as the state machine records it.
    """
    try:
        steps = playbook(category)
    except ValueError:
        raise TemplateError(f"unknown category {category!r}", "BAD_FACT") from None
    number = len(done)
    if tuple(map(str, done)) != tuple(map(str, steps[:number])):
        raise TemplateError(f"{list(done)} is not the start of the {category} playbook", "BAD_FACT")
    loc = locale(language)
    total = len(steps)
    if number == 0:
        text = render(loc["playbook_not_started"], {"total": str(total)})
    elif number == total:
        text = render(loc["playbook_complete"], {"total": str(total)})
    else:
        text = render(
            loc["playbook_progress"],
            {
                "number": str(number),
                "total": str(total),
                "step_name": _step_text(steps[number - 1], language)["name"],
            },
        )
    return {
        "number": number,
        "total": total,
        "next": str(steps[number]) if number < total else None,
        "text": text,
        "steps": [_step_progress(s, i < number, language) for i, s in enumerate(steps)],
    }


def _step_progress(step: PlaybookStep, done: bool, language: Language | str) -> StepProgress:
    text = _step_text(step, language)
    return {"step": str(step), "name": text["name"], "note": text["note"], "done": done}


def _step_text(step: PlaybookStep | str, language: Language | str) -> Mapping[str, str]:
    """A playbook step's name and note in ``language``."""
    texts = locale(language)["playbook_steps"]
    code = _code(PlaybookStep, step, "playbook step")
    return texts[code]


def _vocab_text(table: Mapping[str, str], enum: type[_Code], value: _Code | str, what: str) -> str:
    return table[_code(enum, value, what)]


def _code(enum: type[_Code], value: _Code | str, what: str) -> str:
    """``value`` as a code of ``enum``; TemplateError (BAD_FACT) when it is none."""
    try:
        return str(enum(value))
    except ValueError:
        raise TemplateError(f"unknown {what} {value!r}", "BAD_FACT") from None


def _number(text: str, language: Language | str) -> str:
    """A plain decimal (``1.5``) with the language's decimal separator."""
    return text.replace(".", locale(language)["number"]["decimal"])


def format_date(day: date, language: Language | str) -> str:
    """A long date in the language's usual written form (e.g. ``5 de març de 2026``)."""
    spec = locale(language)["date"]
    return spec["format"].format(
        day=day.day, month=spec["months"][day.month - 1], month_number=day.month, year=day.year
    )


def format_amount(amount: str, unit: str, language: Language | str) -> str:
    """A decimal amount with the language's separators and the unit code, digits unchanged."""
    if not isinstance(amount, str) or not AMOUNT.fullmatch(amount):
        raise TemplateError(f"not a decimal amount: {amount!r}", "BAD_FACT")
    spec = locale(language)["number"]
    whole, _, fraction = amount.partition(".")
    groups: list[str] = []
    while len(whole) > 3:
        whole, groups = whole[:-3], [whole[-3:], *groups]
    text = spec["group"].join([whole, *groups])
    if fraction:
        text += spec["decimal"] + fraction
    return f"{text}\u00a0{unit}"


# Languages whose durations are worded in the genitive ("от 4 до 12 часов", "nuo 4 iki 12
# valandų"): the singular after 1, 21, 31 ..., but not 11; the plural after every other number.
_GENITIVE_DURATIONS = frozenset({Language.RU, Language.LT})
_MINUTES_PER_HOUR = 60


def _plural_form(n: int, language: Language) -> str:
    if language in _GENITIVE_DURATIONS:
        return "one" if n % 10 == 1 and n % 100 != 11 else "other"
    return "one" if n == 1 else "other"


def format_count(n: int, unit: str, language: Language | str) -> str:
    """``n`` of a unit (``minute``, ``hour``, ``month``) in words: ``6 months``, ``6 месяцев``."""
    lang = _language(language)
    forms = locale(lang)["durations"].get(unit)
    if forms is None:
        raise TemplateError(f"unknown unit {unit!r}", "BAD_FACT")
    return render(forms[_plural_form(n, lang)], {"n": str(n)})


def _duration_parts(span: timedelta) -> tuple[int, str]:
    """A span as a whole number of hours, else of minutes."""
    seconds = span.total_seconds()
    if seconds <= 0 or seconds % 60:
        raise TemplateError(f"not a whole number of minutes: {span}", "BAD_FACT")
    minutes = int(seconds // 60)
    if minutes % _MINUTES_PER_HOUR == 0:
        return minutes // _MINUTES_PER_HOUR, "hour"
    return minutes, "minute"


def format_duration(span: timedelta, language: Language | str) -> str:
    """A span in words, in hours when it is whole hours, else in minutes (``90 minutes``)."""
    n, unit = _duration_parts(span)
    return format_count(n, unit, language)


def time_frame_text(frame: TimeFrame, language: Language | str) -> str:
    """The resolution time frame in words: ``4 to 12 hours``, ``within 24 hours``, or that the
    handler will set it."""
    texts = locale(language)["time_frame"]
    if frame.target is None or frame.limit is None:
        return texts["to_be_set"]
    limit = format_duration(frame.limit, language)
    if frame.target == frame.limit:
        return render(texts["within"], {"limit": limit})
    target_number, target_unit = _duration_parts(frame.target)
    if target_unit == _duration_parts(frame.limit)[1]:
        return render(texts["range_same_unit"], {"target_number": str(target_number),
                                                 "limit": limit})  # fmt: skip
    return render(
        texts["range"], {"target": format_duration(frame.target, language), "limit": limit}
    )


def referral_rights(jurisdiction: str, language: Language | str) -> str:
    """Where the customer can refer the complaint and by when, under ``jurisdiction``'s rules
    (``deadlines.Referral``); TemplateError when the jurisdiction names no scheme."""
    known = JURISDICTIONS.get(jurisdiction)
    referral: Referral | None = known.referral if known is not None else None
    if referral is None:
        raise TemplateError(f"no referral scheme for jurisdiction {jurisdiction!r}",
                            "MISSING_FACT")  # fmt: skip
    loc = locale(language)
    scheme = loc["referral_rights"].get(referral.scheme)
    counted = loc["referral_time_limit"].get(referral.counted_from)
    if scheme is None or counted is None:
        raise TemplateError(f"no wording for the referral {referral}", "BAD_FACT")
    duration = format_count(referral.months, "month", language)
    return render(scheme, {"time_limit": render(counted, {"duration": duration})})


def render_message(
    kind: MessageKind | str, language: Language | str, facts: MessageFacts
) -> Message:
    """Render one message; TemplateError (code MISSING_FACT) names any fact it still needs."""
    lang = _language(language)
    template = _template(kind, lang)
    values = _values(placeholders(kind, lang), lang, facts)
    return Message(
        kind=MessageKind(kind),
        language=lang,
        subject=render(template["subject"], values),
        body=_with_paragraph(template["body"], values, facts.paragraph),
    )


# The salutation and the first paragraph: the personal paragraph comes after them.
OPENING_PARAGRAPHS = 2


def _with_paragraph(body: str, values: Mapping[str, str], paragraph: str | None) -> str:
    """The rendered body, with the handler's paragraph after its opening lines when given.

    Rendered around the paragraph, never through it: its words are printed as written (a
    brace in them is a brace)."""
    if paragraph is None or not paragraph.strip():
        return render(body, values)
    parts = body.split("\n\n")
    head = render("\n\n".join(parts[:OPENING_PARAGRAPHS]), values)
    tail = render("\n\n".join(parts[OPENING_PARAGRAPHS:]), values)
    return "\n\n".join(p for p in (head, paragraph.strip(), tail) if p)


def negotiate_language(accept_language: str | None, query_lang: str | None = None) -> Language:
    """Pick a supported language: ``?lang=`` first, then Accept-Language by q, else English.

    Region and script subtags are ignored (``pt-BR`` → pt, ``zh-Hant-TW`` → zh: only
    Simplified Chinese is provided); ``q=0`` means "not this one"; malformed items are skipped.
    """
    if query_lang:
        found = _supported(query_lang)
        if found is not None:
            return found
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate((accept_language or "").split(",")):
        tag, *params = (p.strip() for p in item.split(";"))
        if not tag:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = -1.0
        if 0 < q <= 1:
            ranked.append((-q, position, tag))
    for _, _, tag in sorted(ranked):
        if tag == "*":
            return DEFAULT_LANGUAGE
        found = _supported(tag)
        if found is not None:
            return found
    return DEFAULT_LANGUAGE


def _supported(tag: str) -> Language | None:
    primary = tag.strip().split("-")[0].split("_")[0].lower()
    try:
        return Language(primary)
    except ValueError:
        return None


def _language(language: Language | str) -> Language:
    try:
        return Language(language)
    except ValueError:
        raise TemplateError(f"unsupported language {language!r}", "UNSUPPORTED_LANGUAGE") from None


def _template(kind: MessageKind | str, language: Language | str) -> Mapping[str, str]:
    try:
        return locale(language)["templates"][str(MessageKind(kind))]
    except ValueError:
        raise TemplateError(f"unknown message kind {kind!r}", "UNKNOWN_TEMPLATE") from None


def _step_values(
    category: Category | str, step: PlaybookStep | str, lang: Language
) -> dict[str, str]:
    """A step's placeholders: its name and note, and where it stands in the playbook."""
    steps = playbook(category)
    code = _code(PlaybookStep, step, "playbook step")
    if code not in steps:
        raise TemplateError(f"{code} is not a step of the {category} playbook", "BAD_FACT")
    text = _step_text(code, lang)
    return {
        "step_name": text["name"],
        "step_note": text["note"],
        "step_number": str(steps.index(PlaybookStep(code)) + 1),
        "step_total": str(len(steps)),
    }


def _timezone(facts: MessageFacts) -> ZoneInfo:
    if facts.timezone:
        return ZoneInfo(facts.timezone)
    j = JURISDICTIONS.get(facts.jurisdiction)
    return ZoneInfo(j.timezone if j else "UTC")


def _as_date(value: date | datetime | str, facts: MessageFacts) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    return as_utc(value).astimezone(_timezone(facts)).date()


def _payment_details(
    facts: MessageFacts, lang: Language, need: Callable[[object, str], bool]
) -> str | None:
    """How a payment can be traced: its transaction (linked to the chain's block explorer
    when one is known) for an on-chain payment, else its payment reference. None: a fact is
    missing (``need`` noted it)."""
    details = locale(lang)["payment_details"]
    if not need(facts.method, "method"):
        return None
    if _code(PaymentMethod, str(facts.method), "payment method") == PaymentMethod.ON_CHAIN:
        if not need(facts.tx_hash, "tx_hash") or facts.tx_hash is None:
            return None
        if facts.explorer_url:
            return render(
                details["tx_link"], {"tx_hash": facts.tx_hash, "explorer_url": facts.explorer_url}
            )
        return render(details["tx"], {"tx_hash": facts.tx_hash})
    if not need(facts.payment_reference, "payment_reference") or facts.payment_reference is None:
        return None
    return render(details["reference"], {"payment_reference": facts.payment_reference})


def _values(names: frozenset[str], lang: Language, facts: MessageFacts) -> dict[str, str]:
    """Localised values for exactly the placeholders needed; missing facts are collected."""
    loc = locale(lang)
    out: dict[str, str] = {}
    missing: list[str] = []

    def need(value: _Fact | None, fact: str) -> TypeGuard[_Fact]:
        """Whether a fact is given; notes it missing when not. The guard narrows ``value``
        to its type without None, but not a union of unrelated types (mypy infers ``object``
        there), so such facts are also compared with None."""
        if value is None or value == "" or value == ():
            missing.append(fact)
            return False
        return True

    category = loc["categories"].get(str(facts.category))
    if category is None:
        raise TemplateError(f"unknown category {facts.category!r}", "BAD_FACT")
    for name in names:
        match name:
            case "reference":
                if need(facts.reference, "reference"):
                    out[name] = facts.reference
            case "category_name" | "category_note" | "category_info_hint":
                out[name] = category[name.removeprefix("category_")]
            case "received_date":
                if need(facts.received_at, "received_at") and facts.received_at is not None:
                    out[name] = format_date(_as_date(facts.received_at, facts), lang)
            case "final_response_date":
                if need(facts.final_response_date, "final_response_date"):
                    out[name] = format_date(facts.final_response_date, lang)
            case "respond_by_date":
                if need(facts.respond_by, "respond_by") and facts.respond_by is not None:
                    out[name] = format_date(_as_date(facts.respond_by, facts), lang)
            case "requested_info" | "delay_reason" | "finding":
                if need(getattr(facts, name), name):
                    out[name] = getattr(facts, name)
            case "outcome_sentence":
                if need(facts.outcome, "outcome"):
                    outcome = _code(Outcome, facts.outcome, "outcome")
                    apology = loc["apologies"].get(outcome)  # upheld, partially upheld
                    sentences = [loc["outcomes"][outcome], *([apology] if apology else [])]
                    out[name] = loc["sentence_separator"].join(sentences)
            case "rules":
                if need(tuple(facts.rules), "rules"):
                    out[name] = loc["list_separator"].join(facts.rules)
            case "remedy":
                out[name] = facts.remedy or loc["no_remedy"]
            case "referral_rights":
                out[name] = referral_rights(facts.jurisdiction, lang)
            case "amount":
                unit = facts.asset or facts.currency
                if need(facts.amount, "amount") and need(unit, "currency or asset"):
                    out[name] = format_amount(facts.amount, unit, lang)
            case "method":
                if need(facts.method, "method"):
                    out[name] = loc["methods"][str(PaymentMethod(facts.method))]
            case "compensation_kind":
                kind = facts.kind or CompensationKind.MONEY
                out[name] = compensation_kind_name(kind, lang)
            case "step_name" | "step_note" | "step_number" | "step_total":
                if need(facts.step, "step") and facts.step is not None:
                    out[name] = _step_values(facts.category, facts.step, lang)[name]
            case "incident" | "responsible" | "portal_url":
                if need(getattr(facts, name), name):
                    out[name] = getattr(facts, name)
            case "salutation":
                customer = (facts.customer_name or "").strip()
                salutation = loc["salutation"]
                out[name] = (
                    render(salutation["named"], {"customer_name": customer})
                    if customer
                    else salutation["generic"]
                )
            case "sign_off":
                out[name] = loc["sign_off"]
            case "time_frame":
                if need(facts.time_frame, "time_frame"):
                    out[name] = time_frame_text(facts.time_frame, lang)
            case "payment_details":
                details = _payment_details(facts, lang, need)
                if details is not None:
                    out[name] = details
            case _:
                raise TemplateError(f"template uses unknown placeholder {name!r}", "BAD_TEMPLATE")
    if missing:
        raise TemplateError(
            f"missing facts for this message: {', '.join(sorted(set(missing)))}", "MISSING_FACT"
        )
    return out
