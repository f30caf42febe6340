"""A heatmap as a picture: image | overlay | map side by side, a colour bar, labels (RGB).

The PaQ-2-PiQ layout (the image, the image under the map, the map alone), with perceptually
uniform colour maps (magma for the one-sided kinds; a diverging map centred at 0 for the
good-minus-bad contrast) instead of DAAM's jet, and a colour bar in the map's own units.

Scales: ``relative`` (default) stretches this image's map from its minimum to its maximum
("where inside this image"); ``absolute`` uses ``value_range`` (lo, hi), or without it the
range over all images of the explanation, so that images of one call compare ("how much, next
to the others"); for the contrast map that range is made symmetric about 0, so that the
diverging map's middle is the two prompts' tie. The note under the panels says which scale is
shown; the colour bar gives its numbers.

Colour tables: 33 samples of matplotlib's ``magma`` and ``viridis`` (S. van der Walt and
N. Smith, CC0) and ``coolwarm`` (K. Moreland's diverging map), linearly interpolated; within
3.5/255 (coolwarm: 5/255) of matplotlib's own in 8 bits (tested when it is installed). Built
in, so the package needs no matplotlib and an overlay is the same picture with or without it.
Text: Pillow's bundled font (ASCII and Latin-1 only).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .heatmaps import check_kind, resize_map

if TYPE_CHECKING:
    from .heatmaps import Explanation

_TABLES = {
    "magma": "0000040303120a0822130d341d114729115a36106b440f7651127c5d177f6a1c81762181832681902a"
    "819c2e7faa337db73779c43c75d0416fdc4869e75263ef5d5ef56b5cf9795dfc8961fd9869fea772feb67cfec4"
    "88fed395fde2a3fcf0b2fcfdbf",
    "viridis": "440154470d6048186a482374472d7b4537814240863e49893b528b375b8d33638d2f6b8e2c728e297a"
    "8e26828e23898e21918c1f988b1fa08822a78528ae8032b67a3fbc734ec36b5ec96270cf5784d44b98d83eaddc"
    "30c2df23d8e219ece51bfde725",
    "coolwarm": "3b4cc0445acc4e68d85875e16282ea6c8ff1779af782a6fb8db0fe98b9ffa3c2feaec9fcb9d0f9c3d5"
    "f4ccd9edd5dbe5dddcdce5d8d1ecd3c5f1ccb8f5c4acf7ba9ff7b093f6a586f4987af08b6eeb7d62e46e56dd5f"
    "4bd44e41ca3b37be242eb40426",
}
COLORMAPS = tuple(sorted([*_TABLES, *(f"{name}_r" for name in _TABLES)]))
# Contrast: red where the bad prompt wins, blue where the good one does.
DEFAULT_COLORMAP = {"contrast": "coolwarm_r"}
SCALES = ("relative", "absolute")

_DESCRIPTION = {
    "contribution": "contribution map N·w·S (the pooling's weight times the logit)",
    "contrast": "good-minus-bad logit map S_good - S_bad",
    "responsibility": "responsibility map N·w (where the smooth max looks)",
    "entropy": "entropy map N·(-w·log w)/lambda",
}
_UNITS = {
    "contribution": "score units",
    "contrast": "logit",
    "responsibility": "x uniform",
    "entropy": "score units",
}
_READING = {
    "contribution": "Bright: regions contributing most to the score's attention part.",
    "contrast": "Blue: closer to the 'good' prompt; red: closer to the 'bad' one "
    "(descriptive, not a split of the score).",
    "responsibility": "Bright: where the log-sum-exp pooling puts its weight (1 = uniform).",
    "entropy": "The entropy part of the pooled score, spread where the pooling's weight is.",
}


def colormap_table(name: str) -> np.ndarray:
    """The colour table ``name`` (``magma``, ``viridis``, ``coolwarm``, or one of them with
    ``_r`` reversed) as float (33, 3) in [0, 1]."""
    base = name.removesuffix("_r")
    if base not in _TABLES:
        raise ValueError(f"unknown colour map {name!r}; expected one of {', '.join(COLORMAPS)}")
    table = np.frombuffer(bytes.fromhex(_TABLES[base]), dtype=np.uint8).reshape(-1, 3) / 255.0
    return table[::-1] if name.endswith("_r") else table


def colorize(values: np.ndarray, low: float, high: float, name: str = "magma") -> np.ndarray:
    """Values (H, W) -> uint8 RGB (H, W, 3): ``low`` .. ``high`` onto the colour map, clipped
    (a flat range maps to the middle colour)."""
    table = colormap_table(name)
    span = high - low
    t = np.full(values.shape, 0.5) if span <= 0 else np.clip((values - low) / span, 0.0, 1.0)
    anchors = np.linspace(0.0, 1.0, len(table))
    channels = [np.interp(t, anchors, table[:, c]) for c in range(3)]
    return np.round(np.stack(channels, axis=-1) * 255).astype(np.uint8)


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: the small bitmap font
        return ImageFont.load_default()


def _wrap(text: str, font, width: float) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        candidate = f"{line} {word}".strip()
        if line and font.getlength(candidate) > width:
            lines.append(line)
            line = word
        else:
            line = candidate
    return [*lines, line] if line else lines


def _tick(value: float) -> str:
    return f"{value:.4g}" if value != 0 else "0"


def colour_range(
    explanation: Explanation, i: int, kind: str, scale: str, given: tuple[float, float] | None,
    select: dict,
) -> tuple[float, float]:  # fmt: skip
    """The colour bar's (low, high) for image i (see the module docstring)."""
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; expected one of {', '.join(SCALES)}")
    if given is not None:
        if scale != "absolute":
            raise ValueError("value_range goes with scale='absolute'")
        low, high = (float(v) for v in given)
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise ValueError(f"value_range must be two finite numbers lo < hi, got {given}")
        return low, high
    if scale == "relative":
        values = explanation.latent_map(i, kind, **select)
    else:
        values = explanation.latent_maps(kind, **select)
    low, high = float(values.min()), float(values.max())
    if kind == "contrast" and scale == "absolute":  # 0, the two prompts' tie, in the middle
        bound = max(abs(low), abs(high))
        return -bound, bound
    return low, high


