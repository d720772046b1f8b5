"""The API's blueprints: flask-smorest's, with each argument schema made once.

Given a schema class, webargs makes an instance of it for every request it parses (a
marshmallow schema is costly to build, cheap to reuse: it holds no per-request state).
"""

from __future__ import annotations

from typing import Any

import flask_smorest
import marshmallow


class Blueprint(flask_smorest.Blueprint):
    def arguments(self, schema: Any, **kwargs: Any) -> Any:
        if isinstance(schema, type) and issubclass(schema, marshmallow.Schema):
            schema = schema()
        return super().arguments(schema, **kwargs)
