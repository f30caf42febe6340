"""The FastAPI app of ``genziqa serve``: one model, two micro-batchers, the web page.

Thin by design: uploads are checked and decoded by ``limits.py`` (the CLI's decoder), images
are scored by ``GenzIQA.score`` and explained by ``model.explain``; this module only routes
bytes to them and results back, with limits, metrics and errors on the way.

Endpoints (wire formats in ``schemas.py``; every request-level error is
``{"error": {"kind", "message"}}``):

- ``POST /v1/score``: one or many images as ``multipart/form-data`` file parts, or one raw
  image as the body -> ``{"model": ModelInfo, "results": [ScoreRow, ...]}``.
- ``POST /v1/explain[?layers=true&max_side=N]``: the same, each row with ``overlay_png``
  (base64 PNG) and ``map`` (base64 float16 .npy), and ``layers`` on request; 501 while the
  loaded model has no ``explain``.
- ``GET /v1/model``: ModelInfo. ``GET /healthz``: alive. ``GET /readyz``: 503 until the model
  is loaded. ``GET /metrics``: Prometheus text. ``GET /docs``: OpenAPI. ``GET /``: the page.

Status of a scoring response: 200 when at least one image was scored (each row has its own
``status_code``); when none was, the code the rows share (413, 415, 422 or 500), or 422 when
they differ. Request-level: 400 malformed, 401 no or wrong API key, 413 body or file count
over the limit, 501 no heatmaps, 503 loading / queue full / shutting down (with
Retry-After), 504 per-request timeout.

Concurrency: decoding runs in the event loop's thread pool; the model runs on ONE thread of
its own (loading, scoring and explaining), fed by the batchers, so requests arriving
together are scored together. Scores do not depend on the batch (GenzIQA pads every call to
a fixed shape), so a batched image scores exactly as it would alone.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import math
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import torch
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..io.images import DEFAULT_MAX_PIXELS
from ..preprocess import load_for_model
from .batcher import BatcherClosed, MicroBatcher, QueueFull
from .limits import BodyLimit, Rejected, decode_upload, error_body, read_uploads
from .metrics import RequestMetrics, ServiceMetrics
from .schemas import (
    ErrorResponse,
    ExplainResponse,
    Health,
    ModelInfo,
    Readiness,
    ScoreResponse,
)
from .wire import encode_map, encode_png, to_numpy

log = logging.getLogger("genziqa.serve")

STATIC_DIR = Path(__file__).with_name("static")
ZERO_SHOT_LABEL = "zero-shot baseline (untrained)"
NO_EXPLAIN = "heatmaps need genziqa.explain: the loaded model has no explain() yet; /v1/score works"

ENDPOINTS = (
    "/",
    "/v1/score",
    "/v1/explain",
    "/v1/model",
    "/healthz",
    "/readyz",
    "/metrics",
    "/docs",
    "/openapi.json",
)

_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "description": "Images as multipart file parts (any field name), or one raw image. "
        "The content is sniffed: JPEG, PNG, WebP, GIF, BMP or TIFF.",
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "files": {"type": "array", "items": {"type": "string", "format": "binary"}}
                    },
                }
            },
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            "image/*": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}
_ERRORS = {
    code: {"model": ErrorResponse, "description": text}
    for code, text in {
        400: "Malformed request (no image, a text field, bad query).",
        401: "Missing or wrong API key.",
        413: "Body over --max-body-mb, more files than --max-files, or too many pixels.",
        415: "Not a supported image (sniffed from the content).",
        422: "Corrupt or unusable image (the reason `genziqa score` gives).",
        503: "Model loading, queue full or shutting down; see Retry-After.",
        504: "The request took longer than --timeout.",
    }.items()
}


@dataclass(frozen=True)
class ServeSettings:
    """What the service allows and how it batches (the ``genziqa serve`` flags).

    ``warmup`` scores one grey image before ``/readyz`` says ready, so that the first
    request does not pay for the first call's kernel selection (or torch.compile).
    """

    model_name: str = "zero-shot"
    max_batch_size: int = 8
    max_wait_ms: float = 10.0
    max_queue: int = 64
    timeout_s: float = 120.0
    max_body_bytes: int = 32 * 2**20
    max_files: int = 16
    max_pixels: int | None = DEFAULT_MAX_PIXELS
    cors_origins: tuple[str, ...] = ()
    api_key: str | None = None
    retry_after_s: int = 1
    warmup: bool = True

    def __post_init__(self) -> None:
        for name in ("max_batch_size", "max_queue", "max_body_bytes", "max_files"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.max_wait_ms < 0 or self.timeout_s <= 0:
            raise ValueError("max_wait_ms must be >= 0 and timeout_s > 0")
        if self.max_files > self.max_queue:
            raise ValueError(
                f"max_files ({self.max_files}) cannot exceed max_queue ({self.max_queue}): "
                "such a request could never be admitted"
            )
        if "*" in self.cors_origins:
            raise ValueError("CORS origins must be listed one by one; '*' is refused")
        if self.api_key is not None and not self.api_key.strip():
            raise ValueError("the API key is empty")


def public_backbone(source: str | None) -> str | None:
    """The backbone as clients see it: a hub id or alias as it is, a local path by its last
    part only, so that answers do not reveal the server's file system."""
    if source is None:
        return None
    from pathlib import Path

    path = Path(source).expanduser()
    return path.name if path.is_absolute() or source.startswith((".", "~")) else source


