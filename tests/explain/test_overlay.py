"""The overlay picture: colour tables, scales, the three panels and their labels."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from genziqa.explain.heatmaps import KINDS, Explanation
from genziqa.explain.overlay import (
    COLORMAPS,
    colorize,
    colormap_table,
    colour_range,
    panels,
    render,
)

LAYERS = ("down.attn2", "up.attn2")


def _explanation(zero_shot: bool = False) -> Explanation:
    """Two images (48x64 and 40x40, H x W) with known maps: a left-to-right ramp on an 8x8
    layer grid and a bump on a 4x4 one, on an 8x8 latent grid."""
    ramp = np.tile(np.linspace(-1.0, 2.0, 8, dtype=np.float32), (8, 1))
    bump = np.zeros((4, 4), dtype=np.float32)
    bump[1, 2] = 3.0
    grids = {
        kind: {
            LAYERS[0]: np.stack([ramp, 2 * ramp]),
            LAYERS[1]: np.stack([bump, bump + 1]),
        }
        for kind in KINDS
    }
    rng = np.random.default_rng(0)
    images = [
        Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)),
        Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)),
    ]
    return Explanation(
        score=np.array([1.25, -0.5]),
        kind="contribution",
        grids=grids,
        latent_size=(8, 8),
        image_sizes=[(48, 64), (40, 40)],
        parts={},
        model_label="zero-shot baseline (untrained)" if zero_shot else "GenzIQA",
        explains_score=not zero_shot,
        images=images,
    )


def _find(canvas: np.ndarray, tile: np.ndarray) -> tuple[int, int]:
    """Where ``tile`` lies in ``canvas`` (top, left), found by its first row."""
    rows, cols = tile.shape[:2]
    for y in range(canvas.shape[0] - rows + 1):
        for x in range(canvas.shape[1] - cols + 1):
            if np.array_equal(canvas[y, x : x + cols], tile[0]) and np.array_equal(
                canvas[y : y + rows, x : x + cols], tile
            ):
                return y, x
    raise AssertionError("tile not found in the canvas")


def test_colour_tables_match_matplotlib() -> None:
    matplotlib = pytest.importorskip("matplotlib")
    x = np.linspace(0, 1, 256)
    for name in COLORMAPS:
        ours = colorize(x[None, :], 0.0, 1.0, name)[0].astype(float)
        theirs = matplotlib.colormaps[name](x)[:, :3] * 255
        tolerance = 5.0 if name.startswith("coolwarm") else 3.5  # 8-bit rounding included
        assert np.abs(ours - theirs).max() <= tolerance, name


def test_colorize_maps_the_range_onto_the_table_and_clips() -> None:
    table = np.round(colormap_table("magma") * 255)
    values = np.array([[-5.0, 0.0, 10.0, 20.0, 99.0]])
    colours = colorize(values, 0.0, 20.0, "magma")[0]
    assert np.array_equal(colours[0], table[0]) and np.array_equal(colours[1], table[0])
    assert np.array_equal(colours[3], table[-1]) and np.array_equal(colours[4], table[-1])
    assert np.array_equal(colours[2], table[len(table) // 2])
    flat = colorize(np.ones((2, 2)), 1.0, 1.0)
    assert (flat == table[len(table) // 2]).all()
    assert np.array_equal(colormap_table("viridis_r"), colormap_table("viridis")[::-1])
    with pytest.raises(ValueError, match="unknown colour map 'jet'"):
        colormap_table("jet")


def test_the_three_panels_are_image_blend_and_coloured_map() -> None:
    explanation = _explanation()
    picture, blended, heat, (low, high), cmap = panels(explanation, 0, alpha=0.3, panel=64)
    assert picture.size == blended.size == heat.size == (74, 55)  # area of 64x64, aspect 4:3
    assert cmap == "magma"
    latent = explanation.latent_map(0)
    assert (low, high) == (float(latent.min()), float(latent.max()))
    from genziqa.explain.heatmaps import resize_map

    expected = colorize(resize_map(latent, (55, 74), False), low, high, "magma")
    assert np.array_equal(np.asarray(heat), expected)
    mixed = np.round(np.asarray(picture, float) * 0.7 + expected * 0.3).astype(np.uint8)
    assert np.array_equal(np.asarray(blended), mixed)
    canvas = np.asarray(render(explanation, 0, alpha=0.3, panel=64))
    top, left = _find(canvas, np.asarray(picture))
    assert _find(canvas, np.asarray(blended)) == (top, left + 74 + 12)
    assert _find(canvas, np.asarray(heat)) == (top, left + 2 * (74 + 12))
    bar = canvas[top + 1 : top + 55 - 1, left + 3 * (74 + 12) + 2]  # inside the bar's frame
    table = np.round(colormap_table("magma") * 255)
    assert np.abs(bar[0].astype(int) - table[-1]).max() <= 8  # high at the top
    assert np.abs(bar[-1].astype(int) - table[0]).max() <= 8  # low at the bottom
    assert (canvas[: top - 4] < 100).any()  # the title line is drawn above the panels


def test_scales_relative_absolute_and_symmetric_contrast() -> None:
    explanation = _explanation()
    select = {"layer": None, "resolution": None}
    first = colour_range(explanation, 0, "contribution", "relative", None, select)
    second = colour_range(explanation, 1, "contribution", "relative", None, select)
    assert first != second
    everyone = colour_range(explanation, 0, "contribution", "absolute", None, select)
    assert everyone == colour_range(explanation, 1, "contribution", "absolute", None, select)
    assert everyone[0] == min(first[0], second[0]) and everyone[1] == max(first[1], second[1])
    assert colour_range(explanation, 0, "contribution", "absolute", (-1, 4), select) == (-1, 4)
    contrast = explanation.latent_map(0, "contrast")
    low, high = colour_range(explanation, 0, "contrast", "relative", None, select)
    assert (low, high) == (float(contrast.min()), float(contrast.max()))
    low, high = colour_range(explanation, 0, "contrast", "absolute", None, select)
    everyone = np.abs(explanation.latent_maps("contrast")).max()
    assert low == -high and high == float(everyone) > float(np.abs(contrast).max())
    *_, cmap = panels(explanation, 0, kind="contrast")
    assert cmap == "coolwarm_r"
    layer = {"layer": LAYERS[1], "resolution": None}
    one_layer = colour_range(explanation, 0, "contribution", "relative", None, layer)
    assert one_layer != first
    absolute = render(explanation, 0, scale="absolute", value_range=(-1.0, 4.0))
    relative = render(explanation, 0)
    assert absolute.size == relative.size and absolute.tobytes() != relative.tobytes()


def test_overlay_is_rgb_labelled_and_the_zero_shot_note_is_added() -> None:
    trained, zero_shot = _explanation(), _explanation(zero_shot=True)
    picture = trained.overlay(1, panel=96)
    assert picture.mode == "RGB"
    noted = zero_shot.overlay(1, panel=96)
    assert noted.width == picture.width and noted.height > picture.height  # one more note
    for kind in KINDS:
        assert trained.overlay(0, kind=kind, panel=48).mode == "RGB"
    assert trained.overlay(0, resolution="8x8", panel=48).mode == "RGB"
    assert trained.overlay(0, layer=LAYERS[0], panel=48).mode == "RGB"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"scale": "log"}, "unknown scale 'log'"),
        ({"alpha": 1.5}, "alpha must be in"),
        ({"value_range": (0, 1)}, "value_range goes with scale='absolute'"),
        ({"scale": "absolute", "value_range": (2, 1)}, "two finite numbers lo < hi"),
        ({"cmap": "rainbow"}, "unknown colour map 'rainbow'"),
        ({"panel": 8}, "panel must be at least 32"),
        ({"kind": "edges"}, "unknown heatmap kind"),
    ],
)
def test_bad_overlay_options_are_one_line_errors(options, message) -> None:
    with pytest.raises(ValueError, match=message):
        _explanation().overlay(0, **options)


def test_index_out_of_range() -> None:
    with pytest.raises(IndexError, match="image index 2 out of range for 2 images"):
        _explanation().overlay(2)


def test_overlays_need_no_matplotlib() -> None:
    code = (
        "import sys, json, numpy as np\n"
        "from tests.explain.test_overlay import _explanation\n"
        "_explanation().overlay(0, panel=48)\n"
        "print(json.dumps('matplotlib' in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) is False
