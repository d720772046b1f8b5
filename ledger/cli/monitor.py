"""Monitor a complaint ledger from the outside: verify the log and recompute its audit figures.

Usage:
    python scripts/monitor.py URL [--state FILE] [--log-key VKEY] [--api-key KEY]
                              [--from TIME] [--to TIME] [--no-figures] [--workers N]

Fetches the signed checkpoint and the tiles from URL (``/log/checkpoint``, ``/log/tile/...``),
checks the new checkpoint is consistent with the last one seen (kept in --state), replays every
new entry (hash chains, state machine, officer authority), recomputes the regulator figures from
the leaves' public fields and compares them with ``/v1/audit/figures`` (needs a regulator API
key: --api-key or LEDGER_MONITOR_API_KEY). Exit status: 0 when all is well, 1 on any problem,
2 on bad usage. Run it from cron; a second run only processes new entries.
"""

from __future__ import annotations

import argparse
from datetime import datetime

from ledger.config import MonitorSettings
from ledger.monitor import Monitor, StateFile, StateFileError, http_fetch, http_figures


def _time(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError("give a time zone, e.g. 2026-03-01T00:00:00Z")
    return value


def main(argv: list[str] | None = None) -> int:
    defaults = MonitorSettings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="base URL of the ledger, e.g. https://ledger.example")
    parser.add_argument("--state", default="monitor-state.sqlite3", help="state file (SQLite)")
    parser.add_argument(
        "--log-key",
        default=defaults.log_key,
        help="the log's verifier key (name+keyid+base64), obtained out of band; "
        "without it the server's key is trusted on first use and pinned in the state file",
    )
    parser.add_argument(
        "--api-key",
        default=defaults.api_key,
        help="regulator API key for /v1/audit/figures (or LEDGER_MONITOR_API_KEY)",
    )
    parser.add_argument("--from", dest="start", type=_time, help="period start (default 1970)")
    parser.add_argument("--to", dest="end", type=_time, help="period end (default: now)")
    parser.add_argument(
        "--no-figures", action="store_true", help="verify the log only; skip the figures"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="replay processes for a large replay (default: one per CPU; 1: one process)",
    )
    args = parser.parse_args(argv)

    import requests

    session = requests.Session()
    try:
        state = StateFile(args.state)
    except StateFileError as exc:  # an unknown version or fact layout: refused, not mis-read
        print(f"PROBLEM: {exc}")
        return 1
    try:
        log_key = args.log_key
        if log_key is None and state.meta().log_key is None:
            try:
                r = session.get(args.url.rstrip("/") + "/v1/log/keys", timeout=30)
                r.raise_for_status()
                log_key = r.json()["verifier_key"]
            except (requests.RequestException, ValueError, KeyError) as exc:
                print(f"PROBLEM: cannot get the log key from the server: {exc}")
                return 1
            print(
                "note: no --log-key given: trusting the server's key on first use and pinning "
                f"it in {args.state}: {log_key}"
            )
        figures = None
        if not args.no_figures:
            if not args.api_key:
                print(
                    "PROBLEM: no regulator API key to fetch the figures with: pass --api-key, "
                    "set LEDGER_MONITOR_API_KEY, or use --no-figures"
                )
                return 1
            figures = http_figures(args.url, args.api_key, session)
        monitor = Monitor(
            http_fetch(args.url, session), state, log_key, figures, workers=args.workers
        )
        try:
            report = monitor.run(args.start, args.end)
        except requests.RequestException as exc:
            print(f"PROBLEM: the server could not be reached: {exc}")
            return 1
        for line in report.lines():
            print(line)
        return 0 if report.ok else 1
    finally:
        state.close()


if __name__ == "__main__":
    raise SystemExit(main())
