"""Quality heatmaps from the scoring pass itself: where in the image the score comes from.

No second model and no extra U-Net call: ``HeatmapRecorder`` rides on the one attention
processor (``attention.py``) during the scoring pass and keeps, per cross-attention layer and
U-Net row, a few maps over the layer's grid, reduced inside the recorder (nothing of size
heads x locations x tokens is kept).

The algebra. In layer l, with pre-softmax logits S(x) = Q K^T * scale at the N = h_l * w_l
locations x of one (prompt p, row, head h, token t), GenzIQA pools with a smooth maximum,
s = logsumexp_x(lambda S(x)) / lambda. Its own weights w(x) = softmax_x(lambda S(x)) (they sum
to 1 over x) split it exactly over locations: log w = lambda S - lambda s, so

    s = sum_x w(x) S(x) + H(w) / lambda,        H(w) = -sum_x w(x) log w(x)  (entropy).

A_l, the layer's attention score, is the mean of s over prompts, heads and tokens (the
scoring's token weights: all 77 tokens, or the non-padding ones).

The maps, each per layer on its native h_l x w_l grid, averaged over heads and tokens (token
weights as in A_l), then over prompts and the scoring timesteps. The three "density" maps are
multiplied by N so that their MEAN over the image is the layer's quantity (values in score
units, comparable across layers and resolutions):

- ``contribution``   N * w(x) S(x): the pooling's weight times the logit. Its spatial mean is
  the layer's sum_x w S, i.e. A_l minus the location-free entropy bonus. Where w is uniform
  (w = 1/N) it is the logit itself; where the smooth max concentrates it is amplified.
  "Which regions the score is made of." The default.
- ``entropy``        N * (-w(x) log w(x)) / lambda: the rest of A_l, spread where w is. With
  the contribution map it decomposes A_l exactly: mean_x (contribution + entropy) = A_l.
- ``responsibility`` N * w(x): where the smooth max looks (1 = uniform weight; mean 1).
- ``contrast``       mean_{h,t} S_good(x) - mean_{h,t} S_bad(x) (the good-minus-bad logit, per
  location; prompt 0 minus prompt 1, so not averaged over prompts). Positive where the image
  matches the "good" prompt more. Descriptive: the score averages both prompts, so this map is
  not a decomposition of it.

Aggregation (as DAAM does, castorini/daam ``compute_global_heat_map``): each layer's map is
upsampled to the latent grid (h x w) with bicubic interpolation (clamped at 0 for the
non-negative kinds, ``responsibility`` and ``entropy``, against bicubic undershoot), then the
mean over layers; to the image's own size (H x W) bicubic again (the model resized the image to
a square without keeping its aspect ratio, so stretching back is the geometric inverse).
Per-layer and per-resolution maps go through the same two steps. Bicubic interpolation does
not conserve the mean exactly: the identities above hold exactly on the native grids
(``Explanation.grids``, ``Explanation.parts``) and within a small interpolation error after
upsampling (under 0.4% of the map's spatial spread, measured on the tiny model).

How the score relates (GenzIQA's ``"attention+contrast"`` mode): the raw score = mean over
layers and timesteps of (A_l + b) = parts["contribution"] + parts["entropy"] +
parts["denoising_contrast"]; a model with the optional calibration head reports the head's
affine map of that raw score. The zero-shot baseline's score is -b alone: its maps show the
attention the score does not use (``Explanation.explains_score`` is False).

Deterministic and batch-invariant like the score: the recorder reduces each U-Net row on its
own inside fixed-shape calls, and every map is computed per image.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..attention import Recorder
from ..preprocess import prepare_images

if TYPE_CHECKING:
    from ..model import GenzIQA

KINDS = ("contribution", "contrast", "responsibility", "entropy")
"""What a map can show (see the module docstring); ``contribution`` is the default."""
NON_NEGATIVE = frozenset({"responsibility", "entropy"})
SIGNED = frozenset({"contribution", "contrast"})
_RECORDED = ("contribution", "entropy", "responsibility", "logits")  # the recorder's channels
RECORDER_NAME = "heatmaps"


def check_kind(kind: str) -> str:
    """``kind`` if it is one of ``KINDS``; ValueError otherwise."""
    if kind not in KINDS:
        raise ValueError(f"unknown heatmap kind {kind!r}; expected one of {', '.join(KINDS)}")
    return kind


# ------------------------------------------------------------------------------ recording


def location_terms(
    logits: torch.Tensor, lse_lambda: float, token_weights: torch.Tensor
) -> torch.Tensor:
    """Per-location terms of the spatial log-sum-exp: logits (R, heads, N, T) -> (R, 4, N).

    Channels, each the mean over heads and the ``token_weights`` (R, T) average over tokens
    (rows of weights sum to 1): w S, -w log w / lambda, w, S, with w = softmax over N of
    lambda S. Summed over N, the first two give the pooled value's mean (see the module
    docstring). Float32.
    """
    logits = logits.float()
    scaled = logits * lse_lambda
    log_w = scaled - torch.logsumexp(scaled, dim=2, keepdim=True)
    w = log_w.exp()
    weights = token_weights.to(logits.device, torch.float32) / logits.shape[1]

    def mean(values: torch.Tensor) -> torch.Tensor:  # over heads and weighted tokens
        return torch.einsum("rhnt,rt->rn", values, weights)

    terms = (mean(w * logits), mean(w * log_w) / -lse_lambda, mean(w), mean(logits))
    return torch.stack(terms, dim=1)


class HeatmapRecorder(Recorder):
    """Keeps ``location_terms`` of every cross-attention layer: (rows, 4, N) per U-Net call.

    ``token_mask`` (P, T) of 0/1 restricts the token mean as the scoring does (``None``: all
    tokens); the U-Net batch is prompt-major (``batching.py``), so row r has prompt
    r // (rows / P).
    """

    def __init__(
        self, lse_lambda: float, num_prompts: int, token_mask: torch.Tensor | None = None
    ) -> None:
        super().__init__()
        self.lse_lambda = lse_lambda
        self.num_prompts = num_prompts
        self.token_mask = token_mask

    def _token_weights(self, rows: int, tokens: int, device: torch.device) -> torch.Tensor:
        if self.token_mask is None:
            return torch.full((rows, tokens), 1.0 / tokens, device=device)
        mask = self.token_mask.to(device, torch.float32)
        per_prompt = mask / mask.sum(dim=-1, keepdim=True)
        return per_prompt.repeat_interleave(rows // self.num_prompts, dim=0)

    def reduce(self, logits: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        rows, _, _, tokens = logits.shape
        weights = self._token_weights(rows, tokens, logits.device)
        return location_terms(logits, self.lse_lambda, weights).detach()


# --------------------------------------------------------------------------------- resizing


def grid_shape(locations: int, latent_size: tuple[int, int]) -> tuple[int, int]:
    """A layer's (h_l, w_l) from its number of locations and the latent grid (h, w): the same
    downsampling factor on both axes, as in the U-Net (DAAM's ``factor``)."""
    height, width = latent_size
    factor = math.sqrt(height * width / locations)
    shape = (round(height / factor), round(width / factor))
    if shape[0] * shape[1] != locations:
        raise ValueError(
            f"cannot lay {locations} attention locations out on a grid like the latent's "
            f"{height}x{width}"
        )
    return shape


def resize_map(grid: np.ndarray, size: tuple[int, int], non_negative: bool) -> np.ndarray:
    """A 2-D map -> ``size`` (H, W), bicubic (align_corners=False), clamped at 0 when the map
    cannot be negative; float32. Unchanged when already that size."""
    values = np.ascontiguousarray(grid, dtype=np.float32)
    if values.shape == tuple(size):
        return values.copy()
    tensor = torch.from_numpy(values)[None, None]
    resized = F.interpolate(tensor, size=tuple(size), mode="bicubic", align_corners=False)[0, 0]
    if non_negative:
        resized.clamp_(min=0)
    return resized.numpy()


# ---------------------------------------------------------------------------- explanation


class LazyMaps(Mapping):
    """name -> maps, computed when looked up (not kept): per-layer maps at image size would
    otherwise cost layers x images x pixels of memory up front."""

    def __init__(self, names: Sequence[str], compute: Callable[[str], Any]) -> None:
        self._names = tuple(names)
        self._compute = compute

    def __getitem__(self, name: str) -> Any:
        if name not in self._names:
            raise KeyError(name)
        return self._compute(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


class ImageMaps(Sequence):
    """One map per image at the image's own size, computed when indexed (``maps[i]``, (H_i,
    W_i) float32) and not kept; ``np.asarray(maps)`` stacks them (B, H, W) when the images
    share a size. A per-image row of a service then costs one resize, not B."""

    def __init__(self, sizes: Sequence[tuple[int, int]], compute: Callable[[int], np.ndarray]):
        self._sizes = list(sizes)
        self._compute = compute

    def __len__(self) -> int:
        return len(self._sizes)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if not -len(self) <= i < len(self):
            raise IndexError(f"image index {i} out of range for {len(self)} images")
        return self._compute(i % len(self))

    @property
    def shape(self) -> tuple[int, int, int]:
        """(B, H, W); ValueError when the images differ in size."""
        if len(set(self._sizes)) != 1:
            raise ValueError(f"the images differ in size ({sorted(set(self._sizes))}): index them")
        return (len(self), *self._sizes[0])

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        self.shape  # noqa: B018 - the same-size check
        stacked = np.stack([self[i] for i in range(len(self))])
        return stacked if dtype is None else stacked.astype(dtype)


@dataclass(eq=False)
class Explanation:
    """Scores and heatmaps of B images from one scoring pass (``GenzIQA.explain``).

    ``score`` (B,) float64: exactly ``GenzIQA.score`` of the same images.
    ``map``: the ``kind`` map at each image's own size, float32 (B, H, W) when the images share
    a size, else a list of (H_i, W_i) arrays; ``map[i]`` is image i's either way.
    ``layer_maps`` / ``resolution_maps``: the same per cross-attention layer (its module name)
    / per attention resolution (``"16x16"``), each an ``ImageMaps`` (``[i]``: image i's map,
    computed then; ``np.asarray``: (B, H, W)), computed on access.
    ``grids``: kind -> layer -> (B, h_l, w_l) float32 on the layer's native grid (the raw
    recorded maps); ``latent_maps(kind)`` the aggregate on the latent grid.
    ``parts`` (B,) float64 each: ``attention`` (mean over layers and timesteps of A_l),
    ``contribution`` and ``entropy`` (their spatial means; they add up to ``attention``) and
    ``denoising_contrast`` (mean b). ``overlay(i)``: image | overlay | map, labelled (RGB).
    """

    score: np.ndarray
    kind: str
    grids: dict[str, dict[str, np.ndarray]]
    latent_size: tuple[int, int]
    image_sizes: list[tuple[int, int]]
    parts: dict[str, np.ndarray]
    model_label: str = "GenzIQA"
    explains_score: bool = True
    images: Any = field(default=None, repr=False)  # list of PIL images or a (B, 3, H, W) tensor
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.score)

    @property
    def layers(self) -> tuple[str, ...]:
        """The cross-attention layers, in data-flow order (their ``attn2`` module names)."""
        return tuple(self.grids[self.kind])

    @property
    def resolutions(self) -> dict[str, tuple[str, ...]]:
        """``"16x16"`` -> the layers at that attention resolution, finest first."""
        by_size: dict[tuple[int, int], list[str]] = {}
        for name, grid in self.grids[self.kind].items():
            by_size.setdefault(grid.shape[1:], []).append(name)
        ordered = sorted(by_size.items(), key=lambda item: -item[0][0] * item[0][1])
        return {f"{h}x{w}": tuple(names) for (h, w), names in ordered}

    def _layers_for(self, layer: str | None, resolution: str | None) -> tuple[str, ...]:
        if layer is not None and resolution is not None:
            raise ValueError("pass a layer or a resolution, not both")
        if layer is not None:
            if layer not in self.grids[self.kind]:
                raise ValueError(f"unknown layer {layer!r}; expected one of {list(self.layers)}")
            return (layer,)
        if resolution is not None:
            if resolution not in self.resolutions:
                raise ValueError(
                    f"unknown resolution {resolution!r}; expected one of {list(self.resolutions)}"
                )
            return self.resolutions[resolution]
        return self.layers

    def latent_map(
        self, i: int, kind: str | None = None, *, layer: str | None = None,
        resolution: str | None = None,
    ) -> np.ndarray:  # fmt: skip
        """Image i's map on the latent grid (h, w): the mean over the chosen layers (all by
        default) of each layer's map, bicubic-upsampled to the grid."""
        kind = check_kind(kind or self.kind)
        grids = self.grids[kind]
        maps = [
            resize_map(grids[name][i], self.latent_size, kind in NON_NEGATIVE)
            for name in self._layers_for(layer, resolution)
        ]
        return np.mean(np.stack(maps), axis=0, dtype=np.float64).astype(np.float32)

    def latent_maps(self, kind: str | None = None, **select: str | None) -> np.ndarray:
        """``latent_map`` of every image: (B, h, w) float32."""
        return np.stack([self.latent_map(i, kind, **select) for i in range(len(self))])

    def image_map(self, i: int, kind: str | None = None, **select: str | None) -> np.ndarray:
        """Image i's map at its own size (H_i, W_i), float32 (bicubic from the latent grid)."""
        kind = check_kind(kind or self.kind)
        grid = self.latent_map(i, kind, **select)
        return resize_map(grid, self.image_sizes[i], kind in NON_NEGATIVE)

    def image_maps(self, kind: str | None = None, **select: str | None) -> np.ndarray | list:
        """``image_map`` of every image: (B, H, W) when all share a size, else a list."""
        maps = [self.image_map(i, kind, **select) for i in range(len(self))]
        return np.stack(maps) if len(set(self.image_sizes)) == 1 else maps

    @property
    def map(self) -> np.ndarray | list:
        """The ``kind`` map of every image at its own size (computed once, then kept)."""
        if "map" not in self._cache:
            self._cache["map"] = self.image_maps()
        return self._cache["map"]

    @property
    def layer_maps(self) -> Mapping[str, ImageMaps]:
        """Layer name -> its ``kind`` maps at image size (``ImageMaps``: ``[i]`` computes image
        i's, ``np.asarray`` gives (B, H, W)), computed on access."""
        return LazyMaps(
            self.layers, lambda name: ImageMaps(self.image_sizes, self._at_size(layer=name))
        )

    @property
    def resolution_maps(self) -> Mapping[str, ImageMaps]:
        """``"16x16"`` -> the mean of that resolution's layers at image size, on access."""
        return LazyMaps(
            tuple(self.resolutions),
            lambda res: ImageMaps(self.image_sizes, self._at_size(resolution=res)),
        )

    def _at_size(self, **select: str) -> Callable[[int], np.ndarray]:
        self._layers_for(select.get("layer"), select.get("resolution"))  # errors now, not later
        return lambda i: self.image_map(i, **select)

    def image(self, i: int) -> Image.Image:
        """Image i as given (RGB; a tensor is shown as 8-bit)."""
        if isinstance(self.images, torch.Tensor):
            array = self.images[i].detach().float().clamp(0, 1).mul(255).round().byte()
            return Image.fromarray(array.permute(1, 2, 0).cpu().numpy(), "RGB")
        return self.images[i]

    def overlay(self, i: int, **options: Any) -> Image.Image:
        """Image i, the map over it and the map alone, side by side with a colour bar and
        labels: an RGB image. Options: see ``genziqa.explain.overlay.render``."""
        from .overlay import render

        return render(self, i, **options)


# ------------------------------------------------------------------------------- the pass


def _inputs(images: Any) -> tuple[Any, list[tuple[int, int]], Callable[[int, int], Any]]:
    """Inputs -> (what to keep for display, (H, W) per image, slice -> model input)."""
    if isinstance(images, torch.Tensor):
        tensor = images.unsqueeze(0) if images.ndim == 3 else images
        if tensor.ndim != 4:
            raise ValueError(
                f"expected an image tensor shaped (B, 3, H, W) or (3, H, W), got "
                f"{tuple(images.shape)}"
            )
        sizes = [tuple(tensor.shape[-2:])] * tensor.shape[0]
        return tensor, sizes, lambda start, stop: tensor[start:stop]
    items = [images] if isinstance(images, (Image.Image, str, Path)) else list(images)
    if not items:
        raise ValueError("no images given")
    loaded = []
    for item in items:
        if isinstance(item, Image.Image):
            loaded.append(item.convert("RGB") if item.mode != "RGB" else item)
        elif isinstance(item, (str, Path)):
            from ..io.images import load_image

            loaded.append(load_image(item))
        else:
            raise ValueError(
                f"expected PIL images, file paths or a tensor, got {type(item).__name__}"
            )
    sizes = [(image.height, image.width) for image in loaded]
    return loaded, sizes, lambda start, stop: loaded[start:stop]


def explain(
    model: GenzIQA, images: Any, *, kind: str = "contribution", batch_size: int = 8
) -> Explanation:
    """Score ``images`` (PIL images, paths or a (B, 3, H, W) tensor in [0, 1]) and keep their
    heatmaps from the same pass. See ``Explanation`` and the module docstring."""
    check_kind(kind)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if model.config.scoring.test_time_flips:
        raise ValueError(
            "heatmaps need scoring.test_time_flips=False: a randomly flipped image's map does "
            "not lie over the image"
        )
    kept, sizes, batch_of = _inputs(images)
    scoring = model.config.scoring
    token_mask = model.prompts.attention_mask if scoring.tokens == "non_padding" else None
    num_prompts = model.prompts.num_prompts
    names = {layer: layer.removesuffix(".processor") for layer in model.layer_names}
    scores, parts, grids = [], {}, {k: {n: [] for n in names.values()} for k in KINDS}
    latent_size = (0, 0)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(sizes), batch_size):
                pixels = prepare_images(batch_of(start, start + batch_size), model.resolution)
                latents = model.encode_images(pixels)
                latent_size = tuple(latents.shape[-2:])
                recorder = HeatmapRecorder(scoring.lse_lambda, num_prompts, token_mask)
                output = model.score_latents(latents, recorders={RECORDER_NAME: recorder})
                scores.append(output.score.double().cpu())
                contribution, entropy = [], []
                for layer, name in names.items():
                    terms = output.recorded[RECORDER_NAME][layer].float().cpu()  # (P,B,T,4,N)
                    per_layer = _layer_grids(terms, latent_size)
                    for key, values in per_layer.items():
                        grids[key][name].append(values)
                    contribution.append(_per_image(per_layer["contribution"]))
                    entropy.append(_per_image(per_layer["entropy"]))
                batch_parts = {
                    "attention": _per_image(output.attention_scores),
                    "contribution": _per_image(torch.stack(contribution, dim=1)),
                    "entropy": _per_image(torch.stack(entropy, dim=1)),
                    "denoising_contrast": _per_image(output.contrast),
                }
                for key, values in batch_parts.items():
                    parts.setdefault(key, []).append(values.double().cpu())
    finally:
        model.train(was_training)
    return Explanation(
        score=torch.cat(scores).numpy(),
        kind=kind,
        grids={
            key: {name: torch.cat(v).numpy() for name, v in layers.items()}
            for key, layers in grids.items()
        },
        latent_size=latent_size,
        image_sizes=sizes,
        parts={key: torch.cat(values).numpy() for key, values in parts.items()},
        model_label="zero-shot baseline (untrained)" if model.config.zero_shot else "GenzIQA",
        explains_score=scoring.score == "attention+contrast",
        images=kept,
    )


