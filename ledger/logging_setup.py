"""Structured logs: one JSON object per line, with secrets redacted as a safety net.

Every line has ``time`` (UTC, ISO 8601), ``level``, ``logger`` and ``message``; request lines
(logger ``ledger.request``, written by ``api.ops_routes``) add ``request_id``, ``method``,
``path`` (the route template, e.g. ``/v1/complaints/<reference>``, never the raw path with a
reference in it), ``status`` and ``duration_ms``. Code must not log personal data or secrets
in the first place; :class:`RedactingFilter` is the safety net that scrubs bearer tokens,
capability secrets (``cs_...``), API keys (``lk_...``), private keys and URL passwords from
whatever reaches a handler, and :class:`JsonFormatter` scrubs again what it writes.

``configure_logging()`` sets this up for a process (``wsgi.py`` calls it for gunicorn
workers); :class:`GunicornLogger` (``--logger-class ledger.logging_setup.GunicornLogger``)
gives gunicorn's own error and access logs the same format.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import re
import sys
import threading
import time
import traceback
from collections import deque
from datetime import UTC, datetime
from typing import Any

try:  # gunicorn is only needed when serving with it
    from gunicorn.glogging import Logger as _GunicornBase
except ImportError:  # pragma: no cover
    _GunicornBase = object  # type: ignore[assignment,misc]

REDACTED = "[REDACTED]"

# (pattern, replacement); applied in order to every message, argument and traceback.
_REDACTIONS: list[tuple[re.Pattern[str], str]] = [
    # PEM private keys (and any "PRIVATE KEY" block).
    (
        re.compile(
            r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|$)",
            re.S,
        ),
        "[REDACTED PRIVATE KEY]",
    ),
    # C2SP signed-note private keys: PRIVATE+KEY+<name>+<keyid>+<base64>.
    (re.compile(r"PRIVATE\+KEY\+\S+"), "PRIVATE+KEY+" + REDACTED),
    # Authorization: Bearer <token> / Basic <credentials>.
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=:-]+"), r"\1 " + REDACTED),
    # Capability secrets and API keys, wherever they appear.
    (re.compile(r"\bcs_[A-Za-z0-9_-]{6,}"), "cs_" + REDACTED),
    (re.compile(r"\blk_[A-Za-z0-9]+_[A-Za-z0-9_-]+"), "lk_" + REDACTED),
    # key=value / "key": "value" pairs whose name says secret.
    (
        re.compile(
            r"(?i)(\b(?:authorization|x-api-key|cookie|set-cookie|password|passwd|pwd|secret|"
            r"client_secret|private[_-]?key|api[_-]?key|access[_-]?token|refresh[_-]?token|"
            r"token|capability)\b[\"']?\s*[:=]\s*[\"']?)([^\s\"',;&}]+)"
        ),
        r"\1" + REDACTED,
    ),
    # Passwords in URLs: scheme://user:password@host.
    (re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)[^@\s/]+@"), r"\1" + REDACTED + "@"),
]


# Every redaction pattern above needs one of these words to match; a text with none of them
# (most log lines: methods, route templates, request ids) skips the seven substitutions.
_MAYBE_SECRET = re.compile(
    r"(?i)private|bearer|basic|cs_|lk_|authorization|api[_-]?key|cookie|passw|pwd|secret|"
    r"token|capability|://"
)


def redact(text: str) -> str:
    """``text`` with every secret-looking part replaced by ``[REDACTED]``."""
    if _MAYBE_SECRET.search(text) is None:
        return text
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, bytes | bytearray):
        return "<bytes>"
    if isinstance(value, dict):
        return {k: _redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(v) for v in value]
    return value


class RedactingFilter(logging.Filter):
    """Scrubs secrets from a record's message, arguments and traceback (never drops it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not lose the line
            message = f"{record.msg!r} {record.args!r}"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info))
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        record.exc_info = None  # the redacted exc_text is what gets written
        return True


