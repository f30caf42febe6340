"""Tiny real video files (PyAV) for the video-database fixtures, and shared checks.

Each container gets the codec its databases ship: H.264 in .mp4 (KoNViD, LSVQ, LIVE-VQC,
YouTube-UGC transcodes), MPEG-4 Part 2 in .avi (CVD2014), VP9 in .webm (LIVE-YT-HFR) and
.mkv (YouTube-UGC originals). A clip is 8 frames of 32x32 (a moving ramp), encoded once per
container and copied, so a fixture folder of many videos takes milliseconds.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pandas as pd

CONTAINERS = {
    ".mp4": ("mp4", "libx264"),
    ".avi": ("avi", "mpeg4"),
    ".webm": ("webm", "libvpx-vp9"),
    ".mkv": ("matroska", "libvpx-vp9"),
}
FRAMES, SIZE, FPS = 8, 32, 8
_BYTES: dict[str, bytes] = {}


def clip_bytes(suffix: str) -> bytes:
    """The encoded bytes of the tiny clip in the container of `suffix` (cached)."""
    import av

    suffix = suffix.lower()
    if suffix not in _BYTES:
        container_format, codec = CONTAINERS[suffix]
        ramp = np.linspace(0, 255, SIZE, dtype=np.float64)
        buffer = io.BytesIO()
        with av.open(buffer, "w", format=container_format) as container:
            stream = container.add_stream(codec, rate=FPS)
            stream.width = stream.height = SIZE
            stream.pix_fmt = "yuv420p"
            for index in range(FRAMES):
                shifted = np.roll(ramp, 3 * index)
                rgb = np.stack([np.tile(shifted, (SIZE, 1))] * 3, axis=-1).astype(np.uint8)
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                frame.pts = index
                container.mux(stream.encode(frame))
            container.mux(stream.encode())
        _BYTES[suffix] = buffer.getvalue()
    return _BYTES[suffix]


def write_clip(path: Path) -> Path:
    """Write the tiny real clip at `path`, in the container its extension names."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(clip_bytes(path.suffix))
    return path


def read_frames(path: str | os.PathLike[str]) -> np.ndarray:
    """Every decoded frame of a video file as (T, H, W, 3) uint8 RGB."""
    import av

    with av.open(os.fspath(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def mat_cell(names: list[str], shape: tuple[int, int]) -> np.ndarray:
    """A MATLAB cell array of strings, as scipy.io.savemat writes it (an object array)."""
    cell = np.empty(len(names), dtype=object)
    cell[:] = names
    return cell.reshape(shape)


def check_contract(table: pd.DataFrame, name: str) -> None:
    """The canonical-table contract of genziqa.datasets.base, for a video database."""
    assert list(table.columns) == ["path", "mos", "score", "split", "ref_id", "dataset"]
    assert all(os.path.isabs(p) and os.path.isfile(p) for p in table["path"])
    assert table["mos"].dtype == np.float64 and table["score"].dtype == np.float64
    assert table["score"].between(0.0, 1.0).all()
    assert set(table["split"]) <= {"", "train", "val", "test"}
    assert all(isinstance(v, str) for v in table["ref_id"])
    assert (table["dataset"] == name).all()
    assert list(table["path"]) == sorted(table["path"])


def names(table: pd.DataFrame, root: Path) -> list[str]:
    """The table's paths relative to `root`, POSIX style, in table order."""
    return [Path(p).relative_to(root).as_posix() for p in table["path"]]
