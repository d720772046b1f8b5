"""Form errors, as the pages show them: a summary at the top linking to each field, and the
message next to the field (``aria-describedby``, ``aria-invalid``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from api.portal.i18n import text


@dataclass(frozen=True)
class FieldError:
    """One field's error: the field's element id, and a catalogue key with its values (or a
    message already worded, e.g. the domain's own refusal)."""

    field: str
    key: str | None = None
    values: dict[str, Any] = field(default_factory=dict)
    message: str | None = None

    def words(self, lang: str) -> str:
        if self.key is None:
            return self.message or ""
        return text(lang, self.key, **self.values)


class FormInvalid(Exception):
    """A form was refused; ``errors`` say why, field by field. Nothing was recorded."""

    def __init__(self, errors: list[FieldError], status: int = 400) -> None:
        super().__init__(", ".join(e.field for e in errors))
        self.errors = errors
        self.status = status


@dataclass
class FormState:
    """What a re-rendered form shows: which form (``name``), its errors by field id and in
    order, and the values the customer typed (never a secret)."""

    name: str | None = None
    errors: list[FieldError] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)

    def error(self, field_id: str) -> FieldError | None:
        return next((e for e in self.errors if e.field == field_id), None)

    def has(self, field_id: str) -> bool:
        return self.error(field_id) is not None


def clean(value: str | None) -> str:
    """A text field's value with the line ends a browser sends (CRLF) made LF, trimmed."""
    return (value or "").replace("\r\n", "\n").strip()
