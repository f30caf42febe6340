"""Stage 1, the inputs ``GenzIQA.score`` accepts: numpy arrays as users of the field pass them."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from genziqa.preprocess import prepare_images


def _photo(seed: int, mode: str = "RGB") -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).convert(mode)


def test_numpy_arrays_prepare_exactly_as_their_pil_images() -> None:
    rgb, grey = _photo(0), _photo(1, "L")
    from_arrays = prepare_images([np.asarray(rgb), np.asarray(grey)], 64)
    assert torch.equal(from_arrays, prepare_images([rgb, grey], 64))
    assert torch.equal(prepare_images(np.asarray(rgb), 64), prepare_images(rgb, 64))  # one array


def test_score_accepts_numpy_arrays(tiny_model) -> None:
    rgb, grey = _photo(2), _photo(3, "L")
    expected = tiny_model.score([rgb, grey])
    assert np.array_equal(tiny_model.score([np.asarray(rgb), np.asarray(grey)]), expected)
    assert np.array_equal(tiny_model.score(np.asarray(rgb)), expected[:1])


@pytest.mark.parametrize(
    ("bad", "found"),
    [
        (np.zeros((8, 8, 3), dtype=np.float32), "dtype float32"),
        (np.zeros((8, 8, 4), dtype=np.uint8), "shape (8, 8, 4)"),
        (np.zeros((2, 8, 8, 3), dtype=np.uint8), "shape (2, 8, 8, 3)"),
        (42, "got int"),
        ({"image": 1}, "got dict"),
    ],
)
def test_anything_else_names_the_accepted_types(bad, found) -> None:
    with pytest.raises(TypeError) as info:
        prepare_images(bad if isinstance(bad, (np.ndarray, dict)) else [bad], 64)
    message = str(info.value)
    assert found in message
    assert "PIL images, file paths, numpy arrays (H, W, 3) or (H, W) of uint8" in message
