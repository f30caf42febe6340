"""Prometheus metrics of the service, on a registry of its own (one per app).

Names (all prefixed ``genziqa_``; labels are bounded sets, never a file name):

- ``http_requests_total{endpoint, method, status}`` and
  ``http_request_duration_seconds{endpoint}``: every request, with its latency;
- ``http_requests_in_flight``: requests being answered now;
- ``batch_size{kind}`` and ``batch_duration_seconds{kind}``: each model call (kind: score or
  explain), so ``batch_size_sum / batch_size_count`` is the mean batch;
- ``queue_depth{kind}``: images admitted and waiting for a batch;
- ``images_total{endpoint, status}``: images answered, ok or error;
- ``errors_total{kind}``: refusals and failures by kind (body_too_large, too_many_files,
  unsupported_media_type, too_many_pixels, corrupt_image, queue_full, timeout,
  unauthorized, not_ready, not_implemented, bad_request, model_error, internal_error);
- ``model_ready`` (0/1) and ``model_info{name, fingerprint, zero_shot}`` (1 once loaded).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
BATCH_BUCKETS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 128)


class ServiceMetrics:
    """The service's counters, gauges and histograms; ``render()`` gives the text format."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, endpoints: Iterable[str]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.endpoints = frozenset(endpoints)
        r = self.registry
        self.requests = Counter(
            "genziqa_http_requests",
            "HTTP requests answered.",
            ["endpoint", "method", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "genziqa_http_request_duration_seconds",
            "Time from request to the end of the response.",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge(
            "genziqa_http_requests_in_flight", "Requests being answered now.", registry=r
        )
        self.batch_size = Histogram(
            "genziqa_batch_size",
            "Images per model call.",
            ["kind"],
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.batch_seconds = Histogram(
            "genziqa_batch_duration_seconds",
            "Time of one model call.",
            ["kind"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.queue_depth = Gauge(
            "genziqa_queue_depth", "Images waiting for a batch.", ["kind"], registry=r
        )
        self.images = Counter(
            "genziqa_images", "Images answered.", ["endpoint", "status"], registry=r
        )
        self.errors = Counter("genziqa_errors", "Refusals and failures.", ["kind"], registry=r)
        self.ready = Gauge("genziqa_model_ready", "1 once the model is loaded.", registry=r)
        self.model_info = Gauge(
            "genziqa_model_info",
            "The loaded model (value 1).",
            ["name", "fingerprint", "zero_shot"],
            registry=r,
        )

    def watch_queue(self, kind: str, depth: Callable[[], float]) -> None:
        self.queue_depth.labels(kind).set_function(depth)

    def batch(self, kind: str, size: int, seconds: float) -> None:
        self.batch_size.labels(kind).observe(size)
        self.batch_seconds.labels(kind).observe(seconds)

    def error(self, kind: str) -> None:
        self.errors.labels(kind).inc()

    def loaded(self, name: str, fingerprint: str, zero_shot: bool) -> None:
        self.model_info.labels(name, fingerprint, str(zero_shot).lower()).set(1)
        self.ready.set(1)

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def endpoint_of(self, path: str) -> str:
        """A bounded label for a path: a known route, ``/static``, or ``other``."""
        if path in self.endpoints:
            return path
        if path.startswith("/static/"):
            return "/static"
        return "other"


class RequestMetrics:
    """Pure ASGI middleware: counts every HTTP request by endpoint and status, with latency."""

    def __init__(self, app: Any, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def watched_send(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, watched_send)
        finally:
            self.metrics.in_flight.dec()
            endpoint = self.metrics.endpoint_of(scope.get("path", ""))
            self.metrics.requests.labels(endpoint, scope.get("method", ""), str(status)).inc()
            self.metrics.latency.labels(endpoint).observe(time.perf_counter() - started)
