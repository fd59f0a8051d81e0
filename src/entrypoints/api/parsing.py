"""The API's blueprint class: webargs parsing that refuses a missing or non-JSON body.

webargs reads a missing body, or one sent with another Content-Type, as "no data", so an
operation whose fields are all optional (PATCH /profile, PATCH /admin/users/{id}) would answer
200 to a request the document says must carry a JSON object. Here such a request is refused:
415 when a body came in another media type, 400 when there is no body at all.

A query parameter that takes one value and is given several times (``?cursor=a&cursor=b``) is
refused with 422 too: webargs would read the first and drop the rest unseen, and a request line
of thousands of repeated values would pass every maximum length (issue 15).
"""

from __future__ import annotations

from typing import Any

import flask_smorest
from marshmallow import Schema
from webargs import core
from webargs.flaskparser import FlaskParser, abort, is_json_request

NO_BODY = "Send a JSON object as the request body (Content-Type: application/json)."
NOT_JSON = "The request body must be JSON (Content-Type: application/json)."
REPEATED = "Give this parameter once."


class ApiParser(FlaskParser):
    def load_json(self, req: Any, schema: Schema) -> Any:
        data = super().load_json(req, schema)
        if data is core.missing:
            if req.get_data(cache=True) and not is_json_request(req):
                abort(415, messages={"json": [NOT_JSON]})
            abort(400, messages={"json": [NO_BODY]})
        return data

    def load_querystring(self, req: Any, schema: Schema) -> Any:
        proxy = super().load_querystring(req, schema)
        single = {field.data_key or name for name, field in schema.fields.items()} - proxy.multiple_keys
        repeated = {key: [REPEATED] for key in sorted(single) if len(req.args.getlist(key)) > 1}
        if repeated:
            abort(422, messages={"query": repeated})
        return proxy


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = ApiParser()

    def arguments(self, schema: Any, *args: Any, **kwargs: Any) -> Any:
        """As flask-smorest's, with a schema class made an instance once, here: given a class,
        webargs would build (and deep-copy the fields of) a new instance on every request.
        Loading keeps no state on the instance (marshmallow 4), so one serves every thread."""
        if isinstance(schema, type) and issubclass(schema, Schema):
            schema = schema()
        return super().arguments(schema, *args, **kwargs)
