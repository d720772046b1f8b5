"""Attachment fixtures: a filed complaint with its secret, staff keys, small files of each
accepted type (real magic numbers), and moto's S3 served over real HTTP."""

from __future__ import annotations

import struct
import sys
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from ledger.access.apikeys import create_api_key
from ledger.processes import free_port, start_process, stop_process, wait_for_http
from tests.browser.conftest import browser, visit  # noqa: F401  (the /verify page's fixtures)

FILE = {"category": "sync_fault", "channel": "in_app", "description": "Balance shows 0."}


def png(payload: bytes = b"screenshot") -> bytes:
    """A valid 1x1 PNG carrying ``payload`` in a text chunk (so files differ)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"tEXt", b"Comment\x00" + payload)
        + chunk(b"IDAT", idat)
        + chunk(b"IEND", b"")
    )


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
WEBP = b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88" + (
    b"\x88\xfe\x07\x00"
)
TEXT = "Transaction 0xab… was stuck for 3 days.\nRef: 12345\n".encode()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Case:
    """A filed complaint: its reference and secret, and API keys by role."""

    ref: str
    secret: str
    keys: dict[str, str]

    def upload(self, client, data: bytes, media_type: str, token: str | None = None, **headers):
        return client.post(
            f"/v1/complaints/{self.ref}/attachments",
            data=data,
            headers={**auth(token or self.secret), "Content-Type": media_type, **headers},
        )

    def step(self, client, type_: str, body: dict, token: str | None = None, public=None):
        return client.post(
            f"/v1/complaints/{self.ref}/events",
            json={"type": type_, "public": public or {}, "body": body},
            headers=auth(token or self.secret),
        )


@pytest.fixture
def keys(ledger) -> dict[str, str]:
    roles = ("agent", "officer", "supervisor", "legal", "regulator", "admin")
    return {role: create_api_key(ledger.engine, role, role)[0] for role in roles}


@pytest.fixture
def case(client, keys) -> Case:
    filed = client.post("/v1/complaints", json=FILE).json
    return Case(filed["reference"], filed["secret"], keys)


@pytest.fixture
def other(client, keys) -> Case:
    filed = client.post("/v1/complaints", json=FILE).json
    return Case(filed["reference"], filed["secret"], keys)


@dataclass(frozen=True)
class S3Server:
    """moto's S3 over real HTTP on a local port, with one bucket made."""

    url: str
    bucket: str

    def env(self, prefix: str = "") -> dict[str, str]:
        """The LEDGER_ATTACHMENTS_S3_* settings naming this bucket."""
        return {
            "LEDGER_ATTACHMENTS_S3_URL": self.url,
            "LEDGER_ATTACHMENTS_S3_BUCKET": self.bucket,
            "LEDGER_ATTACHMENTS_S3_REGION": "us-east-1",
            "LEDGER_ATTACHMENTS_S3_PREFIX": prefix,
            "LEDGER_ATTACHMENTS_S3_ACCESS_KEY_ID": "test-key-id",
            "LEDGER_ATTACHMENTS_S3_SECRET_ACCESS_KEY": "test-secret-key",
        }

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="test-key-id",
            aws_secret_access_key="test-secret-key",
        )

    def objects(self) -> list[str]:
        listed = self.client().list_objects_v2(Bucket=self.bucket)
        return sorted(o["Key"] for o in listed.get("Contents", []))


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory) -> Iterator[str]:
    """One moto S3 server for the session (its base URL), in its own process: a server thread
    left in the test process would make the monitor's worker pools spawn instead of fork."""
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    proc = start_process(
        [sys.executable, "-c", "from moto.server import main; main()", "-H", "127.0.0.1",
         "-p", str(port)],
        log=log,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/moto-api/", 60, what="the moto S3 server")
        yield url
    finally:
        stop_process(proc, 10)


@pytest.fixture
def s3(moto_server: str) -> S3Server:
    """A fresh bucket on the moto server."""
    server = S3Server(moto_server, f"attachments-{uuid.uuid4().hex[:12]}")
    server.client().create_bucket(Bucket=server.bucket)
    return server
