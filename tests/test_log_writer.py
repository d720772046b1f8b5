"""The buffered log handler (the API's server processes): lines arrive, in order, redacted,
errors at once after what was buffered, and nothing is lost at exit."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import threading
import time

from ledger.logging_setup import configure_logging, make_handler


def _lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(x) for x in stream.getvalue().splitlines()]


def _wait_for(predicate, timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "the writer thread did not write in time"
        time.sleep(0.005)


def test_buffered_lines_from_many_threads_all_arrive_whole_and_redacted() -> None:
    stream = io.StringIO()
    handler = make_handler(stream, buffered=True)
    logger = logging.getLogger("test.log_writer.threads")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:

        def emit(n: int) -> None:
            for i in range(200):
                logger.info("line %d of %d with Bearer cs_abcdefghijkl", i, n)

        threads = [threading.Thread(target=emit, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        _wait_for(lambda: stream.getvalue().count("\n") == 1600)
    finally:
        logger.removeHandler(handler)
    lines = _lines(stream)
    assert len(lines) == 1600
    assert all("cs_abcdefghijkl" not in line["message"] for line in lines)
    for n in range(8):  # each thread's lines in its own order
        mine = [line["message"] for line in lines if line["message"].endswith(f"of {n} with "
                "Bearer [REDACTED]")]  # fmt: skip
        assert mine == [f"line {i} of {n} with Bearer [REDACTED]" for i in range(200)]


def test_an_error_is_written_at_once_after_the_buffered_lines() -> None:
    stream = io.StringIO()
    handler = make_handler(stream, buffered=True)
    handler.writer.interval = 60.0  # the writer thread would not write during the test
    logger = logging.getLogger("test.log_writer.error")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        logger.info("first")
        logger.info("second")
        assert stream.getvalue() == ""  # buffered, not yet written
        logger.error("broken")
        assert [line["message"] for line in _lines(stream)] == ["first", "second", "broken"]
    finally:
        logger.removeHandler(handler)


def test_unbuffered_handler_writes_in_the_calling_thread() -> None:
    stream = io.StringIO()
    handler = configure_logging("INFO", "json", stream)
    try:
        logging.getLogger("test.log_writer.plain").info("now")
        assert _lines(stream)[-1]["message"] == "now"
    finally:
        logging.getLogger().removeHandler(handler)


def test_lines_buffered_at_exit_are_written() -> None:
    code = (
        "import logging\n"
        "from ledger.logging_setup import configure_logging\n"
        "h = configure_logging('INFO', 'json', buffered=True)\n"
        "h.writer.interval = 60.0\n"
        "for i in range(50):\n"
        "    logging.getLogger('x').info('bye %d', i)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    messages = [json.loads(x)["message"] for x in done.stderr.splitlines()]
    assert messages == [f"bye {i}" for i in range(50)]
