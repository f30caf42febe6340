"""Tiny real video files for the tests, written with PyAV, whose frames say their own index.

Frame i shows the bits of i as black/white 16x16 blocks (6 columns x 3 rows, 18 bits) above a
16-pixel left-to-right grey ramp that marks the orientation. The blocks survive lossy and
lossless coding alike, so :func:`read_index` recovers i from any decoded frame, and a rotated
or mirrored frame is told apart from an upright one by the ramp. Frames are 96 x 64 (W x H),
not square, so a 90-degree rotation also shows in the shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

WIDTH, HEIGHT = 96, 64
_BLOCK, _COLUMNS, _ROWS = 16, 6, 3

# Settings that keep each codec lossless (or nearly), so pixel values are predictable.
LOSSLESS = {
    "libx264": {"qp": "0"},
    "libx265": {"x265-params": "lossless=1:log-level=error"},
    "libvpx-vp9": {"lossless": "1", "deadline": "realtime", "cpu-used": "8"},
    "ffv1": {},
    "mpeg4": {"qscale": "1"},
}


def pattern(index: int, width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    """The upright RGB frame (height, width, 3) uint8 that encodes ``index``."""
    if not 0 <= index < 2 ** (_COLUMNS * _ROWS):
        raise ValueError(f"index {index} does not fit in {_COLUMNS * _ROWS} bits")
    frame = np.zeros((height, width, 3), np.uint8)
    for bit in range(_COLUMNS * _ROWS):
        if index >> bit & 1:
            row, column = divmod(bit, _COLUMNS)
            frame[row * _BLOCK : (row + 1) * _BLOCK, column * _BLOCK : (column + 1) * _BLOCK] = 255
    ramp = np.linspace(32, 224, width).astype(np.uint8)
    frame[_ROWS * _BLOCK :, :] = ramp[None, :, None]
    return frame


def read_index(frame: np.ndarray) -> int:
    """The index an upright decoded frame (H, W, 3) shows; checks the ramp is upright too."""
    if frame.shape[:2] != (HEIGHT, WIDTH):
        raise AssertionError(f"frame is {frame.shape[1]}x{frame.shape[0]}, not upright")
    ramp = frame[_ROWS * _BLOCK + 4 :, :, 1].astype(float).mean(axis=0)
    if not ramp[-8:].mean() > ramp[:8].mean() + 100:
        raise AssertionError("the orientation ramp is not left-to-right: frame not upright")
    value = 0
    for bit in range(_COLUMNS * _ROWS):
        row, column = divmod(bit, _COLUMNS)
        block = frame[
            row * _BLOCK + 4 : (row + 1) * _BLOCK - 4,
            column * _BLOCK + 4 : (column + 1) * _BLOCK - 4,
        ]
        if block.mean() > 128:
            value |= 1 << bit
    return value


def write_video(
    path: Path,
    num_frames: int,
    *,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    fps: int = 25,
    container: str | None = None,
    rotation: int | None = None,
    hflip: bool = False,
    pts_ms: Sequence[int] | None = None,
    frames: Sequence[np.ndarray] | None = None,
    options: dict[str, str] | None = None,
    metadata: dict[str, str] | None = None,
    audio: bool = False,
    faststart: bool = False,
    color_range: str | None = None,
) -> Path:
    """Encode ``num_frames`` pattern frames (or the given ``frames``) into ``path``.

    ``rotation``/``hflip`` write a display matrix (counter-clockwise degrees, mirror after);
    ``pts_ms`` gives each frame's timestamp in milliseconds (variable frame rate);
    ``metadata`` sets stream tags (e.g. a legacy ``rotate``); ``audio`` adds a silent track;
    ``frames`` may be RGB or RGBA; ``color_range="JPEG"`` writes full-range YUV, tagged so.
    """
    import av

    path = Path(path)
    muxer_options = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), "w", format=container, options=muxer_options) as output:
        stream = output.add_stream(codec, rate=fps)
        sample = frames[0] if frames is not None else pattern(0)
        stream.height, stream.width = sample.shape[:2]
        stream.pix_fmt = pix_fmt
        stream.options = dict(LOSSLESS.get(codec, {}) if options is None else options)
        if pts_ms is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
        if color_range is not None:
            stream.codec_context.color_range = getattr(av.video.reformatter.ColorRange, color_range)
        if rotation is not None or hflip:
            stream.set_display_rotation(rotation or 0, hflip=hflip)
        for key, value in (metadata or {}).items():
            stream.metadata[key] = value
        sound = output.add_stream("aac", rate=16000) if audio else None
        for i in range(num_frames):
            rgb = frames[i] if frames is not None else pattern(i, sample.shape[1], sample.shape[0])
            layout = "rgba" if rgb.shape[2] == 4 else "rgb24"
            frame = av.VideoFrame.from_ndarray(rgb, format=layout).reformat(
                format=pix_fmt, dst_color_range=color_range
            )
            if color_range is not None:
                frame.color_range = getattr(av.video.reformatter.ColorRange, color_range)
            if pts_ms is not None:
                frame.pts, frame.time_base = pts_ms[i], Fraction(1, 1000)
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode():
            output.mux(packet)
        if sound is not None:
            _write_silence(av, output, sound, seconds=num_frames / fps)
    return path


def write_audio_only(path: Path, seconds: float = 0.5, container: str | None = None) -> Path:
    """An audio-only file (AAC) in a video container name such as .mp4."""
    import av

    with av.open(str(path), "w", format=container) as output:
        sound = output.add_stream("aac", rate=16000)
        _write_silence(av, output, sound, seconds)
    return path


def write_video_stream_without_frames(path: Path) -> Path:
    """A Matroska file whose video stream exists but holds no packets (audio only has data)."""
    import av

    with av.open(str(path), "w", format="matroska") as output:
        video = output.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        sound = output.add_stream("aac", rate=16000)
        _write_silence(av, output, sound, 0.5)
    return path


def _write_silence(av, output, stream, seconds: float) -> None:
    samples = 1024
    for i in range(max(1, int(seconds * 16000 / samples))):
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, samples), np.float32), format="fltp", layout="mono"
        )
        frame.sample_rate, frame.pts = 16000, i * samples
        for packet in stream.encode(frame):
            output.mux(packet)
    for packet in stream.encode():
        output.mux(packet)
