"""The console's navigation: the pages a member's roles open."""

from __future__ import annotations

from dataclasses import dataclass

from flask import request, url_for

from ledger.access.staff import StaffMember

# Who does casework (the worklist and complaint pages), who supervises, who administers.
CASEWORK = ("agent", "officer", "supervisor", "legal")
SUPERVISION = ("supervisor",)
ADMINISTRATION = ("admin",)


@dataclass(frozen=True)
class NavItem:
    label: str
    url: str
    testid: str
    current: bool


def nav_items(member: StaffMember | None) -> list[NavItem]:
    """The links of the console's navigation for ``member`` (none before sign-in)."""
    if member is None:
        return []
    pages = []
    if any(member.has(r) for r in CASEWORK):
        pages.append(("Worklist", "console.worklist", "nav-worklist"))
    if any(member.has(r) for r in SUPERVISION):
        pages.append(("Supervisor", "console.supervisor", "nav-supervisor"))
    if any(member.has(r) for r in ADMINISTRATION):
        pages.append(("Admin", "console.admin", "nav-admin"))
    return [
        NavItem(label, url_for(endpoint), testid, request.endpoint == endpoint)
        for label, endpoint, testid in pages
    ]
