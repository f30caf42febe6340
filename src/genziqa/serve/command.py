"""The ``genziqa serve`` command: a plain function with typer options, registered by the CLI.

Importing this module imports typer only; FastAPI, uvicorn and the model are imported when
the command runs, so ``genziqa --help`` works without the ``[serve]`` extra.
"""

from __future__ import annotations

import importlib.util
import logging
import signal
import socket
import sys
from typing import Annotated

import typer

from ..io.images import DEFAULT_MAX_PIXELS

SERVE_PACKAGES = {
    "fastapi": "fastapi",
    "uvicorn": "uvicorn",
    "python_multipart": "python-multipart",
    "prometheus_client": "prometheus-client",
}

EPILOG = (
    "Endpoints: POST /v1/score, POST /v1/explain, GET /v1/model, /healthz, /readyz, /metrics, "
    "/docs, and the web page at /. Exit codes: 0 stopped (SIGTERM/Ctrl-C, in-flight requests "
    "answered first); 2 usage error (bad flags, model not found, missing extra, port in use)."
)


def missing_serve_packages() -> list[str]:
    """The pip names of the ``[serve]`` extra's packages that are not installed."""
    return [
        pip for module, pip in SERVE_PACKAGES.items() if importlib.util.find_spec(module) is None
    ]