# Extra attributes copied into the JSON object when a record carries them.
CONTEXT_FIELDS = (
    "request_id",
    "method",
    "path",
    "status",
    "duration_ms",
    "event",
    "fault",
    "pid",
)
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and the request context."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for key in CONTEXT_FIELDS:
            value = getattr(record, key, None)
            if value is not None:
                out[key] = _redact_value(value)
        if "request_id" not in out:
            rid = _current_request_id()
            if rid:
                out["request_id"] = rid
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            for key, value in extra.items():
                out.setdefault(str(key), _redact_value(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            out["exception"] = redact(record.exc_text)
        if record.stack_info:
            out["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(out, ensure_ascii=False, default=str)


def _current_request_id() -> str | None:
    """The Flask request id (``g.request_id``), when logging inside a request."""
    flask = sys.modules.get("flask")
    if flask is None:
        return None
    try:
        if flask.has_request_context():
            return flask.g.get("request_id")
    except Exception:
        return None
    return None


# Loggers pinned at WARNING whatever LEDGER_LOG_LEVEL says: their DEBUG/INFO lines carry
# SQL parameters (personal data), HTTP bodies or RPC payloads.
QUIET_LOGGERS = (
    "sqlalchemy.engine",
    "sqlalchemy.pool",
    "urllib3",
    "web3",
    "websockets",
    "asyncio",
    "werkzeug",
)
_HANDLER_MARK = "_ledger_handler"


class _StreamHandler(logging.StreamHandler):
    """A stream handler that formats (and redacts) before taking its lock.

    ``logging.Handler.handle`` formats under the handler's lock, so with many request threads
    they queue behind one another's JSON encoding and redaction; here only the write is
    serialised. ``buffered``: lines below ERROR are handed to a writer thread instead of
    written by the logging thread (see ``_LineWriter``); errors are written at once, after
    what is buffered, so nothing is reordered.
    """

    def __init__(self, stream, buffered: bool = False) -> None:
        super().__init__(stream)
        self.writer = _LineWriter(self) if buffered else None

    def handle(self, record: logging.LogRecord) -> bool:
        if not self.filter(record):
            return False
        try:
            line = self.format(record) + self.terminator
        except Exception:
            self.handleError(record)
            return False
        if self.writer is not None and record.levelno < logging.ERROR:
            self.writer.put(line)
            return True
        self.write_lines([line])
        return True

    def write_lines(self, lines: list[str]) -> None:
        with self.lock:
            if self.writer is not None:
                lines = self.writer.take() + lines
            if not lines:
                return
            try:
                self.stream.write("".join(lines))
                self.flush()
            except Exception:
                self.handleError(logging.makeLogRecord({"msg": "log write failed"}))


class _LineWriter:
    """Writes a handler's buffered lines from its own thread, every ``interval`` seconds.

    A request thread that writes its log line itself makes a system call under the handler's
    lock: it gives up the GIL, and every other request thread that logs queues behind it
    while it waits to get the GIL back. Appending to a deque costs neither. Lines reach the
    stream within ``interval``; at exit (and before any ERROR line) the rest is written. A
    process killed outright loses at most the last ``interval`` of INFO lines.
    """

    def __init__(self, handler: _StreamHandler, interval: float = 0.02) -> None:
        self.handler = handler
        self.interval = interval
        self._lines: deque[str] = deque()
        self._pid: int | None = None
        self._start_lock = threading.Lock()

    def put(self, line: str) -> None:
        self._lines.append(line)
        if self._pid != os.getpid():  # first line, or a forked child: no writer thread yet
            self._start()

    def take(self) -> list[str]:
        lines = []
        while True:
            try:
                lines.append(self._lines.popleft())
            except IndexError:
                return lines

    def _start(self) -> None:
        with self._start_lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            threading.Thread(target=self._run, name="log-writer", daemon=True).start()
            atexit.register(self.flush)

    def _run(self) -> None:
        while True:
            time.sleep(self.interval)
            if self._lines:
                self.flush()

    def flush(self) -> None:
        self.handler.write_lines([])


def make_handler(stream=None, fmt: str = "json", buffered: bool = False) -> logging.Handler:
    handler = _StreamHandler(stream or sys.stderr, buffered=buffered)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    setattr(handler, _HANDLER_MARK, True)
    return handler


def configure_logging(
    level: str | int = "INFO", fmt: str = "json", stream=None, *, buffered: bool = False
) -> logging.Handler:
    """Log JSON lines (or plain text with ``fmt="text"``) at ``level`` on the root logger.

    ``buffered``: INFO and lower lines are written by a writer thread (``_LineWriter``; the
    API's server processes use it). Idempotent: a second call replaces the handler this
    function installed before.
    """
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, _HANDLER_MARK, False):
            root.removeHandler(h)
    handler = make_handler(stream, fmt, buffered=buffered)
    root.addHandler(handler)
    root.setLevel(level if isinstance(level, int) else level.upper())
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.captureWarnings(True)
    return handler


class GunicornLogger(_GunicornBase):  # type: ignore[misc,valid-type]
    """gunicorn's error and access logs as JSON lines, redacted, like the application's.

    The access line never has the raw path (it may hold a complaint reference): it has the
    route template the application put in ``environ["ledger.route"]``.
    """

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(JsonFormatter())
                if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                    handler.addFilter(RedactingFilter())

    def access(self, resp, req, environ, request_time) -> None:
        if not self.access_log_enabled:
            return
        try:
            status = getattr(resp, "status_code", None)
            if status is None:
                status = int(str(getattr(resp, "status", "0")).split(None, 1)[0] or 0)
            request_id = None
            for name, value in getattr(resp, "headers", []) or []:
                if str(name).lower() == "x-request-id":
                    request_id = value
            self.access_log.info(
                "access",
                extra={
                    # Only the id the application accepted (echoed in the response): the
                    # client's raw header may be unbounded or hold anything.
                    "request_id": request_id,
                    "method": environ.get("REQUEST_METHOD"),
                    "path": environ.get("ledger.route") or "<unrouted>",
                    "status": status,
                    "duration_ms": round(
                        request_time.seconds * 1000 + request_time.microseconds / 1000, 3
                    ),
                    "pid": _pid(),
                },
            )
        except Exception:
            self.error(traceback.format_exc())


def _pid() -> int:
    import os

    return os.getpid()


def monotonic_ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 3)
