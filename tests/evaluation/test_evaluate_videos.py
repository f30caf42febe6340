"""``evaluate`` on a video database (KoNViD-1k in its official layout, clips of the synthetic
video benchmark): GenzVQA through score_videos, the metrics of the GenzVQA reference (PLCC
after its cubic fit) beside the image ones, plots; image models in the frame-mean mode."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from genziqa import GenzIQA, GenzVQA
from genziqa.evaluation import metrics
from genziqa.evaluation.evaluate import EvaluationSetupError, evaluate
from genziqa.video.inputs import PrecomputedMotion

from ..video_bench import konvid_motion_features, make_bench, make_konvid_fixture

SMALL = {"frames": 2, "timesteps": (9,), "image.preprocess.resolution": 32}


@pytest.fixture(scope="module")
def konvid(tmp_path_factory) -> tuple[str, Path]:
    root = tmp_path_factory.mktemp("konvid-fixture")
    table = make_bench(root / "bench", kinds=("blur",), levels=2)  # 30 clips
    konvid_root = make_konvid_fixture(root / "konvid", root / "bench", table)
    return f"konvid1k={konvid_root}", konvid_motion_features(root / "motion", konvid_root)


def test_a_video_model_on_a_video_database_gives_every_metric(konvid, tmp_path) -> None:
    spec, motion = konvid
    model = GenzVQA.from_pretrained("genzvqa-tiny", overrides=SMALL)
    out = tmp_path / "eval"
    results = evaluate(
        model, [spec], out, motion=PrecomputedMotion(motion), num_workers=0, log=lambda _: None
    )
    row = results.iloc[0]
    assert row["database"] == "konvid1k" and row["n"] == 30 and row["failed"] == 0
    predictions = pd.read_csv(out / "predictions-konvid1k.csv")
    assert set(predictions["media"]) == {"video"} and len(predictions) == 30
    labels = pd.read_csv(Path(spec.split("=", 1)[1]) / "KoNViD_1k_mos.csv", dtype=str)
    mos = {f"{i}.mp4": float(m) for i, m in zip(labels["flickr_id"], labels["mos"], strict=True)}
    names = [Path(p).name for p in predictions["path"]]
    pairs = [(s, mos[n]) for n, s in zip(names, predictions["score"], strict=True)]
    expected = metrics.evaluate_predictions(*zip(*pairs, strict=True))
    for key in ("srcc", "krcc", "plcc", "plcc_fitted", "plcc_cubic", "rmse", "rmse_cubic"):
        assert row[key] == pytest.approx(expected[key], abs=1e-12), key
    details = json.loads((out / "results.json").read_text())["konvid1k"]
    assert details["media"] == "video" and details["n"] == 30
    assert (out / "scatter-konvid1k.png").stat().st_size > 1000
    # A second run reuses the predictions (resume) and gives the same numbers.
    again = evaluate(model, [spec], out, motion=PrecomputedMotion(motion), log=lambda _: None)
    assert again.iloc[0]["srcc"] == row["srcc"]


def test_an_image_model_scores_a_video_database_as_the_frame_mean(konvid, tmp_path) -> None:
    spec, _ = konvid
    model = GenzIQA.from_pretrained(
        "genziqa-tiny", overrides={"scoring.timesteps": (9,), "preprocess.resolution": 32}
    )
    results = evaluate(
        model, [spec], tmp_path / "eval", split="test", num_workers=0, log=lambda _: None
    )  # the seeded held-out fifth: 6 videos, each the mean of its 8 frames' scores
    assert results.iloc[0]["n"] == 6 and results.iloc[0]["failed"] == 0


def test_a_video_model_without_motion_features_is_refused(konvid, tmp_path) -> None:
    spec, _ = konvid
    model = GenzVQA.from_pretrained("genzvqa-tiny", overrides=SMALL)
    with pytest.raises(EvaluationSetupError, match="needs motion features"):
        evaluate(model, [spec], tmp_path / "eval", num_workers=0, log=lambda _: None)
