"""`genziqa evaluate` end to end on the tiny model: table, JSON, CSV, plots, DMOS handling."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from genziqa import GenzIQA
from genziqa.cli import main
from genziqa.datasets import load_spec, parse_options
from genziqa.evaluation.evaluate import evaluate
from genziqa.evaluation.report import to_markdown


@pytest.fixture()
def labelled(tmp_path) -> Path:
    rng = np.random.default_rng(1)
    (tmp_path / "img").mkdir()
    rows = []
    for i in range(10):
        Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(
            tmp_path / "img" / f"{i}.png"
        )
        rows.append({"path": f"img/{i}.png", "mos": float(i), "dmos": float(10 - i)})
    (tmp_path / "img" / "broken.png").write_bytes(b"")
    rows.append({"path": "img/broken.png", "mos": 5.0, "dmos": 5.0})
    pd.DataFrame(rows).to_csv(tmp_path / "labels.csv", index=False)
    return tmp_path


def test_spec_options() -> None:
    assert parse_options("path_col=image,lower_better=true,range=0:100,n=3") == {
        "path_col": "image",
        "lower_better": True,
        "range": (0.0, 100.0),
        "n": 3,
    }


def test_lower_better_labels_are_negated(labelled, tmp_path) -> None:
    model = GenzIQA.from_pretrained("genziqa-tiny", overrides={"scoring.timesteps": (9, 59)})
    mos_spec = f"csv={labelled}"
    dmos_spec = f"csv={labelled},score_col=dmos,lower_better=true"
    assert load_spec(dmos_spec)[2] is True
    results = evaluate(model, [mos_spec], tmp_path / "a", num_workers=0, log=lambda _: None)
    flipped = evaluate(model, [dmos_spec], tmp_path / "b", num_workers=0, log=lambda _: None)
    # dmos = 10 - mos: after negation the correlations are the same.
    for column in ("srcc", "plcc", "krcc"):
        assert flipped[column].item() == pytest.approx(results[column].item())
    assert results["n"].item() == 10 and results["failed"].item() == 1


def test_evaluate_cli_writes_table_json_csv_and_plots(labelled, tmp_path, capsys) -> None:
    out = tmp_path / "eval"
    code = main(
        [
            "evaluate",
            "--model",
            "genziqa-tiny",
            "--data",
            f"csv={labelled}",
            "--data",
            f"csv={labelled},score_col=dmos,lower_better=true",
            "--out",
            str(out),
            "--timesteps",
            "2",
            "--workers",
            "0",
            "-q",
        ]
    )
    assert code == 3  # one unreadable image: reported, not fatal
    text = capsys.readouterr().out
    assert text.startswith("| database | n | srcc | plcc | plcc_fitted | krcc | rmse |")
    table = pd.read_csv(out / "results.csv")
    assert list(table["n"]) == [10, 10] and list(table["database"]) == ["csv", "csv-2"]
    assert table["srcc"][0] == pytest.approx(table["srcc"][1])
    details = json.loads((out / "results.json").read_text())
    assert set(details["csv"]) >= {"srcc", "plcc", "plcc_fitted", "plcc_cubic", "krcc", "n"}
    assert (out / "scatter-csv.png").stat().st_size > 1000
    assert (out / "scatter-csv-2.png").is_file()
    assert len(pd.read_csv(out / "predictions-csv.csv")) == 11


def test_evaluation_resumes_from_its_predictions(labelled, tmp_path) -> None:
    model = GenzIQA.from_pretrained("genziqa-tiny", overrides={"scoring.timesteps": (9,)})
    spec = f"csv={labelled}"
    first = evaluate(model, [spec], tmp_path, num_workers=0, log=lambda _: None)
    calls = []
    model.score = lambda *a, **k: calls.append(1)  # would fail if anything were rescored
    second = evaluate(model, [spec], tmp_path, num_workers=0, log=lambda _: None)
    assert not calls
    pd.testing.assert_frame_equal(first, second)


def test_markdown_table() -> None:
    frame = pd.DataFrame([{"database": "x", "n": 3, "srcc": 0.5}])
    assert to_markdown(frame).splitlines() == [
        "| database | n | srcc |",
        "|---|---:|---:|",
        "| x | 3 | 0.5000 |",
    ]


def test_a_folder_with_another_models_predictions_is_refused(labelled, tmp_path) -> None:
    from genziqa.evaluation.evaluate import EvaluationFolderError

    spec = [f"csv={labelled}"]
    quiet = {"num_workers": 0, "log": lambda _: None}
    first = GenzIQA.from_pretrained("genziqa-tiny", overrides={"scoring.timesteps": (9, 59)})
    results = evaluate(first, spec, tmp_path / "eval", **quiet)
    again = evaluate(first, spec, tmp_path / "eval", **quiet)  # same model: resumes
    pd.testing.assert_frame_equal(results, again)
    other = GenzIQA.from_pretrained("genziqa-tiny", overrides={"scoring.timesteps": (21, 71)})
    with pytest.raises(EvaluationFolderError, match="another model or other settings"):
        evaluate(other, spec, tmp_path / "eval", **quiet)
    redone = evaluate(other, spec, tmp_path / "eval", overwrite=True, **quiet)
    fresh = evaluate(other, spec, tmp_path / "fresh", **quiet)
    pd.testing.assert_frame_equal(redone, fresh)
    assert not redone.equals(results)
    # Merging LoRA for fast scoring is the same model.
    assert first.fingerprint() == first.merge_lora().fingerprint()
