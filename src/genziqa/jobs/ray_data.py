"""Score image files and WebDataset shards on a Ray cluster with Ray Data, resumably.

    genziqa score /data/photos shards/*.tar --engine ray -o scores/      # a local cluster
    genziqa score ... --engine ray --ray-address auto -o /shared/scores/  # join a running one

The pipeline (one Ray Data dataset; the driver only lists inputs and writes results):

1. The driver lists the inputs (:func:`collect_inputs`): image files and folders as
   ``genziqa score`` finds them, Parquet/CSV manifests with a ``path`` column, and uncompressed
   WebDataset ``.tar`` shards, whose samples ``genziqa.io.webdataset`` indexes (key, byte
   offset, size) from the tar headers. Every input is one row with an id (``path``): the
   absolute file path, or ``TAR#KEY`` for a sample of a shard. The total is known before
   anything is decoded.
2. CPU tasks read each input's bytes, hash them (sha256) and decode and resize them with the
   CLI's own rules (``genziqa.io.images.decode_image``, ``preprocess.resize_image`` and
   ``pil_to_tensor``), so an image gets the same pixels as under ``genziqa score``. A file
   that cannot be read or decoded becomes an error row here; nothing is dropped. Video files
   are not scored by this engine: each is an error row (``media`` "video") that says to score
   it without ``--engine ray``.
3. A fixed pool of actors (``--actors``, ``--gpus-per-actor`` each) loads the model once per
   actor through ``genziqa.jobs.runtime.load_for_scoring`` (the CLI's one loading path), so
   every flag means the same, and scores the decoded rows. The model pads every VAE and
   U-Net call to a fixed shape, so a score does not depend on which rows share a batch:
   scores equal the CLI's bit for bit (on CPUs, with the same number of torch threads: the
   CPU kernels' reduction order depends on it).
4. The driver receives the small result rows (no pixels) and writes them to Parquet parts.

Resume, the package's own (not Ray Data's beta checkpointing; docs/ray.md says why): the
inputs still to score are cut into parts of consecutive ids; a part is written to a hidden
temp file and renamed to ``part-RRRRR-NNNNNN.parquet`` only once every one of its rows is
back, so a part on disk is complete by construction (the rename is the completion marker).
Running the same command again reads the ids of the parts present and scores only the rest;
each input ends up in exactly one part. A kill of the driver loses the parts in flight, a
lost worker node is retried by Ray itself. ``_job.json`` records the settings (a rerun with
other settings is refused), ``_SUCCESS`` is written once every input has a row, and a lock
file stops two runs from writing one folder. ``pandas.read_parquet(folder)`` (or
:func:`read_scores`) reads the table: files starting with ``.`` or ``_`` are skipped by it.

Ray is an optional extra (``pip install 'genziqa[ray]'``); this module imports it only
inside the functions that need it.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import logging
import math
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..io.durable import atomic_file
from ..io.images import DEFAULT_MAX_PIXELS, IMAGE_EXTENSIONS, ImageError, decode_image, find_images
from ..io.video import VIDEO_EXTENSIONS
from ..io.webdataset import index_shard, read_bytes
from .runtime import ScoringOptions, load_for_scoring

if TYPE_CHECKING:
    import ray.data

    from ..model import GenzIQA

__all__ = [
    "PART_SCHEMA",
    "RayJobError",
    "RaySummary",
    "collect_inputs",
    "decode_batch",
    "read_scores",
    "score_dataset",
    "score_decoded",
    "score_to_folder",
]

PART_SCHEMA = pa.schema(
    [
        ("path", pa.string()),  # absolute file path, or TAR#KEY for a WebDataset sample
        ("score", pa.float64()),  # null in the parts for an error row (NaN from score_dataset)
        ("status", pa.string()),  # "ok" or "error"
        ("error", pa.string()),  # "" for an ok row
        ("media", pa.string()),  # "image"; "video" for the error row of a video file
        ("key", pa.string()),  # the WebDataset key (to join with the shard's metadata); null
        ("sha256", pa.string()),  # of the input's bytes; "" when they could not be read
        ("model_fingerprint", pa.string()),  # GenzIQA.fingerprint() of the scoring model
    ]
)
"""The columns of every part: the CLI's five (``genziqa.io.tables.COLUMNS``), then key, sha256
and the model fingerprint."""

RESULT_SCHEMA = PART_SCHEMA.append(pa.field("part", pa.int32()))
"""What the actors return: typed, so that every block has the same schema (numpy batches with
only None in ``key`` would otherwise become Arrow ``null`` columns in some blocks)."""

ITEM_SCHEMA = pa.schema(
    [
        ("path", pa.string()),  # the row id
        ("file", pa.string()),  # the file to read
        ("offset", pa.int64()),  # byte offset of a tar member; 0 for a whole file
        ("size", pa.int64()),  # member size; -1 for a whole file
        ("key", pa.string()),
        ("error", pa.string()),  # a problem already found while listing (e.g. a cut tar)
        ("media", pa.string()),  # "image" or "video" (a video gets an error row)
    ]
)

MANIFEST_SUFFIXES = frozenset({".parquet", ".pq", ".csv"})
TAR_SUFFIX = ".tar"
MAX_PART_ROWS = 1000
BATCHES_PER_BLOCK = 4  # rows come back to the driver when an actor finishes a block

_MEDIA = IMAGE_EXTENSIONS | VIDEO_EXTENSIONS  # what folders contribute, as in genziqa score
_GLOB_CHARS = re.compile(r"[*?\[]")
_PART_NAME = re.compile(r"^part-(\d{5})-(\d{6})\.parquet$")
_SETUP_ERROR = re.compile(r"ScoringSetupError: (.+)")


class RayJobError(ValueError):
    """A mistake in a Ray scoring job's inputs, settings, output folder or cluster; one line."""


