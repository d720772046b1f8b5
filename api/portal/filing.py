"""Filing a complaint from the portal's form, as ``POST /v1/complaints`` files one: channel
``web_form``, the deployment's jurisdiction, the intake deadlines of its service rules, and the
customer's contact (with their consent to be written to) in the received step's body.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from api.context import get_ledger
from api.idempotency import AlreadyDone
from api.portal.forms import FieldError, FormInvalid, clean
from api.portal.i18n import LANGUAGES, text
from api.portal.submissions import Submission
from ledger.casework.appends import Hooks
from ledger.casework.writes import new_capability_secret
from ledger.complaints.errors import ComplaintError
from ledger.complaints.events import Actor
from ledger.complaints.payloads import EMAIL, MAX_TEXT
from ledger.complaints.reference import format_reference
from ledger.complaints.texts import locale
from ledger.complaints.vocab import Category, Channel, ContactChannel, Role

MAX_NAME = 200
MAX_TRANSACTION = 200
# Fields in the order the form shows them (the error summary lists errors in this order).
FIELDS = ("category", "description", "transaction", "name", "email", "consent", "language")
# Where a domain refusal naming a field is shown.
DOMAIN_FIELDS = {
    "body.description": "description",
    "body.contact.name": "name",
    "body.contact.email": "email",
    "public.category": f"category-{next(iter(Category))}",
    "public.language": "language",
}


@dataclass(frozen=True)
class Filed:
    reference: str
    secret: str | None  # None: this form was filed before (the secret was shown then)


def _duration(span: timedelta | None, lang: str) -> str:
    minutes = int(span.total_seconds() // 60) if span is not None else 0
    if minutes < 60:
        return text(lang, "unit.minute" if minutes == 1 else "unit.minutes", n=minutes)
    hours = minutes / 60
    n = f"{hours:g}".replace(".", locale(lang)["number"]["decimal"])
    return text(lang, "unit.hour" if hours == 1 else "unit.hours", n=n)


def categories(lang: str) -> list[dict[str, str]]:
    """Every category with its name and the time frame the deployment's rules promise."""
    rules = get_ledger().service_rules
    out = []
    for category in Category:
        times = rules.times(category)
        if times.target is None:
            frame = text(lang, "file.time_untimed")
        else:
            frame = text(
                lang, "file.time_frame",
                target=_duration(times.target, lang), limit=_duration(times.limit, lang),
            )  # fmt: skip
        out.append(
            {"code": str(category), "name": locale(lang)["categories"][category]["name"],
             "frame": frame}
        )  # fmt: skip
    return out


def jurisdiction_text(lang: str) -> str:
    """The statutory rules a complaint filed here is handled under (the deployment's)."""
    code = get_ledger().settings.jurisdiction
    return locale(lang)["clock_bases"]["statutory"].get(code, code)


def first_response(lang: str) -> str:
    return _duration(get_ledger().service_rules.first_response_limit, lang)


def filing_fields(form: Mapping[str, str], ui_lang: str) -> tuple[dict, dict]:
    """The received step's public fields and body from the form; FormInvalid lists every
    field to fix."""
    errors: list[FieldError] = []
    category = form.get("category", "")
    if category not in set(Category):
        errors.append(FieldError(f"category-{next(iter(Category))}", "error.choose_category"))
    description = clean(form.get("description"))
    if not description:
        errors.append(FieldError("description", "error.description_required"))
    elif len(description) > MAX_TEXT:
        errors.append(FieldError("description", "error.too_long", {"max": MAX_TEXT}))
    transaction = clean(form.get("transaction"))
    if len(transaction) > MAX_TRANSACTION:
        errors.append(FieldError("transaction", "error.too_long", {"max": MAX_TRANSACTION}))
    name = clean(form.get("name"))
    if len(name) > MAX_NAME:
        errors.append(FieldError("name", "error.too_long", {"max": MAX_NAME}))
    email = clean(form.get("email"))
    consent = form.get("consent") == "yes"
    if email and not EMAIL.fullmatch(email):
        errors.append(FieldError("email", "error.email"))
    elif consent and not email:
        errors.append(FieldError("email", "error.email_for_consent"))
    language = form.get("language") or ui_lang
    if language not in LANGUAGES:
        errors.append(FieldError("language", "error.choose"))
    if errors:
        raise FormInvalid(errors)
    public = {
        "category": category,
        "channel": str(Channel.WEB_FORM),
        "language": language,
        "jurisdiction": get_ledger().settings.jurisdiction,
    }
    body: dict[str, Any] = {"description": description}
    if name or email or consent:
        contact: dict[str, Any] = {"consent": consent}
        if name:
            contact["name"] = name
        if email:
            contact["email"] = email
        if consent:
            contact["channel"] = str(ContactChannel.EMAIL)
        body["contact"] = contact
    if transaction:
        body["transaction"] = transaction
    return public, body


def file_complaint(sub: Submission, public: dict, body: dict) -> Filed:
    """File the complaint once per form: a form filed before gives its reference, no secret."""
    done = sub.outcome()
    if done is not None:
        return Filed(done["reference"], None)
    secret = new_capability_secret()
    write_record = sub.plan.writer({})

    def write(conn, index: int, leaf_hash: bytes) -> None:
        write_record(conn, index, leaf_hash, {"reference": format_reference(leaf_hash)})

    try:
        recorded, _ = get_ledger().complaints.writes.file(
            public, body, Actor(Role.CUSTOMER, "customer"), secret=secret,
            hooks=Hooks(check=sub.plan.check, write=write),
        )  # fmt: skip
    except AlreadyDone:
        done = sub.outcome()
        assert done is not None  # the twin's record committed with its filing
        return Filed(done["reference"], None)
    except ComplaintError as exc:
        field_id = DOMAIN_FIELDS.get(exc.field or "", "description")
        raise FormInvalid([FieldError(field_id, message=exc.message)], 422) from None
    reference = recorded.state.reference
    assert reference is not None
    return Filed(reference, secret)
