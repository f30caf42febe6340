"""The synthetic IQA benchmark: made from photos that ship inside installed packages (no
download) by ``make_benchmark`` (``genziqa make-synthetic``), read back by its adapter.

Why: tests, CI and the README demo need a database to train and evaluate on that needs no
network. Each source photo (scikit-image's bundled `skimage.data` photos and matplotlib's
`grace_hopper.jpg`) is center-cropped to a square, resized to `size` with Pillow bicubic, and
distorted by five kinds at five levels of increasing severity:

    kind      parameter at level 1 .. 5                 what
    blur      sigma 0.8, 1.5, 2.5, 4, 6 (x side / 256)  Gaussian blur, per channel
    noise     std 6, 12, 20, 32, 48 (on 0-255)          additive Gaussian noise
    jpeg      quality 40, 20, 10, 6, 3                  Pillow JPEG, 4:2:0 chroma
    contrast  factor 0.7, 0.5, 0.35, 0.22, 0.12         blend toward the image's mean grey
    exposure  gain 1.5, 2, 2.6, 3.3, 4                  multiply then clip (over-exposure)

Every distortion is `(rgb uint8 (H,W,3), level, rng) -> rgb uint8 (H,W,3)`; only `noise`
draws from the rng. The blur sigma is given for 256-pixel images and scaled by (shorter
side / 256), so a level means the same blur relative to the image at every size. Below about
96 pixels the level-1 sigma falls under 0.3 px and the blur rounds back to the reference
(measured: unchanged for all photos at size <= 80, for none at size >= 96).

Label: `mos = 100 * (1 - level / 6)` for a distorted image and 100 for the pristine reference
(higher is better, range 0-100). It is the severity by construction, NOT human opinion: the
ranking across kinds at the same level (is noise 3 worse than blur 3?) is arbitrary.

Deterministic: the noise RNG is `np.random.default_rng` seeded from sha256 of
(seed, photo, kind, level), never Python's `hash()`; PNG files are byte-identical on re-runs.
Splits are content-disjoint (`genziqa.datasets.splits.split_by_group` on the photo name).

Adapter (`synthetic=ROOT`): the official split is the CSV's content-disjoint `split` column and
the reference id is the source photo's name, so all versions of one photo share a split.
"""

from __future__ import annotations

import io
import json
import math
import numbers
import os
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd
from PIL import Image
from scipy import ndimage

from ..seeding import stable_seed
from .base import DatasetInfo, make_table, read_csv, text_column, to_float
from .splits import split_by_group

BLUR_SIGMAS = (0.8, 1.5, 2.5, 4.0, 6.0)
NOISE_STDS = (6.0, 12.0, 20.0, 32.0, 48.0)
JPEG_QUALITIES = (40, 20, 10, 6, 3)
CONTRAST_FACTORS = (0.7, 0.5, 0.35, 0.22, 0.12)
EXPOSURE_GAINS = (1.5, 2.0, 2.6, 3.3, 4.0)
MAX_LEVEL = 5
MIN_SIZE = 32
LABELS = "synthetic.csv"
ARGUMENTS = "synthetic.json"

INFO = DatasetInfo(
    name="synthetic",
    title="genziqa synthetic benchmark",
    kind="synthetic",
    native_range=(0.0, 100.0),
    lower_better=False,
    label_name="severity label 100 * (1 - level / 6) (not human opinion)",
    has_official_split=True,
    layout=(
        f"create it with `genziqa make-synthetic ROOT`: ROOT/{LABELS} (image, mos, ref_id, "
        "distortion, level, split; image paths relative to ROOT) and ROOT/images/<photo>.png "
        "(references), ROOT/images/<photo>_<kind>_<level>.png (distorted)"
    ),
)


