"""Tiny real files for the image-database fixtures: images in any format, MATLAB cells,
and the canonical-table contract every adapter must meet."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP"}
_BYTES: dict[str, bytes] = {}


def image(path: Path) -> Path:
    """Write a tiny real 8x8 image in the format of its extension."""
    fmt = _FORMATS[path.suffix.lower()]
    if fmt not in _BYTES:
        buffer = io.BytesIO()
        Image.new("RGB", (8, 8), (120, 60, 30)).save(buffer, format=fmt)
        _BYTES[fmt] = buffer.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_BYTES[fmt])
    return path


def cell(names: list[str], shape: tuple[int, int]) -> np.ndarray:
    """A MATLAB cell array of strings, as scipy.io.savemat writes it (an object array)."""
    cell = np.empty(len(names), dtype=object)
    cell[:] = names
    return cell.reshape(shape)


def check_contract(table: pd.DataFrame, name: str) -> None:
    assert list(table.columns) == ["path", "mos", "score", "split", "ref_id", "dataset"]
    assert all(os.path.isabs(p) and os.path.isfile(p) for p in table["path"])
    assert table["mos"].dtype == np.float64 and table["score"].dtype == np.float64
    assert table["score"].between(0.0, 1.0).all()
    assert set(table["split"]) <= {"", "train", "val", "test"}
    assert all(isinstance(v, str) for v in table["ref_id"])
    assert (table["dataset"] == name).all()
