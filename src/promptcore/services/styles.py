"""The style catalogue: the styles a prompt can be improved in, and choosing one."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Callable

from ..domain.errors import ValidationFailed
from ..domain.prompts import Style
from ..ports import Clock, StyleRepository, UnitOfWork


class StyleCatalogue:
    """The styles, read from storage and kept for a minute (they change only when
    `promptcore db upgrade` syncs them from the code)."""

    def __init__(self, uow: Callable[[], UnitOfWork], clock: Clock, ttl: timedelta = timedelta(seconds=60)) -> None:
        self._uow = uow
        self._clock = clock
        self._ttl = ttl
        self._cached: tuple[datetime, list[Style]] | None = None

    def list(self) -> list[Style]:
        now = self._clock.now()
        if self._cached is None or now - self._cached[0] > self._ttl:
            with self._uow() as uow:
                self._cached = (now, uow.styles.list())
        return self._cached[1]

    def get(self, slug: str) -> Style | None:
        return next((s for s in self.list() if s.slug == slug), None)

    def slugs(self) -> frozenset[str]:
        return frozenset(s.slug for s in self.list())


class StaticStyles(StyleRepository):
    """A fixed list of styles, for using the core without a database."""

    def __init__(self, styles: list[Style] | tuple[Style, ...]) -> None:
        self._styles = list(styles)

    def list(self) -> list[Style]:
        return list(self._styles)

    def get(self, slug: str) -> Style | None:
        return next((s for s in self._styles if s.slug == slug), None)

    def slugs(self) -> frozenset[str]:
        return frozenset(s.slug for s in self._styles)


def pick_style(styles: StyleRepository | StyleCatalogue, slug: Any) -> Style:
    """The style named ``slug``, or a validation error that lists the styles there are."""
    style = styles.get(slug) if isinstance(slug, str) else None
    if style is None:
        known = ", ".join(s.slug for s in styles.list())
        raise ValidationFailed.on("style", f"Unknown style; choose one of: {known}.")
    return style


__all__ = ["StaticStyles", "StyleCatalogue", "pick_style"]
