"""Decode chosen frames of a video file, exactly and robustly, into 8-bit RGB (PyAV).

Needs the optional extra ``pip install 'genziqa[video]'`` (PyAV, which bundles FFmpeg); av is
imported inside the functions, so importing this module does not need it. Every problem with
a file is a :class:`VideoError` whose one-line ``reason`` says what was wrong; callers turn it
into an error row.

**Frame indices count decoded frames.** Frame i is the i-th frame the decoder outputs (display
order), never a timestamp, so variable frame rates, B-frames and edit lists cannot shift it,
and N, the number of frames, is what decoding produces, not what the header says (container
counts lie, VIDEO.md 5). This is the reference's ``len(skvideo.io.vread(path))`` semantics.
:func:`decode_into` does it in one decoding pass with memory bounded by what is kept:

1. A demux-only pass counts the video packets (no decoding; fast) as a first guess of N.
2. The sinks (:class:`FrameSink`) say which indices they want for that N; one sequential
   decode converts only those frames to RGB and hands them over; all others are dropped.
3. If the decoder produced a different number of frames than guessed (a packet that decodes
   to nothing, packed frames), step 2 is repeated with the decoded count, so the result is
   always the one for the true decoded N.

**Conversion to 8-bit RGB** (the rule for every pixel format):

- 8-bit formats: FFmpeg's swscale through PyAV, ``to_ndarray(format="rgb24")`` with its
  default settings, using the frame's own colour matrix (BT.601 when untagged) and range
  (limited unless tagged full or a ``yuvj`` format).
- More than 8 bits (10-, 12-, 16-bit, e.g. yuv420p10le): swscale to 16-bit RGB (``rgb48le``,
  same matrix and range), then ``round(value / 257)``, the rule the image loader uses for
  16-bit images. (swscale's direct 10-bit -> rgb24 path is off by about 2 levels: a grey
  that should be 121 comes out 119.) No tone mapping: PQ/HLG (HDR) values stay as coded;
  ``VideoInfo.hdr`` says when a stream is tagged so.
- Formats with alpha: composited over white, as for images.

**Orientation**: with ``autorotate=True`` (the default, what the ffmpeg command line and hence
the reference do) the display matrix is applied, read once from the first decoded frame as the
command line does: rotations by multiples of 90 degrees and mirroring (other angles are
rounded to the nearest multiple of 90; ffmpeg would rotate by the exact angle and fill the
corners black). Files with only a legacy ``rotate`` metadata tag (clockwise degrees) get that
rotation. The sample aspect ratio is ignored (as the ffmpeg command line does by default).

**Resizing**: ``size=R`` gives square R x R frames, resized from the full decoded 8-bit RGB
frame. ``resample="bicubic"`` is the image model's rule (:func:`genziqa.preprocess.
resize_image`, Pillow bicubic), so a video frame and the same frame saved as a PNG give the
same model input; ``"bilinear"`` is Pillow bilinear, what SimpleVQA's torchvision ``Resize``
does to the PIL frames it feeds SlowFast.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
from PIL import Image

from .images import DEFAULT_MAX_PIXELS

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "RAW_VIDEO_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "FrameCollector",
    "FrameSink",
    "VideoError",
    "VideoInfo",
    "decode_into",
    "is_video_name",
    "probe",
    "read_frames",
    "resize_frame",
    "sample_frames",
]

RAW_VIDEO_EXTENSIONS: frozenset[str] = frozenset({".yuv"})
"""Headerless raw video: listed so folder scans give them an error row, refused on decode."""

VIDEO_EXTENSIONS: frozenset[str] = frozenset(
    {
        ".mp4", ".m4v", ".mov", ".qt", ".3gp", ".3g2", ".mkv", ".webm", ".avi", ".mpg",
        ".mpeg", ".m2v", ".ts", ".mts", ".m2ts", ".flv", ".wmv", ".asf", ".ogv", ".mxf",
        ".y4m", ".gif",
    }
    | RAW_VIDEO_EXTENSIONS
)  # fmt: skip
"""Lower-case file extensions (with the dot) that folder scans treat as videos."""

Resample = Literal["bicubic", "bilinear"]
IndexRule = Sequence[int] | Callable[["VideoInfo"], Sequence[int]]

# Demuxers that open files which are not videos: text rendered as frames, single images.
_NOT_VIDEO_DEMUXERS = {"tty": "a text file", "image2": "a still image"}
_DURATION_FORMATS = {"mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm"}
_HDR_TRANSFERS = {16: "pq", 18: "hlg"}  # AVColorTransferCharacteristic: SMPTE 2084, ARIB B67
_PIP = "pip install 'genziqa[video]'"


class VideoError(Exception):
    """A video file that cannot be used; ``reason`` says why in one line."""

    def __init__(self, path: str | Path, reason: str) -> None:
        super().__init__(path, reason)
        self.path = Path(path)
        self.reason = " ".join(str(reason).split())

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass(frozen=True)
class VideoInfo:
    """What a video file holds, read from its headers and first frame (and a count).

    ``width``/``height`` are the decoded frame size before orientation; ``rotation`` is the
    counter-clockwise angle (0, 90, 180, 270) and ``mirrored`` the flip the file asks for, and
    ``display_size`` the upright size. ``num_frames`` is the decoded frame count when it was
    counted (None otherwise); ``container_frames`` is what the header claims (may be wrong).
    ``fps`` is the stream's average frame rate; ``duration`` is in seconds.
    """

    path: Path
    container: str
    codec: str
    width: int
    height: int
    rotation: int
    mirrored: bool
    fps: float | None
    duration: float | None
    num_frames: int | None
    container_frames: int | None
    pixel_format: str
    bit_depth: int
    hdr: str | None
    has_audio: bool

    @property
    def display_size(self) -> tuple[int, int]:
        """(width, height) of the upright frames that ``autorotate=True`` returns."""
        if self.rotation in (90, 270):
            return self.height, self.width
        return self.width, self.height


class FrameSink(Protocol):
    """Receives the frames it asks for during :func:`decode_into`'s decoding pass.

    ``plan`` is called at the start of every pass with the frame count of that pass in
    ``info.num_frames`` and must reset the sink; it returns the wanted decoded indices. ``add``
    then gets each wanted frame once, in increasing index order, as an upright uint8 RGB array
    (H, W, 3) that the sink may keep (it is not reused).
    """

    def plan(self, info: VideoInfo) -> Iterable[int]: ...

    def add(self, index: int, frame: np.ndarray) -> None: ...


class FrameCollector:
    """A sink that keeps chosen frames, resized or not: memory = the distinct frames kept.

    ``indices`` is a list of decoded indices (repeats allowed) or a function of the
    :class:`VideoInfo` returning one (e.g. ``lambda info: sample_indices(info.num_frames,
    8)``). After decoding, :meth:`frames` returns them in the requested order.
    """

    def __init__(
        self, indices: IndexRule, *, size: int | None = None, resample: Resample = "bicubic"
    ) -> None:
        _check_size(size)
        if resample not in ("bicubic", "bilinear"):
            raise ValueError(f"resample must be 'bicubic' or 'bilinear', got {resample!r}")
        self._rule = indices
        self.size = size
        self.resample: Resample = resample
        self.order: list[int] = []
        self._kept: dict[int, np.ndarray] = {}

    def plan(self, info: VideoInfo) -> list[int]:
        rule = self._rule(info) if callable(self._rule) else self._rule
        self.order = [int(i) for i in rule]
        self._kept = {}
        return self.order

    def add(self, index: int, frame: np.ndarray) -> None:
        self._kept[index] = resize_frame(frame, self.size, self.resample)

    def frames(self) -> list[np.ndarray]:
        """The kept frames in the requested order (a repeated index repeats the same array)."""
        return [self._kept[i] for i in self.order]


def resize_frame(frame: np.ndarray, size: int | None, resample: Resample = "bicubic") -> np.ndarray:
    """uint8 RGB (H, W, 3) -> (size, size, 3) by the named Pillow rule; None keeps the size."""
    if size is None or frame.shape[:2] == (size, size):
        return frame
    image = Image.fromarray(frame)
    if resample == "bicubic":
        from ..preprocess import resize_image

        image = resize_image(image, size)
    else:
        image = image.resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(image)


def is_video_name(path: str | Path) -> bool:
    """Whether a file name has one of the ``VIDEO_EXTENSIONS`` (case-insensitive)."""
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


# --------------------------------------------------------------------------------------------
# Public reading functions
# --------------------------------------------------------------------------------------------


def probe(
    path: str | Path,
    *,
    count_frames: bool = False,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    min_size: int = 16,
    allow_truncated: bool = False,
) -> VideoInfo:
    """Read a video's headers and decode its first frame; with ``count_frames``, decode all.

    Without ``count_frames``, ``num_frames`` is None (the header's claim is in
    ``container_frames``) and a truncated file is not noticed; with it, ``num_frames`` is the
    decoded count and truncation is refused unless ``allow_truncated``. Raises
    :class:`VideoError` for every problem with the file.
    """
    if count_frames:
        return decode_into(
            path, [], max_pixels=max_pixels, min_size=min_size, allow_truncated=allow_truncated
        )
    path = Path(path)
    _check_options(max_pixels, min_size)
    _check_file(path)
    with _open(path) as container:
        stream = _video_stream(container, path)
        info = _header_info(path, container, stream)
        _check_pixels(path, info.width, info.height, max_pixels, min_size)
        try:
            frame = next(_frames(container, stream), None)
        except Exception as error:  # any decoder failure is a file problem
            raise VideoError(path, _decode_failure(error, 0)) from None
        if frame is None:
            raise VideoError(path, "no decodable video frames (the video stream is empty)")
        _check_pixels(path, frame.width, frame.height, max_pixels, min_size)
        return _with_first_frame(info, _frame_facts(frame, stream.metadata))


def read_frames(
    path: str | Path,
    indices: IndexRule,
    *,
    size: int | None = None,
    resample: Resample = "bicubic",
    **options: Any,
) -> np.ndarray:
    """The frames at decoded ``indices`` (a list, or a function of the VideoInfo), stacked.

    Returns uint8 RGB (len(indices), H, W, 3), upright; ``size`` resizes to a square by the
    ``resample`` rule (module docstring). ``options`` go to :func:`decode_into`.
    """
    collector = FrameCollector(indices, size=size, resample=resample)
    decode_into(path, [collector], **options)
    return _stack(Path(path), collector.frames())


def sample_frames(
    path: str | Path,
    k: int,
    *,
    size: int | None = None,
    resample: Resample = "bicubic",
    short: Literal["repeat", "error"] = "repeat",
    **options: Any,
) -> np.ndarray:
    """GenzVQA's K frames, ``floor(linspace(0, N - 1, K))`` of the N decoded frames.

    A video with fewer than K frames repeats frames by that same rule (``short="repeat"``,
    the reference's behaviour) or is refused with a VideoError (``short="error"``). Returns
    uint8 RGB (K, H, W, 3), or (K, size, size, 3).
    """
    from ..video.frames import sample_indices

    if short not in ("repeat", "error"):
        raise ValueError(f"short must be 'repeat' or 'error', got {short!r}")
    sample_indices(1, k)  # validates k before any decoding

    def rule(info: VideoInfo) -> list[int]:
        assert info.num_frames is not None
        if short == "error" and info.num_frames < k:
            raise VideoError(
                info.path,
                f"video has {info.num_frames} decoded frames, fewer than the {k} to sample "
                "(short='repeat' repeats frames instead)",
            )
        return sample_indices(info.num_frames, k)

    return read_frames(path, rule, size=size, resample=resample, **options)


def decode_into(
    path: str | Path,
    sinks: Sequence[FrameSink],
    *,
    autorotate: bool = True,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    min_size: int = 16,
    threads: int = 0,
    allow_truncated: bool = False,
) -> VideoInfo:
    """Decode a video once and hand each sink the frames it asks for (module docstring).

    Returns the :class:`VideoInfo` with ``num_frames`` = the decoded frame count. Memory is
    what the sinks keep plus the decoder's own buffers. ``max_pixels`` refuses larger frames
    (width * height) before decoding them, ``min_size`` frames whose shorter side is smaller;
    ``threads`` is FFmpeg's decoding thread count (0 = automatic). A file that ends before its
    own index (MP4 sample table, MKV cues) or declared stream duration (MP4/MOV, MKV/WebM)
    says it should, or whose data stops decoding, is refused as truncated or corrupt unless
    ``allow_truncated``, which keeps the frames that decode. Raises :class:`VideoError`.
    """
    path = Path(path)
    _check_options(max_pixels, min_size)
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 0:
        raise ValueError(f"threads must be an int >= 0, got {threads!r}")
    _check_file(path)
    with _open(path) as container:
        stream = _video_stream(container, path)
        info = _header_info(path, container, stream)
        _check_pixels(path, info.width, info.height, max_pixels, min_size)
        if not allow_truncated:
            _check_index_within_file(path, stream)
        guess = _count_packets(container, stream, path)
    if guess == 0:
        raise VideoError(path, "no video frames (the video stream holds no packets)")
    settings = _PassSettings(autorotate, max_pixels, min_size, threads, allow_truncated)
    counted, exact = guess, False
    for _ in range(4):
        planned = replace(info, num_frames=counted)
        try:
            wanted, planned_ok = _plan(path, sinks, planned, exact), True
        except _NeedExactCount:
            wanted, planned_ok = {}, False
        decoded, facts = _decode_pass(path, wanted, settings)
        if decoded == 0:
            raise VideoError(
                path, f"no decodable video frames ({guess} packets decoded to nothing)"
            )
        if planned_ok and (decoded == counted or not sinks):
            return _with_first_frame(replace(info, num_frames=decoded), facts)
        counted, exact = decoded, True
    raise VideoError(path, "decoding is not repeatable (the frame count changes between passes)")


# --------------------------------------------------------------------------------------------
# Opening and checking
# --------------------------------------------------------------------------------------------


def _av() -> Any:
    try:
        import av
    except ImportError:
        raise ModuleNotFoundError(f"reading videos needs PyAV: {_PIP}") from None
    return av


def _check_options(max_pixels: int | None, min_size: int) -> None:
    if max_pixels is not None and (
        isinstance(max_pixels, bool) or not isinstance(max_pixels, int) or max_pixels < 1
    ):
        raise ValueError(f"max_pixels must be a positive int or None, got {max_pixels!r}")
    if isinstance(min_size, bool) or not isinstance(min_size, int) or min_size < 1:
        raise ValueError(f"min_size must be an int >= 1, got {min_size!r}")


def _check_size(size: int | None) -> None:
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
        raise ValueError(f"size must be a positive int or None, got {size!r}")


def _check_file(path: Path) -> None:
    """Refuse what is not a readable, non-empty file with a header before FFmpeg sees it."""
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed right below
    except FileNotFoundError:
        raise VideoError(path, "file not found") from None
    except IsADirectoryError:
        raise VideoError(path, "is a directory, not a video file") from None
    except PermissionError:
        if path.is_dir():
            raise VideoError(path, "is a directory, not a video file") from None
        raise VideoError(path, "permission denied (the file cannot be read)") from None
    except OSError as error:
        raise VideoError(path, f"could not open the file ({error.strerror or error})") from None
    with handle:
        info = os.fstat(handle.fileno())
    if stat.S_ISDIR(info.st_mode):
        raise VideoError(path, "is a directory, not a video file")
    if stat.S_ISREG(info.st_mode) and info.st_size == 0:
        raise VideoError(path, "empty file (0 bytes)")
    if path.suffix.lower() in RAW_VIDEO_EXTENSIONS:
        raise VideoError(
            path,
            "raw YUV video has no header, so its width, height, pixel format and frame rate "
            "are unknown; convert it to a container first (e.g. ffmpeg -f rawvideo "
            "-pix_fmt yuv420p -s 1920x1080 -r 30 -i in.yuv -c:v ffv1 out.mkv)",
        )


def _open(path: Path) -> Any:
    av = _av()
    try:
        return av.open(str(path), mode="r")
    except PermissionError:
        raise VideoError(path, "permission denied (the file cannot be read)") from None
    except Exception as error:  # FFmpeg and PyAV raise many kinds here
        detail = _ffmpeg_message(error)
        raise VideoError(
            path,
            f"not a video FFmpeg can read ({detail}; a truncated MP4/MOV whose index is "
            "missing fails this way too)",
        ) from None


def _video_stream(container: Any, path: Path) -> Any:
    fmt = container.format.name
    for name, what in _NOT_VIDEO_DEMUXERS.items():
        if fmt == name:
            raise VideoError(path, f"is {what}, not a video (FFmpeg opened it as {fmt!r})")
    if fmt.endswith("_pipe"):
        raise VideoError(path, f"is a still image, not a video (FFmpeg opened it as {fmt!r})")
    streams = [s for s in container.streams.video if not s.disposition & _attached_pic()]
    if not streams:
        kinds = sorted({s.type for s in container.streams} - {"video"})
        pictures = len(container.streams.video)
        parts = [f"{k} streams" for k in kinds] + ["a cover picture"] * bool(pictures)
        held = ", ".join(parts) if parts else "no streams at all"
        raise VideoError(path, f"no video stream (the file holds {held})")
    stream = streams[0]
    if stream.codec_context is None:
        raise VideoError(path, "the video codec is not supported by this FFmpeg (no decoder)")
    return stream


def _attached_pic() -> int:
    return int(_av().stream.Disposition.attached_pic)


def _header_info(path: Path, container: Any, stream: Any) -> VideoInfo:
    ctx = stream.codec_context
    fmt = ctx.format
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    duration = _stream_duration(stream)
    if duration is None and container.duration:
        duration = container.duration / 1_000_000
    return VideoInfo(
        path=path,
        container=container.format.name,
        codec=ctx.name,
        width=int(ctx.width or 0),
        height=int(ctx.height or 0),
        rotation=0,
        mirrored=False,
        fps=float(rate) if rate else None,
        duration=duration,
        num_frames=None,
        container_frames=int(stream.frames) or None,
        pixel_format=fmt.name if fmt is not None else "unknown",
        bit_depth=max((c.bits for c in fmt.components), default=8) if fmt is not None else 8,
        hdr=None,
        has_audio=bool(container.streams.audio),
    )


def _frame_facts(frame: Any, metadata: Mapping[str, str]) -> dict[str, Any]:
    """What only a decoded frame tells: its size, pixel format, orientation, transfer."""
    matrix = _display_matrix(frame, metadata)
    rotation, mirrored = _orientation(matrix)
    fmt = frame.format
    return {
        "matrix": matrix,
        "width": frame.width,
        "height": frame.height,
        "rotation": rotation,
        "mirrored": mirrored,
        "pixel_format": fmt.name,
        "bit_depth": max(c.bits for c in fmt.components),
        "hdr": _HDR_TRANSFERS.get(int(frame.color_trc)),
    }


def _with_first_frame(info: VideoInfo, facts: Mapping[str, Any] | None) -> VideoInfo:
    if not facts:
        return info
    return replace(info, **{k: v for k, v in facts.items() if k != "matrix"})


def _stream_duration(stream: Any) -> float | None:
    """The video stream's own declared duration: the stream header or a DURATION tag."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    tag = stream.metadata.get("DURATION") or stream.metadata.get("duration")
    match = re.fullmatch(r"(\d+):(\d{2}):(\d{2}(?:\.\d+)?)", tag or "")
    if match:
        return int(match[1]) * 3600 + int(match[2]) * 60 + float(match[3])
    return None


def _check_pixels(
    path: Path, width: int, height: int, max_pixels: int | None, min_size: int
) -> None:
    if not width or not height:
        return  # unknown from the header; checked again on the first decoded frame
    if max_pixels is not None and width * height > max_pixels:
        raise VideoError(
            path,
            f"video frames have {width * height:,} pixels ({width}x{height}), more than the "
            f"limit of {max_pixels:,}; refused as a possible decompression bomb (raise "
            "max_pixels, or pass None, if the file is trusted)",
        )
    if min(width, height) < min_size:
        raise VideoError(
            path,
            f"video too small to score: {width}x{height} pixels, the shorter side must be at "
            f"least {min_size}",
        )


def _check_index_within_file(path: Path, stream: Any) -> None:
    """A container index (MP4 sample table, MKV cues) pointing past the end = truncated."""
    size = path.stat().st_size
    try:
        end = max((e.pos + e.size for e in stream.index_entries if e.pos >= 0), default=0)
    except Exception:  # an index PyAV cannot list is no evidence either way
        return
    if end > size:
        raise VideoError(
            path,
            f"truncated file: the container's index needs {end:,} bytes but the file has "
            f"{size:,} (pass allow_truncated=True to use the frames that are there)",
        )


def _count_packets(container: Any, stream: Any, path: Path) -> int:
    count = 0
    try:
        for packet in container.demux(stream):
            if packet.size and not packet.is_discard:
                count += 1
    except Exception as error:  # demuxer failure = damaged file
        raise VideoError(path, _decode_failure(error, count, "reading")) from None
    return count


# --------------------------------------------------------------------------------------------
# The decoding pass
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _PassSettings:
    autorotate: bool
    max_pixels: int | None
    min_size: int
    threads: int
    allow_truncated: bool


class _NeedExactCount(Exception):
    """A sink asked for a frame past the guessed count: count by decoding, then plan again."""


def _plan(
    path: Path, sinks: Sequence[FrameSink], info: VideoInfo, exact: bool
) -> dict[int, list[FrameSink]]:
    assert info.num_frames is not None
    wanted: dict[int, list[FrameSink]] = {}
    for sink in sinks:
        for index in dict.fromkeys(int(i) for i in sink.plan(info)):
            if not 0 <= index < info.num_frames:
                if index > 0 and not exact:
                    raise _NeedExactCount
                raise VideoError(
                    path,
                    f"frame {index} was requested but the video has {info.num_frames} decoded "
                    "frames",
                )
            wanted.setdefault(index, []).append(sink)
    return wanted


def _frames(container: Any, stream: Any) -> Iterable[Any]:
    """Decoded frames of one stream in display order (the decoder's output order)."""
    for packet in container.demux(stream):
        yield from packet.decode()


def _decode_pass(
    path: Path, wanted: Mapping[int, list[FrameSink]], settings: _PassSettings
) -> tuple[int, dict[str, Any] | None]:
    """Decode every frame once; convert and deliver the wanted ones. -> (count, first facts)."""
    index = 0
    facts = None
    end_time = None
    with _open(path) as container:
        stream = _video_stream(container, path)
        stream.thread_type = "AUTO"
        stream.thread_count = settings.threads
        metadata = dict(stream.metadata)
        # Only containers whose muxers write the stream's duration are checked against it;
        # elsewhere FFmpeg may estimate it (e.g. from the bit rate) and it proves nothing.
        declared = _stream_duration(stream) if container.format.name in _DURATION_FORMATS else None
        fps = stream.average_rate or stream.guessed_rate
        try:
            for frame in _frames(container, stream):
                if facts is None:
                    _check_pixels(
                        path, frame.width, frame.height, settings.max_pixels, settings.min_size
                    )
                    facts = _frame_facts(frame, metadata)
                if index in wanted:
                    _check_pixels(
                        path, frame.width, frame.height, settings.max_pixels, settings.min_size
                    )
                    rgb = _frame_to_rgb(frame, facts["matrix"] if settings.autorotate else None)
                    for sink in wanted[index]:
                        sink.add(index, rgb)
                end_time = _frame_end(frame, fps, end_time)
                index += 1
        except VideoError:
            raise
        except Exception as error:  # any decoder failure is a file problem
            if not (settings.allow_truncated and index):
                raise VideoError(path, _decode_failure(error, index)) from None
    if not settings.allow_truncated and index:
        _check_duration(path, declared, end_time, fps)
    return index, facts


def _frame_end(frame: Any, fps: Fraction | None, previous: float | None) -> float | None:
    if frame.pts is None or frame.time_base is None:
        return previous
    step = float(frame.duration * frame.time_base) if frame.duration else 0.0
    if not step and fps:
        step = float(1 / fps)
    end = float(frame.pts * frame.time_base) + step
    return end if previous is None else max(previous, end)


def _check_duration(
    path: Path, declared: float | None, end: float | None, fps: Fraction | None
) -> None:
    """Refuse a stream that stops well before the duration its own header declares."""
    if declared is None or end is None or declared <= 0:
        return
    slack = max(0.25, 3 / float(fps) if fps else 0.25, 0.02 * declared)
    if end < declared - slack:
        raise VideoError(
            path,
            f"truncated or corrupt file: the video stream ends at {end:.2f} s but declares "
            f"{declared:.2f} s (pass allow_truncated=True to use the frames that are there)",
        )


def _decode_failure(error: Exception, frames: int, doing: str = "decoding") -> str:
    detail = _ffmpeg_message(error)
    where = "before the first frame" if not frames else f"after {frames} frames"
    return f"corrupt or truncated video data ({doing} failed {where}: {detail})"


def _ffmpeg_message(error: Exception) -> str:
    """The useful part of an FFmpeg/PyAV error: its message without errno and file name."""
    text = getattr(error, "strerror", None) or str(error) or type(error).__name__
    log = getattr(error, "log", None)
    if log and isinstance(log, tuple) and len(log) == 3 and log[2]:
        text = f"{text}; {str(log[2]).strip()}"
    return " ".join(str(text).split())


# --------------------------------------------------------------------------------------------
# Pixels: 8-bit RGB and orientation
# --------------------------------------------------------------------------------------------


def _frame_to_rgb(frame: Any, matrix: tuple[float, float, float, float] | None) -> np.ndarray:
    """A decoded PyAV frame -> uint8 RGB (H, W, 3) by the module docstring's rules, oriented
    by ``matrix`` (None: as stored).

    The display matrix is read once, from the first frame (as the ffmpeg command line sets
    up its autorotation once): reading ``frame.side_data`` creates a reference cycle that
    keeps each frame's buffers alive until the garbage collector runs (measured: +2.8 MB per
    1080p frame), so it is not touched per frame.
    """
    fmt = frame.format
    deep = max(c.bits for c in fmt.components) > 8
    alpha = any(c.is_alpha for c in fmt.components)
    kwargs = {"src_color_range": frame.color_range}
    if alpha:
        rgba = frame.to_ndarray(format="rgba64le" if deep else "rgba", **kwargs)
        rgb = _over_white(_to_8bit(rgba) if deep else rgba)
    elif deep:
        rgb = _to_8bit(frame.to_ndarray(format="rgb48le", **kwargs))
    else:
        rgb = frame.to_ndarray(format="rgb24", **kwargs)
    if matrix:
        rgb = _apply_matrix(rgb, matrix)
    return np.ascontiguousarray(rgb)


def _to_8bit(values: np.ndarray) -> np.ndarray:
    """16-bit samples -> 8 bits by round(value / 257), exactly, in integers."""
    return ((values.astype(np.uint32) * 2 + 257) // 514).astype(np.uint8)


def _over_white(rgba: np.ndarray) -> np.ndarray:
    """Composite RGBA over opaque white with Pillow, the image loader's rule."""
    image = Image.fromarray(rgba, "RGBA")
    white = Image.new("RGBA", image.size, (255, 255, 255, 255))
    return np.asarray(Image.alpha_composite(white, image).convert("RGB"))


def _display_matrix(frame: Any, metadata: Mapping[str, str]) -> tuple[float, float, float, float]:
    """(a, b, c, d) of the frame's display matrix; else of a legacy ``rotate`` tag; else 1."""
    display_matrix = _av().sidedata.sidedata.Type.DISPLAYMATRIX
    for side in frame.side_data:
        if side.type == display_matrix:
            m = np.frombuffer(bytes(side), dtype=np.int32)
            if m.size >= 5:
                return (m[0] / 65536, m[1] / 65536, m[3] / 65536, m[4] / 65536)
    try:
        tags = {key.lower(): value for key, value in metadata.items()}
        clockwise = float(tags.get("rotate", 0))
    except ValueError:
        clockwise = 0.0
    if clockwise:
        angle = np.deg2rad(clockwise)  # ccw by -clockwise: (cos t, -sin t, sin t, cos t)
        return (
            float(np.cos(angle)),
            float(np.sin(angle)),
            float(-np.sin(angle)),
            float(np.cos(angle)),
        )
    return (1.0, 0.0, 0.0, 1.0)


def _orientation(matrix: tuple[float, float, float, float]) -> tuple[int, bool]:
    """The matrix as 'rotate counter-clockwise by r (a multiple of 90), then mirror if m'.

    A counter-clockwise rotation by t is (a, b, c, d) = (cos t, -sin t, sin t, cos t);
    mirroring afterwards negates a and c, so t = atan2(-b, d) either way, and a negative
    determinant means mirrored.
    """
    a, b, c, d = matrix
    ccw = float(np.degrees(np.arctan2(-b, d)))
    return round(ccw / 90.0) % 4 * 90, bool(a * d - b * c < 0)


def _apply_matrix(rgb: np.ndarray, matrix: tuple[float, float, float, float]) -> np.ndarray:
    """Apply a display matrix (x' = a x + c y, y' = b x + d y) rounded to 90-degree steps."""
    a, b, c, d = matrix
    if abs(a) + abs(d) >= abs(b) + abs(c):
        if a < 0:
            rgb = rgb[:, ::-1]
        if d < 0:
            rgb = rgb[::-1]
        return rgb
    rgb = rgb.transpose(1, 0, 2)
    if c < 0:
        rgb = rgb[:, ::-1]
    if b < 0:
        rgb = rgb[::-1]
    return rgb


def _stack(path: Path, frames: list[np.ndarray]) -> np.ndarray:
    shapes = {f.shape for f in frames}
    if len(shapes) > 1:
        raise VideoError(
            path,
            "the frame size changes within the video ("
            + ", ".join(f"{w}x{h}" for h, w, _ in sorted(shapes))
            + "); pass size= to resize every frame to one square size",
        )
    return np.stack(frames) if frames else np.zeros((0, 0, 0, 3), np.uint8)
