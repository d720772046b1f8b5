"""Back up and restore the ledger's database; a restored log is served only once checked.

  backup.py dump [--out FILE]
      PostgreSQL: pg_dump custom format; SQLite: the online backup API (safe while serving).
      Default FILE: <data>/backups/ledger-<UTC time>.(pgdump|sqlite3).
  backup.py restore FILE [--force] [--verifier-key KEY] [--anchor-source auto|chain|records]
      Restore into LEDGER_DATABASE_URL (an empty or missing database; --force replaces one),
      marked *unverified* before the data arrives, then run the check below. Stop the API
      first. Exit 0 only when the restored log passed and may be served.
  backup.py verify [--verifier-key KEY] [--anchor-source ...]
      The check: recompute the whole log (every leaf, tile, checkpoint and signature) against
      the trusted verifier key (the log signing key file, or --verifier-key), and check that
      the latest anchored (size, root) - read from the chain when LEDGER_CHAIN_RPC_URL is
      set, else from the confirmed anchor records - is a prefix of the restored log
      (root_at(size) equal). Marks the restore verified or refused. The API (open_ledger,
      /readyz) refuses a database whose latest restore is not verified.

Settings come from the environment (LEDGER_DATABASE_URL, LEDGER_DATA_DIR, LEDGER_LOG_ORIGIN,
LEDGER_LOG_KEY_FILE, LEDGER_CHAIN_RPC_URL, LEDGER_ANCHOR_CONTRACT / LEDGER_CHAIN_ID).
Exit codes: 0 ok, 1 the check refused the log, 2 the command could not run.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from ledger.backup import BackupError, dump_database, restore_database, verify_database
from ledger.config import Settings
from ledger.db import make_engine


def _default_out(settings: Settings) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    ext = "sqlite3" if settings.database_url.startswith("sqlite") else "pgdump"
    return settings.data_dir / "backups" / f"ledger-{stamp}.{ext}"


def _verify(settings: Settings, args) -> int:
    report = verify_database(
        settings, verifier_key=args.verifier_key, anchor_source=args.anchor_source
    )
    for note in report.notes:
        print(note)
    if report.ok:
        print(f"verified: {report.summary()}")
        return 0
    print(f"REFUSED: {report.summary()}", file=sys.stderr)
    print("the API will not serve this database until `backup.py verify` passes", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_dump = sub.add_parser("dump", help="write a backup")
    p_dump.add_argument("--out", type=Path)
    p_restore = sub.add_parser("restore", help="restore a backup, then verify it")
    p_restore.add_argument("file", type=Path)
    p_restore.add_argument("--force", action="store_true", help="replace a non-empty database")
    p_verify = sub.add_parser("verify", help="check the (restored) log")
    for p in (p_restore, p_verify):
        p.add_argument("--verifier-key", help="the log's verifier key (name+keyid+key)")
        p.add_argument("--anchor-source", choices=["auto", "chain", "records"], default="auto")
    args = parser.parse_args(argv)
    settings = Settings()
    try:
        if args.command == "dump":
            out = args.out or _default_out(settings)
            dump_database(settings.database_url, out)
            print(f"backup written to {out}")
            return 0
        if args.command == "restore":
            if settings.database_url.startswith("sqlite"):
                settings.data_dir.mkdir(parents=True, exist_ok=True)
            restore_database(settings.database_url, args.file, force=args.force)
            print(f"restored {args.file}; marked unverified; checking it now")
            return _verify(settings, args)
        engine = make_engine(settings.database_url, connect_timeout=settings.db_connect_timeout)
        engine.dispose()
        return _verify(settings, args)
    except BackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
