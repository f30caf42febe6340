"""``genziqa explain`` end to end on the tiny test model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from genziqa.cli import EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, main

FAST = ["--model", "genziqa-tiny", "--timesteps", "2", "-q"]


def _photo(seed: int, size=(40, 32)) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


@pytest.fixture()
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    (folder / "more").mkdir(parents=True)
    _photo(0, (80, 48)).save(folder / "wide.png")
    _photo(1, (64, 64)).save(folder / "same.png")
    _photo(2, (50, 70)).save(folder / "more" / "same.jpg")  # the same stem as same.png
    (folder / "notes.png").write_text("not an image\n")
    return folder


def test_explain_writes_an_overlay_a_map_and_a_score_row_per_image(photos, tmp_path) -> None:
    out = tmp_path / "out"
    code = main(["explain", str(photos), "-r", "-o", str(out), *FAST])
    assert code == EXIT_SOME_FAILED  # notes.png
    table = pd.read_csv(out / "scores.csv", keep_default_na=False)
    assert list(table.columns) == ["path", "score", "status", "error", "media"] and len(table) == 4
    rows = {Path(r["path"]).relative_to(photos).as_posix(): r for r in table.to_dict("records")}
    assert rows["notes.png"]["status"] == "error" and "not an image" in rows["notes.png"]["error"]
    pngs = sorted(p.name for p in out.glob("*.png"))
    npys = sorted(p.name for p in out.glob("*.npy"))
    assert len(pngs) == len(npys) == 3 and "wide.png" in pngs and "notes.png" not in pngs
    assert sum(name.startswith("same-") for name in pngs) == 2  # stems told apart by a hash
    raw = np.load(out / "wide.npy", allow_pickle=False)
    assert raw.dtype == np.float16 and raw.shape == (32, 32)  # the latent grid
    with Image.open(out / "wide.png") as overlay:
        assert overlay.mode == "RGB" and overlay.width > 3 * overlay.height / 2

    # The rows are what `genziqa score` gives for the same files, bit for bit, and the map is
    # the library's for the model the CLI loads.
    scored = tmp_path / "scored.csv"
    main(["score", str(photos), "-r", "-o", str(scored), "--workers", "0", *FAST])
    expected = pd.read_csv(scored, keep_default_na=False).set_index("path")
    for path, row in zip(table["path"], table.to_dict("records"), strict=True):
        if row["status"] == "ok":
            assert row["score"] == expected.loc[path, "score"]
    from genziqa.jobs.runtime import ScoringOptions, load_for_scoring

    model = load_for_scoring(ScoringOptions(model="genziqa-tiny", timesteps=2))
    explanation = model.explain([photos / "wide.png"])
    assert np.array_equal(raw, explanation.latent_map(0).astype(np.float16))


def test_explain_resumes_and_overwrites(photos, tmp_path) -> None:
    out = tmp_path / "out"
    files = [str(photos / "wide.png"), str(photos / "same.png")]
    assert main(["explain", *files, "-o", str(out), *FAST]) == EXIT_OK
    first = (out / "wide.png").stat().st_mtime_ns
    assert main(["explain", *files, "-o", str(out), *FAST]) == EXIT_OK  # nothing left to do
    assert (out / "wide.png").stat().st_mtime_ns == first
    code = main(
        ["explain", files[0], "-o", str(out), "--overwrite", "--kind", "contrast",
         "--scale", "absolute", "--range", "-0.01,0.01", "--map-size", "image", *FAST]
    )  # fmt: skip
    assert code == EXIT_OK
    assert np.load(out / "wide.npy").shape == (48, 80)  # the image's own size
    assert len(pd.read_csv(out / "scores.csv")) == 1  # the table started afresh


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--kind", "edges"], "--kind 'edges': expected one of contribution"),
        (["--scale", "absolute"], "--scale absolute needs --range LO,HI"),
        (["--range", "0,1"], "--range goes with --scale absolute"),
        (["--scale", "absolute", "--range", "1"], "expected two numbers LO,HI"),
        (["--scale", "absolute", "--range", "2,1"], "LO must be below HI"),
        (["--map-size", "huge"], "--map-size 'huge': expected one of latent, image"),
        (["--device", "tpu"], "unknown device 'tpu'"),
    ],
)
def test_usage_errors_are_one_line(photos, tmp_path, capsys, flags, message) -> None:
    code = main(["explain", str(photos / "wide.png"), "-o", str(tmp_path / "out"), *FAST, *flags])
    assert code == EXIT_USAGE
    error = capsys.readouterr().err
    assert message in error and "Traceback" not in error


def test_output_must_be_a_folder_and_inputs_must_exist(photos, tmp_path, capsys) -> None:
    a_file = tmp_path / "taken"
    a_file.write_text("x")
    assert main(["explain", str(photos / "wide.png"), "-o", str(a_file), *FAST]) == EXIT_USAGE
    assert "is a file; expected a folder" in capsys.readouterr().err
    missing = str(tmp_path / "nothing-here")
    assert main(["explain", missing, "-o", str(tmp_path / "out"), *FAST]) == EXIT_USAGE
