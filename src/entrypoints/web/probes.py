"""Liveness and readiness probes."""

from __future__ import annotations

from flask import Blueprint, jsonify

from adapters.migrations import is_up_to_date

from ..deps import services

bp = Blueprint("probes", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    try:
        migrated = is_up_to_date(services().engine())
    except Exception:  # any database failure means "not ready"
        return jsonify({"status": "unavailable", "database": "unreachable"}), 503
    if not migrated:
        return jsonify({"status": "unavailable", "database": "migrations pending"}), 503
    return jsonify({"status": "ok", "database": "ok"})