def read(root: Path) -> pd.DataFrame:
    """Canonical table of the synthetic benchmark; split and ref_id from the CSV. A folder
    holding the synthetic VIDEO benchmark (``genziqa make-synthetic --video``) is read by
    its adapter, so ``synthetic=ROOT`` works for both."""
    from . import synthetic_video

    path = root / LABELS
    if not path.is_file() and (root / synthetic_video.LABELS).is_file():
        return synthetic_video.read(root)
    labels = read_csv(path, ["image", "mos", "ref_id", "split"], what="the synthetic label CSV")
    return make_table(
        INFO,
        [root / PurePosixPath(name) for name in labels["image"].astype(str)],
        to_float(labels["mos"], path, "mos"),
        label_file=path,
        split=text_column(labels, "split"),
        ref_id=text_column(labels, "ref_id"),
    )


# --- source photos ------------------------------------------------------------------------


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from skimage import data

        return getattr(data, name)()

    return load


def _motorcycle() -> np.ndarray:
    from skimage import data

    return data.stereo_motorcycle()[0]  # (left, right, disparity): the left view


def _grace_hopper() -> np.ndarray:
    from matplotlib import cbook

    with Image.open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)) as image:
        return np.asarray(image.convert("RGB"))


# `skimage.data.cat` is the same picture as `chelsea`, so it is not listed.
SOURCE_PHOTOS: tuple[tuple[str, Callable[[], np.ndarray]], ...] = (
    ("astronaut", _skimage("astronaut")),
    ("chelsea", _skimage("chelsea")),
    ("coffee", _skimage("coffee")),
    ("rocket", _skimage("rocket")),
    ("hubble_deep_field", _skimage("hubble_deep_field")),
    ("retina", _skimage("retina")),
    ("immunohistochemistry", _skimage("immunohistochemistry")),
    ("motorcycle", _motorcycle),
    ("camera", _skimage("camera")),  # grayscale, made RGB by `prepare`
    ("grace_hopper", _grace_hopper),
)


def prepare(image: np.ndarray, size: int) -> np.ndarray:
    """Center-crop `image` (H,W) or (H,W,3) uint8 to a square and resize it to (size,size,3)."""
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise ValueError(
            f"expected a uint8 image of shape (H,W) or (H,W,3), received dtype {image.dtype} "
            f"and shape {image.shape}"
        )
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    if image.shape[2] != 3:
        raise ValueError(f"expected 3 colour channels, received shape {image.shape}")
    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = Image.fromarray(np.ascontiguousarray(image[top : top + side, left : left + side]))
    return np.array(square.resize((size, size), Image.Resampling.BICUBIC))


def load_photos(size: int = 256) -> dict[str, np.ndarray]:
    """Every source photo prepared to (size,size,3) uint8, by name; raises if any fails."""
    _check_size(size)
    photos: dict[str, np.ndarray] = {}
    failed: list[str] = []
    for name, loader in SOURCE_PHOTOS:
        try:
            photos[name] = prepare(loader(), size)
        except Exception as error:  # loaders raise import, file and network errors alike
            failed.append(f"{name} ({type(error).__name__}: {error})")
    if failed:
        raise RuntimeError(
            f"cannot load {len(failed)} of {len(SOURCE_PHOTOS)} source photos: "
            f"{'; '.join(failed)}; expected all of them to ship with scikit-image and matplotlib"
        )
    return photos


# --- distortions: (rgb uint8 (H,W,3), level 1..5, rng) -> rgb uint8 (H,W,3) --------------


