"""promptcore: turn a rough prompt into a better prompt for a large language model.

The package is the pure core: domain rules, ports and use cases, standard library only.
Importing it pulls in no web framework, database driver or HTTP client.
"""

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

__all__ = [
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
