"""Explain many image files: per image an overlay PNG and the raw map (.npy, float16), plus
one score row, written batch by batch.

A row is written only after both of its files are in place (each written atomically), so a
row in the table means the files exist, and a killed run resumes from the table like
``genziqa score``. Bad files become error rows with their reason and never stop the run.
"""

from __future__ import annotations

import hashlib
import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..io.durable import atomic_write
from ..io.images import DEFAULT_MAX_PIXELS, ImageError, load_image

if TYPE_CHECKING:
    from ..model import GenzIQA

Row = dict[str, object]
MAP_SIZES = ("latent", "image")


@dataclass
class ExplainSummary:
    explained: int = 0
    failed: int = 0
    written: list[Path] = field(default_factory=list)


def output_names(paths: Sequence[Path]) -> dict[Path, str]:
    """A file name stem per input: its own stem, or ``stem-<8 hex of sha256(path)>`` for
    stems that two inputs share (``a/x.png`` and ``b/x.jpg``)."""
    counts: dict[str, int] = {}
    for path in paths:
        counts[path.stem] = counts.get(path.stem, 0) + 1
    return {
        path: path.stem
        if counts[path.stem] == 1
        else f"{path.stem}-{hashlib.sha256(str(path).encode()).hexdigest()[:8]}"
        for path in paths
    }


def _png_bytes(image: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _npy_bytes(values: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(values, dtype="<f2"), allow_pickle=False)
    return buffer.getvalue()


def explain_files(
    model: GenzIQA,
    paths: Sequence[Path],
    out: Path,
    write: Callable[[list[Row]], None],
    *,
    names: dict[Path, str] | None = None,
    kind: str = "contribution",
    map_size: str = "latent",
    overlay: dict[str, Any] | None = None,
    batch_size: int = 8,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    on_progress: Callable[[int], None] | None = None,
) -> ExplainSummary:
    """Explain ``paths`` in batches into ``out``: ``<name>.png`` (``Explanation.overlay`` with
    the ``overlay`` options) and ``<name>.npy`` (the ``kind`` map, float16: on the latent grid
    for ``map_size="latent"``, at the image's size for ``"image"``); ``write(rows)`` once per
    batch, after its files. ``names``: the stem per path (default ``output_names(paths)``)."""
    if map_size not in MAP_SIZES:
        raise ValueError(f"unknown map size {map_size!r}; expected one of {', '.join(MAP_SIZES)}")
    names = names or output_names(paths)
    summary = ExplainSummary()
    for start in range(0, len(paths), batch_size):
        batch = list(paths[start : start + batch_size])
        rows: dict[Path, Row] = {}
        images, good = [], []
        for path in batch:
            try:
                images.append(load_image(path, max_pixels=max_pixels))
                good.append(path)
            except ImageError as error:
                rows[path] = _error_row(path, error.reason)
        if images:
            try:
                explanation = model.explain(images, kind=kind, batch_size=len(images))
            except (RuntimeError, ValueError) as error:  # e.g. out of memory: report, go on
                reason = f"explaining failed: {str(error).strip().splitlines()[0]}"
                rows.update({path: _error_row(path, reason) for path in good})
            else:
                for i, path in enumerate(good):
                    score = float(explanation.score[i])
                    if not math.isfinite(score):
                        reason = f"the model produced a non-finite score ({score})"
                        rows[path] = _error_row(path, reason)
                        continue
                    values = (
                        explanation.latent_map(i)
                        if map_size == "latent"
                        else explanation.image_map(i)
                    )
                    picture = explanation.overlay(i, **(overlay or {}))
                    files = {".png": _png_bytes(picture), ".npy": _npy_bytes(values)}
                    for suffix, data in files.items():
                        target = out / f"{names[path]}{suffix}"
                        atomic_write(target, data)
                        summary.written.append(target)
                    rows[path] = {"path": str(path), "score": score, "status": "ok", "error": ""}
        ordered = [rows[path] for path in batch]
        write(ordered)
        summary.explained += sum(row["status"] == "ok" for row in ordered)
        summary.failed += sum(row["status"] == "error" for row in ordered)
        if on_progress is not None:
            on_progress(len(ordered))
    return summary


def _error_row(path: Path, reason: str) -> Row:
    return {"path": str(path), "score": float("nan"), "status": "error", "error": reason}