def describe_model(model: Any, name: str) -> dict[str, Any]:
    """The ModelInfo of a loaded model (see ``schemas.ModelInfo``)."""
    config = getattr(model, "config", None)
    zero_shot = bool(getattr(config, "zero_shot", False))
    scoring = getattr(config, "scoring", None)
    timesteps = getattr(scoring, "timesteps", None)
    return {
        "name": name,
        "fingerprint": str(model.fingerprint()),
        "zero_shot": zero_shot,
        "label": ZERO_SHOT_LABEL if zero_shot else None,
        "backbone": public_backbone(getattr(model, "backbone_source", None)),
        "resolution": int(model.resolution),
        "timesteps": [int(t) for t in timesteps] if timesteps is not None else None,
        "device": str(model.device),
        "dtype": str(getattr(model, "dtype", "")).replace("torch.", ""),
        "explain": callable(getattr(model, "explain", None)),
        "genziqa_version": __version__,
    }


class _Service:
    """The app's state: the model (once loaded), its thread, the batchers and metrics."""

    def __init__(
        self,
        load_model: Callable[[], Any],
        settings: ServeSettings,
        on_load_error: Callable[[BaseException], None] | None,
    ) -> None:
        self.load_model = load_model
        self.settings = settings
        self.on_load_error = on_load_error
        self.model: Any = None
        self.info: dict[str, Any] | None = None
        self.load_error: str | None = None
        self.executor: ThreadPoolExecutor | None = None
        self.loading: asyncio.Task | None = None
        self.metrics = ServiceMetrics(ENDPOINTS)
        common = {
            "max_batch_size": settings.max_batch_size,
            "max_wait_s": settings.max_wait_ms / 1000.0,
            "max_queue": settings.max_queue,
        }
        self.scorer = MicroBatcher(self._score_batch, **common, on_batch=self._on_batch("score"))
        self.explainer = MicroBatcher(
            self._explain_batch, **common, on_batch=self._on_batch("explain")
        )
        self.metrics.watch_queue("score", lambda: self.scorer.waiting)
        self.metrics.watch_queue("explain", lambda: self.explainer.waiting)

    def _on_batch(self, kind: str) -> Callable[[int, float], None]:
        return lambda size, seconds: self.metrics.batch(kind, size, seconds)

    # ---------------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="genziqa-model")
        self.scorer.executor = self.explainer.executor = self.executor
        await self.scorer.start()
        await self.explainer.start()
        self.loading = asyncio.create_task(self._load(), name="genziqa-load-model")

    async def stop(self) -> None:
        await self.scorer.close()
        await self.explainer.close()
        if self.executor is not None:
            self.executor.shutdown(wait=False, cancel_futures=True)

    async def _load(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            self.info = await loop.run_in_executor(self.executor, self._load_blocking)
        except Exception as error:
            self.load_error = " ".join(str(error).split()) or type(error).__name__
            log.error("could not load the model: %s", self.load_error)
            if self.on_load_error is not None:
                self.on_load_error(error)
            return
        self.metrics.loaded(self.info["name"], self.info["fingerprint"], self.info["zero_shot"])
        log.info("model %s loaded (%s)", self.info["name"], self.info["fingerprint"][:12])

    def _load_blocking(self) -> dict[str, Any]:
        model = self.load_model()
        info = describe_model(model, self.settings.model_name)
        if self.settings.warmup:  # the first call is slow (kernel selection, compilation)
            blank = torch.full((1, 3, model.resolution, model.resolution), 0.5)
            model.score(blank.to(model.device), batch_size=1)
        self.model = model
        return info

    # ------------------------------------------------------------------- model thread

    def _score_batch(self, pixels: list[torch.Tensor]) -> list[float]:
        """uint8 (3, R, R) images -> scores, in one call (what ``score_files`` does)."""
        model = self.model
        batch = torch.stack(pixels).to(model.device).float().div_(255.0)
        return [float(s) for s in model.score(batch, batch_size=len(pixels))]

    def _explain_batch(self, images: list[Any]) -> list[tuple[Any, int]]:
        """RGB images -> (the batch's Explanation, index) per image."""
        explanation = self.model.explain(images)
        return [(explanation, i) for i in range(len(images))]

    # ---------------------------------------------------------------------- requests

    def authorize(self, request: Request) -> None:
        """Constant-time check of the API key (``Authorization: Bearer`` or ``X-API-Key``)."""
        key = self.settings.api_key
        if key is None:
            return
        given = request.headers.get("x-api-key", "")
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if not given and scheme.lower() == "bearer":
            given = token.strip()
        expected = hashlib.sha256(key.encode()).digest()
        if not hmac.compare_digest(hashlib.sha256(given.encode()).digest(), expected):
            raise Rejected(
                401,
                "unauthorized",
                "missing or wrong API key: send 'Authorization: Bearer KEY' or 'X-API-Key: KEY'",
                {"WWW-Authenticate": "Bearer"},
            )

    def ready_model(self) -> Any:
        if self.model is None or self.info is None:
            why = self.load_error or "the model is still loading"
            raise Rejected(
                503, "not_ready", why, {"Retry-After": str(self.settings.retry_after_s * 5)}
            )
        return self.model

    async def answer(
        self,
        request: Request,
        endpoint: str,
        batcher: MicroBatcher,
        prepare: Callable[[Any], Any],
        finish: Callable[[Any], dict[str, Any]],
        error_extra: dict[str, Any] | None = None,
        finish_in_thread: bool = False,
    ) -> JSONResponse:
        """Read, admit, decode, batch, and build the rows of one scoring request.

        ``prepare`` runs on a decoding thread (decoded RGB image -> what the batch function
        takes), ``finish`` turns one result into its row's fields (on a thread too when it
        is heavy, as PNG encoding is); error rows get ``error_extra`` (the endpoint's extra
        fields, empty).
        """
        uploads = await read_uploads(request, self.settings.max_files)
        try:
            reservation = batcher.reserve(len(uploads))
        except (QueueFull, BatcherClosed) as error:
            kind = "queue_full" if isinstance(error, QueueFull) else "not_ready"
            raise Rejected(
                503,
                kind,
                f"busy: {error}; retry later",
                {"Retry-After": str(self.settings.retry_after_s)},
            ) from None
        with reservation:
            try:
                outcomes = await asyncio.wait_for(
                    self._outcomes(uploads, batcher, reservation, prepare),
                    self.settings.timeout_s,
                )
            except asyncio.TimeoutError:
                raise Rejected(
                    504,
                    "timeout",
                    f"no answer within {self.settings.timeout_s:g} s (--timeout); the service "
                    "is overloaded or the images are too many for one request",
                ) from None
            except BatcherClosed:
                raise Rejected(
                    503, "not_ready", "the service is shutting down", {"Retry-After": "5"}
                ) from None
        results = [o for o in outcomes if not isinstance(o, Exception)]
        if finish_in_thread:
            finished = iter(await asyncio.to_thread(lambda: [finish(o) for o in results]))
        else:
            finished = iter([finish(o) for o in results])
        rows = []
        for index, (upload, outcome) in enumerate(zip(uploads, outcomes, strict=True)):
            row = {"index": index, "name": upload.name}
            if isinstance(outcome, Rejected):
                row.update(_error_fields(outcome.status, outcome.reason), **(error_extra or {}))
                self.metrics.error(outcome.kind)
            elif isinstance(outcome, Exception):
                log.error("model failure: %s", outcome, exc_info=outcome)
                first = (str(outcome).strip().splitlines() or [type(outcome).__name__])[0]
                row.update(_error_fields(500, f"scoring failed: {first}"), **(error_extra or {}))
                self.metrics.error("model_error")
            else:
                row.update(next(finished))
                if row["status"] == "error":
                    self.metrics.error("model_error")
            self.metrics.images.labels(endpoint, row["status"]).inc()
            rows.append(row)
        return JSONResponse({"model": self.info, "results": rows}, _response_status(rows))

    async def _outcomes(
        self,
        uploads: Sequence[Any],
        batcher: MicroBatcher,
        reservation: Any,
        prepare: Callable[[Any], Any],
    ) -> list[Any]:
        """Per upload: the model's result, a Rejected, or the batch's exception."""
        max_pixels = self.settings.max_pixels

        def decode(data: bytes) -> Any:
            try:
                return prepare(decode_upload(data, max_pixels))
            except Rejected as rejected:
                return rejected

        prepared = await asyncio.gather(*(asyncio.to_thread(decode, u.data) for u in uploads))
        good = [p for p in prepared if not isinstance(p, Rejected)]
        try:
            results = iter(await batcher.run(good, reservation))
        except (asyncio.CancelledError, BatcherClosed):
            raise
        except Exception as error:
            return [p if isinstance(p, Rejected) else error for p in prepared]
        return [p if isinstance(p, Rejected) else next(results) for p in prepared]


def _error_fields(status: int, reason: str) -> dict[str, Any]:
    return {"score": None, "status": "error", "error": reason, "status_code": status}


def _score_fields(value: float) -> dict[str, Any]:
    """A score row's fields; a non-finite score is an error, as in ``score_files``."""
    if not math.isfinite(value):
        return _error_fields(500, f"the model produced a non-finite score ({value})")
    return {"score": value, "status": "ok", "error": "", "status_code": 200}


def _response_status(rows: list[dict[str, Any]]) -> int:
    if any(row["status"] == "ok" for row in rows):
        return 200
    codes = {row["status_code"] for row in rows}
    return codes.pop() if len(codes) == 1 else 422


def _explain_fields(outcome: tuple[Any, int], layers: bool, max_side: int | None) -> dict[str, Any]:
    """One image of an Explanation -> score fields, overlay PNG and raw map(s)."""
    explanation, i = outcome
    fields = _score_fields(float(to_numpy(explanation.score)[i]))
    if fields["status"] != "ok":
        return {**fields, "overlay_png": None, "map": None, "layers": None}
    fields["overlay_png"] = encode_png(explanation.overlay(i), max_side)
    fields["map"] = encode_map(explanation.map[i], max_side)
    fields["layers"] = (
        {name: encode_map(maps[i], max_side) for name, maps in explanation.layer_maps.items()}
        if layers
        else None
    )
    return fields


async def _security_headers(app: Any, scope: dict, receive: Any, send: Any) -> None:
    """nosniff and no-referrer everywhere; a strict CSP on the page (not on /docs)."""
    path = scope.get("path", "")
    page = path == "/" or path.startswith("/static/")

    async def with_headers(message: dict) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            headers.append((b"x-content-type-options", b"nosniff"))
            headers.append((b"referrer-policy", b"no-referrer"))
            if page:
                headers.append(
                    (
                        b"content-security-policy",
                        b"default-src 'self'; img-src 'self' blob: data:; object-src 'none'; "
                        b"base-uri 'none'; frame-ancestors 'none'; form-action 'none'",
                    )
                )
            message = {**message, "headers": headers}
        await send(message)

    await app(scope, receive, with_headers)


def create_app(
    load_model: Callable[[], Any],
    settings: ServeSettings | None = None,
    *,
    on_load_error: Callable[[BaseException], None] | None = None,
) -> FastAPI:
    """The service for the model that ``load_model()`` returns (called once, on the model
    thread, after the server has started: ``/readyz`` answers 503 until it returns).

    The model needs ``score(tensor, batch_size)``, ``resolution``, ``device`` and
    ``fingerprint()``; with ``explain(images)`` (PIL RGB images -> an object with ``score``,
    ``map``, ``layer_maps`` and ``overlay(i)``) /v1/explain works too. ``on_load_error`` is
    called if loading fails (the command uses it to stop the server).
    """
    settings = settings or ServeSettings()
    service = _Service(load_model, settings, on_load_error)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    app = FastAPI(
        title="genziqa",
        version=__version__,
        summary="No-reference image quality scores (GenzIQA) over HTTP.",
        lifespan=lifespan,
        redoc_url=None,
    )
    app.state.service = service

    @app.exception_handler(Rejected)
    async def _rejected(_: Request, error: Rejected) -> JSONResponse:
        service.metrics.error(error.kind)
        return JSONResponse(error_body(error.kind, error.reason), error.status, error.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        kind = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "bad_request")
        service.metrics.error(kind)
        body = error_body(kind, str(error.detail))
        return JSONResponse(body, error.status_code, getattr(error, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        service.metrics.error("bad_request")
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}"
            for e in error.errors()
        )
        return JSONResponse(error_body("bad_request", problems), 400)

    @app.exception_handler(Exception)
    async def _crash(_: Request, error: Exception) -> JSONResponse:
        log.error("internal error", exc_info=error)
        service.metrics.error("internal_error")
        return JSONResponse(error_body("internal_error", "internal error (see the log)"), 500)

    authorized = [Depends(service.authorize)]

    @app.post(
        "/v1/score",
        response_model=ScoreResponse,
        responses=_ERRORS,
        openapi_extra=_UPLOAD_BODY,
        dependencies=authorized,
        summary="Score images",
    )
    async def score(request: Request) -> JSONResponse:
        """Score one or many images (multipart file parts, or one raw image body)."""
        model = service.ready_model()
        return await service.answer(
            request,
            "/v1/score",
            service.scorer,
            lambda image: load_for_model(image, model.resolution),
            _score_fields,
        )

    @app.post(
        "/v1/explain",
        response_model=ExplainResponse,
        responses={**_ERRORS, 501: {"model": ErrorResponse, "description": "No heatmaps."}},
        openapi_extra=_UPLOAD_BODY,
        dependencies=authorized,
        summary="Score images and explain the scores with heatmaps",
    )
    async def explain(
        request: Request,
        layers: Annotated[bool, Query(description="Also return every layer's map.")] = False,
        max_side: Annotated[
            int | None,
            Query(ge=16, le=16384, description="Shrink overlays and maps to fit (display)."),
        ] = None,
    ) -> JSONResponse:
        """Score images and return, per image, the heatmap overlay (PNG) and the raw map."""
        model = service.ready_model()
        if not callable(getattr(model, "explain", None)):
            raise Rejected(501, "not_implemented", NO_EXPLAIN)
        return await service.answer(
            request,
            "/v1/explain",
            service.explainer,
            lambda image: image,
            lambda outcome: _explain_fields(outcome, layers, max_side),
            {"overlay_png": None, "map": None, "layers": None},
            finish_in_thread=True,
        )

    @app.get("/v1/model", response_model=ModelInfo, dependencies=authorized)
    async def model_info() -> dict[str, Any]:
        """The loaded model: name, fingerprint, zero-shot label, settings, heatmaps or not."""
        service.ready_model()
        return service.info

    @app.get("/healthz", response_model=Health)
    async def healthz() -> dict[str, Any]:
        """Liveness: the process answers (the model may still be loading)."""
        return {"status": "ok", "genziqa_version": __version__}

    @app.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
    async def readyz() -> JSONResponse:
        """Readiness: 200 once the model is loaded, 503 before (or if loading failed)."""
        if service.info is not None:
            return JSONResponse({"status": "ready", "model": service.info})
        status = "failed" if service.load_error else "loading"
        body = {"status": status, "model": None, "error": service.load_error}
        return JSONResponse(body, 503, {"Retry-After": "5"})

    @app.get("/metrics", dependencies=authorized, response_class=Response)
    async def metrics() -> Response:
        """Prometheus text format."""
        return Response(service.metrics.render(), media_type=service.metrics.content_type)

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    # Added innermost first: the body limit next to the app, then CORS (so that a 413 still
    # carries its headers), security headers, and the metrics outermost (they see it all).
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.max_body_bytes,
        on_reject=lambda: service.metrics.error("body_too_large"),
    )
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "X-API-Key"],
            allow_credentials=False,
            max_age=600,
        )
    app.add_middleware(_SecurityHeaders)
    app.add_middleware(RequestMetrics, metrics=service.metrics)
    return app


class _SecurityHeaders:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await _security_headers(self.app, scope, receive, send)
