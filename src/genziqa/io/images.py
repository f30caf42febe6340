"""Find image files and decode them, robustly, into 8-bit RGB.

Scoring runs over folders of real-world photos, so every file either becomes a fully decoded
RGB image or an :class:`ImageError` whose one-line message says what was wrong with it; the
caller turns that into an error row instead of stopping the run.

Conversion done by :func:`load_image`, in this order:

1. The whole file is decoded (``Image.load()``), so truncated or corrupt data fails here and
   not later. Pillow's ``ImageFile.LOAD_TRUNCATED_IMAGES`` is left as it is (False by default),
   so truncated JPEG/PNG data is an error, not a half-grey image.
2. Animated GIF/WebP/APNG and multi-page TIFF: only the first frame (page) is used.
3. The EXIF orientation tag is applied (``ImageOps.exif_transpose``), so the image is upright
   as a viewer shows it; tag 6, for example, swaps width and height.
4. The pixel mode is converted to RGB with 8 bits per channel:

   - ``RGB``: copied as is.
   - ``L`` (grayscale): the value is replicated into R, G and B.
   - ``1`` (1-bit): 0 -> (0, 0, 0), 1 -> (255, 255, 255).
   - ``P`` (palette): looked up in the palette.
   - ``CMYK``, ``YCbCr``, ``LAB``, ``HSV``: Pillow's own ``convert("RGB")``.
   - ``I;16``, ``I;16L``, ``I;16B``, ``I;16N`` (16-bit grayscale) and ``I`` (32-bit integer
     grayscale): scaled over the full 16-bit range, ``round(value / 257)``, so 65535 -> 255 and
     32896 -> 128 (Pillow's own conversion would clip everything above 255 to white). ``I``
     values outside [0, 65535] are clipped to that range first.
   - ``F`` (32-bit float grayscale): read as [0, 1] when its largest finite value is <= 1,
     otherwise as [0, 255]; then scaled to [0, 255], clipped and rounded. NaN becomes 0,
     +inf the top of the range, -inf 0.
   - Images with alpha (``RGBA``, ``LA``, ``PA``, ``RGBa``, and ``P``/``L``/``RGB``/``I;16``
     images with a ``transparency`` entry) are composited over a WHITE background:
     ``out = alpha * colour + (1 - alpha) * 255``. White matches how such images are usually
     seen (browsers, viewers and documents show them on white), and it makes the colour
     stored under fully transparent pixels, which is arbitrary and often garbage, irrelevant
     to the score. Palette images with transparency go through RGBA for this.

The result is always a new ``"RGB"`` image that holds no open file.

Decompression bombs: an image with more than ``max_pixels`` pixels (width * height, read from
the header) is refused before any pixel data is decoded. Pillow's global
``Image.MAX_IMAGE_PIXELS`` is never changed permanently: its warning is silenced locally, and
only when the caller raises the limit above twice Pillow's (or disables it with ``None``) is
the global set to the caller's limit for the duration of the call, under a lock, and restored.
"""

from __future__ import annotations

import glob
import io
import os
import re
import stat
import threading
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, cast

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "IMAGE_EXTENSIONS",
    "ImageError",
    "decode_image",
    "find_images",
    "load_image",
]


DEFAULT_MAX_PIXELS = 89_478_485
"""Pillow's default ``Image.MAX_IMAGE_PIXELS`` (a 1 GiB RGBA-equivalent budget / 3): larger
images are refused as decompression bombs unless the caller raises the limit."""

_REQUIRED_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"}
)


def _openable_extensions() -> frozenset[str]:
    """The lower-case extensions of every format that Pillow here has an open plugin for."""
    Image.init()
    registered = Image.registered_extensions()
    openable = {ext.lower() for ext, fmt in registered.items() if fmt in Image.OPEN}
    return frozenset(openable | _REQUIRED_EXTENSIONS)


IMAGE_EXTENSIONS: frozenset[str] = _openable_extensions()
"""Lower-case file extensions (with the dot) that folders and globs contribute."""

_GLOB_CHARS = re.compile(r"[*?\[]")
_GRAY16_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})
_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa"})
_PILLOW_LIMIT_LOCK = threading.Lock()


# --------------------------------------------------------------------------------------------
# Finding files
# --------------------------------------------------------------------------------------------


