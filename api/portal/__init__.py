"""The customer portal (``/portal``): server-rendered pages where a customer files a
complaint, signs in with its reference and secret, follows it and takes the steps it allows.
The blueprint is ``api.portal.views.blp``; docs/portal.md describes the whole."""
