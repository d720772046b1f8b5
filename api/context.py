"""The running ledger of the current Flask app (set by ``create_app``)."""

from __future__ import annotations

from flask import current_app

from ledger.runtime import Ledger

EXTENSION = "ledger"


def get_ledger() -> Ledger:
    return current_app.extensions[EXTENSION]
