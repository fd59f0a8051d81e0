"""Access to the container from request code (views are wired by this one accessor)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import current_app

if TYPE_CHECKING:
    from .container import Container


def services() -> "Container":
    return current_app.extensions["promptcore"]
