"""Create the log signing key (C2SP private-key string) in a 0600 file; prints only the public key.

Usage: python scripts/keygen.py [--origin ORIGIN] [--key-file PATH]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ledger.config import Settings
from ledger.log.keys import KeyFileError, create_key_file, load_key_file


def main(argv: list[str] | None = None) -> int:
    settings = Settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--origin", default=settings.log_origin, help="log origin = key name")
    parser.add_argument("--key-file", type=Path, default=settings.log_key_file)
    parser.add_argument(
        "--if-missing", action="store_true", help="succeed quietly if the key file exists"
    )
    args = parser.parse_args(argv)
    if args.key_file.exists():
        if not args.if_missing:
            print(f"refusing to overwrite {args.key_file}", file=sys.stderr)
            return 1
        try:
            signer = load_key_file(args.key_file)
        except KeyFileError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    else:
        signer = create_key_file(args.key_file, args.origin)
        print(f"created {args.key_file} (mode 0600)")
    print(f"verifier key: {signer.verifier()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
