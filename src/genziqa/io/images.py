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
   - Every 16-bit mode keeps the high byte, ``value >> 8`` (65535 -> 255, 32896 -> 128,
     255 -> 0): ``I;16``, ``I;16L``, ``I;16B``, ``I;16N`` (16-bit grayscale) and ``I`` (32-bit
     integer grayscale, clipped to [0, 65535] first) here, and 16-bit RGB, RGBA and grey+alpha
     files by Pillow itself, which decodes them to 8 bits that way and never hands over the
     low byte. ``round(value / 257)`` would be a little more exact for grey, but colour cannot
     get it, and one rule for every mode means that a 16-bit file and its 8-bit copy made by
     that rule decode to the same pixels, grey or colour (Pillow's own ``convert`` of grey
     would clip everything above 255 to white).
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

import errno
import fnmatch
import glob
import io
import os
import re
import stat
import threading
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, cast

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "IMAGE_EXTENSIONS",
    "ImageError",
    "ImageSearch",
    "decode_image",
    "find_images",
    "load_image",
    "search_images",
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


@dataclass(frozen=True)
class ImageSearch:
    """What :func:`search_images` found: the files, and how many image files it left out
    because they lie in subfolders of a folder input and the search was not recursive."""

    files: list[Path]
    left_in_subfolders: int = 0


def find_images(
    inputs: Sequence[str | Path],
    recursive: bool = False,
    extensions: frozenset[str] | None = None,
) -> list[Path]:
    """The image files named by ``inputs`` (see :func:`search_images`), sorted."""
    return search_images(inputs, recursive, extensions=extensions).files


def search_images(
    inputs: Sequence[str | Path],
    recursive: bool = False,
    *,
    listed: Sequence[str | Path] = (),
    extensions: frozenset[str] | None = None,
) -> ImageSearch:
    """Expand files, folders and glob patterns into a sorted list of image files.

    ``extensions`` replaces ``IMAGE_EXTENSIONS`` below (e.g. images and videos together for
    ``genziqa score``).

    - A file is always kept, whatever its extension, so that a wrongly named file later gets
      an error row rather than being skipped silently. So is a symbolic link that leads
      nowhere (its target is missing, or it is a loop), named or met in a folder or glob: it
      becomes an error row that says so, never a stop of the run nor a silent gap.
    - A folder contributes its files whose extension (case-insensitive) is in
      ``IMAGE_EXTENSIONS``: the top level only, or all levels when ``recursive``. Hidden files
      and folders (name starting with ".") inside it are skipped; symlinked folders are not
      followed. Without ``recursive``, the image files in its (non-hidden) subfolders are
      counted in ``left_in_subfolders``, so that the caller can say what was left out.
    - A glob pattern (``*``, ``?``, ``[``; ``**`` spans folders only when ``recursive``) is
      expanded; matching files are kept if their extension is in ``IMAGE_EXTENSIONS``,
      matching folders are treated like folder inputs. As with the shell, ``*`` does not
      match names starting with ".". The file-name part of a pattern (after the last ``/``)
      ignores case, as folder scanning ignores the case of extensions: ``*.jpg`` finds
      ``c.JPG``; the folder parts match as the file system does.
    - ``listed``: paths read from a list (``genziqa score -``: one per line), taken
      literally: never glob-expanded, a folder is a folder input, and anything else, even a
      path that does not exist, is kept so that it gets an error row (a list of thousands of
      paths is not stopped by one stale line).

    Returns absolute, resolved paths without duplicates, sorted by their string (a link that
    leads nowhere keeps its own name). Raises ``FileNotFoundError`` naming the input when it
    is neither an existing file, folder or link nor a pattern that matches something.
    """
    for name, value in (("inputs", inputs), ("listed", listed)):
        if isinstance(value, (str, Path)):
            raise TypeError(
                f"{name} must be a sequence of paths, got a single {type(value).__name__}: "
                f"{value!r}; wrap it in a list"
            )
    wanted = IMAGE_EXTENSIONS if extensions is None else extensions
    found: set[Path] = set()
    left_out = 0
    for item in inputs:
        path = Path(item).expanduser()
        if _is_folder(path):
            left_out += _add_folder(found, path, recursive, wanted)
        elif _lexists(path):
            found.add(_kept(path))
        elif _GLOB_CHARS.search(str(item)):
            matches = _glob_ignoring_case(str(path), recursive)
            if not matches:
                raise _not_found(item, "glob pattern matched nothing")
            for match in matches:
                if match.is_dir():
                    left_out += _add_folder(found, match, recursive, wanted)
                elif match.suffix.lower() in wanted:
                    found.add(_kept(match))
        else:
            raise _not_found(item, "no such file or folder")
    for item in listed:
        path = Path(item).expanduser()
        if _is_folder(path):
            left_out += _add_folder(found, path, recursive, wanted)
        else:
            found.add(_kept(path))
    return ImageSearch(sorted(found, key=str), left_out)


