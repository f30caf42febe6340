"""The genziqa synthetic video benchmark: short clips made offline from the bundled photos,
with graded blur, noise, compression, frame drops and camera shake (`synthetic_video`).

Why: tests, CI and demos of the video model need a video database with known labels, motion
and splits that needs no download, like the image benchmark (genziqa.datasets.synthetic) does.

Clip. Each source photo of `genziqa.datasets.synthetic.SOURCE_PHOTOS` is prepared as a square
of side 2 x size (center crop, bicubic) and padded by a quarter of that by reflection. A virtual
camera looks at it through a square window that slowly zooms in (side 0.70 -> 0.55 of the
photo over the clip) while its center pans along a straight line of length 0.15 of the
photo, in a direction drawn per photo; every frame is that window resized to (size, size)
with Pillow bicubic (antialiased). At 16 frames the pan moves the picture by about 1 output
pixel per frame and the zoom its edges by about 0.5: slow, smooth motion.

Distortions, level 1..5 (spatial parameters are given at size 64 and scale with size/64):

    kind         parameter at level 1 .. 5               what
    blur         sigma 0.5, 0.9, 1.4, 2.1, 3.0 px        Gaussian blur of every frame
    noise        std 6, 12, 20, 32, 48 (on 0-255)        additive Gaussian noise, new per frame
    compression  MPEG-4 qscale 6, 10, 16, 23, 31         the clip encoded coarsely (q 2 = pristine)
    framedrop    1/8, 2/8, 3/8, 4/8, 5/8 of the frames   dropped frames repeat the previous one
    shake        std 0.4, 0.8, 1.5, 2.5, 4.0 px          random jitter of the camera per frame

The random pattern of a kind (the noise field, which frames drop, the shake offsets) is
drawn once per photo and scaled or cut by the level, so a higher level is the same
distortion, stronger: noise and shake grow in amplitude, and the frames dropped at level k
are also dropped at level k+1.

Files. Every clip is an MP4 (MPEG-4 Part 2, yuv420p, `fps` frames per second, default 8):
`videos/<photo>.mp4` (pristine reference, qscale 2) and `videos/<photo>_<kind>_<level>.mp4`.
RGB -> YUV 4:2:0 is done here (BT.601 limited range, 2x2 chroma means), not by swscale, so
it does not depend on the FFmpeg build. MPEG-4 rather than H.264: measured with PyAV 18.1,
libx264 gave different bitstreams for identical input across runs on a loaded machine, even
with threads=1, while FFmpeg's native MPEG-4 encoder with a fixed quantiser (qmin = qmax)
gave the same bytes in every run. Decoded frames are therefore identical across runs for one
PyAV build; another PyAV/FFmpeg build may encode different bytes (the labels do not change).

Label: `mos = 100 * (1 - level / 6)` for a distorted clip, 100 for the reference (higher is
better, 0-100), as in the image benchmark: the severity by construction, NOT human opinion,
and the ranking across kinds at one level is arbitrary. Splits are content-disjoint
(`genziqa.datasets.splits.split_by_group` on the photo name). Randomness comes from
`numpy.random.default_rng` seeded by sha256 of (seed, photo, purpose), never `hash()`.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from types import ModuleType

import numpy as np
import pandas as pd

from ..seeding import stable_seed
from .base import DatasetInfo, make_table, read_csv, text_column, to_float
from .synthetic import claim_folder

BLUR_SIGMAS = (0.5, 0.9, 1.4, 2.1, 3.0)  # px at size 64
NOISE_STDS = (6.0, 12.0, 20.0, 32.0, 48.0)
COMPRESSION_QSCALES = (6, 10, 16, 23, 31)
DROP_FRACTIONS = (0.125, 0.25, 0.375, 0.5, 0.625)
SHAKE_STDS = (0.4, 0.8, 1.5, 2.5, 4.0)  # px of the output frame at size 64
KINDS = ("blur", "noise", "compression", "framedrop", "shake")
PRISTINE_QSCALE = 2
MAX_LEVEL = 5
MIN_SIZE, MIN_FRAMES = 32, 8
ZOOM = (0.70, 0.55)  # window side / photo side at the first and the last frame
PAN = 0.15  # length of the pan / photo side
LABELS = "synthetic_video.csv"
ARGUMENTS = "synthetic_video.json"

INFO = DatasetInfo(
    name="synthetic_video",
    title="genziqa synthetic video benchmark",
    kind="synthetic",
    native_range=(0.0, 100.0),
    lower_better=False,
    label_name="severity label 100 * (1 - level / 6) (not human opinion)",
    has_official_split=True,
    media="video",
    layout=(
        f"create it with genziqa.datasets.synthetic_video.make_video_benchmark(ROOT): "
        f"ROOT/{LABELS} (video, mos, ref_id, distortion, level, split; video paths relative "
        "to ROOT), ROOT/videos/<photo>.mp4 (references), ROOT/videos/<photo>_<kind>_<level>.mp4"
    ),
)


def read(root: Path) -> pd.DataFrame:
    """Canonical table of the synthetic video benchmark; split and ref_id from the CSV."""
    path = root / LABELS
    labels = read_csv(path, ["video", "mos", "ref_id", "split"], "the synthetic video labels")
    return make_table(
        INFO,
        [root / PurePosixPath(name) for name in labels["video"].astype(str)],
        to_float(labels["mos"], path, "mos"),
        label_file=path,
        split=text_column(labels, "split"),
        ref_id=text_column(labels, "ref_id"),
    )


# --- randomness and labels ----------------------------------------------------------------


def rng_for(seed: int, photo: str, purpose: str) -> np.random.Generator:
    """The generator of one photo's pattern for `purpose` (a kind, or "path"), seeded from
    sha256 of (seed, photo, purpose)."""
    parts = ("synthetic-video", seed, photo, purpose)
    return np.random.default_rng(stable_seed(*parts, byteorder="little"))


def quality_label(level: int) -> float:
    """The known label: 100 for the reference (level 0), 100 * (1 - level / 6) otherwise."""
    return 100.0 * (1.0 - level / (MAX_LEVEL + 1))


def _level(level: int, kind: str) -> int:
    if isinstance(level, bool) or not isinstance(level, numbers.Integral):
        raise ValueError(f"{kind} level must be an integer 1..{MAX_LEVEL}, received {level!r}")
    if not 1 <= level <= MAX_LEVEL:
        raise ValueError(f"{kind} level must be 1..{MAX_LEVEL}, received {level}")
    return int(level)


def _check_clip(frames: np.ndarray, kind: str) -> None:
    if not isinstance(frames, np.ndarray) or frames.dtype != np.uint8 or frames.ndim != 4:
        raise ValueError(
            f"{kind} expects a uint8 clip of shape (T,H,W,3), received "
            f"{getattr(frames, 'dtype', type(frames).__name__)} {getattr(frames, 'shape', '')}"
        )
    if frames.shape[3] != 3:
        raise ValueError(f"{kind} expects 3 colour channels, received shape {frames.shape}")


# --- the moving camera --------------------------------------------------------------------


def camera_boxes(
    side: int, frames: int, size: int, rng: np.random.Generator, shake: np.ndarray | None = None
) -> np.ndarray:
    """(frames, 4) crop boxes (left, top, right, bottom) in a photo of `side` px padded by
    side // 4: a slow zoom and pan, plus `shake` (frames, 2) offsets in output pixels."""
    pad = side // 4
    u = np.linspace(0.0, 1.0, frames)
    width = side * (ZOOM[0] + (ZOOM[1] - ZOOM[0]) * u)
    angle = rng.uniform(0.0, 2.0 * math.pi)
    direction = np.array([math.cos(angle), math.sin(angle)])
    centers = pad + side / 2.0 + PAN * side * (u[:, None] - 0.5) * direction[None, :]
    if shake is not None:
        centers = centers + shake * (width / size)[:, None]  # output px -> photo px
    half = width[:, None] / 2.0
    centers = np.clip(centers, half, side + 2 * pad - half)
    return np.concatenate([centers - half, centers + half], axis=1)


