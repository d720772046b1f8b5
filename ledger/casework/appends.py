"""What every casework append to the log shares: the caller's hooks that join its write
transaction, and the refusal of an entry whose chain moved on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection

from ledger.logstore.store import Rejected


class ChainConflict(Rejected):
    """The complaint changed since the step was prepared (another writer got there first)."""


@dataclass(frozen=True)
class Hooks:
    """Caller work that joins a step's write transaction (e.g. an idempotency record)."""

    check: Callable[[Connection], None] | None = None
    write: Callable[[Connection, int, bytes], None] | None = None


def run_check(hooks: Hooks | None, conn: Connection) -> None:
    if hooks is not None and hooks.check is not None:
        hooks.check(conn)


def run_write(hooks: Hooks | None, conn: Connection, index: int, leaf: bytes) -> None:
    if hooks is not None and hooks.write is not None:
        hooks.write(conn, index, leaf)
