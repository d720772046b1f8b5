"""Officer signing keys: create one, and sign the body of a decision, offer or payment.

Usage:
  python scripts/officer.py keygen KEY_FILE           # writes a new Ed25519 key (mode 0600)
  python scripts/officer.py public KEY_FILE           # prints public key hex and key id
  python scripts/officer.py sign KEY_FILE < signing-body.json
      reads the JSON answer of POST /v1/complaints/<ref>/signing-body and prints the
      {"type", "public", "body"} request to send to POST /v1/complaints/<ref>/events,
      with public.signature filled in. Extra public fields may be given as --public JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
)

from ledger.complaints.officers import officer_key_id, sign_body
from ledger.secretfiles import write_secret_file


def write_key(path: Path, key: Ed25519PrivateKey) -> None:
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    write_secret_file(path, pem)


def load_key(path: Path) -> Ed25519PrivateKey:
    key = load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise SystemExit(f"{path} is not an Ed25519 private key")
    return key


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["keygen", "public", "sign"])
    parser.add_argument("key_file", type=Path)
    parser.add_argument("--type", help="event type (defaults to the one in the signing body)")
    parser.add_argument("--public", default="{}", help="public fields of the step, as JSON")
    args = parser.parse_args(argv)
    if args.command == "keygen":
        write_key(args.key_file, Ed25519PrivateKey.generate())
    key = load_key(args.key_file)
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    if args.command in ("keygen", "public"):
        print(json.dumps({"public_key": raw.hex(), "key_id": officer_key_id(raw)}))
        return 0
    answer = json.load(sys.stdin)
    body = answer["body"]
    signature = sign_body(key, answer["body_jcs"].encode("utf-8"))
    public = json.loads(args.public)
    public["signature"] = {"key_id": officer_key_id(raw), "sig": signature.hex()}
    event_type = args.type or body["context"]["type"]
    print(json.dumps({"type": event_type, "public": public, "body": body}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