def find_images(
    inputs: Sequence[str | Path],
    recursive: bool = False,
    extensions: frozenset[str] | None = None,
) -> list[Path]:
    """Expand files, folders and glob patterns into a sorted list of image files.

    ``extensions`` replaces ``IMAGE_EXTENSIONS`` below (e.g. images and videos together for
    ``genziqa score``).

    - A file is always kept, whatever its extension, so that a wrongly named file later gets
      an error row rather than being skipped silently.
    - A folder contributes its files whose extension (case-insensitive) is in
      ``IMAGE_EXTENSIONS``: the top level only, or all levels when ``recursive``. Hidden files
      and folders (name starting with ".") inside it are skipped; symlinked folders are not
      followed.
    - A glob pattern (``*``, ``?``, ``[``; ``**`` spans folders only when ``recursive``) is
      expanded; matching files are kept if their extension is in ``IMAGE_EXTENSIONS``,
      matching folders are treated like folder inputs. As with the shell, ``*`` does not
      match names starting with ".".

    Returns absolute, resolved paths without duplicates, sorted by their string. Raises
    ``FileNotFoundError`` naming the input when it is neither an existing file or folder nor
    a pattern that matches something.
    """
    if isinstance(inputs, (str, Path)):
        raise TypeError(
            f"inputs must be a sequence of paths, got a single {type(inputs).__name__}: "
            f"{inputs!r}; wrap it in a list"
        )
    wanted = IMAGE_EXTENSIONS if extensions is None else extensions
    found: set[Path] = set()
    for item in inputs:
        path = Path(item).expanduser()
        if path.is_dir():
            found.update(_images_in_folder(path, recursive, wanted))
        elif path.exists():
            found.add(path.resolve())
        elif _GLOB_CHARS.search(str(item)):
            matches = glob.glob(str(path), recursive=recursive)
            if not matches:
                raise _not_found(item, "glob pattern matched nothing")
            for match in map(Path, matches):
                if match.is_dir():
                    found.update(_images_in_folder(match, recursive, wanted))
                elif match.suffix.lower() in wanted:
                    found.add(match.resolve())
        else:
            raise _not_found(item, "no such file or folder")
    return sorted(found, key=str)


def _images_in_folder(
    folder: Path, recursive: bool, extensions: frozenset[str] = IMAGE_EXTENSIONS
) -> Iterator[Path]:
    """Yield the resolved image files of a folder, skipping hidden entries."""
    for root, dirnames, filenames in os.walk(folder):
        if recursive:
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        else:
            dirnames.clear()
        for name in filenames:
            candidate = Path(root, name)
            wanted = candidate.suffix.lower() in extensions
            if not name.startswith(".") and wanted and candidate.is_file():
                yield candidate.resolve()


def _not_found(item: str | Path, why: str) -> FileNotFoundError:
    return FileNotFoundError(f"{item}: {why}")


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


class ImageError(Exception):
    """An image file that cannot be scored; ``reason`` says why in one line."""

    def __init__(self, path: str | Path, reason: str) -> None:
        super().__init__(path, reason)
        self.path = Path(path)
        self.reason = " ".join(str(reason).split())

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def load_image(
    path: str | Path,
    *,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    min_size: int = 16,
) -> Image.Image:
    """Decode an image file fully into a new 8-bit ``"RGB"`` image (see the module docstring).

    ``max_pixels`` refuses images with more pixels (width * height) before decoding them, as a
    guard against decompression bombs; ``None`` disables the guard. ``min_size`` is the
    smallest allowed shorter side, in pixels, below which an image is too small to score.
    Raises :class:`ImageError` for every problem with the file itself.
    """
    _check_limits(max_pixels, min_size)
    path = Path(path)
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed by the `with` below
    except FileNotFoundError:
        raise ImageError(path, "file not found") from None
    except IsADirectoryError:
        raise ImageError(path, "is a directory, not an image file") from None
    except PermissionError:
        if path.is_dir():
            raise ImageError(path, "is a directory, not an image file") from None
        raise ImageError(path, "permission denied (the file cannot be read)") from None
    except OSError as error:
        raise ImageError(path, f"could not open the file ({error.strerror or error})") from None

    with handle, _pillow_bomb_limit(max_pixels):
        info = os.fstat(handle.fileno())
        if stat.S_ISDIR(info.st_mode):
            raise ImageError(path, "is a directory, not an image file")
        if stat.S_ISREG(info.st_mode) and info.st_size == 0:
            raise ImageError(path, "empty file (0 bytes)")
        image = _decode(path, handle, max_pixels, min_size)
    return _to_rgb(path, image)


def decode_image(
    data: bytes,
    name: str | Path = "<bytes>",
    *,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    min_size: int = 16,
) -> Image.Image:
    """Decode an image held in memory (an upload, a tar member) exactly as :func:`load_image`
    decodes a file: the same conversion, limits and one-line :class:`ImageError` reasons.
    ``name`` only labels the errors."""
    _check_limits(max_pixels, min_size)
    path = Path(name)
    if not data:
        raise ImageError(path, "empty file (0 bytes)")
    with _pillow_bomb_limit(max_pixels):
        image = _decode(path, io.BytesIO(data), max_pixels, min_size)
    return _to_rgb(path, image)


def _check_limits(max_pixels: int | None, min_size: int) -> None:
    if max_pixels is not None and (isinstance(max_pixels, bool) or max_pixels < 1):
        raise ValueError(f"max_pixels must be a positive int or None, got {max_pixels!r}")
    if isinstance(min_size, bool) or min_size < 1:
        raise ValueError(f"min_size must be an int >= 1, got {min_size!r}")


