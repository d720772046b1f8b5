"""Recompute the log from its entries and compare tiles and checkpoints; exit 1 on divergence.

Usage: python scripts/check_integrity.py [--database-url URL] [--origin ORIGIN]
"""

from __future__ import annotations

import argparse
import sys

from ledger.config import Settings
from ledger.db import make_engine
from ledger.log.note import Verifier
from ledger.logstore.integrity import check_integrity
from ledger.logstore.models import Log
from ledger.logstore.store import LogStore


def main(argv: list[str] | None = None) -> int:
    settings = Settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=settings.database_url)
    parser.add_argument("--origin", default=settings.log_origin)
    args = parser.parse_args(argv)
    engine = make_engine(args.database_url, connect_timeout=settings.db_connect_timeout)
    with engine.connect() as conn:
        vkey = conn.execute(
            Log.__table__.select()
            .with_only_columns(Log.verifier_key)
            .where(Log.origin == args.origin)
        ).scalar()
    if vkey is None:
        print(f"no log with origin {args.origin!r}", file=sys.stderr)
        return 2
    store = LogStore(engine, args.origin, verifier=Verifier.from_string(vkey))
    report = check_integrity(store)
    print(
        f"checked {report.entries} entries, {report.tiles} full tiles, "
        f"{report.checkpoints} checkpoints"
    )
    if report.ok:
        print("OK: storage matches the tree recomputed from the entries")
        return 0
    print(f"TAMPERED: {report.first}")
    for d in sorted(report.divergences, key=lambda d: d.index)[:20]:
        print(f"  index {d.index}: {d.what}")
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
