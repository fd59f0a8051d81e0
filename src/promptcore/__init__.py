"""promptcore: turn a rough prompt into a better prompt for a large language model.

The package is the pure core: domain rules, ports and use cases, standard library only.
Importing it pulls in no web framework, database driver or HTTP client.
"""

from .domain.catalogue import STYLES
from .domain.errors import (
    EmailNotConfirmed,
    InvalidCredentials,
    InvalidToken,
    LlmUnavailable,
    NotFound,
    PromptcoreError,
    PromptRejected,
    QuotaExceeded,
    ValidationFailed,
)
from .domain.prompts import Improvement, ImprovementRequest, Style, detect_language
from .domain.quota import QuotaPolicy, QuotaStatus, QuotaWindow
from .domain.users import Role, User
from .ports import PromptImprover


def improve(prompt: str, style: str = "general", *, improver: PromptImprover, model: str | None = None,
            max_chars: int = 8000) -> Improvement:
    """Improve one prompt with the improver of your choice and the built-in styles.

    >>> from adapters.offline import OfflineImprover
    >>> improve("write a haiku about tea", "creative", improver=OfflineImprover()).model
    'offline'
    """
    from .services.improvement import improve_once
    from .services.styles import StaticStyles

    return improve_once(improver, StaticStyles(STYLES), prompt, style, model, max_chars)

__all__ = [
    "STYLES",
    "improve",
    "EmailNotConfirmed",
    "Improvement",
    "ImprovementRequest",
    "InvalidCredentials",
    "InvalidToken",
    "LlmUnavailable",
    "NotFound",
    "PromptImprover",
    "PromptRejected",
    "PromptcoreError",
    "QuotaExceeded",
    "QuotaPolicy",
    "QuotaStatus",
    "QuotaWindow",
    "Role",
    "Style",
    "User",
    "ValidationFailed",
    "detect_language",
]
__version__ = "0.1.0"