def _is_folder(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:  # e.g. inside a folder we may not read: kept as a file, an error row
        return False


def _lexists(path: Path) -> bool:
    """Whether anything is at ``path``: a file, a folder, or a link, even one leading nowhere."""
    try:
        return path.exists() or path.is_symlink()
    except OSError:
        return True


def _kept(path: Path) -> Path:
    """The absolute resolved path of a file; a link that leads nowhere keeps its own name."""
    try:
        if path.exists():
            return path.resolve()
    except (OSError, RuntimeError):  # RuntimeError: Python < 3.13 on a symlink loop
        pass
    return path.absolute().parent.resolve() / path.name


def _add_folder(
    found: set[Path], folder: Path, recursive: bool, extensions: frozenset[str] = IMAGE_EXTENSIONS
) -> int:
    """Add a folder's image files to ``found``; return how many lie in subfolders unseen."""
    left_out = 0
    for root, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        top = Path(root) == folder
        for name in filenames:
            candidate = Path(root, name)
            if name.startswith(".") or candidate.suffix.lower() not in extensions:
                continue
            if not (recursive or top):
                left_out += 1
            elif candidate.is_file() or candidate.is_symlink():
                found.add(_kept(candidate))
    return left_out


def _glob_ignoring_case(pattern: str, recursive: bool) -> list[Path]:
    """``glob.glob`` whose last component ignores case (see :func:`search_images`)."""
    head, tail = os.path.split(pattern)
    if not tail or tail.lower() == tail.upper():  # nothing case-sensitive in the name part
        return [Path(match) for match in glob.glob(pattern, recursive=recursive)]
    wildcard = "**" if "**" in tail and recursive else ".*" if tail.startswith(".") else "*"
    name_matches = re.compile(fnmatch.translate(tail), re.IGNORECASE).match
    candidates = glob.glob(os.path.join(head, wildcard), recursive=recursive)
    return [Path(match) for match in candidates if name_matches(os.path.basename(match))]


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
        if path.is_symlink():
            raise ImageError(
                path, f"dangling symbolic link: its target {os.readlink(path)} does not exist"
            ) from None
        raise ImageError(path, "file not found") from None
    except IsADirectoryError:
        raise ImageError(path, "is a directory, not an image file") from None
    except PermissionError:
        if path.is_dir():
            raise ImageError(path, "is a directory, not an image file") from None
        raise ImageError(path, "permission denied (the file cannot be read)") from None
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise ImageError(path, "symbolic link loop (the link leads back to itself)") from None
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
    """16/32-bit integer grayscale -> RGB by value >> 8 over [0, 65535] (the module's rule)."""
    values = np.asarray(image).astype(np.int64)
    transparent = None
    key = image.info.get("transparency")
    if isinstance(key, int):
        transparent = values == key
    gray = (np.clip(values, 0, 65535) >> 8).astype(np.uint8)
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
