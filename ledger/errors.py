"""The root of every error the ledger raises on purpose.

Each error also keeps the built-in base it always had (``ValueError`` for bad input,
``LookupError`` for something missing, ``RuntimeError`` for a broken environment), so callers
may catch either ``LedgerError`` or the narrower built-in.
"""

from __future__ import annotations


class LedgerError(Exception):
    """Base of the ledger's errors; ``diagnostics()`` explains one in plain words."""

    def diagnostics(self) -> str:
        """What went wrong and what caused it, one line each (no secrets: messages never hold
        them), for a command-line tool or a log line."""
        lines = [f"{type(self).__name__}: {self}"]
        cause = self.__cause__ or self.__context__
        seen: set[int] = {id(self)}
        while cause is not None and id(cause) not in seen:
            seen.add(id(cause))
            lines.append(f"caused by {type(cause).__name__}: {cause}")
            cause = cause.__cause__ or cause.__context__
        return "\n".join(lines)