def panels(
    explanation: Explanation,
    i: int,
    *,
    kind: str | None = None,
    layer: str | None = None,
    resolution: str | None = None,
    scale: str = "relative",
    value_range: tuple[float, float] | None = None,
    alpha: float = 0.5,
    cmap: str | None = None,
    panel: int = 320,
) -> tuple[Image.Image, Image.Image, Image.Image, tuple[float, float], str]:
    """The three panels of ``render`` (image, overlay, map; RGB, all one size), the colour
    bar's (low, high) and the colour map's name."""
    if not 0 <= i < len(explanation):
        raise IndexError(f"image index {i} out of range for {len(explanation)} images")
    kind = check_kind(kind or explanation.kind)
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    if panel < 32:
        raise ValueError(f"panel must be at least 32 pixels, got {panel}")
    cmap = cmap or DEFAULT_COLORMAP.get(kind, "magma")
    colormap_table(cmap)  # a clear error for an unknown name before any work
    select = {"layer": layer, "resolution": resolution}
    low, high = colour_range(explanation, i, kind, scale, value_range, select)
    height, width = explanation.image_sizes[i]
    factor = panel / math.sqrt(height * width)  # the area of a panel x panel square
    size = (max(1, round(height * factor)), max(1, round(width * factor)))
    picture = explanation.image(i).convert("RGB")
    picture = picture.resize((size[1], size[0]), Image.Resampling.LANCZOS)
    display = resize_map(explanation.latent_map(i, kind, **select), size, False)
    heat = colorize(display, low, high, cmap)
    base = np.asarray(picture, dtype=np.float64)
    blended = np.round(base * (1 - alpha) + heat * alpha).astype(np.uint8)
    return picture, Image.fromarray(blended), Image.fromarray(heat), (low, high), cmap


