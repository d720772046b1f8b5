"""Who is calling: a scoped API key (staff, legal, regulator, admin) or a customer's
capability secret for one complaint. Both arrive as ``Authorization: Bearer <token>``."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import g, request

from api.context import get_ledger
from api.problems import Problem
from ledger.access.apikeys import PREFIX as API_KEY_PREFIX
from ledger.access.apikeys import Principal, authenticate
from ledger.casework.writes import CAPABILITY_PREFIX

STAFF = ("agent", "officer", "supervisor", "legal", "admin")
# Roles whose reads of personal data are recorded (DESIGN: staff, legal, regulator).
RECORDED_READERS = ("agent", "officer", "supervisor", "legal", "regulator", "admin")


@dataclass(frozen=True)
class Caller:
    role: str  # "anonymous", "customer" or an API key role
    id: str  # non-personal: API key id, or "customer"
    reference: str | None = None  # the complaint a customer's secret opens
    # The API key's name (may be a person's: the acknowledgement names the handler by it);
    # never an actor id, never logged.
    name: str = field(default="", repr=False)

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF


ANONYMOUS = Caller("anonymous", "anonymous")


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        return None
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem("unauthorized", "use 'Authorization: Bearer <token>'",
                      headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
    return token.strip()


def current_caller(reference: str | None = None) -> Caller:
    """Authenticate the request; a capability secret counts only for ``reference``."""
    if "caller" in g:
        return g.caller
    token = _bearer()
    caller = ANONYMOUS
    if token is not None:
        if token.startswith(API_KEY_PREFIX):
            principal: Principal | None = authenticate(get_ledger().reader, token)
            if principal is None:
                raise Problem("unauthorized", "unknown or revoked API key",
                              headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
            caller = Caller(principal.role, principal.id, name=principal.name)
        elif token.startswith(CAPABILITY_PREFIX) and reference is not None:
            if not get_ledger().complaints.reads.check_secret(reference, token):
                raise Problem("unauthorized", "this secret does not open this complaint",
                              headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
            caller = Caller("customer", "customer", reference)
        else:
            raise Problem("unauthorized", "unrecognised credentials",
                          headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
    g.caller = caller
    return caller


def require(*roles: str, reference: str | None = None) -> Caller:
    """The caller, if its role is one of ``roles`` (401 when anonymous, 403 otherwise)."""
    caller = current_caller(reference)
    if caller.role in roles:
        return caller
    if caller.role == "anonymous":
        raise Problem("unauthorized", "credentials are required",
                      headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
    raise Problem("forbidden", f"role {caller.role!r} may not do this")
