"""Records shared with a team (SPEC §14): share one of your records with a team, take it back, and
the team's feed. Every id goes to the SharedRecords use case: someone else's record, or a team the
caller is not in, is 404; removing someone else's share without being an owner or admin is 403.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from promptcore.domain.teams import SharedRecord

from ..deps import services
from ..ids import MAX_ID
from .auth import BEARER, current_actor, login_required
from .parsing import Blueprint
from .schemas import ID_CONVERTER, ErrorOut, StrictSchema, Text

__all__ = ["blp", "shared_dict"]

blp = Blueprint("sharing", __name__, url_prefix="/api/v1",
                description="Sharing history records with a team, and the team's feed")

RECORD = f"/prompts/<{ID_CONVERTER}:record_id>/share"
TEAM_RECORDS = f"/teams/<{ID_CONVERTER}:team_id>/records"


class ShareIn(StrictSchema):
    team_id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=MAX_ID), metadata={
        "description": "One of your teams; its members will see the record in the team's feed."})


class SharingOut(Schema):
    record_id = fields.Integer(required=True)
    visibility = Text(required=True, metadata={"enum": ["private", "team"]})
    team_id = fields.Integer(required=True, allow_none=True)
    shared_at = fields.DateTime(required=True, allow_none=True)


class SharedRecordOut(Schema):
    record_id = fields.Integer(required=True)
    team_id = fields.Integer(required=True)
    original_prompt = Text(required=True)
    generated_prompt = Text(required=True, allow_none=True)
    style = Text(required=True)
    model = Text(required=True, allow_none=True)
    created_at = fields.DateTime(required=True, allow_none=True)
    shared_at = fields.DateTime(required=True)
    author_id = fields.Integer(required=True, allow_none=True)
    author = Text(required=True, allow_none=True, metadata={"description": "The author's name, or e-mail."})


class FeedQuery(StrictSchema):
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    cursor = Text(load_default=None, validate=validate.Length(max=200))


class FeedOut(Schema):
    items = fields.List(fields.Nested(SharedRecordOut), required=True)
    next_cursor = Text(required=True, allow_none=True)


def sharing_dict(record_id: int, shared: SharedRecord | None) -> dict[str, Any]:
    return {"record_id": record_id, "visibility": "team" if shared else "private",
            "team_id": shared.team_id if shared else None, "shared_at": shared.shared_at if shared else None}


def shared_dict(shared: SharedRecord) -> dict[str, Any]:
    return {"record_id": shared.record_id, "team_id": shared.team_id, "original_prompt": shared.original_prompt,
            "generated_prompt": shared.generated_prompt, "style": shared.style, "model": shared.model,
            "created_at": shared.created_at, "shared_at": shared.shared_at, "author_id": shared.author_id,
            "author": shared.author_name}


@blp.route(RECORD)
class RecordSharing(MethodView):
    decorators = [login_required]

    @blp.doc(security=BEARER)
    @blp.response(200, SharingOut)
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(404, schema=ErrorOut, description="not a record of yours")
    def get(self, record_id):
        """Whether one of your records is private or shared with a team."""
        return sharing_dict(record_id, services().shared_records().of_record(current_actor(), record_id))

    @blp.doc(security=BEARER)
    @blp.arguments(ShareIn)
    @blp.response(200, SharingOut)
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(404, schema=ErrorOut, description="not a record of yours, or not a team of yours")
    @blp.alt_response(422, schema=ErrorOut, description="the record has no improved prompt to share")
    def put(self, data, record_id):
        """Share one of your finished records with one of your teams (`private` → `team`); sharing
        it with another team moves it. The record stays yours: delete it and it leaves the feed."""
        shared = services().shared_records().share(current_actor(), record_id, data["team_id"])
        return sharing_dict(record_id, shared)

    @blp.doc(security=BEARER)
    @blp.response(204)
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(404, schema=ErrorOut, description="not a record of yours, or not shared")
    def delete(self, record_id):
        """Take your record back from the team (`team` → `private`)."""
        services().shared_records().unshare(current_actor(), record_id)


@blp.route(TEAM_RECORDS)
class TeamFeed(MethodView):
    decorators = [login_required]

    @blp.doc(security=BEARER)
    @blp.arguments(FeedQuery, location="query")
    @blp.response(200, FeedOut)
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(404, schema=ErrorOut, description="not a team of yours")
    @blp.alt_response(422, schema=ErrorOut)
    def get(self, args, team_id):
        """The records the team's members shared, newest share first; cursor pagination."""
        items, cursor = services().shared_records().feed(current_actor(), team_id, args["limit"], args.get("cursor"))
        return {"items": [shared_dict(s) for s in items], "next_cursor": cursor}


@blp.route(f"{TEAM_RECORDS}/<{ID_CONVERTER}:record_id>")
class TeamFeedItem(MethodView):
    decorators = [login_required]

    @blp.doc(security=BEARER)
    @blp.response(200, SharedRecordOut)
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(404, schema=ErrorOut, description="not a team of yours, or not shared with it")
    def get(self, team_id, record_id):
        """One record shared with the team."""
        return shared_dict(services().shared_records().get(current_actor(), team_id, record_id))

    @blp.doc(security=BEARER)
    @blp.response(204)
    @blp.alt_response(401, schema=ErrorOut)
    @blp.alt_response(403, schema=ErrorOut, description="someone else's share, and you are a plain member")
    @blp.alt_response(404, schema=ErrorOut, description="not a team of yours, or not shared with it")
    def delete(self, team_id, record_id):
        """Take a record out of the team's feed (its author, or the team's owners and admins); the
        record itself stays in its author's history."""
        services().shared_records().remove(current_actor(), team_id, record_id)
