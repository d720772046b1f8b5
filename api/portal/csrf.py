"""Cross-site request forgery: every portal POST carries its form's token and comes from
this site, or nothing is done (the checks are ``api.browser_security``'s, shared with the
staff console).

The token is the session's own (``portal_sessions.csrf_token``) once signed in, else the
pre-session cookie's (sign-in and filing forms: a signed-double-submit is not needed, the
cookie is HttpOnly and SameSite=Strict).
"""

from __future__ import annotations

from api.browser_security import CSRF_FIELD, CsrfRefused, check_origin, same_host
from api.portal.sessions import BROWSERS

FIELD = CSRF_FIELD
__all__ = ["FIELD", "CsrfRefused", "accepted_tokens", "check_form", "check_origin", "same_host"]


accepted_tokens = BROWSERS.accepted_tokens
check_form = BROWSERS.check_form