# --------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------


def resolve_settings(options: ScoringOptions) -> dict[str, Any]:
    """The input size and timesteps the model will score at, found without loading weights.

    The decoding tasks resize before any model exists, so the driver works the size out from
    the model's config (and, for a model at the backbone's native size, the backbone's U-Net
    and VAE config files), applying ``preset``, ``timesteps`` and ``resolution`` as
    ``jobs.runtime.load_for_scoring`` does (a video model: its image model, which scores the
    images of a ``genziqa score`` run). Each actor checks the model it loaded against this.
    The device is not checked here: the driver may run on a node without the actors' GPUs.
    """
    import torch

    from ..backbone import BackboneNotFoundError
    from ..config import spaced_timesteps
    from ..pretrained import ModelNotFoundError, load_config
    from ..video.model import is_video_model, load_video_config
    from .presets import preset_settings
    from .runtime import resolve_dtype

    name = options.model_name
    local_only = True if options.offline else None
    try:
        resolve_dtype(options.dtype, torch.device("cpu"))  # the name only
        if is_video_model(options.model):
            config = load_video_config(name, local_files_only=local_only)[0].image
            if options.backbone is not None:
                config = config.replace(
                    **{"backbone.source": options.backbone, "backbone.revision": None}
                )
        else:
            config, _ = load_config(name, backbone=options.backbone, local_files_only=local_only)
        if options.backbone_config is not None:
            config = config.replace(**{"backbone.config": options.backbone_config})
        resolution = config.preprocess.resolution
        if resolution is None and (options.preset is not None or options.resolution is None):
            resolution = _native_resolution(config.backbone, options.offline)
        settings: dict[str, Any] = {"timesteps": tuple(config.scoring.timesteps)}
        if options.preset is not None:
            settings.update(preset_settings(options.preset, resolution))
        if options.timesteps is not None:
            settings["timesteps"] = tuple(spaced_timesteps(options.timesteps))
        if options.resolution is not None:
            settings["resolution"] = options.resolution
        settings.setdefault("resolution", resolution)
    except (ModelNotFoundError, BackboneNotFoundError, ValueError) as error:
        raise RayJobError(str(error)) from None
    return {
        "model": name,
        "backbone": config.backbone.source,
        "backbone_config": config.backbone.config,
        "dtype": options.dtype,
        "timesteps": list(settings["timesteps"]),
        "resolution": int(settings["resolution"]),
    }


def _native_resolution(backbone: Any, offline: bool) -> int:
    """U-Net sample size x VAE scale factor, read from the backbone's config files only."""
    from diffusers import AutoencoderKL, UNet2DConditionModel

    from ..backbone import BackboneNotFoundError, backbone_availability
    from ..pretrained import resolve_backbone_source

    source = resolve_backbone_source(backbone.source)
    where, revision = source, backbone.revision
    if Path(source).expanduser().is_file():
        if backbone.config is None:
            raise BackboneNotFoundError(
                f"backbone file {source}: with --engine ray the input size must be known before "
                f"the model loads; pass --backbone-config (its diffusers-layout configs) or "
                f"--resolution"
            )
        where, revision = backbone.config, None
    attempts = [True] if offline else [True, False]
    for local_only in attempts:
        try:
            common = {"revision": revision, "local_files_only": local_only}
            unet = UNet2DConditionModel.load_config(where, subfolder="unet", **common)
            vae = AutoencoderKL.load_config(where, subfolder="vae", **common)
            return int(unet["sample_size"]) * 2 ** (len(vae["block_out_channels"]) - 1)
        except (OSError, ValueError, KeyError):
            continue
    raise BackboneNotFoundError(
        f"backbone {where!r}: its U-Net/VAE configs could not be read to find the input size "
        f"({backbone_availability(where)})"
    )


# --------------------------------------------------------------------------------------------
# Listing the inputs
# --------------------------------------------------------------------------------------------


