"""Flask application factory."""

from __future__ import annotations

from flask import Flask

from api.context import EXTENSION
from api.errors import LedgerApi, register_error_handlers
from ledger.config import Settings
from ledger.runtime import Ledger, open_ledger


def create_app(settings: Settings | None = None, ledger: Ledger | None = None) -> Flask:
    settings = settings or Settings()
    app = Flask(__name__, static_folder=None)  # blueprints serve their own static files
    app.config.update(
        API_TITLE="Complaint ledger",
        API_VERSION="1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        # Redis (rate limits) unreachable: count in this process meanwhile, never fail.
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
        RATELIMIT_SWALLOW_ERRORS=True,
        JSON_SORT_KEYS=False,
        # /docs (Swagger UI) is api/docs_page.py: pinned assets served by us, strict CSP.
        API_SPEC_OPTIONS={
            "info": {"description": "Complaint ledger: every step on a verifiable log."},
            "components": {
                "securitySchemes": {
                    "bearer": {
                        "type": "http",
                        "scheme": "bearer",
                        "description": "API key (lk_...) or a complaint's secret (cs_...)",
                    }
                }
            },
        },
    )
    app.extensions[EXTENSION] = ledger or open_ledger(settings)

    api = LedgerApi(app)
    register_error_handlers(app)

    from api import (
        audit_routes,
        complaints_routes,
        evidence_routes,
        incident_routes,
        officer_routes,
        ops_routes,
    )
    from api.anchor_routes import anchor_api
    from api.attachment_routes import blp as attachments
    from api.chain_routes import blp as chains
    from api.common_static import blp as common_static
    from api.console.views import blp as console
    from api.docs_page import blp as docs_page
    from api.guards import install_guards
    from api.log_routes import log_api, tiles
    from api.message_routes import blp as messages
    from api.portal.views import blp as portal
    from api.staff_access_routes import blp as staff_access
    from api.verify_page import blp as verify_page

    install_guards(app, settings)
    app.register_blueprint(tiles)
    app.register_blueprint(common_static)  # the base stylesheet of the pages for people
    app.register_blueprint(verify_page)
    app.register_blueprint(portal)  # HTML pages and forms: not in the OpenAPI
    app.register_blueprint(console)  # the staff console: HTML pages and forms too
    app.register_blueprint(docs_page)
    api.register_blueprint(log_api)
    api.register_blueprint(anchor_api)
    api.register_blueprint(chains)
    api.register_blueprint(complaints_routes.blp)
    api.register_blueprint(attachments)
    api.register_blueprint(officer_routes.blp)
    api.register_blueprint(evidence_routes.blp)
    api.register_blueprint(audit_routes.blp)
    api.register_blueprint(incident_routes.blp)
    api.register_blueprint(messages)
    api.register_blueprint(staff_access)
    ops_routes.install(app)  # /healthz, /readyz, /metrics; request metrics and log lines
    return app
