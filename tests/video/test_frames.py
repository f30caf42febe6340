"""The frame-selection rules: GenzVQA's K frames and SimpleVQA's motion clips."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genziqa.video.frames import (
    clip_rate,
    motion_clips,
    needed_indices,
    sample_indices,
    slow_pathway_indices,
    to_chw_tensor,
)


def test_sample_indices_matches_the_reference_example() -> None:
    # VIDEO.md 1.2: KoNViD with 240 frames and K=8.
    assert sample_indices(240, 8) == [0, 34, 68, 102, 136, 170, 204, 239]


@pytest.mark.parametrize("n", [1, 2, 3, 7, 8, 12, 31, 240, 241, 776, 1001])
@pytest.mark.parametrize("k", [1, 2, 8, 12])
def test_sample_indices_is_the_reference_expression(n: int, k: int) -> None:
    expected = list(np.linspace(0, n - 1, k).astype(int))
    got = sample_indices(n, k)
    assert got == expected
    assert len(got) == k and got[0] == 0 and got == sorted(got)
    if k > 1:
        assert got[-1] == n - 1


def test_fewer_frames_than_k_repeats_indices_by_the_same_rule() -> None:
    assert sample_indices(3, 8) == [0, 0, 0, 0, 1, 1, 1, 2]
    assert sample_indices(1, 4) == [0, 0, 0, 0]


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, None])
def test_sample_indices_refuses_bad_counts(bad) -> None:
    with pytest.raises(ValueError, match="must be an int >= 1"):
        sample_indices(bad, 8)
    with pytest.raises(ValueError, match="must be an int >= 1"):
        sample_indices(10, bad)


def test_slow_pathway_frames_are_simplevqas() -> None:
    assert slow_pathway_indices() == [0, 4, 8, 13, 17, 22, 26, 31]
    assert slow_pathway_indices() == torch.linspace(0, 31, 8).long().tolist()
    assert slow_pathway_indices(8) == [0, 7]


def test_clip_rate_rounds_like_python_and_refuses_unknown_rates() -> None:
    assert [clip_rate(f) for f in (23.976, 24.0, 25, 29.97, 59.94, 120.0)] == [
        24,
        24,
        25,
        30,
        60,
        120,
    ]
    assert clip_rate(24.5) == 24  # Python's round: half to even, as in the reference
    for bad in (None, 0.0, -5.0, float("nan"), 0.4):
        with pytest.raises(ValueError):
            clip_rate(bad)


def _reference_start_clips(n: int, fps: float, minimum: int) -> list[list[int]]:
    """SimpleVQA's loop (VIDEO.md 2.2) written out on indices, for n >= fps."""
    rate = round(fps)
    clips = []
    for i in range(int(n / rate)):
        if i * rate + 32 <= n:
            clips.append(list(range(i * rate, i * rate + 32)))
        else:
            head = list(range(i * rate, n))
            clips.append(head + [head[-1]] * (32 - len(head)))
    clips += [clips[-1]] * (minimum - len(clips))
    return clips


@pytest.mark.parametrize(
    ("n", "fps", "minimum"),
    [(240, 24.0, 8), (240, 29.97, 8), (200, 25, 8), (600, 30, 20), (1200, 120, 8), (31, 30, 8)],
)
def test_start_clips_match_simplevqa(n: int, fps: float, minimum: int) -> None:
    got = motion_clips(n, fps, min_clips=minimum)
    assert [list(c) for c in got] == _reference_start_clips(n, fps, minimum)


def test_start_clips_cover_seconds_and_pad_with_the_last_frame_and_clip() -> None:
    clips = motion_clips(100, 30, min_clips=8)
    assert len(clips) == 8  # 3 whole seconds, padded to 8 by repeating the last clip
    assert clips[0] == tuple(range(32))  # at 30 fps a clip reaches 2 frames into second 2
    assert clips[2] == tuple(range(60, 92))
    assert clips[3:] == [clips[2]] * 5
    # Past the end of the video the last frame repeats.
    assert motion_clips(40, 20, min_clips=1)[1] == (*range(20, 40), *[39] * 12)


def test_a_video_shorter_than_a_second_gives_one_clip_of_its_frames() -> None:
    clips = motion_clips(10, 30, min_clips=2)
    assert clips == [(*range(10), *[9] * 22)] * 2


def test_max_clips_keeps_the_first_clips() -> None:
    assert motion_clips(300, 30, min_clips=2, max_clips=3) == motion_clips(300, 30, min_clips=2)[:3]
    with pytest.raises(ValueError, match="smaller than min_clips"):
        motion_clips(300, 30, min_clips=8, max_clips=3)


def test_mid_clips_are_centred_in_each_second() -> None:
    clips = motion_clips(240, 60, min_clips=1, mode="mid")
    assert len(clips) == 4
    assert clips[0] == tuple(range(14, 46))  # 60 // 2 - 16 = 14
    assert clips[3] == tuple(range(194, 226))
    # At 25 fps a second holds fewer than 32 frames: its frames, then its last one repeated.
    low = motion_clips(100, 25, min_clips=1, mode="mid")
    assert low[1] == (*range(25, 50), *[49] * 7)


def test_motion_clips_refuse_bad_settings() -> None:
    with pytest.raises(ValueError, match="frame rate is unknown"):
        motion_clips(100, None)
    with pytest.raises(ValueError, match="mode"):
        motion_clips(100, 25, mode="end")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="min_clips"):
        motion_clips(100, 25, min_clips=-1)


def test_needed_indices_is_the_sorted_union() -> None:
    assert needed_indices([5, 1, 1], (3, 5), []) == [1, 3, 5]


def test_to_chw_tensor_keeps_the_pixels() -> None:
    frames = np.random.default_rng(0).integers(0, 256, (2, 5, 7, 3), dtype=np.uint8)
    tensor = to_chw_tensor(frames)
    assert tensor.dtype == torch.uint8 and tensor.shape == (2, 3, 5, 7)
    assert torch.equal(tensor.permute(0, 2, 3, 1), torch.from_numpy(frames))
    with pytest.raises(ValueError, match="uint8 RGB"):
        to_chw_tensor(frames.astype(np.float32))