def collect_inputs(inputs: Sequence[str | Path], *, recursive: bool = False) -> pa.Table:
    """Every input as one row (``ITEM_SCHEMA``), sorted by id, without duplicates.

    - Image files, folders and glob patterns: as ``genziqa score`` finds them
      (``genziqa.io.images.find_images``, images and videos); a folder also contributes its
      ``.tar`` files. A video file is an error row (``media`` "video"): this engine scores
      images only.
    - ``.tar`` files: WebDataset shards; members are grouped into samples by key (the name up
      to the first dot of its last part, as WebDataset does); each sample is one input, scored
      from its image member (``jpg``, ``jpeg``, ``png``, ``webp``, then any other image
      extension); ``.json``/``.txt`` members are ignored. A sample without an image, a member
      cut off by a truncated tar, or an unreadable tar is an error row.
    - ``.parquet``/``.pq``/``.csv`` files: manifests whose ``path`` column lists image files
      (relative paths are taken from the manifest's folder); a missing file is an error row.
    """
    if isinstance(inputs, (str, Path)):
        raise RayJobError(f"inputs must be a list of paths, got a single path: {str(inputs)!r}")
    images: list[str] = []
    tars: set[Path] = set()
    manifests: set[Path] = set()
    for item in inputs:
        path = Path(item).expanduser()
        if path.is_dir():
            images.append(str(item))
            tars.update(_tars_in_folder(path, recursive))
        elif path.is_file():
            _sort_file(path, str(item), images, tars, manifests)
        elif _GLOB_CHARS.search(str(item)):
            matches = sorted(glob.glob(str(path), recursive=recursive))
            if not matches:
                raise RayJobError(f"{item}: glob pattern matched nothing")
            for match in map(Path, matches):
                if match.is_dir():
                    images.append(str(match))
                    tars.update(_tars_in_folder(match, recursive))
                elif match.suffix.lower() in _MEDIA | MANIFEST_SUFFIXES | {TAR_SUFFIX}:
                    _sort_file(match, str(match), images, tars, manifests)
        else:
            raise RayJobError(f"{item}: no such file or folder")
    rows: dict[str, dict[str, Any]] = {}
    if images:
        try:
            found = find_images(images, recursive=recursive, extensions=_MEDIA)
        except FileNotFoundError as error:
            raise RayJobError(str(error)) from None
        for image in found:
            rows.setdefault(str(image), _file_item(str(image)))
    for manifest in sorted(manifests):
        for path in _manifest_paths(manifest):
            rows.setdefault(path, _file_item(path))
    for tar in sorted(tars):
        for row in list_tar(tar):
            rows.setdefault(row["path"], row)
    ordered = [rows[key] for key in sorted(rows)]
    return pa.Table.from_pylist(ordered, schema=ITEM_SCHEMA)


def _sort_file(
    path: Path, given: str, images: list[str], tars: set[Path], manifests: set[Path]
) -> None:
    suffix = path.suffix.lower()
    if suffix == TAR_SUFFIX:
        tars.add(path.resolve())
    elif suffix in MANIFEST_SUFFIXES:
        manifests.add(path.resolve())
    else:
        images.append(given)


def _tars_in_folder(folder: Path, recursive: bool) -> Iterator[Path]:
    for root, dirnames, filenames in os.walk(folder):
        if recursive:
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        else:
            dirnames.clear()
        for name in filenames:
            if not name.startswith(".") and name.lower().endswith(TAR_SUFFIX):
                yield Path(root, name).resolve()


def _file_item(path: str, error: str = "") -> dict[str, Any]:
    """An input file's row; a video file gets its error row here (this engine scores images)."""
    suffix = Path(path).suffix.lower()
    media = "video" if suffix in VIDEO_EXTENSIONS and suffix not in IMAGE_EXTENSIONS else "image"
    if media == "video" and not error:
        error = "a video: --engine ray scores images only; score videos without --engine ray"
    row = {"path": path, "file": path, "offset": 0, "size": -1, "key": None, "error": error}
    return {**row, "media": media}


def _manifest_paths(manifest: Path) -> list[str]:
    import pandas as pd

    try:
        if manifest.suffix.lower() == ".csv":
            table = pd.read_csv(manifest, dtype=str, keep_default_na=False)
        else:
            table = pd.read_parquet(manifest)
    except Exception as error:
        raise RayJobError(f"manifest {manifest}: could not be read ({error})") from None
    if "path" not in table.columns:
        raise RayJobError(
            f"manifest {manifest}: expected a 'path' column, found {', '.join(map(str, table))}"
        )
    paths = []
    for value in table["path"]:
        if not isinstance(value, str) or not value:
            raise RayJobError(f"manifest {manifest}: 'path' holds a non-path value {value!r}")
        path = Path(value).expanduser()
        paths.append(str((path if path.is_absolute() else manifest.parent / path).resolve()))
    return paths


def list_tar(tar: Path) -> list[dict[str, Any]]:
    """The samples of one WebDataset shard as input rows (``genziqa.io.webdataset``); a tar
    that cannot be read (wholly or after some samples) adds an error row of its own."""
    index = index_shard(tar)
    rows = [
        {"path": f"{tar}#{sample.key}", "file": str(tar), "offset": sample.offset,
         "size": sample.size, "key": sample.key, "error": sample.error, "media": "image"}
        for sample in index.samples
    ]  # fmt: skip
    if index.error:
        rows.append(_file_item(str(tar), index.error))
    return rows


