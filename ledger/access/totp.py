"""TOTP codes (RFC 6238: 30-second steps, 6 digits, SHA-1, as every authenticator app
shows them) for staff sign-in: new secrets, their otpauth:// URI, and which time step a
code belongs to (so a code of a step already used can be refused)."""

from __future__ import annotations

import hmac
import re
from datetime import datetime

import pyotp

TOTP_STEP_SECONDS = 30
_CODE = re.compile(r"^[0-9]{6}$")


def new_totp_secret() -> str:
    """A random base32 secret (160 bits)."""
    return pyotp.random_base32()


def provisioning_uri(secret: str, username: str, issuer: str) -> str:
    """The otpauth:// URI an authenticator app enrols (as a QR code or pasted)."""
    totp = pyotp.TOTP(secret, interval=TOTP_STEP_SECONDS)
    return totp.provisioning_uri(name=username, issuer_name=issuer)


def time_step(at: datetime) -> int:
    return int(at.timestamp()) // TOTP_STEP_SECONDS


def matching_step(secret: str, code: str, at: datetime) -> int | None:
    """The time step (now, or one either side for clock drift) whose code is ``code``."""
    code = code.replace(" ", "")
    if not _CODE.fullmatch(code):
        return None
    totp = pyotp.TOTP(secret, interval=TOTP_STEP_SECONDS)
    now = time_step(at)
    matched = None
    for step in (now - 1, now, now + 1):  # every step compared: no early exit to time
        if hmac.compare_digest(totp.generate_otp(step), code):
            matched = step
    return matched
