"""The synthetic benchmark: bundled photos, graded distortions, the folder and its adapter."""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage

from genziqa.datasets import load_table, synthetic
from genziqa.datasets.synthetic import (
    DISTORTIONS,
    SOURCE_PHOTOS,
    load_photos,
    make_benchmark,
    rng_for,
)

SIZE = 64  # distortion checks; the benchmark folder uses 48 to stay fast
LEVELS = range(1, synthetic.MAX_LEVEL + 1)


@pytest.fixture(scope="module")
def photos() -> dict[str, np.ndarray]:
    return load_photos(SIZE)


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    root = tmp_path_factory.mktemp("synthetic")
    return root, make_benchmark(root, size=48)


def _file_digests(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# --- source photos ------------------------------------------------------------------------


def test_every_source_photo_loads_square_rgb_uint8_and_they_are_distinct(photos):
    names = [name for name, _ in SOURCE_PHOTOS]
    assert list(photos) == names and len(set(names)) == len(names) >= 10
    for name, image in photos.items():
        assert image.shape == (SIZE, SIZE, 3) and image.dtype == np.uint8, name
        assert image.std() > 5, f"{name} is nearly flat"
    for (a, x), (b, y) in itertools.combinations(photos.items(), 2):
        difference = np.abs(x.astype(float) - y.astype(float)).mean()
        assert difference > 5, f"{a} and {b} look like the same content"


def test_prepare_crops_the_center_and_makes_grayscale_rgb():
    image = np.zeros((40, 100), dtype=np.uint8)
    image[:, 30:70] = 200  # the central 40x40 square is uniformly 200
    out = synthetic.prepare(image, 32)
    assert out.shape == (32, 32, 3) and out.dtype == np.uint8
    assert np.all(out == 200)
    with pytest.raises(ValueError, match=r"expected a uint8 image.*float64"):
        synthetic.prepare(np.zeros((8, 8, 3)), 32)


def test_a_photo_that_fails_to_load_is_named(monkeypatch):
    def broken() -> np.ndarray:
        raise FileNotFoundError("no such file: astronaut.png")

    monkeypatch.setattr(synthetic, "SOURCE_PHOTOS", (("astronaut", broken),))
    with pytest.raises(RuntimeError, match=r"cannot load 1 of 1 .*astronaut \(FileNotFoundError"):
        load_photos(SIZE)


# --- distortions --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(DISTORTIONS))
def test_distortion_is_deterministic_and_keeps_shape_and_dtype(photos, kind):
    image = photos["astronaut"]
    for level in LEVELS:
        first = DISTORTIONS[kind](image, level, rng_for(0, "astronaut", kind, level))
        again = DISTORTIONS[kind](image, level, rng_for(0, "astronaut", kind, level))
        assert first.shape == image.shape and first.dtype == np.uint8
        np.testing.assert_array_equal(first, again)
        assert not np.array_equal(first, image) or (kind, level) == ("blur", 1)


def _laplacian_variance(image: np.ndarray, reference: np.ndarray) -> float:
    return float(ndimage.laplace(image.astype(float).mean(axis=-1)).var())


def _mean_abs_difference(image: np.ndarray, reference: np.ndarray) -> float:
    return float(np.abs(image.astype(float) - reference.astype(float)).mean())


def _psnr(image: np.ndarray, reference: np.ndarray) -> float:
    mse = float(((image.astype(float) - reference.astype(float)) ** 2).mean())
    return np.inf if mse == 0 else 10.0 * np.log10(255.0**2 / mse)


def _std(image: np.ndarray, reference: np.ndarray) -> float:
    return float(image.std())


def _mean(image: np.ndarray, reference: np.ndarray) -> float:
    return float(image.mean())


# (measure, +1 if it grows with severity, -1 if it shrinks)
_MEASURES = {
    "blur": (_laplacian_variance, -1),
    "noise": (_mean_abs_difference, +1),
    "jpeg": (_psnr, -1),
    "contrast": (_std, -1),
    "exposure": (_mean, +1),
}


@pytest.mark.parametrize("kind", list(DISTORTIONS))
def test_distortion_gets_strictly_worse_with_level(photos, kind):
    measure, sign = _MEASURES[kind]
    for name, image in photos.items():
        values = [measure(image, image)] + [
            measure(DISTORTIONS[kind](image, level, rng_for(0, name, kind, level)), image)
            for level in LEVELS
        ]
        steps = sign * np.diff(values)
        # At 64 px the level-1 blur has sigma 0.8 * 64/256 = 0.2, which rounds back to the
        # reference (module docstring), so only that step may be zero; all others are strict.
        first = 1 if kind == "blur" else 0
        assert np.all(steps[first:] > 0), f"{kind} on {name}: {values}"
        assert np.all(steps >= 0), f"{kind} on {name}: {values}"


def test_level_1_blur_changes_the_image_at_the_default_size():
    name, loader = SOURCE_PHOTOS[0]
    image = synthetic.prepare(loader(), 256)
    blurred = synthetic.blur(image, 1, rng_for(0, name, "blur", 1))
    assert _laplacian_variance(blurred, image) < 0.5 * _laplacian_variance(image, image)


@pytest.mark.parametrize("level", [0, 6, 2.0, True])
def test_a_level_outside_1_to_5_is_an_error(photos, level):
    with pytest.raises(ValueError, match=r"noise level must be (an integer )?1\.\.5"):
        synthetic.noise(photos["coffee"], level, np.random.default_rng(0))


def test_rng_is_seeded_from_a_stable_hash():
    # Fixed values: the stream must not depend on the process (Python's hash() is salted).
    draws = rng_for(0, "astronaut", "noise", 3).integers(0, 2**31, 3).tolist()
    assert draws == [1280751146, 1886734829, 1046572337]
    assert rng_for(1, "astronaut", "noise", 3).integers(0, 2**31) != draws[0]


# --- the benchmark folder -----------------------------------------------------------------


def test_benchmark_writes_every_image_and_row(bench):
    root, table = bench
    n_photos, n_kinds = len(SOURCE_PHOTOS), len(DISTORTIONS)
    assert len(table) == n_photos * (1 + n_kinds * synthetic.MAX_LEVEL)
    assert len(list((root / "images").glob("*.png"))) == len(table)
    assert sorted(p.name for p in root.iterdir()) == ["images", "synthetic.csv", "synthetic.json"]
    assert list(table.columns) == ["image", "mos", "ref_id", "distortion", "level", "split"]
    assert table["image"].is_unique and all((root / p).is_file() for p in table["image"])
    pd.testing.assert_frame_equal(pd.read_csv(root / "synthetic.csv"), table, check_dtype=False)


def test_benchmark_labels_follow_the_level(bench):
    _, table = bench
    references = table[table["distortion"] == "reference"]
    assert (references["level"] == 0).all() and (references["mos"] == 100.0).all()
    assert references["image"].tolist() == [f"images/{n}.png" for n, _ in SOURCE_PHOTOS]
    distorted = table[table["distortion"] != "reference"]
    np.testing.assert_allclose(distorted["mos"], 100 * (1 - distorted["level"] / 6))
    assert set(distorted["distortion"]) == set(DISTORTIONS)
    assert set(distorted["level"]) == set(LEVELS)
    expected = distorted["ref_id"] + "_" + distorted["distortion"] + "_"
    expected = "images/" + expected + distorted["level"].astype(str) + ".png"
    assert (distorted["image"] == expected).all()


def test_benchmark_split_is_content_disjoint_and_both_sides_are_filled(bench):
    _, table = bench
    assert set(table["split"]) == {"train", "test"}
    assert (table.groupby("ref_id")["split"].nunique() == 1).all()
    test_contents = table.loc[table["split"] == "test", "ref_id"].nunique()
    assert 1 <= test_contents < len(SOURCE_PHOTOS) / 2


def test_benchmark_rerun_is_idempotent_and_other_arguments_are_refused(tmp_path):
    kwargs = {"size": 48, "kinds": ["noise", "jpeg"], "levels": 2, "seed": 3}
    first = make_benchmark(tmp_path, **kwargs)
    digests = _file_digests(tmp_path)
    assert len(first) == len(SOURCE_PHOTOS) * (1 + 2 * 2)
    assert json.loads((tmp_path / "synthetic.json").read_text())["kinds"] == ["noise", "jpeg"]
    second = make_benchmark(tmp_path, **{**kwargs, "kinds": ["jpeg", "noise"]})  # same set
    pd.testing.assert_frame_equal(first, second)
    assert _file_digests(tmp_path) == digests
    with pytest.raises(ValueError, match=r"synthetic\.json: this folder holds a benchmark"):
        make_benchmark(tmp_path, **{**kwargs, "seed": 4})
    assert _file_digests(tmp_path) == digests


def test_benchmark_without_references_and_a_csv_without_arguments(tmp_path):
    table = make_benchmark(tmp_path / "a", size=48, kinds=["blur"], include_references=False)
    assert len(table) == len(SOURCE_PHOTOS) * synthetic.MAX_LEVEL
    assert (table["level"] > 0).all()
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "synthetic.csv").write_text("image,mos\n")
    with pytest.raises(ValueError, match=r"synthetic\.csv exists without synthetic\.json"):
        make_benchmark(tmp_path / "b", size=48)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kinds": ["blurr"]}, r"kinds must be distinct names among .*'blurr'"),
        ({"kinds": "blur"}, "the string 'blur'"),
        ({"levels": 6}, r"levels must be 1\.\.5, received 6"),
        ({"size": 8}, "size must be an integer >= 32, received 8"),
        ({"test_fraction": 1.0}, r"test_fraction must lie strictly in \(0, 1\)"),
        ({"test_fraction": 0.001}, r"leaves the \['test'\] split\(s\) empty"),
    ],
)
def test_benchmark_bad_arguments_write_nothing(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_benchmark(tmp_path / "out", **{"size": 48, **kwargs})
    assert not (tmp_path / "out").exists()


# --- the dataset adapter ------------------------------------------------------------------


def test_adapter_reads_the_benchmark_as_a_canonical_table(bench):
    root, table = bench
    canonical = load_table("synthetic", root)
    assert list(canonical.columns) == ["path", "mos", "score", "split", "ref_id", "dataset"]
    assert len(canonical) == len(table) and (canonical["dataset"] == "synthetic").all()
    expected = table.assign(path=[str((root / p).resolve()) for p in table["image"]])
    merged = canonical.merge(expected, on="path", suffixes=("", "_csv"), validate="1:1")
    assert len(merged) == len(table)
    np.testing.assert_allclose(merged["mos"], merged["mos_csv"])
    np.testing.assert_allclose(merged["score"], merged["mos_csv"] / 100.0)
    assert (merged.loc[merged["level"] == 0, "score"] == 1.0).all()
    assert canonical["score"].between(0.0, 1.0).all()
    assert (merged["split"] == merged["split_csv"]).all()
    assert (merged["ref_id"] == merged["ref_id_csv"]).all()


def test_a_distortion_refuses_a_non_rgb_uint8_image(photos):
    with pytest.raises(ValueError, match=r"jpeg expects a uint8 array of shape \(H,W,3\)"):
        synthetic.jpeg(photos["coffee"].astype(float), 1, np.random.default_rng(0))
    with pytest.raises(ValueError, match="blur expects 3 colour channels"):
        synthetic.blur(photos["coffee"][..., :2].copy(), 1, np.random.default_rng(0))