def render(
    explanation: Explanation,
    i: int,
    *,
    kind: str | None = None,
    layer: str | None = None,
    resolution: str | None = None,
    scale: str = "relative",
    value_range: tuple[float, float] | None = None,
    alpha: float = 0.5,
    cmap: str | None = None,
    panel: int = 320,
) -> Image.Image:
    """Image i of ``explanation`` as image | overlay | map + colour bar, labelled (RGB).

    ``kind`` (default the explanation's), ``layer`` or ``resolution`` (one layer, one
    attention resolution; default all layers), ``scale`` (``relative`` / ``absolute``) with
    ``value_range``, ``alpha`` (the map's opacity over the image), ``cmap`` (default magma;
    reversed coolwarm for the contrast), ``panel`` (each panel has the area of a square of
    this side, in pixels, and the image's aspect ratio).
    """
    kind = check_kind(kind or explanation.kind)
    picture, blended, heat, (low, high), cmap = panels(
        explanation, i, kind=kind, layer=layer, resolution=resolution, scale=scale,
        value_range=value_range, alpha=alpha, cmap=cmap, panel=panel,
    )  # fmt: skip
    size = (picture.height, picture.width)
    font, small = _font(15), _font(12)
    pad, bar, ticks = 12, 16, 64
    panels_width = 3 * size[1] + 2 * pad
    canvas_width = pad + panels_width + pad + bar + 6 + ticks + pad
    which = layer or (f"{resolution} layers" if resolution else "mean over all layers")
    title = (
        f"{explanation.model_label} score {float(explanation.score[i]):.4f} · "
        f"{_DESCRIPTION[kind]}, {which}"
    )
    scale_text = (
        "relative scale: this image's min to max"
        if scale == "relative"
        else f"absolute scale: {_tick(low)} to {_tick(high)} {_UNITS[kind]}"
    )
    reading = _READING[kind]
    if kind == "contrast" and scale == "relative" and high <= 0:
        reading += " All of it is below 0 (the 'bad' prompt wins everywhere): bluer is less bad."
    elif kind == "contrast" and scale == "relative" and low >= 0:
        reading += " All of it is above 0 (the 'good' prompt wins everywhere): redder is less good."
    notes = [f"{scale_text}. {reading}"]
    if not explanation.explains_score:
        notes.append(
            "Zero-shot baseline: its score is the denoising contrast alone; this map shows "
            "the attention, which that score does not use."
        )
    text_width = canvas_width - 2 * pad
    title_lines = _wrap(title, font, text_width)
    note_lines = [line for note in notes for line in _wrap(note, small, text_width)]
    title_height = 20 * len(title_lines) + 6
    caption_height = 20
    notes_height = 16 * len(note_lines) + 8
    top = pad + title_height
    canvas_height = top + size[0] + caption_height + notes_height + pad

    canvas = Image.new("RGB", (canvas_width, canvas_height), "white")
    draw = ImageDraw.Draw(canvas)
    for n, line in enumerate(title_lines):
        draw.text((pad, pad + 20 * n), line, fill="black", font=font)
    captions = ("image", f"overlay (opacity {alpha:g})", "map")
    for n, (tile, caption) in enumerate(zip((picture, blended, heat), captions, strict=True)):
        left = pad + n * (size[1] + pad)
        canvas.paste(tile, (left, top))
        draw.text((left, top + size[0] + 3), caption, fill="black", font=small)

    bar_left = pad + panels_width + pad
    gradient = np.linspace(high, low, size[0])[:, None].repeat(bar, axis=1)
    canvas.paste(Image.fromarray(colorize(gradient, low, high, cmap)), (bar_left, top))
    draw.rectangle((bar_left, top, bar_left + bar - 1, top + size[0] - 1), outline="black")
    for fraction in (0.0, 0.5, 1.0):
        y = top + round(fraction * (size[0] - 1))
        value = high - fraction * (high - low)
        draw.line((bar_left + bar, y, bar_left + bar + 4, y), fill="black")
        text_y = min(max(y - 7, top - 4), top + size[0] - 12)
        draw.text((bar_left + bar + 6, text_y), _tick(value), fill="black", font=small)
    draw.text((bar_left, top + size[0] + 3), _UNITS[kind], fill="black", font=small)
    if kind == "contrast":
        draw.text((bar_left + bar + 6, top + 18), "good", fill="black", font=small)
        draw.text((bar_left + bar + 6, top + size[0] - 30), "bad", fill="black", font=small)

    y = top + size[0] + caption_height + 4
    for line in note_lines:
        draw.text((pad, y), line, fill="black", font=small)
        y += 16
    return canvas