def _parameter(image: np.ndarray, values: Sequence[float], level: int, kind: str) -> float:
    """The parameter of `level`, after checking the image and the level."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3:
        raise ValueError(
            f"{kind} expects a uint8 array of shape (H,W,3), received "
            f"{getattr(image, 'dtype', type(image).__name__)} {getattr(image, 'shape', '')}"
        )
    if image.shape[2] != 3:
        raise ValueError(f"{kind} expects 3 colour channels, received shape {image.shape}")
    if isinstance(level, bool) or not isinstance(level, numbers.Integral):
        raise ValueError(f"{kind} level must be an integer 1..{MAX_LEVEL}, received {level!r}")
    if not 1 <= level <= MAX_LEVEL:
        raise ValueError(f"{kind} level must be 1..{MAX_LEVEL}, received {level}")
    return values[int(level) - 1]


def _to_uint8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def blur(image: np.ndarray, level: int, rng: np.random.Generator) -> np.ndarray:
    """Gaussian blur with sigma BLUR_SIGMAS[level-1] x (shorter side / 256)."""
    sigma = _parameter(image, BLUR_SIGMAS, level, "blur") * min(image.shape[:2]) / 256.0
    blurred = ndimage.gaussian_filter(image.astype(np.float64), (sigma, sigma, 0), mode="reflect")
    return _to_uint8(blurred)


def noise(image: np.ndarray, level: int, rng: np.random.Generator) -> np.ndarray:
    """Additive white Gaussian noise with std NOISE_STDS[level-1] on the 0-255 scale."""
    std = _parameter(image, NOISE_STDS, level, "noise")
    return _to_uint8(image.astype(np.float64) + rng.normal(0.0, std, size=image.shape))


def jpeg(image: np.ndarray, level: int, rng: np.random.Generator) -> np.ndarray:
    """Pillow JPEG round trip at quality JPEG_QUALITIES[level-1] (4:2:0 chroma subsampling)."""
    quality = int(_parameter(image, JPEG_QUALITIES, level, "jpeg"))
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality, subsampling=2)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return np.array(decoded.convert("RGB"))


def contrast(image: np.ndarray, level: int, rng: np.random.Generator) -> np.ndarray:
    """Blend toward the image's mean grey: mean + CONTRAST_FACTORS[level-1] x (image - mean)."""
    factor = _parameter(image, CONTRAST_FACTORS, level, "contrast")
    values = image.astype(np.float64)
    grey = values.mean()
    return _to_uint8(grey + factor * (values - grey))


def exposure(image: np.ndarray, level: int, rng: np.random.Generator) -> np.ndarray:
    """Over-exposure: multiply by EXPOSURE_GAINS[level-1] and clip at 255."""
    gain = _parameter(image, EXPOSURE_GAINS, level, "exposure")
    return _to_uint8(image.astype(np.float64) * gain)


DISTORTIONS: dict[str, Callable[[np.ndarray, int, np.random.Generator], np.ndarray]] = {
    "blur": blur,
    "noise": noise,
    "jpeg": jpeg,
    "contrast": contrast,
    "exposure": exposure,
}


def rng_for(seed: int, photo: str, kind: str, level: int) -> np.random.Generator:
    """The generator of one distorted image, seeded from sha256 of (seed, photo, kind, level)."""
    return np.random.default_rng(stable_seed(seed, photo, kind, level, byteorder="little"))


def quality_label(level: int) -> float:
    """The known label: 100 for the reference (level 0), 100 * (1 - level / 6) otherwise."""
    return 100.0 * (1.0 - level / (MAX_LEVEL + 1))


# --- the benchmark folder -----------------------------------------------------------------


def _check_size(size: int) -> None:
    if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < MIN_SIZE:
        raise ValueError(f"size must be an integer >= {MIN_SIZE}, received {size!r}")


