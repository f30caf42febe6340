"""Cross-database evaluation: score whole databases, report SRCC, PLCC, KRCC, RMSE per database.

Predictions are written per database as they are computed (``predictions-NAME.csv``, the same
resumable writer as ``genziqa score``), so an interrupted evaluation continues where it
stopped. Each database gets a scatter plot of prediction against MOS with the fitted
4-parameter logistic and the reference's cubic polynomial. Lower-is-better labels (DMOS) are
correlated with the negated labels, so a good model always has positive SRCC.

Video databases (``DatasetInfo.media == "video"``, or a csv/synthetic folder of video files)
are scored by a GenzVQA model (``jobs/score_videos.py``); an image model given for them
scores their frames in the frame-mean mode, and a GenzVQA model scores image databases with
its image model. PLCC after the cubic fit is what the GenzVQA reference reports (VIDEO.md 1.9).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from ..config import to_jsonable
from ..datasets import load_specs, media_of
from ..datasets.splits import apply_split
from ..io.durable import atomic_write
from ..io.tables import ScoreWriter, read_scores
from ..jobs.score_files import score_files
from .metrics import evaluate_predictions
from .report import plot_scatter

if TYPE_CHECKING:
    from ..model import GenzIQA
    from ..video.inputs import MotionSource
    from ..video.model import GenzVQA

COLUMNS = (
    "database",
    "n",
    "srcc",
    "plcc",
    "plcc_fitted",
    "krcc",
    "rmse",
    "rmse_fitted",
    "plcc_cubic",
    "rmse_cubic",
    "failed",
)


class EvaluationSetupError(ValueError):
    """The evaluation cannot run as asked (e.g. a video model without motion features)."""


def has_video_databases(specs: list[str]) -> bool:
    """Whether any ``NAME=ROOT`` holds videos (so the model must be loaded as a video model)."""
    return any(
        media_of(spec, table) == "video"
        for spec, (_, table, _) in zip(specs, load_specs(specs), strict=True)
    )


def evaluate(
    model: GenzIQA | GenzVQA,
    specs: list[str],
    out: str | Path,
    *,
    split: str = "all",
    split_seed: int = 0,
    overwrite: bool = False,
    batch_size: int = 8,
    num_workers: int | None = None,
    log: Callable[[str], None] = print,
    on_progress: Callable[[int], None] | None = None,
    motion: MotionSource | None = None,
) -> pd.DataFrame:
    """Evaluate ``model`` on each ``NAME=ROOT``; write results.csv/json and plots into ``out``.

    ``motion``: where a GenzVQA model's motion features come from on video databases
    (``genziqa.jobs.runtime.motion_source``); not needed without a temporal modulator.

    ``split="all"`` scores every image of a database (the cross-database protocol);
    ``"test"`` only its held-out split (official, or seeded by ``split_seed`` as in training,
    and content-disjoint). Per-image predictions in ``out`` are reused by a rerun with the
    same model and settings (resume); another model's are refused unless ``overwrite``.
    """
    out = Path(out)
    loaded = load_specs(specs)
    _claim_folder(out, model, overwrite)
    rows = []
    details = {}
    for spec, (name, table, lower_better) in zip(specs, loaded, strict=True):
        media = media_of(spec, table)
        if split != "all":
            table = apply_split(table, seed=split_seed)
            table = table[table["split"] == split].reset_index(drop=True)
        predictions_path = out / f"predictions-{name}.csv"
        with ScoreWriter(predictions_path) as writer:
            todo = [Path(p) for p in table["path"] if p not in writer.done]
            if todo:
                log(f"{name}: scoring {len(todo)} of {len(table)} {media}s")
                _score(model, media, todo, writer.write, motion, batch_size, num_workers,
                       on_progress)  # fmt: skip
        scored = read_scores(predictions_path).set_index("path")
        merged = table.join(
            scored[["score", "status"]].rename(columns={"score": "prediction"}), on="path"
        )
        ok = merged[merged["status"] == "ok"]
        failed = int((merged["status"] != "ok").sum())
        if len(ok) < 3:
            log(f"{name}: only {len(ok)} {media}(s) scored; no metrics")
            rows.append({"database": name, "n": len(ok), "failed": failed})
            details[name] = {"n": len(ok), "failed": failed, "spec": spec, "split": split}
            continue
        metrics = evaluate_predictions(ok["prediction"], ok["mos"], lower_better=lower_better)
        rows.append({"database": name, **{k: metrics[k] for k in COLUMNS[1:-1]}, "failed": failed})
        details[name] = {
            **metrics,
            "failed": failed,
            "lower_better": lower_better,
            "media": media,
            "spec": spec,
            "split": split,
        }
        plot_scatter(
            ok["prediction"].to_numpy(),
            ok["mos"].to_numpy(),
            name,
            metrics,
            out / f"scatter-{name}.png",
            log,
            unit=f"{media}s",
        )
    results = pd.DataFrame(rows, columns=COLUMNS)
    atomic_write(out / "results.csv", results.to_csv(index=False))
    atomic_write(out / "results.json", json.dumps(to_jsonable(details), indent=2) + "\n")
    return results


def _score(model, media, paths, write, motion, batch_size, num_workers, on_progress) -> None:
    """Score ``paths`` of one database with the model of its media (module docstring)."""
    from ..video.model import GenzVQA

    if media == "image":
        image_model = model.image_model if isinstance(model, GenzVQA) else model
        score_files(
            image_model, paths, write, batch_size=batch_size, num_workers=num_workers,
            on_progress=on_progress,
        )  # fmt: skip
        return
    from ..jobs.score_videos import score_videos

    video_model = model if isinstance(model, GenzVQA) else GenzVQA.from_image_model(model)
    if video_model.config.needs_motion and motion is None:
        raise EvaluationSetupError(
            "this GenzVQA model needs motion features for the video databases: give "
            "--motion-features DIR (precomputed .npy) or --slowfast FILE"
        )
    score_videos(
        video_model, paths, write, motion=motion, batch_size=batch_size,
        num_workers=num_workers, on_progress=on_progress,
    )  # fmt: skip


class EvaluationFolderError(ValueError):
    """The output folder holds another model's predictions."""


def _claim_folder(out: Path, model: GenzIQA | GenzVQA, overwrite: bool) -> None:
    """Record which model and settings the predictions in ``out`` come from; refuse to mix."""
    identity = {"model": model.fingerprint(), "dtype": str(model.dtype).removeprefix("torch.")}
    path = out / "evaluated_model.json"
    if overwrite:
        for stale in out.glob("predictions-*.csv"):
            stale.unlink()
    elif path.is_file():
        if json.loads(path.read_text()) != identity:
            raise EvaluationFolderError(
                f"{out} holds predictions of another model or other settings; use another "
                f"--out, or --overwrite to score again there"
            )
        return
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(identity, indent=2) + "\n")
