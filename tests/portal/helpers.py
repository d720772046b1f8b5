"""Driving the customer portal with Flask's test client (cookies kept per client): read the
tokens out of a page, file, sign in, and send a page's forms as a browser would."""

from __future__ import annotations

import re
from dataclasses import dataclass

from werkzeug.test import TestResponse

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
FORM_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')
FILED_REFERENCE = re.compile(r'data-testid="filed-reference">([^<]+)<')
FILED_SECRET = re.compile(r'data-testid="filed-secret">([^<]+)<')
COMPLAINT = {
    "category": "stuck_transaction",
    "description": "My withdrawal has been pending for 9 hours.",
    "name": "Ana Silva",
    "email": "ana@example.org",
    "consent": "yes",
    "language": "en",
}


def html(resp: TestResponse) -> str:
    return resp.get_data(as_text=True)


def tokens(page: str) -> tuple[str, str | None]:
    """The page's CSRF token and the first form's one-submission token."""
    form_token = FORM_TOKEN.search(page)
    return CSRF.search(page).group(1), form_token.group(1) if form_token else None


def form_of(page: str, action_path: str) -> dict[str, str]:
    """The hidden tokens of the form posting to ``action_path`` on ``page``."""
    start = page.index(f'action="{action_path}')
    form = page[start : page.index("</form>", start)]
    out = {"csrf_token": CSRF.search(form).group(1)}
    found = FORM_TOKEN.search(form)
    if found:
        out["form_token"] = found.group(1)
    return out


@dataclass
class Filed:
    reference: str
    secret: str
    page: str


def file_complaint(client, **fields) -> Filed:
    page = html(client.get("/portal/file"))
    csrf, form_token = tokens(page)
    data = {**COMPLAINT, **fields, "csrf_token": csrf, "form_token": form_token}
    resp = client.post("/portal/file", data=data)
    assert resp.status_code == 200, html(resp)[:2000]
    text = html(resp)
    return Filed(FILED_REFERENCE.search(text).group(1), FILED_SECRET.search(text).group(1), text)


def sign_in(client, reference: str, secret: str, **headers) -> TestResponse:
    csrf, _ = tokens(html(client.get("/portal/sign-in")))
    return client.post(
        "/portal/sign-in",
        data={"csrf_token": csrf, "reference": reference, "secret": secret},
        headers=headers,
    )


def complaint_page(client, reference: str) -> str:
    resp = client.get(f"/portal/complaints/{reference}")
    assert resp.status_code == 200, (resp.status_code, html(resp)[:500])
    return html(resp)


def act(client, reference: str, action: str, data: dict | None = None, **kwargs) -> TestResponse:
    """Send the complaint page's form of ``action`` with ``data`` (its tokens filled in)."""
    path = f"/portal/complaints/{reference}/actions/{action}"
    page = complaint_page(client, reference)
    return client.post(path, data={**form_of(page, path), **(data or {})}, **kwargs)


def session_cookie(client) -> str | None:
    cookie = client.get_cookie("portal_session", path="/portal")
    return None if cookie is None else cookie.value


def tiny_png(width: int = 2, height: int = 2) -> bytes:
    """A valid PNG image (grey pixels), made here so the tests need no image library."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


class Staff:
    """The firm's side, through the API (test client): an agent, an officer with a
    registered key that signs decisions and offers."""

    def __init__(self, client, ledger) -> None:
        from datetime import UTC, datetime, timedelta

        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        from ledger.access.apikeys import create_api_key

        self.client = client
        self.tokens = {
            role: create_api_key(ledger.engine, f"test {role}", role)[0]
            for role in ("agent", "officer", "admin")
        }
        self.key = Ed25519PrivateKey.generate()
        pub = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
        registered = self._post(
            "admin",
            "/v1/officers/keys",
            {
                "public_key": pub,
                "roles": ["officer"],
                "valid_from": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
                "name": "Olga Officer",
            },
        )
        self.key_id = registered["key"]["key_id"]

    def _post(self, role: str, path: str, body: dict, expect: int | tuple = 201) -> dict:
        resp = self.client.post(
            path, json=body, headers={"Authorization": f"Bearer {self.tokens[role]}"}
        )
        expected = expect if isinstance(expect, tuple) else (expect,)
        assert resp.status_code in expected, resp.get_data(as_text=True)
        return resp.get_json()

    def step(self, reference: str, type_: str, public=None, body=None) -> dict:
        return self._post("agent", f"/v1/complaints/{reference}/events",
                          {"type": type_, "public": public or {}, "body": body or {}})  # fmt: skip

    def signed(self, reference: str, type_: str, content: dict, public: dict) -> dict:
        from ledger.complaints.officers import sign_body

        to_sign = self._post("officer", f"/v1/complaints/{reference}/signing-body",
                             {"type": type_, "content": content}, expect=200)  # fmt: skip
        sig = sign_body(self.key, to_sign["body_jcs"].encode("utf-8"))
        public = {**public, "signature": {"key_id": self.key_id, "sig": sig.hex()}}
        return self._post("officer", f"/v1/complaints/{reference}/events",
                          {"type": type_, "public": public, "body": to_sign["body"]})  # fmt: skip

    def acknowledge(self, reference: str) -> None:
        self.step(reference, "acknowledged", body={"responsible": "Rui Costa"})

    def request_info(self, reference: str, request: str = "Please send a screenshot.") -> None:
        self.step(reference, "info_requested", body={"request": request})

    def decide(self, reference: str, outcome: str = "upheld") -> None:
        received = self.client.get(
            f"/v1/complaints/{reference}/timeline",
            headers={"Authorization": f"Bearer {self.tokens['agent']}"},
        ).get_json()["events"][0]["leaf_hash"]
        decision = {
            "outcome": outcome,
            "finding": "The withdrawal was delayed by our fee estimator.",
            "rules": ["PSD2 Art. 89"],
            "evidence": [received],
            "root_cause": "product_defect",
            "remedy": "We pay a goodwill amount.",
        }
        public = {k: decision[k] for k in ("outcome", "root_cause", "rules", "evidence")}
        self.signed(reference, "decision", decision, public)

    def offer(self, reference: str, vault: bool = False) -> dict:
        offer = {"amount": "25.00", "asset": "USDC", "method": "on_chain"}
        if vault:
            offer = {**offer, "chain_id": 31337, "vault": "0x" + "5a" * 20,
                     "token": "0x" + "70" * 20, "amount_base_units": "25000000",
                     "decimals": 6}  # fmt: skip
        public = {k: offer[k] for k in ("amount", "asset", "method")}
        return self.signed(reference, "compensation_offered", offer, public)

    def pay(self, reference: str, tx_hash: str, chain_id: int = 1) -> None:
        paid = {"amount": "25.00", "asset": "USDC", "method": "on_chain", "tx_hash": tx_hash,
                "chain_id": chain_id}  # fmt: skip
        public = {k: paid[k] for k in ("amount", "asset", "method")}
        self.signed(reference, "compensation_paid", paid, public)

    def close(self, reference: str) -> None:
        self.step(reference, "closed", public={"reason": "resolved"})

    def events(self, reference: str) -> list[dict]:
        return self.client.get(
            f"/v1/complaints/{reference}/timeline",
            headers={"Authorization": f"Bearer {self.tokens['agent']}"},
        ).get_json()["events"]