def serve(
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            help="Trained model folder, hub repo, or built-in name. Default: the untrained "
            "zero-shot baseline.",
        ),
    ] = None,
    backbone: Annotated[
        str | None, typer.Option(help="Stable Diffusion weights (default: the model's own).")
    ] = None,
    backbone_config: Annotated[
        str | None,
        typer.Option(help="Component configs (folder or hub id) for a single-file backbone."),
    ] = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:N or mps.")] = "auto",
    dtype: Annotated[str, typer.Option(help="auto, fp32, bf16 or fp16.")] = "auto",
    timesteps: Annotated[
        int | None,
        typer.Option(min=1, help="Number of scoring timesteps (default: the model's, 8)."),
    ] = None,
    resolution: Annotated[
        int | None, typer.Option(min=8, help="Square input size (default: the model's).")
    ] = None,
    preset: Annotated[
        str | None,
        typer.Option(help="Speed preset: reference, fast, faster, fastest."),
    ] = None,
    compile: Annotated[bool, typer.Option(help="torch.compile the U-Net (for GPUs).")] = False,
    offline: Annotated[bool, typer.Option(help="Never use the network.")] = False,
    host: Annotated[
        str,
        typer.Option(help="Address to listen on; 0.0.0.0 exposes the service to the network."),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0: any free one).")] = 8000,
    max_batch_size: Annotated[
        int, typer.Option(min=1, help="Most images per model call (across requests).")
    ] = 8,
    max_wait_ms: Annotated[
        float,
        typer.Option(min=0, help="How long a batch waits for more images after the first."),
    ] = 10.0,
    max_queue: Annotated[
        int,
        typer.Option(min=1, help="Images waiting for the model before new requests get 503."),
    ] = 64,
    max_files: Annotated[int, typer.Option(min=1, help="Most images in one request.")] = 16,
    timeout: Annotated[
        float, typer.Option(min=0.001, help="Seconds one request may take before a 504.")
    ] = 120.0,
    max_body_mb: Annotated[
        float, typer.Option(min=0.001, help="Largest request body in MiB (413 beyond).")
    ] = 32.0,
    max_pixels: Annotated[
        int,
        typer.Option(help="Refuse larger images as decompression bombs, 413 (0: no limit)."),
    ] = DEFAULT_MAX_PIXELS,
    cors_origin: Annotated[
        list[str] | None,
        typer.Option(help="Allow this browser origin (repeatable). Default: CORS off."),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar="GENZIQA_API_KEY",
            show_envvar=True,
            show_default=False,
            help="Require this key (Authorization: Bearer KEY or X-API-Key) on /v1 and /metrics.",
        ),
    ] = None,
    warmup: Annotated[
        bool, typer.Option(help="Score one grey image before /readyz says ready.")
    ] = True,
    shutdown_timeout: Annotated[
        float, typer.Option(min=0, help="On SIGTERM, seconds to let in-flight requests finish.")
    ] = 60.0,
    log_level: Annotated[
        str, typer.Option(help="critical, error, warning, info (with access log) or debug.")
    ] = "info",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors.")] = False,
) -> int:
    """Serve scores over HTTP (one model per process), with a web page at /.

    Requests arriving together are scored in one batch.
    A score is the same batched or alone, and the same as `genziqa score` gives.
    """
    from ..cli.console import err
    from ..cli.options import UsageProblem, load_model
    from ..jobs.runtime import ScoringOptions

    missing = missing_serve_packages()
    if missing:
        raise UsageProblem(
            f"genziqa serve needs the serve extra: pip install 'genziqa[serve]' "
            f"(missing: {', '.join(missing)})"
        )
    import uvicorn

    from .app import ServeSettings, create_app

    levels = ("critical", "error", "warning", "info", "debug")
    if log_level not in levels:
        raise UsageProblem(f"--log-level must be one of {', '.join(levels)}, got {log_level!r}")
    if quiet:
        log_level = "error"
    try:
        settings = ServeSettings(
            model_name=model or "zero-shot",
            max_batch_size=max_batch_size,
            max_wait_ms=max_wait_ms,
            max_queue=max_queue,
            timeout_s=timeout,
            max_body_bytes=max(1, int(max_body_mb * 2**20)),
            max_files=max_files,
            max_pixels=max_pixels or None,
            cors_origins=tuple(cors_origin or ()),
            api_key=api_key,
            warmup=warmup,
        )
    except ValueError as error:
        raise UsageProblem(str(error)) from None
    if host not in ("127.0.0.1", "localhost", "::1") and api_key is None and not quiet:
        err.print(
            f"note: listening on {host} without --api-key: anyone who can reach this address "
            "can use the service."
        )

    options = ScoringOptions(
        model, backbone, backbone_config, device, dtype, timesteps, resolution, preset, compile,
        offline,
    )  # fmt: skip

    def load():  # runs on the model thread once the server listens (the same loader as score)
        return load_model(options, quiet)

    failures: list[BaseException] = []
    server: uvicorn.Server | None = None

    def stop_on_load_error(error: BaseException) -> None:
        failures.append(error)
        if server is not None:
            server.should_exit = True

    app = create_app(load, settings, on_load_error=stop_on_load_error)
    logging.basicConfig(format="%(levelname)s:     %(message)s", stream=sys.stderr)
    logging.getLogger("genziqa.serve").setLevel(log_level.upper())
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level=log_level,
            access_log=log_level in ("info", "debug"),
            lifespan="on",
            timeout_graceful_shutdown=shutdown_timeout,
            server_header=False,
        )
    )
    try:  # bound here, before anything starts, so that a taken port is a one-line error
        listener = _listen(host, port)
    except OSError as error:
        raise UsageProblem(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    bound_port = listener.getsockname()[1]
    if not quiet:
        shown = f"[{host}]" if ":" in host else host
        err.print(
            f"genziqa serve: http://{shown}:{bound_port}/ (loading the model; /readyz says when)"
        )
    # uvicorn re-raises SIGTERM/SIGINT once it has shut down gracefully; with no-op handlers
    # in place that ends the command normally (exit code 0) instead of killing it.
    previous = {sig: signal.signal(sig, _ignore) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.run(sockets=[listener])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        listener.close()
    if failures:
        error = failures[0]
        raise UsageProblem(str(error)) from None
    return 0


def _listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (IPv4 or IPv6, as the address is)."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    listener = socket.socket(family, kind, proto)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen(2048)
    except OSError:
        listener.close()
        raise
    listener.set_inheritable(True)
    return listener


def _ignore(signum: int, frame: object) -> None:
    """A no-op signal handler (see the comment in ``serve``)."""


__all__ = ["missing_serve_packages", "serve"]
