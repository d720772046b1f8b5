"""Every console POST carries its form's token and comes from this site, or nothing is done
(the checks are ``api.browser_security``'s, as in the customer portal).

The token is the staff session's own once signed in; before sign-in (the sign-in form) the
pre-session cookie's.
"""

from __future__ import annotations

from api.browser_security import CsrfRefused
from api.console.auth import BROWSERS

__all__ = ["CsrfRefused", "check_form"]


check_form = BROWSERS.check_form