def render_clip(photo: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """The frames (T, size, size, 3) uint8 the camera sees: each box of the reflect-padded
    `photo` (side, side, 3) resized with Pillow bicubic."""
    from PIL import Image

    pad = photo.shape[0] // 4
    padded = Image.fromarray(np.pad(photo, ((pad, pad), (pad, pad), (0, 0)), mode="reflect"))
    return np.stack(
        [
            np.asarray(
                padded.resize((size, size), Image.Resampling.BICUBIC, box=tuple(map(float, box)))
            )
            for box in boxes
        ]
    )


# --- distortions of a clip: (T,H,W,3) uint8 -> (T,H,W,3) uint8 ---------------------------


def blur(frames: np.ndarray, level: int) -> np.ndarray:
    """Gaussian blur of every frame, sigma BLUR_SIGMAS[level-1] x (side / 64)."""
    from scipy import ndimage

    _check_clip(frames, "blur")
    sigma = BLUR_SIGMAS[_level(level, "blur") - 1] * min(frames.shape[1:3]) / 64.0
    blurred = ndimage.gaussian_filter(
        frames.astype(np.float64), (0, sigma, sigma, 0), mode="reflect"
    )
    return np.clip(np.rint(blurred), 0, 255).astype(np.uint8)


def noise(frames: np.ndarray, level: int, rng: np.random.Generator) -> np.ndarray:
    """Additive Gaussian noise of std NOISE_STDS[level-1], a new field in every frame; the
    field is one standard-normal draw of `rng`, scaled by the level's std."""
    _check_clip(frames, "noise")
    std = NOISE_STDS[_level(level, "noise") - 1]
    field = rng.standard_normal(frames.shape)
    return np.clip(np.rint(frames.astype(np.float64) + std * field), 0, 255).astype(np.uint8)


def drop_frames(frames: np.ndarray, level: int, rng: np.random.Generator) -> np.ndarray:
    """Drop ceil(DROP_FRACTIONS[level-1] x (T-1)) of frames 1..T-1 (never the first): each
    dropped frame shows the previous shown frame again. The frames drop in the order of one
    permutation of `rng`, so the drops of level k are among those of level k+1."""
    _check_clip(frames, "framedrop")
    count = math.ceil(DROP_FRACTIONS[_level(level, "framedrop") - 1] * (len(frames) - 1))
    dropped = set(rng.permutation(np.arange(1, len(frames)))[:count].tolist())
    out = frames.copy()
    for t in range(1, len(out)):
        if t in dropped:
            out[t] = out[t - 1]
    return out


def shake_offsets(frames: int, level: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """(frames, 2) camera jitter in output pixels: std SHAKE_STDS[level-1] x (size / 64)
    times one standard-normal draw of `rng`."""
    std = SHAKE_STDS[_level(level, "shake") - 1] * size / 64.0
    return std * rng.standard_normal((frames, 2))


def make_clip(
    photo: np.ndarray, name: str, kind: str, level: int, size: int, frames: int, seed: int
) -> tuple[np.ndarray, int]:
    """One clip of the benchmark: (frames (T, size, size, 3) uint8, MPEG-4 qscale to encode
    it with). `photo` is the prepared (2 x size)-square source; kind "reference" is level 0."""
    if kind not in ("reference", *KINDS):
        raise ValueError(f"kind must be 'reference' or one of {list(KINDS)}, received {kind!r}")
    offsets = None
    if kind == "shake":
        offsets = shake_offsets(frames, level, size, rng_for(seed, name, kind))
    boxes = camera_boxes(photo.shape[0], frames, size, rng_for(seed, name, "path"), offsets)
    clip = render_clip(photo, boxes, size)
    if kind in ("reference", "shake"):
        return clip, PRISTINE_QSCALE
    if kind == "blur":
        return blur(clip, level), PRISTINE_QSCALE
    if kind == "noise":
        return noise(clip, level, rng_for(seed, name, kind)), PRISTINE_QSCALE
    if kind == "framedrop":
        return drop_frames(clip, level, rng_for(seed, name, kind)), PRISTINE_QSCALE
    return clip, COMPRESSION_QSCALES[_level(level, kind) - 1]


# --- writing ------------------------------------------------------------------------------


def rgb_to_yuv420p(frame: np.ndarray) -> np.ndarray:
    """One RGB frame (H,W,3) uint8 (H, W even) -> the yuv420p planes stacked as PyAV wants
    them, (H*3/2, W) uint8: BT.601 limited range, chroma the mean of each 2x2 block."""
    rgb = frame.astype(np.float64)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = 16.0 + 0.256788 * r + 0.504129 * g + 0.097906 * b
    cb = 128.0 - 0.148223 * r - 0.290993 * g + 0.439216 * b
    cr = 128.0 + 0.439216 * r - 0.367788 * g - 0.071427 * b
    height, width = y.shape

    def quarter(plane: np.ndarray) -> np.ndarray:
        return plane.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3))

    planes = [np.clip(np.rint(p), 0, 255).astype(np.uint8) for p in (y, quarter(cb), quarter(cr))]
    return np.concatenate([p.ravel() for p in planes]).reshape(height * 3 // 2, width)


def _import_av() -> ModuleType:
    try:
        import av
    except ImportError:
        raise ImportError(
            "writing the synthetic video benchmark needs PyAV: pip install 'genziqa[video]'"
        ) from None
    return av


def write_video(path: Path, frames: np.ndarray, fps: int, qscale: int) -> None:
    """Encode `frames` (T,H,W,3) uint8 as an MP4 (MPEG-4 Part 2, yuv420p, constant `qscale`,
    one thread) at `fps` frames per second."""
    av = _import_av()
    _check_clip(frames, "write_video")
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=int(fps))
        stream.width, stream.height = int(frames.shape[2]), int(frames.shape[1])
        stream.pix_fmt = "yuv420p"
        context = stream.codec_context
        context.thread_count = 1
        context.qmin = context.qmax = int(qscale)  # a fixed quantiser: no rate control
        context.bit_rate = 50_000_000  # high enough never to push the quantiser
        for index, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb_to_yuv420p(rgb), format="yuv420p")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


