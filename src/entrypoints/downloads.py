"""A file download as an HTTP response, the same for the API and the pages."""

from __future__ import annotations

from flask import Response, stream_with_context

from promptcore.services.exports import Download


def attachment(download: Download) -> Response:
    """Streams the download's chunks as an attachment that no cache keeps."""
    response = Response(stream_with_context(download.chunks), mimetype=download.media_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{download.filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response
