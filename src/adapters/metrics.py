"""Prometheus metrics and an improver wrapper that measures every upstream call.

Metric objects are plain in-memory counters; with PROMETHEUS_MULTIPROC_DIR set (as
``promptcore serve`` does) prometheus-client keeps them in shared files so one scrape sees
every worker process.
"""

from __future__ import annotations

import time
from typing import Iterator

from prometheus_client import Counter, Histogram

from promptcore.domain.errors import PromptRejected
from promptcore.domain.prompts import Improvement, ImprovementRequest
from promptcore.ports import PromptImprover

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 2.5, 5, 10, 30, 60, 120)

HTTP_REQUESTS = Counter("promptcore_http_requests_total", "HTTP requests", ["method", "route", "status"])
HTTP_LATENCY = Histogram("promptcore_http_request_duration_seconds", "HTTP request latency",
                         ["method", "route", "status"], buckets=LATENCY_BUCKETS)
GENERATIONS = Counter("promptcore_generations_total", "Prompt improvements by outcome",
                      ["style", "model", "outcome"])
UPSTREAM_LATENCY = Histogram("promptcore_upstream_duration_seconds", "Improver call latency",
                             ["improver", "outcome"], buckets=LATENCY_BUCKETS)
UPSTREAM_RETRIES = Counter("promptcore_upstream_retries_total", "Retried upstream attempts", ["reason"])
QUOTA_REJECTIONS = Counter("promptcore_quota_rejections_total", "Generations refused by the quota")


def count_retry(attempt: int, reason: str) -> None:
    UPSTREAM_RETRIES.labels(reason=str(reason)[:32]).inc()


def _outcome(exc: BaseException | None) -> str:
    if exc is None:
        return "succeeded"
    if isinstance(exc, PromptRejected):
        return "rejected"
    return "failed"


class InstrumentedImprover(PromptImprover):
    """Wraps an improver: upstream latency and generations by style, model and outcome."""

    def __init__(self, inner: PromptImprover) -> None:
        self._inner = inner
        self.name = inner.name

    def _record(self, request: ImprovementRequest, started: float, result: Improvement | None,
                exc: BaseException | None) -> None:
        outcome = _outcome(exc)
        UPSTREAM_LATENCY.labels(self.name, outcome).observe(time.perf_counter() - started)
        model = result.model if result is not None else (request.model or self.name)
        # every custom:<id> style is one label value, so the series stay few
        style = "custom" if request.style.slug.startswith("custom:") else request.style.slug
        GENERATIONS.labels(style, model[:100], outcome).inc()

    def improve(self, request: ImprovementRequest) -> Improvement:
        started = time.perf_counter()
        try:
            result = self._inner.improve(request)
        except BaseException as exc:
            self._record(request, started, None, exc)
            raise
        self._record(request, started, result, None)
        return result

    def stream(self, request: ImprovementRequest) -> Iterator[str | Improvement]:
        started = time.perf_counter()
        result: Improvement | None = None
        try:
            for item in self._inner.stream(request):
                if isinstance(item, Improvement):
                    result = item
                yield item
        except GeneratorExit:
            self._record(request, started, None, GeneratorExit())
            raise
        except BaseException as exc:
            self._record(request, started, None, exc)
            raise
        self._record(request, started, result, None if result is not None else RuntimeError("no result"))
