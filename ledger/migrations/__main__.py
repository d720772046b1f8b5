"""``python -m ledger.migrations [upgrade|current|heads|downgrade REV]`` on LEDGER_DATABASE_URL."""

from __future__ import annotations

import argparse
import sys

from ledger import migrations
from ledger.config import Settings
from ledger.db import make_engine


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Migrate the ledger's database schema.")
    parser.add_argument("action", choices=["upgrade", "current", "heads", "downgrade"])
    parser.add_argument("revision", nargs="?", default=None)
    args = parser.parse_args(argv)
    settings = Settings()
    if settings.database_url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.database_url, **settings.engine_options())
    try:
        if args.action == "upgrade":
            migrations.upgrade(engine, args.revision or "heads")
        elif args.action == "downgrade":
            if not args.revision:
                parser.error("downgrade needs a revision (e.g. -1 or base)")
            migrations.downgrade(engine, args.revision)
        elif args.action == "heads":
            print(" ".join(migrations.head_revisions()))
            return 0
        with engine.connect() as conn:
            print(" ".join(migrations.current_revisions(conn)) or "(empty)")
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
