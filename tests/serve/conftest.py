"""Helpers of the service tests: a server on a free loopback port, fake models, test images."""

from __future__ import annotations

import io
import socket
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("fastapi", reason="the service tests need the serve extra")

import httpx
import uvicorn


def listening_socket() -> socket.socket:
    """A socket listening on a free loopback port (no race between finding and binding)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(url: str, timeout: float = 120.0, process=None) -> None:
    """Poll /readyz until it answers 200 (fails the test after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode} before ready")
        try:
            response = httpx.get(f"{url}/readyz", timeout=5)
            if response.status_code == 200:
                return
            last = f"{response.status_code} {response.text}"
        except httpx.TransportError as error:
            last = repr(error)
        time.sleep(0.1)
    raise AssertionError(f"{url} not ready after {timeout} s: {last}")


@contextmanager
def serving(app, ready: bool = True) -> Iterator[str]:
    """Run ``app`` with uvicorn in a thread on a free loopback port; yield its base URL."""
    sock = listening_socket()
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, lifespan="on", log_level="warning", timeout_graceful_shutdown=10)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive(), "the server thread died while starting"
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.02)
        if ready:
            wait_ready(url)
        yield url
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


# ----------------------------------------------------------------------------- fake models


class FakeExplanation:
    """What GenzIQA.explain will return, with deterministic maps at each image's size."""

    def __init__(self, images: list[Image.Image]) -> None:
        self.images = images
        arrays = [np.asarray(image, dtype=np.float32) / 255.0 for image in images]
        self.score = np.array([float(a.mean()) for a in arrays])
        self.map = [ramp(image.height, image.width) for image in images]
        self.layer_maps = {
            "down_blocks.0.attn2": [m * 0.5 for m in self.map],
            "up_blocks.1.attn2": [1.0 - m for m in self.map],
        }

    def overlay(self, i: int) -> Image.Image:
        heat = (self.map[i] * 255).astype(np.uint8)
        base = np.asarray(self.images[i], dtype=np.uint8).copy()
        base[..., 0] = heat
        return Image.fromarray(base, "RGB")


def ramp(height: int, width: int) -> np.ndarray:
    """A deterministic map in [0, 1]: rising left to right, a little top to bottom."""
    x = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :]
    y = np.linspace(0.0, 0.25, height, dtype=np.float32)[:, None]
    return (x * 0.8 + y).astype(np.float32)


class FakeModel:
    """Enough of GenzIQA for the service: per-image scores that do not depend on the batch.

    ``delay`` slows every call (to make queues fill); ``fail_on_batch`` makes the n-th call
    (1-based) raise; ``nan_for_dark`` gives NaN for an all-black image.
    """

    resolution = 32
    device = torch.device("cpu")
    dtype = torch.float32
    backbone_source = "fake-backbone"

    def __init__(
        self, delay: float = 0.0, fail_on_batch: int | None = None, nan_for_dark: bool = False
    ) -> None:
        self.delay = delay
        self.fail_on_batch = fail_on_batch
        self.nan_for_dark = nan_for_dark
        self.batches: list[int] = []
        self.config = SimpleNamespace(zero_shot=True, scoring=SimpleNamespace(timesteps=(9,)))

    def fingerprint(self) -> str:
        return "f" * 64

    def _call(self, size: int) -> None:
        self.batches.append(size)
        if self.delay:
            time.sleep(self.delay)
        if self.fail_on_batch == len(self.batches):
            raise RuntimeError("CUDA out of memory (fake)\nsecond line not shown")

    def score(self, images: torch.Tensor, batch_size: int = 8) -> np.ndarray:
        self._call(len(images))
        scores = images.double().mean(dim=(1, 2, 3)).numpy()
        if self.nan_for_dark:
            scores = np.where(scores == 0, np.nan, scores)
        return scores


class FakeExplainingModel(FakeModel):
    def explain(self, images: list[Image.Image]) -> FakeExplanation:
        self._call(len(images))
        return FakeExplanation(images)


# ----------------------------------------------------------------------------- test images


def png_bytes(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **options)
    return buffer.getvalue()


def jpeg_bytes(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90, **options)
    return buffer.getvalue()


def photo(width: int, height: int, seed: int) -> Image.Image:
    """A smooth random RGB picture (compresses like a photo, not like noise)."""
    rng = np.random.default_rng(seed)
    small = (rng.random((4, 4, 3)) * 255).astype(np.uint8)
    image = Image.fromarray(small, "RGB").resize((width, height), Image.Resampling.BICUBIC)
    noise = rng.integers(0, 24, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(np.clip(np.asarray(image) + noise, 0, 255).astype(np.uint8), "RGB")


def animated_gif(frames: list[Image.Image]) -> bytes:
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=50)
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` (no pixel data): a bomb's header."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="session")
def image_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Good and bad files, written once: name -> path."""
    folder = tmp_path_factory.mktemp("serve-images")
    files: dict[str, bytes] = {
        "a.png": png_bytes(photo(96, 72, 1)),
        "b.jpg": jpeg_bytes(photo(80, 120, 2)),
        "c.webp": _webp(photo(64, 64, 3)),
        "anim.gif": animated_gif([photo(48, 48, 4), photo(48, 48, 5), photo(48, 48, 6)]),
        "rgba.png": png_bytes(photo(50, 40, 7).convert("RGBA")),
        "truncated.jpg": jpeg_bytes(photo(200, 200, 8))[:600],
        "broken.png": b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 20,
        "tiny.png": png_bytes(photo(8, 8, 9)),
        "notes.txt": b"just some text, certainly not an image\n" * 4,
        "page.svg": b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>',
        "bomb.png": png_header_only(40000, 40000),
        "dark.png": png_bytes(Image.new("RGB", (32, 32))),
    }
    paths = {}
    for name, data in files.items():
        path = folder / name
        path.write_bytes(data)
        paths[name] = path
    return paths


def _webp(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="WEBP", quality=90)
    return buffer.getvalue()