@contextmanager
def _pillow_bomb_limit(max_pixels: int | None) -> Iterator[None]:
    """Let Pillow's own bomb check defer to ``max_pixels`` without changing it for good.

    Pillow warns above ``MAX_IMAGE_PIXELS`` and raises above twice that. The warning is
    silenced here (our own check refuses images first); the global is overridden, under a
    lock and restored afterwards, only when the caller's limit is above what Pillow lets
    through, so that a raised limit really admits a bigger image.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        pillow_limit = Image.MAX_IMAGE_PIXELS
        if pillow_limit is None or (max_pixels is not None and max_pixels <= 2 * pillow_limit):
            yield
            return
        with _PILLOW_LIMIT_LOCK:
            saved = Image.MAX_IMAGE_PIXELS
            Image.MAX_IMAGE_PIXELS = max_pixels
            try:
                yield
            finally:
                Image.MAX_IMAGE_PIXELS = saved


def _decode(path: Path, handle: BinaryIO, max_pixels: int | None, min_size: int) -> Image.Image:
    """Open, check the header size, decode the first frame and apply the EXIF orientation."""
    try:
        image = Image.open(handle)
    except UnidentifiedImageError:
        raise ImageError(path, "not an image (Pillow cannot identify the file format)") from None
    except Image.DecompressionBombError as error:
        raise ImageError(path, _bomb_reason(_pixels_in_message(str(error)), max_pixels)) from None
    except Exception as error:
        raise ImageError(path, _decode_failure(error)) from None

    with image:
        width, height = image.size
        if max_pixels is not None and width * height > max_pixels:
            raise ImageError(
                path, _bomb_reason(f"{width * height:,} ({width}x{height})", max_pixels)
            )
        if min(width, height) < min_size:
            raise ImageError(
                path,
                f"image too small to score: {width}x{height} pixels, the shorter side must be "
                f"at least {min_size}",
            )
        try:
            image.load()
            # exif_transpose always returns a new image (a copy when there is no tag), so the
            # result no longer depends on the open file.
            return cast(Image.Image, ImageOps.exif_transpose(image))
        except Image.DecompressionBombError as error:
            raise ImageError(
                path, _bomb_reason(_pixels_in_message(str(error)), max_pixels)
            ) from None
        except MemoryError:
            raise ImageError(
                path, f"not enough memory to decode the image ({width}x{height} pixels)"
            ) from None
        except Exception as error:
            raise ImageError(path, _decode_failure(error)) from None


def _bomb_reason(pixels: str, max_pixels: int | None) -> str:
    limit = "Pillow's limit" if max_pixels is None else f"the limit of {max_pixels:,} pixels"
    return (
        f"image has {pixels} pixels, more than {limit}; refused as a possible decompression "
        "bomb (raise max_pixels, or pass None, if the file is trusted)"
    )


def _pixels_in_message(message: str) -> str:
    match = re.search(r"\((\d+) pixels\)", message)
    return f"{int(match.group(1)):,}" if match else "too many"


def _decode_failure(error: Exception) -> str:
    """Turn whatever a Pillow plugin raised while decoding into a short, stable reason."""
    detail = str(error) or type(error).__name__
    if isinstance(error, EOFError) or "truncated" in detail.lower():
        return "truncated image file (could not decode all of it)"
    return f"corrupt image data (could not decode it: {detail})"


# --------------------------------------------------------------------------------------------
# Conversion to 8-bit RGB
# --------------------------------------------------------------------------------------------


def _to_rgb(path: Path, image: Image.Image) -> Image.Image:
    """Convert a decoded image of any mode to a new 8-bit RGB image (rules in module doc)."""
    mode = image.mode
    if mode in _GRAY16_MODES:
        return _gray16_to_rgb(image)
    if mode == "F":
        return _float_to_rgb(image)
    try:
        if mode in _ALPHA_MODES or "transparency" in image.info:
            return _over_white(image.convert("RGBA"))
        return image.convert("RGB")
    except ValueError as error:
        raise ImageError(
            path, f"unsupported pixel mode {mode!r} (cannot convert it to RGB: {error})"
        ) from None


def _over_white(rgba: Image.Image) -> Image.Image:
    """Composite an RGBA image over an opaque white background."""
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, rgba).convert("RGB")


def _gray16_to_rgb(image: Image.Image) -> Image.Image:
    """16/32-bit integer grayscale -> RGB by round(value / 257) over [0, 65535]."""
    values = np.asarray(image).astype(np.int64)
    transparent = None
    key = image.info.get("transparency")
    if isinstance(key, int):
        transparent = values == key
    gray = np.rint(np.clip(values, 0, 65535) / 257.0).astype(np.uint8)
    if transparent is not None:
        gray[transparent] = 255
    return Image.fromarray(gray).convert("RGB")


def _float_to_rgb(image: Image.Image) -> Image.Image:
    """Float grayscale -> RGB, read as [0, 1] if its largest finite value is <= 1, else [0, 255]."""
    values = np.asarray(image, dtype=np.float64)
    finite = np.isfinite(values)
    top = float(values[finite].max()) if finite.any() else 0.0
    upper = 1.0 if top <= 1.0 else 255.0
    values = np.clip(np.nan_to_num(values, nan=0.0, posinf=upper, neginf=0.0), 0.0, upper)
    gray = np.rint(values * (255.0 / upper)).astype(np.uint8)
    return Image.fromarray(gray).convert("RGB")
