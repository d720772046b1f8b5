"""Webhooks per the Standard Webhooks specification (https://www.standardwebhooks.com/).

Each delivery is a POST of a JSON payload ``{type, timestamp, data}`` with the headers
``webhook-id`` (the stable message id: the same on every retry), ``webhook-timestamp`` (the
attempt's Unix time) and ``webhook-signature`` (``v1,`` + base64 HMAC-SHA256 over
``id.timestamp.payload`` with the endpoint's ``whsec_`` secret), signed with the
``standardwebhooks`` library; receivers verify with the same library and deduplicate by id.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import requests
from standardwebhooks.webhooks import Webhook

from ledger.log.canonical import canonical_json
from ledger.messages.errors import DeliveryError

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 15.0
USER_AGENT = "complaint-ledger-webhooks/1"


def new_secret() -> str:
    """A fresh signing secret: ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(os.urandom(SECRET_BYTES)).decode()


def event_payload(
    *,
    event_type: str,
    at: str,
    reference: str,
    seq: int,
    state: str | None,
    leaf_hash: str,
    log_index: int,
    message: Mapping[str, Any] | None = None,
) -> bytes:
    """The RFC 8785 bytes of a step's webhook payload (the same bytes on every retry)."""
    data: dict[str, Any] = {
        "reference": reference,
        "seq": seq,
        "type": event_type,
        "state": state,
        "leaf_hash": leaf_hash,
        "log_index": log_index,
    }
    if message is not None:
        data["message"] = {k: message[k] for k in ("language", "subject", "text") if k in message}
    return canonical_json({"type": f"complaint.{event_type}", "timestamp": at, "data": data})


def signed_headers(secret: str, message_id: str, payload: bytes, when: datetime) -> dict[str, str]:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, when, payload),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


class WebhookSender:
    """POSTs signed payloads; 2xx is delivered, anything else is retried (410 Gone: the
    endpoint asks to stop, given up at once). Redirects are not followed."""

    def __init__(self, session: requests.Session | None = None) -> None:
        self.session = session or requests.Session()

    def send(self, url: str, secret: str, message_id: str, payload: bytes, when: datetime) -> None:
        headers = signed_headers(secret, message_id, payload, when)
        try:
            resp = self.session.post(
                url,
                data=payload,
                headers=headers,
                timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise DeliveryError(f"webhook endpoint unreachable: {type(exc).__name__}") from None
        resp.close()
        if 200 <= resp.status_code < 300:
            return
        raise DeliveryError(
            f"webhook endpoint answered {resp.status_code}", permanent=resp.status_code == 410
        )