# --------------------------------------------------------------------------------------------
# Reading and decoding (CPU tasks)
# --------------------------------------------------------------------------------------------


def decode_batch(
    batch: dict[str, np.ndarray], *, resolution: int, max_pixels: int | None = DEFAULT_MAX_PIXELS
) -> dict[str, np.ndarray]:
    """Input rows -> the same rows with ``pixels`` (n, 3, R, R) uint8, ``sha256`` and ``error``.

    Pixels are made exactly as ``preprocess.load_for_model`` makes them for a file. A row
    that cannot be read or decoded keeps zero pixels and gets its one-line reason.
    """
    from ..preprocess import pil_to_tensor, resize_image

    count = len(batch["path"])
    pixels = np.zeros((count, 3, resolution, resolution), dtype=np.uint8)
    errors = [str(e or "") for e in batch["error"]]
    digests = [""] * count
    for i in range(count):
        if errors[i]:
            continue
        name = str(batch["path"][i])
        try:
            data = read_bytes(
                str(batch["file"][i]), int(batch["offset"][i]), int(batch["size"][i]), name
            )
            digests[i] = hashlib.sha256(data).hexdigest()
            image = decode_image(data, name, max_pixels=max_pixels)
            pixels[i] = pil_to_tensor(resize_image(image, resolution)).numpy()
        except ImageError as error:
            errors[i] = error.reason
    return {
        "path": np.asarray(batch["path"], dtype=object),
        # "" rather than None: Ray would type a column of only None as Arrow null.
        "key": np.asarray([k if isinstance(k, str) else "" for k in batch["key"]], dtype=object),
        "media": np.asarray(batch["media"], dtype=object),
        "part": np.asarray(batch["part"]),
        "pixels": pixels,
        "sha256": np.asarray(digests, dtype=object),
        "error": np.asarray(errors, dtype=object),
    }


# --------------------------------------------------------------------------------------------
# Scoring (actors)
# --------------------------------------------------------------------------------------------


def score_decoded(model: GenzIQA, fingerprint: str, batch: dict[str, np.ndarray]) -> dict:
    """Decoded rows -> result rows, as ``score_files`` scores a batch (no pixels kept).

    The rows without an error are scored in one ``model.score`` call; a failure of that call
    (e.g. out of memory) becomes an error row for each of them, a non-finite score an error row.
    """
    import torch

    errors = [str(e) for e in batch["error"]]
    good = [i for i, e in enumerate(errors) if not e]
    scores = np.full(len(errors), np.nan)
    if good:
        try:
            pixels = torch.from_numpy(np.ascontiguousarray(batch["pixels"][good]))
            pixels = pixels.to(model.device, non_blocking=True).float().div_(255.0)
            scores[good] = model.score(pixels, batch_size=len(good))
        except (RuntimeError, ValueError) as error:
            reason = f"scoring failed: {str(error).strip().splitlines()[0]}"
            for i in good:
                errors[i] = reason
    for i in good:
        if not errors[i] and not math.isfinite(scores[i]):
            errors[i] = f"the model produced a non-finite score ({scores[i]})"
    failed = np.array([bool(e) for e in errors])
    scores[failed] = np.nan
    return {
        "path": batch["path"],
        "score": scores,
        "status": np.where(failed, "error", "ok").astype(object),
        "error": np.asarray(errors, dtype=object),
        "media": batch["media"],
        "key": np.asarray([k if isinstance(k, str) and k else None for k in batch["key"]]),
        "sha256": batch["sha256"],
        "model_fingerprint": np.full(len(errors), fingerprint, dtype=object),
        "part": batch["part"],
    }


class _Scorer:
    """The actor: loads the model once, checks it against the driver's plan, scores batches."""

    def __init__(self, options: ScoringOptions, settings: dict, threads: int | None) -> None:
        import torch

        if threads is not None:
            torch.set_num_threads(threads)
        from .runtime import ScoringSetupError

        try:
            self.model = load_for_scoring(options)
        except Exception as error:  # the reason travels to the driver in one line
            raise ScoringSetupError(_first_line(error)) from None
        planned = (settings["resolution"], tuple(settings["timesteps"]))
        loaded = (self.model.resolution, tuple(self.model.config.scoring.timesteps))
        if loaded != planned:
            raise ScoringSetupError(
                f"the model loaded on a worker scores at {loaded[0]} px with timesteps "
                f"{list(loaded[1])}, the driver planned {planned[0]} px with {list(planned[1])} "
                f"(is the same genziqa version installed on every node?)"
            )
        self.fingerprint = self.model.fingerprint()
        self.lock = threading.Lock()

    def __call__(self, batch: dict[str, np.ndarray]) -> pa.Table:
        with self.lock:  # one model call at a time, whatever Ray's concurrency settings
            rows = score_decoded(self.model, self.fingerprint, batch)
        columns = {name: list(rows[name]) for name in RESULT_SCHEMA.names}
        return pa.Table.from_pydict(columns, schema=RESULT_SCHEMA)


