"""The console's routes, gathered on its blueprint: sign-in, the worklist and complaint pages,
the supervisor's and the administrator's pages, members' passkeys, and the officers' signing pages
(``api.console.signing``, which adds its own routes with ``register``)."""

from __future__ import annotations

from api.console import admin, passkeys, signin, signing, supervisor, work_pages
from api.console.blueprint import blp

ROUTE_MODULES = (signin, passkeys, work_pages, supervisor, admin, signing)
signing.register(blp)

__all__ = ["ROUTE_MODULES", "blp"]
