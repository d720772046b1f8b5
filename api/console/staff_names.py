"""Staff pseudonyms in words: the display name a page shows for a pseudonym on the log."""

from __future__ import annotations

from api.context import get_ledger


class StaffNames:
    """Display names by pseudonym, each looked up once per page."""

    def __init__(self) -> None:
        self._known: dict[str, str | None] = {}

    def __call__(self, pseudonym: str | None) -> str | None:
        """``pseudonym``'s display name (None for None; the pseudonym when unknown)."""
        if pseudonym is None:
            return None
        if pseudonym not in self._known:
            member = get_ledger().staff.by_pseudonym(pseudonym)
            self._known[pseudonym] = member.display_name if member is not None else None
        return self._known[pseudonym] or pseudonym
