"""How images, maps and scores travel in JSON: base64 PNG overlays and base64 ``.npy`` maps.

Raw maps are sent as the bytes of a NumPy ``.npy`` file (float16, C order, no pickle),
base64-encoded: ``np.load(io.BytesIO(base64.b64decode(s)), allow_pickle=False)`` reads one
back in Python, and the page's JavaScript parses the same bytes (the format is a short text
header and the raw little-endian values). float16 halves the size of float32 and keeps 3
significant digits, more than a colour map shows.
"""

from __future__ import annotations

import base64
import io
import math
from typing import Any

import numpy as np
from PIL import Image


def to_numpy(value: Any) -> np.ndarray:
    """A tensor (any device, its dtype kept; bfloat16 -> float32) or array-like -> NumPy."""
    if hasattr(value, "detach"):
        value = value.detach().to("cpu")
        if str(value.dtype) == "torch.bfloat16":  # NumPy has no bfloat16
            value = value.float()
        value = value.numpy()
    return np.asarray(value)


def fit_within(width: int, height: int, max_side: int | None) -> tuple[int, int]:
    """The size that fits ``width`` x ``height`` into ``max_side`` keeping the aspect ratio."""
    if max_side is None or max(width, height) <= max_side:
        return width, height
    scale = max_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def encode_png(image: Image.Image, max_side: int | None = None) -> str:
    """An RGB image -> base64 PNG, shrunk (Lanczos) to fit ``max_side`` when given."""
    size = fit_within(*image.size, max_side)
    if size != image.size:
        image = image.resize(size, Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="PNG", optimize=False)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def encode_map(values: Any, max_side: int | None = None) -> dict[str, Any]:
    """A 2-D map -> ``{"dtype": "float16", "shape": [H, W], "npy_b64": ...}``.

    With ``max_side`` a larger map is averaged down (box filter) to fit it, for display; the
    shape says what was sent. Non-finite values are sent as they are.
    """
    array = to_numpy(values).astype(np.float32)
    if array.ndim != 2:
        raise ValueError(f"a map must be 2-D (H, W), got shape {array.shape}")
    height, width = array.shape
    size = fit_within(width, height, max_side)
    if size != (width, height):
        array = np.asarray(Image.fromarray(array).resize(size, Image.Resampling.BOX))
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array, dtype="<f2"), allow_pickle=False)
    return {
        "dtype": "float16",
        "shape": [int(array.shape[0]), int(array.shape[1])],
        "npy_b64": base64.b64encode(buffer.getvalue()).decode("ascii"),
    }


def decode_map(encoded: dict[str, Any]) -> np.ndarray:
    """The inverse of :func:`encode_map` (for clients and tests)."""
    data = base64.b64decode(encoded["npy_b64"])
    return np.load(io.BytesIO(data), allow_pickle=False)


def json_score(value: float) -> float | None:
    """A finite float as is; NaN and infinities (not valid JSON) as null."""
    return value if math.isfinite(value) else None