# --------------------------------------------------------------------------------------------
# The Ray Data pipeline
# --------------------------------------------------------------------------------------------


def _ray():
    try:
        import ray
        import ray.data
    except ImportError:
        raise RayJobError(
            "the Ray engine needs Ray Data, which is not installed: pip install 'genziqa[ray]'"
        ) from None
    _quiet_ray_data()
    return ray


class _DropProgressNotice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "Progress bars disabled" not in record.getMessage()


def _quiet_ray_data() -> None:
    """Ray Data's own progress bars and per-run INFO lines off on the terminal (the log files
    in the Ray session folder keep everything); ``GENZIQA_RAY_PROGRESS_BARS=1`` keeps them."""
    import ray.data

    if os.environ.get("GENZIQA_RAY_PROGRESS_BARS") == "1":
        return
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    for handler in logging.getLogger("ray.data").handlers:
        if type(handler).__name__ == "PlainRayHandler":
            handler.setLevel(logging.WARNING)
            if not any(isinstance(f, _DropProgressNotice) for f in handler.filters):
                handler.addFilter(_DropProgressNotice())


@dataclass(frozen=True)
class _Plan:
    actors: int
    gpus_per_actor: float
    cpus_per_actor: float
    threads: int | None
    batch_size: int
    max_pixels: int | None