def _per_image(values: torch.Tensor) -> torch.Tensor:
    """(B, ...) -> (B,): each image's mean on its own contiguous copy (batch-invariant)."""
    return torch.stack([v.contiguous().double().mean() for v in values.float().cpu()])


def _layer_grids(terms: torch.Tensor, latent_size: tuple[int, int]) -> dict[str, torch.Tensor]:
    """One layer's recorded terms (P, B, T, 4, N) -> kind -> (B, h_l, w_l): the density kinds
    times N averaged over prompts and timesteps, the good-minus-bad logit over timesteps.

    Image by image on a contiguous copy, so that the arithmetic (and its rounding) never
    depends on how many other images the batch held."""
    locations = terms.shape[-1]
    shape = grid_shape(locations, latent_size)
    kinds: dict[str, list[torch.Tensor]] = {kind: [] for kind in KINDS}
    for b in range(terms.shape[1]):
        image = terms[:, b].contiguous()  # (P, T, 4, N)
        channel = {name: image[:, :, index] for index, name in enumerate(_RECORDED)}
        for kind in ("contribution", "responsibility", "entropy"):
            kinds[kind].append(channel[kind].mean(dim=(0, 1)) * locations)
        logits = channel["logits"]
        kinds["contrast"].append((logits[0] - logits[1]).mean(dim=0))
    return {kind: torch.stack(values).view(-1, *shape) for kind, values in kinds.items()}
