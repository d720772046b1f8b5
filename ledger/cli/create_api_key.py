"""Create a scoped API key for staff, legal, regulator or admin; prints the token once.

Usage: python scripts/create_api_key.py --role officer --name "Jane Officer"
       python scripts/create_api_key.py --revoke KEY_ID
"""

from __future__ import annotations

import argparse
import sys

from ledger.access.apikeys import ROLES, create_api_key, revoke_api_key
from ledger.config import Settings
from ledger.db import make_engine
from ledger.runtime import create_schema


def main(argv: list[str] | None = None) -> int:
    settings = Settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", choices=ROLES)
    parser.add_argument("--name", default="")
    parser.add_argument("--revoke", metavar="KEY_ID")
    parser.add_argument("--database-url", default=settings.database_url)
    args = parser.parse_args(argv)
    engine = make_engine(args.database_url, connect_timeout=settings.db_connect_timeout)
    create_schema(engine)
    if args.revoke:
        if revoke_api_key(engine, args.revoke):
            print(f"revoked {args.revoke}")
            return 0
        print(f"no active key {args.revoke}", file=sys.stderr)
        return 1
    if not args.role or not args.name:
        parser.error("--role and --name are required")
    token, principal = create_api_key(engine, args.name, args.role)
    print(f"key id: {principal.id}  role: {principal.role}")
    print(f"token (shown once, store it safely): {token}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