def _check_arguments(
    size: int, kinds: Sequence[str], levels: int, seed: int, test_fraction: float
) -> list[str]:
    """Validate make_benchmark's arguments; the kinds in DISTORTIONS order."""
    _check_size(size)
    if isinstance(kinds, str):
        raise ValueError(f"kinds must be a sequence of names, received the string {kinds!r}")
    unknown = [k for k in kinds if k not in DISTORTIONS]
    if unknown or not kinds or len(set(kinds)) != len(kinds):
        raise ValueError(
            f"kinds must be distinct names among {list(DISTORTIONS)}, received {list(kinds)}"
        )
    if isinstance(levels, bool) or not isinstance(levels, numbers.Integral):
        raise ValueError(f"levels must be an integer 1..{MAX_LEVEL}, received {levels!r}")
    if not 1 <= levels <= MAX_LEVEL:
        raise ValueError(f"levels must be 1..{MAX_LEVEL}, received {levels}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ValueError(f"seed must be an integer, received {seed!r}")
    real = isinstance(test_fraction, numbers.Real) and not isinstance(test_fraction, bool)
    if not real or not math.isfinite(test_fraction) or not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must lie strictly in (0, 1), received {test_fraction!r}")
    return [k for k in DISTORTIONS if k in kinds]


def claim_folder(
    root: Path, arguments: dict[str, object], labels: str = LABELS, record: str = ARGUMENTS
) -> None:
    """Refuse a folder whose benchmark was made with other arguments; record ours (in
    ``record``, beside the benchmark's ``labels`` file; the video benchmark has its own)."""
    stored_path = root / record
    if stored_path.is_file():
        try:
            stored = json.loads(stored_path.read_text())
        except (OSError, ValueError) as error:
            raise ValueError(f"{stored_path}: cannot read it as JSON: {error}") from error
        if stored != arguments:
            raise ValueError(
                f"{stored_path}: this folder holds a benchmark made with {stored}; refusing to "
                f"write one made with {arguments} into it (use another folder)"
            )
    elif (root / labels).exists():
        raise ValueError(
            f"{root / labels} exists without {record}, so its arguments are unknown; "
            "refusing to overwrite it (use another folder)"
        )
    root.mkdir(parents=True, exist_ok=True)
    stored_path.write_text(json.dumps(arguments, indent=2) + "\n")


def make_benchmark(
    root: str | os.PathLike[str],
    size: int = 256,
    kinds: Sequence[str] = tuple(DISTORTIONS),
    levels: int = MAX_LEVEL,
    include_references: bool = True,
    seed: int = 0,
    test_fraction: float = 0.3,
) -> pd.DataFrame:
    """Write the benchmark under `root` and return its table (also `root/synthetic.csv`).

    Files: `images/<photo>.png` (reference, if include_references) and
    `images/<photo>_<kind>_<level>.png` for levels 1..`levels`. Table columns: image (path
    relative to root), mos, ref_id (photo name), distortion ("reference" for pristine), level
    (0 for reference), split ("train"/"test" by content, with `seed`). Re-running with the same
    arguments rewrites identical files; other arguments over an existing benchmark raise.
    """
    kinds = _check_arguments(size, kinds, levels, seed, test_fraction)
    root = Path(root).expanduser()
    arguments: dict[str, object] = {
        "size": int(size),
        "kinds": kinds,
        "levels": int(levels),
        "include_references": bool(include_references),
        "seed": int(seed),
        "test_fraction": float(test_fraction),
        "photos": [name for name, _ in SOURCE_PHOTOS],
    }
    photos = load_photos(size)

    rows = []
    for photo in photos:
        if include_references:
            rows.append((f"images/{photo}.png", photo, "reference", 0))
        for kind in kinds:
            for level in range(1, levels + 1):
                rows.append((f"images/{photo}_{kind}_{level}.png", photo, kind, level))
    table = pd.DataFrame(rows, columns=["image", "ref_id", "distortion", "level"])
    table.insert(1, "mos", [quality_label(level) for level in table["level"]])
    fractions = {"train": 1.0 - float(test_fraction), "test": float(test_fraction)}
    table["split"] = split_by_group(table, fractions, seed=int(seed), group_col="ref_id")
    empty = [name for name in fractions if not (table["split"] == name).any()]
    if empty:
        raise ValueError(
            f"test_fraction={test_fraction} leaves the {empty} split(s) empty with "
            f"{len(photos)} contents; expected both train and test to hold at least one"
        )

    claim_folder(root, arguments)
    (root / "images").mkdir(exist_ok=True)
    for image, photo, kind, level in table[["image", "ref_id", "distortion", "level"]].itertuples(
        index=False
    ):
        pixels = photos[photo]
        if kind != "reference":
            pixels = DISTORTIONS[kind](pixels, level, rng_for(seed, photo, kind, level))
        Image.fromarray(pixels).save(root / image, format="PNG")
    table.to_csv(root / LABELS, index=False)
    return table
