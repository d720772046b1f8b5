"""One form, one step: a double submit (a second click, a reload of the answer, a retry after a
lost response) records nothing twice.

Every form the portal renders carries a fresh random ``form_token``; a step recorded from it
writes an idempotency record (``ledger.idempotency``, keyed with the server secret) in the
step's own write transaction, as the API's ``Idempotency-Key`` does. A second request with
that token finds the record and records nothing. The filing's record holds the reference
only, never the secret: a resubmitted filing does not show the secret again.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from flask import request

from api.context import get_ledger
from api.idempotency import Plan
from ledger.casework.appends import Hooks
from ledger.errors import LedgerError

FIELD = "form_token"


class BadFormToken(LedgerError, ValueError):
    """The form has no usable token (not one the portal rendered)."""


def new_form_token() -> str:
    return secrets.token_urlsafe(24)


@dataclass(frozen=True)
class Submission:
    """One rendered form's submission, as ``principal`` sent it."""

    plan: Plan

    def outcome(self) -> dict[str, Any] | None:
        """What an earlier request with this form's token recorded, if any."""
        ledger = get_ledger()
        with ledger.engine.connect() as conn:
            found = self.plan.records.find(conn, self.plan.keys)
        return None if found is None else self.plan.keys.open(found.response)

    def hooks(self, outcome: dict[str, Any]) -> Hooks:
        """The step's hooks: refuse a twin (AlreadyDone), write the record with ``outcome``."""
        return Hooks(check=self.plan.check, write=self.plan.writer(outcome))


def submission(principal: str) -> Submission:
    """This POST's submission; BadFormToken when its form carries no token."""
    token = request.form.get(FIELD, "")
    if not 16 <= len(token) <= 200 or not token.isprintable():
        raise BadFormToken("the form has no token")
    records = get_ledger().idempotency
    # One token names one form: the record is found by the token alone (whatever was typed
    # into the form), and sealed with what names the form's target.
    target = hashlib.sha256(f"{request.method} {request.path}".encode()).digest()
    keys = records.keys_for(f"portal:{principal}", token, target, bind_request=False)
    return Submission(Plan(records, keys))
