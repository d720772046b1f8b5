"""Officer signing keys: create one, register it with limits, sign or co-sign a step's body.

Usage:
  python scripts/officer.py keygen KEY_FILE           # writes a new Ed25519 key (mode 0600)
  python scripts/officer.py public KEY_FILE           # prints public key hex and key id
  python scripts/officer.py register KEY_FILE --name NAME [--roles officer] [--valid-from T]
      [--valid-until T] [--limit EUR=500.00 ...] [--category refund_or_claim ...]
      [--dual-control-above EUR=200.00 ...]
      prints the request to send (as an admin) to POST /v1/officers/keys: the key's public
      half, roles, validity and limits (checked here as the log will check them).
  python scripts/officer.py sign KEY_FILE < signing-body.json
      reads the JSON answer of POST /v1/complaints/<ref>/signing-body and prints the
      {"type", "public", "body"} request to send to POST /v1/complaints/<ref>/events,
      with public.signature filled in. Extra public fields may be given as --public JSON
      (e.g. the second officer's {"cosignature": ...}).
  python scripts/officer.py cosign KEY_FILE < signing-body.json
      a second officer's signature over the same body, for dual control: prints
      {"cosignature": {"key_id", "sig"}}, to pass to the signing officer's --public.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
)

from ledger.complaints.errors import ComplaintError
from ledger.complaints.officers import build_key_registration, officer_key_id, sign_body
from ledger.complaints.timestamps import format_timestamp
from ledger.secretfiles import write_secret_file


def write_key(path: Path, key: Ed25519PrivateKey) -> None:
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    write_secret_file(path, pem)


def load_key(path: Path) -> Ed25519PrivateKey:
    key = load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise SystemExit(f"{path} is not an Ed25519 private key")
    return key


def _unit_amount(text: str) -> tuple[str, str]:
    unit, sep, amount = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected UNIT=AMOUNT such as EUR=500.00, got {text!r}")
    return unit, amount


def limits_from(args: argparse.Namespace) -> dict | None:
    """The ``limits`` of a registration from the command line (None: no limits)."""
    if not (args.limit or args.category or args.dual_control_above):
        return None
    limits: dict = {"amounts": dict(args.limit)}
    if args.category:
        limits["categories"] = sorted(set(args.category))
    if args.dual_control_above:
        limits["dual_control_above"] = dict(args.dual_control_above)
    return limits


def registration_request(key: Ed25519PrivateKey, args: argparse.Namespace) -> dict:
    """The body of POST /v1/officers/keys; refused here (SystemExit) when the log would be."""
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    valid_from = args.valid_from or format_timestamp(datetime.now(UTC))
    limits = limits_from(args)
    try:  # the entry the service will build: the same checks, before anything is sent
        build_key_registration(
            log="check.invalid/log",
            at=valid_from,
            admin_id="admin",
            public_key=raw,
            roles=args.roles,
            valid_from=valid_from,
            valid_until=args.valid_until,
            name=args.name,
            limits=limits,
        )
    except (ComplaintError, ValueError) as exc:
        raise SystemExit(f"not a valid registration: {exc}") from None
    request = {
        "public_key": raw.hex(),
        "roles": sorted(set(args.roles)),
        "valid_from": valid_from,
        "valid_until": args.valid_until,
        "name": args.name,
    }
    if limits is not None:
        request["limits"] = limits
    return request


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["keygen", "public", "register", "sign", "cosign"])
    parser.add_argument("key_file", type=Path)
    parser.add_argument("--type", help="event type (defaults to the one in the signing body)")
    parser.add_argument("--public", default="{}", help="public fields of the step, as JSON")
    reg = parser.add_argument_group("register")
    reg.add_argument("--name", help="the officer's name (kept in the erasable body)")
    reg.add_argument("--roles", nargs="+", default=["officer"], help="default: officer")
    reg.add_argument("--valid-from", help="RFC 3339 UTC time (default: now)")
    reg.add_argument("--valid-until", help="RFC 3339 UTC time (default: no end)")
    reg.add_argument(
        "--limit", type=_unit_amount, action="append", default=[], metavar="UNIT=AMOUNT",
        help="the largest amount it may offer or pay in a unit (repeat per unit)",
    )  # fmt: skip
    reg.add_argument(
        "--category", action="append", default=[],
        help="a complaint category it may act in (repeat; default: all)",
    )  # fmt: skip
    reg.add_argument(
        "--dual-control-above", type=_unit_amount, action="append", default=[],
        metavar="UNIT=AMOUNT", help="above this amount a second officer co-signs",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.command == "keygen":
        write_key(args.key_file, Ed25519PrivateKey.generate())
    key = load_key(args.key_file)
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    if args.command in ("keygen", "public"):
        print(json.dumps({"public_key": raw.hex(), "key_id": officer_key_id(raw)}))
        return 0
    if args.command == "register":
        if not args.name:
            parser.error("register needs --name")
        print(json.dumps(registration_request(key, args)))
        return 0
    answer = json.load(sys.stdin)
    if args.command == "cosign":
        # The same bytes the signing officer signs: the body's RFC 8785 text as served.
        sig = sign_body(key, answer["body_jcs"].encode("utf-8"))
        print(json.dumps({"cosignature": {"key_id": officer_key_id(raw), "sig": sig.hex()}}))
        return 0
    body = answer["body"]
    signature = sign_body(key, answer["body_jcs"].encode("utf-8"))
    public = json.loads(args.public)
    public["signature"] = {"key_id": officer_key_id(raw), "sig": signature.hex()}
    event_type = args.type or body["context"]["type"]
    print(json.dumps({"type": event_type, "public": public, "body": body}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
