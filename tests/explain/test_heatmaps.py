"""Heatmaps from the scoring pass: hand computations from Q K^T, the log-sum-exp algebra, batch
invariance, sizes, and whether a local defect moves the map."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageFilter

from genziqa import GenzIQA
from genziqa.attention import spatial_logsumexp
from genziqa.explain.heatmaps import (
    KINDS,
    Explanation,
    HeatmapRecorder,
    grid_shape,
    location_terms,
    resize_map,
)

from ..conftest import randomize_trained_tensors

LAMBDA = 0.14


@pytest.fixture()
def model(tiny_model) -> GenzIQA:
    randomize_trained_tensors(tiny_model)  # a fresh LoRA is an identity; make it count
    return tiny_model


def _capture_logits(model: GenzIQA) -> tuple[dict[str, list[torch.Tensor]], list]:
    """Forward hooks on every attn2 that rebuild its logits S = Q K^T / sqrt(d) by hand from
    the layer's inputs, one (rows, heads, N, tokens) tensor per U-Net call."""
    captured: dict[str, list[torch.Tensor]] = {}
    handles = []
    for layer in model.layer_names:
        name = layer.removesuffix(".processor")
        attn = model.unet.get_submodule(name)

        def hook(module, args, kwargs, out, name=name):
            hidden = args[0]
            context = kwargs.get("encoder_hidden_states", args[1] if len(args) > 1 else None)
            with torch.no_grad():
                q, k = module.to_q(hidden), module.to_k(context)
                rows, heads, inner = q.shape[0], module.heads, q.shape[-1]
                q = q.view(rows, -1, heads, inner // heads).transpose(1, 2)
                k = k.view(rows, -1, heads, inner // heads).transpose(1, 2)
                logits = torch.einsum("rhnd,rhtd->rhnt", q, k) / (inner // heads) ** 0.5
            captured.setdefault(name, []).append(logits)

        handles.append(attn.register_forward_hook(hook, with_kwargs=True))
    return captured, handles


def _by_prompt(calls: list[torch.Tensor], rows: int) -> torch.Tensor:
    """Per-call (P * n, ...) tensors -> (P, rows, ...), prompt-major, padding rows dropped."""
    return torch.cat([c.view(2, c.shape[0] // 2, *c.shape[1:]) for c in calls], dim=1)[:, :rows]


def test_one_layers_maps_equal_a_hand_computation_from_q_and_k(model, images) -> None:
    """Every kind, every layer: the recorded map is the hand-computed mean over heads, tokens,
    prompts and timesteps of w * S (and -w log w / lambda, w, S_good - S_bad), w = softmax over
    space of lambda * S, times N for the density kinds."""
    model.unet_batch_size = 6  # 3 rows x 2 prompts per call: calls cut across images, padded
    captured, handles = _capture_logits(model)
    try:
        explanation = model.explain(images[:2])
    finally:
        for handle in handles:
            handle.remove()
    steps = len(model.config.scoring.timesteps)
    for name, calls in captured.items():
        logits = _by_prompt(calls, 2 * steps)  # (P, B*T, heads, N, tokens)
        w = torch.softmax(LAMBDA * logits, dim=3)
        n = logits.shape[3]
        shape = grid_shape(n, explanation.latent_size)

        def per_image(values: torch.Tensor, shape=shape, n=n) -> np.ndarray:
            values = values.mean(dim=(2, 4)).view(2, 2, steps, n)  # heads, tokens
            return values.mean(dim=(0, 2)).view(2, *shape).numpy()  # prompts, timesteps

        expected = {
            "contribution": per_image(w * logits) * n,
            "entropy": per_image(torch.special.entr(w) / LAMBDA) * n,
            "responsibility": per_image(w) * n,
        }
        mean_logit = logits.mean(dim=(2, 4)).view(2, 2, steps, n)
        expected["contrast"] = (mean_logit[0] - mean_logit[1]).mean(dim=1).view(2, *shape).numpy()
        for kind in KINDS:
            np.testing.assert_allclose(
                explanation.grids[kind][name], expected[kind], rtol=1e-4, atol=1e-5, err_msg=kind
            )
    assert shape == (16, 16) and explanation.latent_size == (32, 32)


def test_pooled_value_is_contribution_plus_entropy_per_layer_head_token_prompt(
    model, images
) -> None:
    """s = sum_x w S + H(w) / lambda for every (layer, row, prompt, head, token) of real logits,
    with location_terms' per-location terms, also at sharper temperatures."""
    captured, handles = _capture_logits(model)
    try:
        with torch.no_grad():
            model.score(images[:1])
    finally:
        for handle in handles:
            handle.remove()
    for calls in captured.values():
        logits = torch.cat(calls)  # (rows, heads, N, tokens)
        n = logits.shape[2]
        entries = logits.permute(0, 1, 3, 2).reshape(-1, 1, n, 1)  # one (head, token) each
        spread = {}  # mean H(w) / log N per temperature: 1 = uniform weights, 0 = one-hot
        for lse_lambda, stretch in ((LAMBDA, 1.0), (LAMBDA, 30.0), (2.0, 10.0)):
            stretched = entries * stretch
            terms = location_terms(stretched, lse_lambda, torch.ones(len(entries), 1))
            pooled = spatial_logsumexp(stretched, lse_lambda).view(-1)
            contribution, entropy = terms[:, 0].sum(dim=1), terms[:, 1].sum(dim=1)
            torch.testing.assert_close(contribution + entropy, pooled, rtol=1e-5, atol=1e-4)
            w = torch.softmax(lse_lambda * stretched, dim=2)
            by_hand = torch.special.entr(w).sum(dim=2).view(-1) / lse_lambda
            torch.testing.assert_close(entropy, by_hand, rtol=1e-5, atol=1e-4)
            torch.testing.assert_close(terms[:, 2].sum(dim=1), torch.ones(len(entries)))
            spread[(lse_lambda, stretch)] = float((entropy * lse_lambda).mean() / np.log(n))
        # The identity was checked from near-uniform weights (the tiny model's logits at the
        # scoring temperature) to concentrated ones.
        assert spread[(LAMBDA, 1.0)] > 0.99 and spread[(2.0, 10.0)] < 0.5, spread


@pytest.mark.parametrize("tokens", ["all", "non_padding"])
def test_the_maps_decompose_each_layers_attention_score(tiny_config, images, tokens) -> None:
    """Recorded through score_latents, per image, timestep and layer: the mean over prompts of
    sum_x (contribution + entropy) is A_l, with the scoring's token weights; w sums to 1; what
    is kept per layer is (P, B, T, 4, N), nothing of size heads x N x tokens."""
    config = tiny_config.replace(**{"scoring.tokens": tokens})
    model = GenzIQA.from_config(config, local_files_only=True)
    randomize_trained_tensors(model)
    token_mask = model.prompts.attention_mask if tokens == "non_padding" else None
    recorder = HeatmapRecorder(LAMBDA, 2, token_mask)
    with torch.no_grad():
        latents = model.encode_images(images[:3])
        output = model.score_latents(latents, recorders={"maps": recorder})
    steps = len(config.scoring.timesteps)
    for index, layer in enumerate(model.layer_names):
        terms = output.recorded["maps"][layer]
        assert terms.shape == (2, 3, steps, 4, 256)
        per_prompt = terms[:, :, :, 0].sum(dim=-1) + terms[:, :, :, 1].sum(dim=-1)
        torch.testing.assert_close(
            per_prompt.mean(dim=0), output.attention_scores[:, :, index], rtol=1e-5, atol=1e-4
        )
        torch.testing.assert_close(terms[:, :, :, 2].sum(dim=-1), torch.ones(2, 3, steps))
    if tokens == "non_padding":  # the weights matter: an all-token mean would differ
        all_tokens = HeatmapRecorder(LAMBDA, 2, None)
        with torch.no_grad():
            other = model.score_latents(latents, recorders={"maps": all_tokens})
        layer = model.layer_names[0]
        assert not torch.allclose(other.recorded["maps"][layer], output.recorded["maps"][layer])


def test_explanation_parts_add_up_to_the_score_and_the_maps_mean_to_them(model, images) -> None:
    explanation = model.explain(images[:3])
    parts = explanation.parts
    np.testing.assert_allclose(
        parts["contribution"] + parts["entropy"], parts["attention"], rtol=1e-6, atol=1e-4
    )
    np.testing.assert_allclose(
        parts["attention"] + parts["denoising_contrast"], explanation.score, rtol=1e-6, atol=1e-4
    )
    assert explanation.explains_score
    for kind in ("contribution", "entropy"):
        native = np.mean([g.mean(axis=(1, 2)) for g in explanation.grids[kind].values()], axis=0)
        np.testing.assert_allclose(native, parts[kind], rtol=1e-5, atol=1e-5)
        # Bicubic upsampling (16x16 -> 32x32 -> 64x64) keeps the mean only approximately:
        # measured within 2% of the map's spread here.
        for maps in (explanation.latent_maps(kind), explanation.image_maps(kind)):
            spread = maps.std(axis=(1, 2))
            assert (np.abs(maps.mean(axis=(1, 2)) - parts[kind]) < 0.02 * spread).all()
    responsibility = explanation.latent_maps("responsibility")
    np.testing.assert_allclose(responsibility.mean(axis=(1, 2)), 1.0, atol=1e-3)


def test_explain_scores_equal_score_and_maps_do_not_depend_on_the_batch(model, images) -> None:
    scores = model.score(images)
    together = model.explain(images, batch_size=5)
    in_twos = model.explain(images, batch_size=2)
    reversed_order = model.explain(images.flip(0), batch_size=3)
    alone = model.explain(images[3:4])
    assert np.array_equal(together.score, scores) and np.array_equal(in_twos.score, scores)
    assert np.array_equal(reversed_order.score, scores[::-1])
    for kind in KINDS:
        for layer in together.layers:
            grid = together.grids[kind][layer]
            assert np.array_equal(in_twos.grids[kind][layer], grid)
            assert np.array_equal(reversed_order.grids[kind][layer], grid[::-1])
            assert np.array_equal(alone.grids[kind][layer][0], grid[3])
    assert np.array_equal(in_twos.map, together.map)
    assert np.array_equal(alone.map[0], together.map[3])
    assert np.array_equal(model.explain(images).map, together.map)  # and run to run


def test_maps_come_at_each_images_own_size(model, images, tmp_path) -> None:
    def pil(i: int, size: tuple[int, int]) -> Image.Image:
        array = (images[i].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        return Image.fromarray(array).resize(size, Image.Resampling.BICUBIC)

    wide, tall = pil(0, (96, 40)), pil(1, (30, 70))  # (W, H)
    path = tmp_path / "tall.png"
    tall.save(path)
    explanation = model.explain([wide, path], kind="contrast")
    assert isinstance(explanation.map, list)
    assert [m.shape for m in explanation.map] == [(40, 96), (70, 30)]
    assert explanation.map[0].dtype == np.float32
    assert explanation.latent_maps().shape == (2, 32, 32)
    assert list(explanation.layer_maps) == list(explanation.layers) and len(explanation.layers) == 4
    layer_maps = dict(explanation.layer_maps)
    assert all([m.shape for m in v] == [(40, 96), (70, 30)] for v in layer_maps.values())
    for i in range(2):  # linear kinds: the mean of the layer maps is the map
        mean = np.mean([v[i] for v in layer_maps.values()], axis=0)
        np.testing.assert_allclose(mean, explanation.map[i], rtol=1e-5, atol=1e-6)
    # The tiny U-Net attends at 16x16 only: its one resolution's map is the map.
    assert list(explanation.resolution_maps) == ["16x16"]
    assert all(
        np.array_equal(a, b)
        for a, b in zip(explanation.resolution_maps["16x16"], explanation.map, strict=True)
    )
    from_pil = model.explain([wide, tall], kind="contrast")
    assert np.array_equal(from_pil.score, explanation.score)
    assert np.array_equal(from_pil.map[1], explanation.map[1])
    assert explanation.image(1).size == (30, 70)
    with pytest.raises(ValueError, match="the images differ in size"):
        np.asarray(explanation.layer_maps[explanation.layers[0]])
    uniform = model.explain(images[:2])
    assert isinstance(uniform.map, np.ndarray) and uniform.map.shape == (2, 64, 64)
    assert uniform.image(0).size == (64, 64)
    per_layer = uniform.layer_maps[uniform.layers[2]]  # computed per image when indexed
    assert per_layer.shape == (2, 64, 64) and len(per_layer) == 2
    stacked = np.asarray(per_layer)
    assert stacked.shape == (2, 64, 64) and stacked.dtype == np.float32
    assert np.array_equal(per_layer[-1], stacked[1]) and len(per_layer[:1]) == 1
    assert np.array_equal(stacked[1], uniform.image_map(1, layer=uniform.layers[2]))
    with pytest.raises(IndexError, match="image index 2 out of range"):
        per_layer[2]
    with pytest.raises(KeyError):
        uniform.layer_maps["no.such.layer"]


def test_non_negative_maps_stay_non_negative_after_bicubic() -> None:
    spike = np.zeros((4, 4), dtype=np.float32)
    spike[1, 1] = 1.0
    assert resize_map(spike, (16, 16), non_negative=False).min() < 0  # bicubic undershoots
    assert resize_map(spike, (16, 16), non_negative=True).min() == 0
    assert np.array_equal(resize_map(spike, (4, 4), non_negative=False), spike)
    with pytest.raises(ValueError, match="cannot lay 250 attention locations"):
        grid_shape(250, (32, 32))


def test_zero_shot_explanation_says_its_score_is_not_the_attention() -> None:
    model = GenzIQA.from_pretrained("genziqa-tiny-zero-shot", local_files_only=True)
    pixels = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    explanation = model.explain(pixels)
    assert not explanation.explains_score
    assert explanation.model_label.startswith("zero-shot")
    np.testing.assert_array_equal(explanation.score, -explanation.parts["denoising_contrast"])


def test_bad_requests_get_one_line_errors(model, images) -> None:
    with pytest.raises(ValueError, match="unknown heatmap kind 'edges'"):
        model.explain(images[:1], kind="edges")
    with pytest.raises(ValueError, match="no images given"):
        model.explain([])
    with pytest.raises(ValueError, match="expected PIL images, file paths or a tensor, got int"):
        model.explain([3])
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        model.explain(images[:1], batch_size=0)
    explanation = model.explain(images[:1])
    with pytest.raises(ValueError, match="unknown layer 'attn9'"):
        explanation.image_map(0, layer="attn9")
    with pytest.raises(ValueError, match="unknown resolution '8x8'"):
        explanation.latent_map(0, resolution="8x8")
    with pytest.raises(ValueError, match="a layer or a resolution, not both"):
        explanation.latent_map(0, layer=explanation.layers[0], resolution="16x16")
    assert isinstance(explanation, Explanation) and len(explanation) == 1
    model.config = model.config.replace(**{"scoring.test_time_flips": True})
    with pytest.raises(ValueError, match="test_time_flips=False"):
        model.explain(images[:1])


def _blur_quadrant(image: Image.Image, quadrant: int) -> Image.Image:
    half = image.width // 2
    box = ((quadrant % 2) * half, (quadrant // 2) * half)
    box = (*box, box[0] + half, box[1] + half)
    out = image.copy()
    out.paste(image.filter(ImageFilter.GaussianBlur(2.0)).crop(box), box[:2])
    return out


def test_a_blurred_quadrant_moves_the_map_there(model, images) -> None:
    """Locality, measured on the (untrained) tiny model: when one quadrant is blurred, most of
    the change of the map lies in that quadrant (25% would be no locality). Whether the change
    says "worse" depends on training: benchmarks/bench_explain_quadrants.py measures it."""
    photos = [
        Image.fromarray((image.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))
        for image in images
    ]
    blurred = [_blur_quadrant(photo, q) for photo in photos for q in range(4)]
    explanation = model.explain(photos + blurred, batch_size=10)
    for kind in ("contribution", "contrast"):
        maps = explanation.latent_maps(kind)
        shares = []
        for p in range(len(photos)):
            for q in range(4):
                change = np.abs(maps[len(photos) + 4 * p + q] - maps[p])
                h = change.shape[0] // 2
                rows = slice(0, h) if q < 2 else slice(h, None)
                cols = slice(0, h) if q % 2 == 0 else slice(h, None)
                shares.append(change[rows, cols].sum() / change.sum())
        assert np.mean(shares) > 0.35, (kind, np.mean(shares))
        assert np.mean(np.array(shares) > 0.25) > 0.8, (kind, shares)
