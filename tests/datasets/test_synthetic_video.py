"""The synthetic video benchmark: moving clips from the bundled photos, graded distortions
measured on the decoded files, determinism, the folder and its adapter."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genziqa.datasets import DatasetError, load_table
from genziqa.datasets import synthetic_video as sv
from genziqa.datasets.synthetic import SOURCE_PHOTOS, load_photos
from genziqa.datasets.synthetic_video import KINDS, make_clip, make_video_benchmark, write_video

from .video_fixtures import check_contract, read_frames

SMALL = {"size": 32, "frames": 8}  # the benchmark folder; distortions are measured at 64 x 16
LEVELS = range(1, sv.MAX_LEVEL + 1)


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    root = tmp_path_factory.mktemp("synthetic-video")
    return root, make_video_benchmark(root, **SMALL)


@pytest.fixture(scope="module")
def decoded(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str, int], np.ndarray]:
    """Every clip of two photos at the default size, written to MP4 and decoded again."""
    folder = tmp_path_factory.mktemp("clips")
    photos = load_photos(128)
    clips = {}
    for name in ("astronaut", "camera"):
        for kind, level in [("reference", 0)] + [(k, lv) for k in KINDS for lv in LEVELS]:
            frames, qscale = make_clip(photos[name], name, kind, level, 64, 16, seed=0)
            path = folder / f"{name}_{kind}_{level}.mp4"
            write_video(path, frames, 8, qscale)
            clips[name, kind, level] = read_frames(path).astype(np.float64)
    return clips


def _digests(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _series(decoded, name: str, kind: str, measure) -> list[float]:
    """`measure` of the reference clip, then of levels 1..5 of `kind`."""
    return [measure(decoded[name, "reference", 0])] + [
        measure(decoded[name, kind, level]) for level in LEVELS
    ]


def _strictly(values: list[float], direction: int) -> bool:
    return all(direction * (b - a) > 0 for a, b in itertools.pairwise(values))


# --- clips and distortions, measured on decoded files --------------------------------------


def test_clips_move_and_decode_to_the_requested_shape(decoded):
    reference = decoded["astronaut", "reference", 0]
    assert reference.shape == (16, 64, 64, 3)
    steps = np.abs(np.diff(reference, axis=0)).mean(axis=(1, 2, 3))
    assert (steps > 1.0).all()  # every frame differs from the last: the camera moves


@pytest.mark.parametrize("name", ["astronaut", "camera"])
def test_blur_lowers_gradient_energy_at_every_level(decoded, name):
    def energy(clip):
        return float((np.diff(clip, axis=1) ** 2).mean() + (np.diff(clip, axis=2) ** 2).mean())

    values = _series(decoded, name, "blur", energy)
    assert _strictly(values, -1), values
    assert values[-1] < 0.2 * values[0]


@pytest.mark.parametrize("name", ["astronaut", "camera"])
def test_noise_and_compression_move_further_from_the_reference_at_every_level(decoded, name):
    reference = decoded[name, "reference", 0]
    for kind in ("noise", "compression"):
        errors = [float(((decoded[name, kind, lv] - reference) ** 2).mean()) for lv in LEVELS]
        assert errors[0] > 1.0 and _strictly(errors, +1), (kind, errors)


@pytest.mark.parametrize("name", ["astronaut", "camera"])
def test_frame_drops_repeat_more_frames_at_every_level(decoded, name):
    def repeats(clip):  # consecutive frames far closer than the clip's usual motion
        steps = np.abs(np.diff(clip, axis=0)).mean(axis=(1, 2, 3))
        return int((steps < 0.15 * np.median(ref_steps)).sum())

    ref_steps = np.abs(np.diff(decoded[name, "reference", 0], axis=0)).mean(axis=(1, 2, 3))
    values = _series(decoded, name, "framedrop", repeats)
    assert values[0] == 0 and _strictly(values, +1), values


@pytest.mark.parametrize("name", ["astronaut", "camera"])
def test_shake_adds_frame_to_frame_motion_at_every_level(decoded, name):
    values = _series(decoded, name, "shake", lambda c: float(np.abs(np.diff(c, axis=0)).mean()))
    assert _strictly(values, +1), values


def test_frame_drop_counts_and_nesting_are_exact_in_memory():
    frames = np.arange(16, dtype=np.uint8)[:, None, None, None] * np.ones((1, 4, 4, 3), np.uint8)
    previous: set[int] = set()
    for level, fraction in zip(LEVELS, sv.DROP_FRACTIONS, strict=True):
        out = sv.drop_frames(frames, level, sv.rng_for(0, "x", "framedrop"))
        dropped = {t for t in range(1, 16) if out[t, 0, 0, 0] == out[t - 1, 0, 0, 0]}
        assert len(dropped) == math.ceil(fraction * 15) and previous <= dropped
        assert out[0, 0, 0, 0] == 0  # the first frame is never dropped
        previous = dropped


def test_noise_and_shake_scale_one_pattern_with_the_level():
    zero = np.full((8, 16, 16, 3), 128, np.uint8)
    fields = [sv.noise(zero, lv, sv.rng_for(0, "x", "noise")).astype(float) - 128 for lv in (1, 2)]
    np.testing.assert_allclose(fields[1] / 12.0, fields[0] / 6.0, atol=0.2)
    offsets = [sv.shake_offsets(8, lv, 64, sv.rng_for(0, "x", "shake")) for lv in (1, 5)]
    np.testing.assert_allclose(offsets[1] / 4.0, offsets[0] / 0.4)


def test_rng_is_seeded_from_a_stable_hash():
    # Fixed values: the stream must not depend on the process (Python's hash() is salted).
    draws = sv.rng_for(0, "astronaut", "noise").integers(0, 2**31, 3).tolist()
    assert draws == sv.rng_for(0, "astronaut", "noise").integers(0, 2**31, 3).tolist()
    assert draws == [
        int(v) for v in np.random.default_rng(_seed("0:astronaut:noise")).integers(0, 2**31, 3)
    ]
    assert sv.rng_for(1, "astronaut", "noise").integers(0, 2**31) != draws[0]


def _seed(text: str) -> int:
    digest = hashlib.sha256(f"synthetic-video:{text}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def test_rgb_to_yuv420p_uses_bt601_limited_range():
    white, black = np.full((2, 2, 3), 255, np.uint8), np.zeros((2, 2, 3), np.uint8)
    assert sv.rgb_to_yuv420p(white).ravel().tolist() == [235] * 4 + [128, 128]
    assert sv.rgb_to_yuv420p(black).ravel().tolist() == [16] * 4 + [128, 128]


def test_a_side_that_is_even_but_not_a_multiple_of_4_encodes(tmp_path):
    frames = np.zeros((8, 34, 34, 3), np.uint8)
    frames[:, :, :17] = [200, 40, 40]  # red left half, black right half
    write_video(tmp_path / "odd.mp4", frames, 8, sv.PRISTINE_QSCALE)
    decoded = read_frames(tmp_path / "odd.mp4").astype(float)
    assert decoded.shape == (8, 34, 34, 3)
    assert np.abs(decoded[:, 4:30, 2:14] - [200, 40, 40]).mean() < 8


@pytest.mark.parametrize("level", [0, 6, 2.0, True])
def test_a_level_outside_1_to_5_is_an_error(level):
    with pytest.raises(ValueError, match=r"blur level must be (an integer )?1\.\.5"):
        sv.blur(np.zeros((8, 8, 8, 3), np.uint8), level)


def test_a_distortion_refuses_a_clip_that_is_not_rgb_uint8():
    with pytest.raises(ValueError, match=r"noise expects a uint8 clip of shape \(T,H,W,3\)"):
        sv.noise(np.zeros((8, 8, 3), np.uint8), 1, np.random.default_rng(0))
    with pytest.raises(ValueError, match="kind must be 'reference' or one of"):
        make_clip(np.zeros((64, 64, 3), np.uint8), "x", "jpeg", 1, 32, 8, 0)


# --- the benchmark folder -----------------------------------------------------------------


def test_benchmark_writes_every_clip_and_row(bench):
    root, table = bench
    assert len(table) == len(SOURCE_PHOTOS) * (1 + len(KINDS) * sv.MAX_LEVEL)
    assert sorted(p.name for p in root.iterdir()) == [
        "synthetic_video.csv",
        "synthetic_video.json",
        "videos",
    ]
    assert len(list((root / "videos").glob("*.mp4"))) == len(table)
    assert list(table.columns) == ["video", "mos", "ref_id", "distortion", "level", "split"]
    pd.testing.assert_frame_equal(
        pd.read_csv(root / "synthetic_video.csv"), table, check_dtype=False
    )
    assert read_frames(root / table["video"][0]).shape == (8, 32, 32, 3)


def test_benchmark_labels_follow_the_level(bench):
    _, table = bench
    references = table[table["distortion"] == "reference"]
    assert (references["level"] == 0).all() and (references["mos"] == 100.0).all()
    assert references["video"].tolist() == [f"videos/{n}.mp4" for n, _ in SOURCE_PHOTOS]
    distorted = table[table["distortion"] != "reference"]
    np.testing.assert_allclose(distorted["mos"], 100 * (1 - distorted["level"] / 6))
    assert set(distorted["distortion"]) == set(KINDS) and set(distorted["level"]) == set(LEVELS)
    expected = "videos/" + distorted["ref_id"] + "_" + distorted["distortion"] + "_"
    assert (distorted["video"] == expected + distorted["level"].astype(str) + ".mp4").all()


def test_benchmark_split_is_content_disjoint_and_both_sides_are_filled(bench):
    _, table = bench
    assert set(table["split"]) == {"train", "test"}
    assert (table.groupby("ref_id")["split"].nunique() == 1).all()
    assert 1 <= table.loc[table["split"] == "test", "ref_id"].nunique() < len(SOURCE_PHOTOS) / 2


def test_two_builds_are_identical_and_a_rerun_keeps_the_files(bench, tmp_path):
    root, table = bench
    again = make_video_benchmark(tmp_path, **SMALL)
    pd.testing.assert_frame_equal(table, again)
    digests = _digests(root)
    assert _digests(tmp_path) == digests  # the same bytes, hence the same decoded frames
    for video in table["video"][::37]:
        np.testing.assert_array_equal(read_frames(root / video), read_frames(tmp_path / video))
    make_video_benchmark(tmp_path, **SMALL)
    assert _digests(tmp_path) == digests
    with pytest.raises(ValueError, match=r"synthetic_video\.json: this folder holds a benchmark"):
        make_video_benchmark(tmp_path, **SMALL, seed=1)
    assert json.loads((tmp_path / "synthetic_video.json").read_text())["frames"] == 8


def test_another_seed_changes_split_and_patterns_but_not_labels(tmp_path):
    a = make_video_benchmark(tmp_path / "a", **SMALL, kinds=["noise"], levels=1)
    b = make_video_benchmark(tmp_path / "b", **SMALL, kinds=["noise"], levels=1, seed=5)
    pd.testing.assert_frame_equal(a.drop(columns="split"), b.drop(columns="split"))
    video = "videos/astronaut_noise_1.mp4"
    assert (read_frames(tmp_path / "a" / video) != read_frames(tmp_path / "b" / video)).any()


def test_subset_without_references_and_a_csv_without_arguments(tmp_path):
    table = make_video_benchmark(
        tmp_path / "a", **SMALL, kinds=["shake", "blur"], levels=2, include_references=False
    )
    assert len(table) == len(SOURCE_PHOTOS) * 2 * 2 and (table["level"] > 0).all()
    assert list(dict.fromkeys(table["distortion"])) == ["blur", "shake"]  # KINDS order
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "synthetic_video.csv").write_text("video,mos\n")
    with pytest.raises(ValueError, match=r"synthetic_video\.csv exists without synthetic_video"):
        make_video_benchmark(tmp_path / "b", **SMALL)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"size": 16}, "size must be >= 32, received 16"),
        ({"size": 33}, "size must be even"),
        ({"frames": 4}, "frames must be >= 8, received 4"),
        ({"frames": 8.0}, "frames must be an integer, received 8.0"),
        ({"kinds": ["jpeg"]}, r"kinds must be distinct names among .*'jpeg'"),
        ({"kinds": "blur"}, "the string 'blur'"),
        ({"levels": 6}, r"levels must be in 1\.\.5, received 6"),
        ({"fps": 0}, r"fps must be in 1\.\.120"),
        ({"seed": "0"}, "seed must be an integer"),
        ({"test_fraction": 1.0}, r"test_fraction must lie strictly in \(0, 1\)"),
        ({"test_fraction": 0.001}, r"leaves the \['test'\] split\(s\) empty"),
    ],
)
def test_bad_arguments_write_nothing(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_video_benchmark(tmp_path / "out", **{**SMALL, **kwargs})
    assert not (tmp_path / "out").exists()


def test_without_pyav_the_error_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "av", None)  # `import av` now raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'genziqa\[video\]'"):
        make_video_benchmark(tmp_path / "out", **SMALL)
    assert not (tmp_path / "out").exists()


# --- the dataset adapter ------------------------------------------------------------------


def test_adapter_reads_the_benchmark_as_a_canonical_video_table(bench):
    root, table = bench
    canonical = load_table("synthetic_video", root)
    check_contract(canonical, "synthetic_video")
    expected = table.assign(path=[str((root / p).resolve()) for p in table["video"]])
    merged = canonical.merge(expected, on="path", suffixes=("", "_csv"), validate="1:1")
    assert len(merged) == len(table)
    np.testing.assert_allclose(merged["score"], merged["mos_csv"] / 100.0)
    assert (merged["split"] == merged["split_csv"]).all()
    assert (merged["ref_id"] == merged["ref_id_csv"]).all()


def test_adapter_names_an_absent_clip_without_offering_an_option_it_lacks(tmp_path):
    make_video_benchmark(tmp_path, **SMALL, kinds=["blur"], levels=1)
    (tmp_path / "videos" / "coffee_blur_1.mp4").unlink()
    with pytest.raises(
        DatasetError,
        match=r"synthetic_video.csv: 1 of 20 listed video\(s\) are "
        r"absent on disk, e.g. .*coffee_blur_1.mp4$",
    ):
        load_table("synthetic_video", tmp_path)
