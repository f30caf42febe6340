"""Explaining files: names, files before rows, failures as error rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from genziqa.jobs.explain_files import explain_files, output_names


class _Explained:
    def __init__(self, images, score: float) -> None:
        self.score = np.full(len(images), score)
        self.sizes = [(image.height, image.width) for image in images]

    def latent_map(self, i: int) -> np.ndarray:
        return np.full((4, 4), i + 0.5, dtype=np.float32)

    def image_map(self, i: int) -> np.ndarray:
        return np.zeros(self.sizes[i], dtype=np.float32)

    def overlay(self, i: int, **options) -> Image.Image:
        return Image.new("RGB", (8, 4), (i, 0, 0))


class _Model:
    def __init__(self, score: float = 1.0, fail: str | None = None) -> None:
        self.score, self.fail, self.calls = score, fail, []

    def explain(self, images, kind: str, batch_size: int):
        self.calls.append((len(images), kind, batch_size))
        if self.fail:
            raise RuntimeError(self.fail)
        return _Explained(images, self.score)


@pytest.fixture()
def files(tmp_path: Path) -> list[Path]:
    (tmp_path / "b").mkdir()
    paths = [tmp_path / "x.png", tmp_path / "b" / "x.jpg", tmp_path / "y.png", tmp_path / "z.png"]
    for path in paths[:3]:
        Image.new("RGB", (20, 30), "gray").save(path)
    paths[3].write_bytes(b"")
    return paths


def test_output_names_keep_stems_and_tell_shared_ones_apart(files) -> None:
    names = output_names(files)
    assert names[files[2]] == "y" and names[files[3]] == "z"
    assert names[files[0]] != names[files[1]]
    assert all(names[p].startswith("x-") and len(names[p]) == 10 for p in files[:2])
    assert output_names(files) == names  # the same every run


def test_files_are_written_then_rows_in_input_order(files, tmp_path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    batches = []
    model = _Model()

    def write(rows):  # the files of a batch exist when its rows arrive
        for row in rows:
            if row["status"] == "ok":
                stem = output_names(files)[Path(row["path"])]
                assert (out / f"{stem}.png").exists() and (out / f"{stem}.npy").exists()
        batches.append(rows)

    summary = explain_files(model, files, out, write, kind="contrast", batch_size=3)
    assert [len(b) for b in batches] == [3, 1] and model.calls == [(3, "contrast", 3)]
    rows = [row for batch in batches for row in batch]
    assert [row["path"] for row in rows] == [str(p) for p in files]
    assert rows[3]["status"] == "error" and "empty file" in rows[3]["error"]
    assert (summary.explained, summary.failed, len(summary.written)) == (3, 1, 6)
    assert np.load(out / "y.npy").tolist() == np.full((4, 4), 2.5, np.float16).tolist()
    explain_files(model, files[2:3], out, batches.append, map_size="image")
    assert np.load(out / "y.npy").shape == (30, 20)


def test_model_failures_and_non_finite_scores_become_error_rows(files, tmp_path) -> None:
    rows = []
    summary = explain_files(
        _Model(fail="CUDA out of memory\nmore"), files[:2], tmp_path, rows.extend
    )
    assert [r["error"] for r in rows] == ["explaining failed: CUDA out of memory"] * 2
    assert summary.failed == 2 and not list(tmp_path.glob("*.npy"))
    rows.clear()
    explain_files(_Model(score=float("nan")), files[:1], tmp_path, rows.extend)
    assert rows[0]["status"] == "error" and "non-finite score" in rows[0]["error"]
    with pytest.raises(ValueError, match="unknown map size 'huge'"):
        explain_files(_Model(), files, tmp_path, rows.extend, map_size="huge")
