"""What an upload must be before it reaches the model, and the status code when it is not.

- Body size: :class:`BodyLimit`, a pure ASGI middleware, refuses a request whose
  ``Content-Length`` is over the limit before reading any of it, and one without a length
  (chunked) as soon as the bytes received pass the limit: 413 either way.
- Parts: :func:`read_uploads` takes a ``multipart/form-data`` body (every file part, in
  order) or any other body as one raw image. Text fields are refused (400): the service
  never reads a server path or fetches a URL, whatever a field says.
- Content: :func:`decode_upload` sniffs the first bytes against the signatures of an
  allow-list of formats (:data:`ALLOWED_FORMATS`) and reads the header with that format's
  Pillow plugin only; the file name and the Content-Type are never trusted. Anything else
  is 415. An image over the pixel limit (read from its header, before any
  pixel is decoded) is 413. The image is then decoded exactly as ``genziqa score`` decodes a
  file (``genziqa.io.images``: first frame of an animation, EXIF orientation, alpha over white,
  16-bit scaling), and a file that fails there is 422 with the CLI's one-line reason.
"""

from __future__ import annotations

import io
import json
import ntpath
import posixpath
import warnings
from dataclasses import dataclass
from typing import Any

from PIL import Image

# The CLI's decoding, reached through its private helpers so that the service and
# `genziqa score` give the same reason for the same bytes (load_image itself takes a path).
from ..io.images import ImageError, decode_image

ALLOWED_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")
"""Pillow format names accepted (JPEG includes the multi-picture JPEG, MPO, of cameras)."""

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"II+\x00", "TIFF"),  # BigTIFF
    (b"MM\x00+", "TIFF"),
)

_BOMB_MARK = "decompression bomb"  # in genziqa.images' reason for a refused pixel count


class Rejected(Exception):
    """A request, or one image of it, refused: HTTP ``status``, a metric ``kind`` and a
    one-line ``reason``; ``headers`` go on the response (e.g. Retry-After)."""

    def __init__(
        self, status: int, kind: str, reason: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.kind = kind
        self.reason = " ".join(str(reason).split())
        self.headers = headers or {}


@dataclass
class Upload:
    """The bytes of one image as received, and the client's file name (only echoed back)."""

    name: str
    data: bytes


# ------------------------------------------------------------------------------ body size


class BodyTooLarge(Exception):
    """Raised from ``receive`` when a streamed body passes the limit."""


class BodyLimit:
    """Pure ASGI middleware: 413 for a request body over ``max_bytes``.

    With a ``Content-Length`` over the limit the app is not called at all and nothing is
    read. Otherwise ``receive`` counts the bytes as they arrive and, when they pass the
    limit, raises :class:`BodyTooLarge`, which is answered with 413 here (the rest of the
    body is never read; the server then closes the connection).
    """

    def __init__(self, app: Any, max_bytes: int, on_reject: Any = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.on_reject = on_reject

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for key, value in scope.get("headers", ()):
            if key == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    await _send_error(send, 400, "bad_request", "invalid Content-Length header")
                    return
                if length > self.max_bytes:
                    await self._reject(send, f"the request body has {length:,} bytes")
                    return
        received = 0
        response_started = False

        async def counted_receive() -> dict:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge
            return message

        async def watched_send(message: dict) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge:
            if response_started:
                raise
            await self._reject(send, f"more than {self.max_bytes:,} bytes were sent")

    async def _reject(self, send: Any, what: str) -> None:
        if self.on_reject is not None:
            self.on_reject()
        await _send_error(
            send,
            413,
            "body_too_large",
            f"{what}; the limit is {self.max_bytes:,} bytes (--max-body-mb)",
        )


def error_body(kind: str, message: str) -> dict:
    """The JSON body of every request-level error: ``{"error": {"kind", "message"}}``."""
    return {"error": {"kind": kind, "message": message}}


async def _send_error(send: Any, status: int, kind: str, message: str) -> None:
    body = json.dumps(error_body(kind, message)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


# ---------------------------------------------------------------------------------- parts


async def read_uploads(request: Any, max_files: int) -> list[Upload]:
    """The images of a request: every file part of a multipart form, or the raw body."""
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() == "multipart/form-data":
        from starlette.datastructures import UploadFile

        # max_files + 1 so that one too many is reported by our own check below.
        form = await request.form(max_files=max_files + 1, max_fields=max_files + 1)
        try:
            uploads: list[Upload] = []
            for field, value in form.multi_items():
                if not isinstance(value, UploadFile):
                    raise Rejected(
                        400,
                        "bad_request",
                        f"form field {field!r} is text; send images as file parts only (the "
                        "service never reads server paths or fetches URLs)",
                    )
                uploads.append(
                    Upload(client_name(value.filename, len(uploads)), await value.read())
                )
        finally:
            await form.close()
    else:
        data = await request.body()
        uploads = [Upload("body", data)] if data else []
    if not uploads:
        raise Rejected(
            400,
            "bad_request",
            "no image in the request; send multipart/form-data file parts or a raw image body",
        )
    if len(uploads) > max_files:
        raise Rejected(
            413,
            "too_many_files",
            f"{len(uploads)} images in one request; the limit is {max_files} (--max-files)",
        )
    return uploads


def client_name(filename: str | None, index: int) -> str:
    """The base name of the client's file name, for display only (never used as a path)."""
    if not filename:
        return f"file-{index + 1}"
    base = posixpath.basename(ntpath.basename(filename))
    base = "".join(ch for ch in base if ch.isprintable())[:255]
    return base or f"file-{index + 1}"


# -------------------------------------------------------------------------------- content


def sniff_format(data: bytes) -> str | None:
    """The format of ``data`` from its first bytes (one of ALLOWED_FORMATS), or None."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    for signature, name in _SIGNATURES:
        if data.startswith(signature):
            return name
    return None


def decode_upload(data: bytes, max_pixels: int | None) -> Image.Image:
    """Sniff, check and decode one upload into an RGB image as ``genziqa score`` would.

    Raises :class:`Rejected`: 415 when the bytes do not start like one of
    :data:`ALLOWED_FORMATS`, 413 for more pixels than ``max_pixels`` (read from the header),
    422 for a corrupt or unusable image, with the reason the CLI writes in its error row.
    """
    if not data:
        raise Rejected(422, "corrupt_image", "empty file (0 bytes)")
    kind = sniff_format(data)
    if kind is None:
        raise Rejected(
            415,
            "unsupported_media_type",
            f"not a supported image: the content is none of {', '.join(ALLOWED_FORMATS)} "
            "(it is sniffed; the file name and Content-Type are not used)",
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        pixels = 0
        try:  # the header only, with the sniffed format's plugin only
            with Image.open(io.BytesIO(data), formats=[kind]) as probe:
                pixels = probe.size[0] * probe.size[1]
        except Image.DecompressionBombError:
            pixels = -1  # over twice Pillow's limit; the decoder below says how many
        except Exception:
            pass  # a damaged header: the decoder below gives the CLI's reason (422)
        try:
            return decode_image(data, "upload", max_pixels=max_pixels)
        except ImageError as error:
            too_big = pixels < 0 or (max_pixels is not None and pixels > max_pixels)
            if too_big or _BOMB_MARK in error.reason:
                raise Rejected(413, "too_many_pixels", error.reason) from None
            raise Rejected(422, "corrupt_image", error.reason) from None