def _plan(
    actors: int | None,
    gpus_per_actor: float | None,
    cpus_per_actor: float,
    threads: int | None,
    batch_size: int,
    max_pixels: int | None,
) -> _Plan:
    """Fill in the defaults from the cluster: one actor per GPU (``gpus_per_actor`` 1), or one
    CPU actor on a cluster without GPUs; refuse what the cluster cannot run."""
    ray = _ray()
    resources = ray.cluster_resources()
    cluster_gpus = float(resources.get("GPU", 0))
    cluster_cpus = float(resources.get("CPU", 0))
    if gpus_per_actor is None:
        gpus_per_actor = 1.0 if cluster_gpus else 0.0
    if actors is None:
        actors = max(1, int(cluster_gpus // gpus_per_actor)) if gpus_per_actor else 1
    if actors * gpus_per_actor > cluster_gpus:
        raise RayJobError(
            f"{actors} actor(s) x {gpus_per_actor:g} GPU need {actors * gpus_per_actor:g} GPUs; "
            f"the Ray cluster has {cluster_gpus:g} (use --gpus-per-actor 0 to score on CPUs)"
        )
    if actors * cpus_per_actor + 1 > cluster_cpus:
        raise RayJobError(
            f"{actors} actor(s) x {cpus_per_actor:g} CPU leave no CPU of the cluster's "
            f"{cluster_cpus:g} for the decoding tasks; use fewer actors"
        )
    if threads is None and not gpus_per_actor:
        threads = max(1, int(cpus_per_actor))  # the CPU share the actor reserved
    return _Plan(actors, gpus_per_actor, cpus_per_actor, threads, batch_size, max_pixels)


def _pipeline(
    items: pa.Table,
    options: ScoringOptions,
    settings: dict,
    plan: _Plan,
    block_rows: int | None = None,
):
    """Items (with a ``part`` column) -> the lazy Dataset of result rows (with ``part``).

    The items go to Ray in blocks of ``block_rows`` (default: 4 batches): an actor returns
    its rows when it has scored a whole block, so blocks set how often results (progress,
    finished parts) reach the driver. Each actor runs one call at a time (Ray Data's default
    for actors; ``_Scorer`` also holds a lock, as the model's attention processors keep
    per-call state).
    """
    ray = _ray()
    step = block_rows or BATCHES_PER_BLOCK * plan.batch_size
    blocks = [items.slice(start, step) for start in range(0, len(items), step)]
    dataset = ray.data.from_arrow(blocks)
    dataset = dataset.map_batches(
        decode_batch,
        batch_size=plan.batch_size,  # a larger one would merge blocks into coarser tasks
        batch_format="numpy",
        fn_kwargs={"resolution": settings["resolution"], "max_pixels": plan.max_pixels},
        num_cpus=1,
        udf_modifying_row_count=False,
    )
    return dataset.map_batches(
        _Scorer,
        batch_size=plan.batch_size,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=plan.actors),
        fn_constructor_kwargs={"options": options, "settings": settings, "threads": plan.threads},
        num_gpus=plan.gpus_per_actor,
        num_cpus=plan.cpus_per_actor,
        udf_modifying_row_count=False,
    )


def score_dataset(
    inputs: Sequence[str | Path],
    options: ScoringOptions | None = None,
    *,
    recursive: bool = False,
    batch_size: int = 8,
    actors: int | None = None,
    gpus_per_actor: float | None = None,
    cpus_per_actor: float = 1.0,
    threads: int | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
) -> ray.data.Dataset:
    """The lazy Ray Dataset of result rows (``PART_SCHEMA``) for ``inputs``, one per input.

    For your own sinks (``.write_parquet("s3://...")``, ``.iter_batches()``): no resume; use
    :func:`score_to_folder` for that. Uses the Ray this process has initialised (call
    ``ray.init(address=...)`` first to choose the cluster); otherwise starts a local cluster,
    which lives until ``ray.shutdown()`` or the end of the process.
    """
    options = options or ScoringOptions()
    items = collect_inputs(inputs, recursive=recursive)
    if len(items) == 0:
        raise RayJobError(f"no inputs found in {' '.join(map(str, inputs))}")
    settings = resolve_settings(options)
    _connect(None, actors, cpus_per_actor)  # no-op when Ray is initialised; else a local one
    plan = _plan(actors, gpus_per_actor, cpus_per_actor, threads, batch_size, max_pixels)
    items = items.append_column("part", pa.array(np.zeros(len(items), np.int32)))
    return _pipeline(items, options, settings, plan).select_columns(PART_SCHEMA.names)


# --------------------------------------------------------------------------------------------
# The output folder: complete parts, resume, settings, lock
# --------------------------------------------------------------------------------------------


class _OutputFolder:
    """The part files of one job in a folder; only this class touches them."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        if self.folder.exists() and not self.folder.is_dir():
            raise RayJobError(f"--output {self.folder}: is a file; --engine ray writes a folder")
        self.folder.mkdir(parents=True, exist_ok=True)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive use of the folder for this run (released by the OS if it is killed)."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            yield
            return
        with open(self.folder / ".lock", "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise RayJobError(
                    f"another genziqa run is writing to {self.folder}; wait for it or use "
                    f"another --output folder"
                ) from None
            yield

    def parts(self) -> list[Path]:
        return sorted(p for p in self.folder.iterdir() if _PART_NAME.match(p.name))

    def prepare(self, settings: dict, overwrite: bool, retry: frozenset[str] | None) -> None:
        """Clear what a killed run left (temp files), apply --overwrite / --retry-errors, and
        check (or record) the settings the folder's scores were made with."""
        for stale in self.folder.glob(".part-*.tmp"):
            stale.unlink()
        job = self.folder / "_job.json"
        if overwrite:
            for path in [*self.parts(), job, self.folder / "_SUCCESS"]:
                path.unlink(missing_ok=True)
        if job.is_file() and self.parts():
            recorded = json.loads(job.read_text())
            changed = [
                f"{name} {recorded.get(name)!r} -> {value!r}"
                for name, value in settings.items()
                if recorded.get(name) != value
            ]
            if changed:
                raise RayJobError(
                    f"{self.folder} holds scores made with other settings ({'; '.join(changed)}); "
                    f"use another --output folder, or --overwrite to start afresh"
                )
        else:
            self._atomic(job, lambda h: h.write(json.dumps(settings, indent=2).encode()))
        if retry:
            self._drop_error_rows(retry)

    def _drop_error_rows(self, wanted: frozenset[str]) -> None:
        """Rewrite each part without its error rows for ``wanted`` ids, so they are redone."""
        wanted_ids = pa.array(sorted(wanted), pa.string())
        for part in self.parts():
            table = pq.read_table(part)
            retried = pc.and_(
                pc.equal(table["status"], "error"), pc.is_in(table["path"], wanted_ids)
            )
            if not pc.any(retried).as_py():
                continue
            kept = table.filter(pc.invert(retried))
            if len(kept):
                self._atomic(part, lambda h, t=kept: pq.write_table(t, h))
            else:
                part.unlink()

    def index(self) -> pa.Table:
        """``path`` and ``status`` of every row already in the folder."""
        tables = [pq.read_table(p, columns=["path", "status"]) for p in self.parts()]
        if not tables:
            return PART_SCHEMA.empty_table().select(["path", "status"])
        return pa.concat_tables(tables)

    def next_run(self) -> int:
        runs = [int(_PART_NAME.match(p.name)[1]) for p in self.parts()]
        return max(runs, default=0) + 1

    def write_part(self, run: int, number: int, rows: pa.Table) -> Path:
        path = self.folder / f"part-{run:05d}-{number:06d}.parquet"
        rows = rows.select(PART_SCHEMA.names).cast(PART_SCHEMA)
        rows = rows.take(pc.sort_indices(rows, [("path", "ascending")]))
        missing = pc.if_else(  # a failed row's score is missing (null), as the CLI writes it
            pc.equal(rows["status"], "error"), pa.scalar(None, pa.float64()), rows["score"]
        )
        rows = rows.set_column(rows.schema.get_field_index("score"), "score", missing)
        self._atomic(path, lambda h: pq.write_table(rows, h))
        return path

    def mark_complete(self, summary: dict) -> None:
        self._atomic(
            self.folder / "_SUCCESS", lambda h: h.write(json.dumps(summary, indent=2).encode())
        )

    def _atomic(self, path: Path, write: Callable[[Any], Any]) -> None:
        """``write(handle)`` into a hidden temp file that replaces ``path`` when complete
        (``genziqa.io.durable.atomic_file``: fsynced, usual permissions)."""
        with atomic_file(path) as handle:
            write(handle)


def read_scores(folder: str | Path) -> Any:
    """All rows of a ``score_to_folder`` output as one pandas DataFrame (``PART_SCHEMA``)."""
    import pandas as pd

    folder = Path(folder)
    if not folder.is_dir():
        raise RayJobError(f"{folder}: no such folder of Ray scoring parts")
    parts = sorted(p for p in folder.iterdir() if _PART_NAME.match(p.name))
    if not parts:
        return pa.Table.from_pylist([], schema=PART_SCHEMA).to_pandas()
    frames = [pq.read_table(p).to_pandas() for p in parts]
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------------------------
# Running a job into a folder
# --------------------------------------------------------------------------------------------


@dataclass
class RaySummary:
    """What one ``score_to_folder`` call did (counts of inputs)."""

    output: str
    total: int  # inputs found
    skipped: int = 0  # already in the folder
    scored: int = 0  # ok rows written by this run
    failed: int = 0  # error rows written by this run
    failed_in_folder: int = 0  # error rows in the folder for this run's inputs, after it
    parts_written: int = 0
    seconds: float = 0.0  # from the start of the pipeline to the last part
    first_row_seconds: float | None = None  # from the start of the pipeline to the first row
    plan: dict = field(default_factory=dict)

    @property
    def images_per_s(self) -> float:
        done = self.scored + self.failed
        return done / self.seconds if self.seconds > 0 else 0.0


def default_part_rows(todo: int) -> int:
    """At least ~32 parts per run (a kill loses little), at most ``MAX_PART_ROWS`` rows each."""
    return min(MAX_PART_ROWS, max(8, math.ceil(todo / 32)))


def score_to_folder(
    inputs: Sequence[str | Path],
    output: str | Path,
    options: ScoringOptions | None = None,
    *,
    recursive: bool = False,
    batch_size: int = 8,
    actors: int | None = None,
    gpus_per_actor: float | None = None,
    cpus_per_actor: float = 1.0,
    threads: int | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    part_rows: int | None = None,
    ray_address: str | None = None,
    overwrite: bool = False,
    retry_errors: bool = False,
    progress: bool = False,
) -> RaySummary:
    """Score ``inputs`` on Ray into Parquet parts in ``output``; resumes what is there.

    ``ray_address``: ``None`` starts a local cluster on this machine (unless Ray is already
    initialised in this process, which is then used); ``"auto"`` or ``HOST:PORT`` joins a
    running cluster. ``actors`` x ``gpus_per_actor`` (defaults: one actor per GPU, or one CPU
    actor without GPUs), ``cpus_per_actor`` and ``threads`` (torch threads per actor; default
    on CPU actors: ``cpus_per_actor``) size the scoring pool; ``part_rows`` the parts
    (default :func:`default_part_rows`). ``progress`` shows rows done / total and images/s on
    stderr. Raises :class:`RayJobError` for every mistake in inputs, settings or cluster.
    """
    for name, value, low in (("batch_size", batch_size, 1), ("part_rows", part_rows, 1)):
        if value is not None and (isinstance(value, bool) or value < low):
            raise RayJobError(f"{name} must be an int >= {low}, got {value!r}")
    if actors is not None and actors < 1:
        raise RayJobError(f"--actors must be >= 1, got {actors}")
    if gpus_per_actor is not None and gpus_per_actor < 0:
        raise RayJobError(f"--gpus-per-actor must be >= 0, got {gpus_per_actor}")
    if overwrite and retry_errors:
        raise RayJobError("--overwrite and --retry-errors exclude each other")
    options = options or ScoringOptions()
    items = collect_inputs(inputs, recursive=recursive)
    if len(items) == 0:
        raise RayJobError(f"no inputs found in {' '.join(map(str, inputs))}")
    settings = {**resolve_settings(options), "max_pixels": max_pixels}
    folder = _OutputFolder(Path(output))
    ids = items["path"]
    with folder.locked():
        folder.prepare(settings, overwrite, frozenset(ids.to_pylist()) if retry_errors else None)
        todo = items.filter(pc.invert(pc.is_in(ids, folder.index()["path"])))
        summary = RaySummary(str(folder.folder), total=len(items), skipped=len(items) - len(todo))
        if len(todo):
            (folder.folder / "_SUCCESS").unlink(missing_ok=True)
            ray = _ray()
            started_here = _connect(ray_address, actors, cpus_per_actor)
            try:
                plan = _plan(
                    actors, gpus_per_actor, cpus_per_actor, threads, batch_size, max_pixels
                )
                summary.plan = asdict(plan)
                with _Progress(summary.total, summary.skipped, progress) as advance:
                    _run(todo, folder, options, settings, plan, part_rows, summary, advance)
            finally:
                if started_here:
                    ray.shutdown()
        index = folder.index()
        mine = index.filter(pc.is_in(index["path"], ids))
        summary.failed_in_folder = pc.sum(pc.equal(mine["status"], "error")).as_py() or 0
        if len(pc.unique(mine["path"])) == len(items):
            folder.mark_complete(
                {"inputs": len(items), "failed": summary.failed_in_folder, **settings}
            )
    return summary


def _run(
    todo: pa.Table,
    folder: _OutputFolder,
    options: ScoringOptions,
    settings: dict,
    plan: _Plan,
    part_rows: int | None,
    summary: RaySummary,
    advance: Callable[[int], None],
) -> None:
    """Cut ``todo`` into parts, run the pipeline, write each part the moment it is whole."""
    ray = _ray()
    rows_per_part = part_rows or default_part_rows(len(todo))
    parts = np.arange(len(todo), dtype=np.int32) // rows_per_part
    todo = todo.append_column("part", pa.array(parts))
    expected = np.bincount(parts)
    received = np.zeros_like(expected)
    pending: dict[int, list[pa.Table]] = {}
    run = folder.next_run()
    block_rows = min(rows_per_part, BATCHES_PER_BLOCK * plan.batch_size)
    dataset = _pipeline(todo, options, settings, plan, block_rows)
    started = time.perf_counter()
    try:
        # prefetch_batches=0: with Ray's default of 1, a block is handed over only when the
        # next one is done, which delays progress and finished parts by a block.
        blocks = dataset.iter_batches(batch_size=None, batch_format="pyarrow", prefetch_batches=0)
        for block in blocks:
            if summary.first_row_seconds is None and len(block):
                summary.first_row_seconds = time.perf_counter() - started
            for part in np.unique(block["part"].to_numpy()):
                rows = block.filter(pc.equal(block["part"], part))
                pending.setdefault(int(part), []).append(rows)
                received[part] += len(rows)
                if received[part] == expected[part]:
                    whole = pa.concat_tables(pending.pop(int(part)))
                    folder.write_part(run, int(part), whole)
                    ok = pc.sum(pc.equal(whole["status"], "ok")).as_py() or 0
                    summary.parts_written += 1
                    summary.scored += ok
                    summary.failed += len(whole) - ok
            advance(len(block))
    except ray.exceptions.RayError as error:
        setup = _SETUP_ERROR.search(str(error))
        if setup:
            raise RayJobError(f"the scoring actors could not start: {setup[1]}") from None
        raise
    summary.seconds = time.perf_counter() - started
    if pending or (received != expected).any():
        raise RuntimeError(  # a bug, never a user mistake: rows must not get lost
            f"Ray returned {int(received.sum())} of {len(todo)} rows"
        )


def _connect(address: str | None, actors: int | None, cpus_per_actor: float) -> bool:
    """Use this process's Ray, join ``address``, or start a local cluster; True if started
    (or joined) here, so that the caller shuts it down."""
    ray = _ray()
    if ray.is_initialized():
        return False
    common = {"logging_level": logging.WARNING, "log_to_driver": False}
    if address is None:
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # offline-first: no telemetry
        # Logical CPUs: enough for the actors plus at least one decoding task.
        cpus = max(os.cpu_count() or 1, math.ceil((actors or 1) * cpus_per_actor) + 1)
        # "local": a new cluster even when `ray start` runs one here (--ray-address auto joins).
        ray.init(address="local", num_cpus=cpus, include_dashboard=False, **common)
        return True
    try:
        ray.init(address=address, **common)
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise RayJobError(
            f"could not join the Ray cluster at {address}: {_first_line(error)}"
        ) from None
    return True


class _Progress:
    """Rows done / total and images/s on stderr: a bar on a terminal, else a line every 30 s."""

    def __init__(self, total: int, skipped: int, enabled: bool) -> None:
        from rich.console import Console

        self.total, self.done, self.enabled = total, skipped, enabled
        self.console = Console(stderr=True, highlight=False, soft_wrap=True)
        self.started = self.last = time.perf_counter()
        self.bar = None
        self.scored = 0

    def __enter__(self) -> Callable[[int], None]:
        if not self.enabled:
            return lambda count: None
        if self.done:
            self.console.print(f"Resuming: {self.done} of {self.total} inputs already scored.")
        if self.console.is_terminal:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(
                TextColumn("scoring (ray)"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=self.console,
            )
            self.bar.start()
            self.task = self.bar.add_task("score", total=self.total, completed=self.done, rate="")
        return self.advance

    def advance(self, count: int) -> None:
        self.done += count
        self.scored += count
        now = time.perf_counter()
        rate = f"{self.scored / max(now - self.started, 1e-9):.2f} images/s"
        if self.bar is not None:
            self.bar.update(self.task, completed=self.done, rate=rate)
        elif now - self.last >= 30 or self.done == self.total:
            self.last = now
            self.console.print(f"{self.done}/{self.total} rows, {rate}")

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


def _first_line(error: object) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