# --- the benchmark folder -----------------------------------------------------------------


def _integer(value: object, name: str, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, received {value!r}")
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"in {low}..{high}"
        raise ValueError(f"{name} must be {bound}, received {value}")
    return int(value)


def _check_arguments(
    size: int,
    frames: int,
    seed: int,
    test_fraction: float,
    kinds: Sequence[str],
    levels: int,
    fps: int,
) -> list[str]:
    """Validate make_video_benchmark's arguments; the kinds in KINDS order."""
    _integer(size, "size", MIN_SIZE)
    if size % 2:
        raise ValueError(f"size must be even (YUV 4:2:0 halves it), received {size}")
    _integer(frames, "frames", MIN_FRAMES)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ValueError(f"seed must be an integer, received {seed!r}")
    _integer(levels, "levels", 1, MAX_LEVEL)
    _integer(fps, "fps", 1, 120)
    real = isinstance(test_fraction, numbers.Real) and not isinstance(test_fraction, bool)
    if not real or not math.isfinite(test_fraction) or not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must lie strictly in (0, 1), received {test_fraction!r}")
    if isinstance(kinds, str):
        raise ValueError(f"kinds must be a sequence of names, received the string {kinds!r}")
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds or len(set(kinds)) != len(kinds):
        raise ValueError(
            f"kinds must be distinct names among {list(KINDS)}, received {list(kinds)}"
        )
    return [k for k in KINDS if k in kinds]


def make_video_benchmark(
    root: str | os.PathLike[str],
    size: int = 64,
    frames: int = 16,
    seed: int = 0,
    test_fraction: float = 0.3,
    *,
    kinds: Sequence[str] = KINDS,
    levels: int = MAX_LEVEL,
    include_references: bool = True,
    fps: int = 8,
) -> pd.DataFrame:
    """Write the benchmark under `root` and return its table (also `root/synthetic_video.csv`).

    Files: `videos/<photo>.mp4` (reference, if include_references) and
    `videos/<photo>_<kind>_<level>.mp4` for levels 1..`levels`, each `frames` frames of
    `size` x `size` at `fps`. Table columns: video (path relative to root), mos, ref_id
    (photo name), distortion ("reference" for pristine), level (0 for reference), split
    ("train"/"test" by content, with `seed`). Re-running with the same arguments rewrites
    identical files; other arguments over an existing benchmark raise ValueError. Needs PyAV
    and the photos' packages: pip install 'genziqa[video,eval]'.
    """
    from .splits import split_by_group
    from .synthetic import SOURCE_PHOTOS, load_photos

    kinds = _check_arguments(size, frames, seed, test_fraction, kinds, levels, fps)
    _import_av()  # fail before writing anything
    root = Path(root).expanduser()
    arguments: dict[str, object] = {
        "size": int(size),
        "frames": int(frames),
        "fps": int(fps),
        "kinds": kinds,
        "levels": int(levels),
        "include_references": bool(include_references),
        "seed": int(seed),
        "test_fraction": float(test_fraction),
        "photos": [name for name, _ in SOURCE_PHOTOS],
    }
    photos = load_photos(2 * int(size))

    rows = []
    for photo in photos:
        if include_references:
            rows.append((f"videos/{photo}.mp4", photo, "reference", 0))
        for kind in kinds:
            for level in range(1, levels + 1):
                rows.append((f"videos/{photo}_{kind}_{level}.mp4", photo, kind, level))
    table = pd.DataFrame(rows, columns=["video", "ref_id", "distortion", "level"])
    table.insert(1, "mos", [quality_label(level) for level in table["level"]])
    fractions = {"train": 1.0 - float(test_fraction), "test": float(test_fraction)}
    table["split"] = split_by_group(table, fractions, seed=int(seed), group_col="ref_id")
    empty = [name for name in fractions if not (table["split"] == name).any()]
    if empty:
        raise ValueError(
            f"test_fraction={test_fraction} leaves the {empty} split(s) empty with "
            f"{len(photos)} contents; expected both train and test to hold at least one"
        )

    claim_folder(root, arguments, LABELS, ARGUMENTS)
    (root / "videos").mkdir(exist_ok=True)
    for video, photo, kind, level in table[["video", "ref_id", "distortion", "level"]].itertuples(
        index=False
    ):
        clip, qscale = make_clip(photos[photo], photo, kind, int(level), size, frames, seed)
        write_video(root / video, clip, fps, qscale)
    table.to_csv(root / LABELS, index=False)
    return table
