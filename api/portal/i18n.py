"""The portal's words: one catalogue per language (``static/portal/i18n/<lang>.json``, flat
keys, the same keys in every language) and the language of each page.

A page's language is, in order: the language the customer picked with the switch (remembered
in a cookie), the complaint's own language once signed in, the browser's Accept-Language,
English. Texts the domain words (status lines, categories, clocks, letters) come from
``ledger.complaints.texts`` in the same language.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from flask import g, request

from ledger.complaints.texts import negotiate_language, render
from ledger.complaints.vocab import Language

LANGUAGES = tuple(str(lang) for lang in Language)  # en ca pt zh lt ru
CATALOGUES = Path(__file__).resolve().parent.parent / "static" / "portal" / "i18n"
LANG_COOKIE = "portal_lang"


@cache
def catalogue(lang: str) -> dict[str, str]:
    """The portal's texts in ``lang`` (a supported language)."""
    if lang not in LANGUAGES:
        raise ValueError(f"unsupported language {lang!r}")
    return json.loads((CATALOGUES / f"{lang}.json").read_text(encoding="utf-8"))


def text(lang: str, key: str, **values: object) -> str:
    """The text ``key`` in ``lang`` with its ``{name}`` placeholders filled (a missing key or
    value is an error, never a blank)."""
    return render(catalogue(lang)[key], {k: str(v) for k, v in values.items()})


def html_lang(lang: str) -> str:
    """The ``lang`` attribute of a page in ``lang`` (Simplified Chinese is all we write)."""
    return "zh-Hans" if lang == "zh" else lang


def page_language(complaint_language: str | None = None) -> str:
    """The language of this page (see the module's docstring); remembers a new choice."""
    chosen = request.args.get("lang")
    if chosen in LANGUAGES:
        g.portal_new_lang = chosen
        return chosen
    kept = request.cookies.get(LANG_COOKIE)
    if kept in LANGUAGES:
        return kept
    if complaint_language in LANGUAGES:
        return str(complaint_language)
    return str(negotiate_language(request.headers.get("Accept-Language")))
