"""The request id: the client's ``X-Request-Id`` when it is a short safe token, else a new one.

The id is echoed in the response, written in every log line and stored in the append-only
access log (a 64-character column), so a client may not choose an unbounded or arbitrary
value: anything but 1 to 64 of ``A-Z a-z 0-9 . _ -`` is replaced by a generated id.
"""

from __future__ import annotations

import itertools
import os
import re

from flask import g, request

HEADER = "X-Request-Id"
MAX_LENGTH = 64  # the access log's request_id column
SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


class _Ids:
    """Unique ids without a system call each: a random 64-bit prefix per process, then a
    counter (32 hex characters). Ids name requests in logs; they are not secrets."""

    def __init__(self) -> None:
        self._pid = -1
        self._prefix = ""
        self._counter = itertools.count()

    def next(self) -> str:
        if self._pid != os.getpid():  # new process (or a forked worker): a new prefix
            self._prefix, self._pid = os.urandom(8).hex(), os.getpid()
        return f"{self._prefix}{next(self._counter) & 0xFFFFFFFFFFFFFFFF:016x}"


_ids = _Ids()


def accepted_request_id(value: str | None) -> str:
    """``value`` when it is a safe token, otherwise a new unique id (32 hex characters)."""
    if value is not None and SAFE_REQUEST_ID.fullmatch(value):
        return value
    return _ids.next()


def request_id() -> str:
    """This request's id (decided once per request, from the header or generated)."""
    if "request_id" not in g:
        g.request_id = accepted_request_id(request.headers.get(HEADER))
    return g.request_id
