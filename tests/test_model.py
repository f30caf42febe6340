from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from genziqa import GenzIQA, GenzIQAConfig, ModelNotFoundError, load_backbone, zero_shot_config
from genziqa.attention import Recorder
from genziqa.model import CONFIG_NAME, WEIGHTS_NAME, count_parameters
from genziqa.pretrained import TINY_BACKBONE

from .conftest import assert_same_gradients, randomize_trained_tensors, trained_gradients


def test_forward_shapes_and_score_is_mean_of_layer_scores(tiny_model, images) -> None:
    with torch.no_grad():
        out = tiny_model(images[:2])
    assert out.layer_scores.shape == (2, 8, 4)
    assert out.attention_scores.shape == (2, 8, 4) and out.contrast.shape == (2, 8)
    torch.testing.assert_close(out.layer_scores, out.attention_scores + out.contrast[..., None])
    torch.testing.assert_close(out.score, out.layer_scores.mean(dim=(1, 2)))
    assert torch.isfinite(out.score).all()


def test_two_runs_and_two_builds_are_identical(tiny_config, images) -> None:
    a = GenzIQA.from_config(tiny_config, local_files_only=True)
    b = GenzIQA.from_config(tiny_config, local_files_only=True)
    randomize_trained_tensors(a)
    randomize_trained_tensors(b)
    first = a.score(images[:3])
    assert np.array_equal(first, a.score(images[:3]))
    assert np.array_equal(first, b.score(images[:3]))


@pytest.mark.parametrize(
    ("unet_batch_size", "batch_size"), [(16, 5), (32, 2), (48, 3), (4, 2), (2, 3)]
)
def test_batch_equals_singles_in_any_order(tiny_model, images, unet_batch_size, batch_size):
    randomize_trained_tensors(tiny_model)
    tiny_model.unet_batch_size = unet_batch_size
    batched = tiny_model.score(images, batch_size=batch_size)
    singles = np.array([tiny_model.score(images[i : i + 1])[0] for i in range(len(images))])
    order = [4, 2, 0, 3, 1]
    shuffled = tiny_model.score(images[order], batch_size=batch_size)
    # Bit-identical: every U-Net and VAE call has the same shape and image-aligned rows.
    assert np.array_equal(batched, singles)
    assert np.array_equal(batched[order], shuffled)
    assert len(set(batched.tolist())) == len(images)  # and the images do get different scores


def test_small_unet_calls_give_the_same_scores(tiny_model, images) -> None:
    """U-Net calls smaller than one image (timesteps in groups) compute the same thing."""
    randomize_trained_tensors(tiny_model)
    whole = tiny_model.score(images[:2])
    tiny_model.unet_batch_size = 4  # 2 timesteps x 2 prompts per call
    np.testing.assert_allclose(tiny_model.score(images[:2]), whole, rtol=1e-6)


def test_gradients_reach_only_context_and_lora(tiny_model, images) -> None:
    randomize_trained_tensors(tiny_model)  # a fresh LoRA has B = 0, so A gets no gradient yet
    tiny_model.train()
    out = tiny_model(images[:2])
    out.score.sum().backward()
    trained = {n for n, p in tiny_model.named_parameters() if p.requires_grad}
    assert trained == set(tiny_model.trained_state_dict())
    assert "prompts.ctx" in trained
    assert all(n == "prompts.ctx" or ("lora_" in n and ".attn2." in n) for n in trained)
    for name, parameter in tiny_model.named_parameters():
        if name in trained:
            assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
        else:
            assert parameter.grad is None, name
    assert all(not m.training for m in (tiny_model.vae, tiny_model.unet, tiny_model.text_encoder))


def test_calibration_head_is_trained_too(tiny_config, images) -> None:
    model = GenzIQA.from_config(tiny_config.replace(calibration=True), local_files_only=True)
    with torch.no_grad():
        raw = model(images[:2])
        model.calibration.weight.fill_(2.0)
        model.calibration.bias.fill_(1.0)
        scaled = model(images[:2])
    torch.testing.assert_close(scaled.score, raw.score * 2 + 1)
    model.train()
    model(images[:2]).score.sum().backward()
    assert model.calibration.weight.grad is not None
    assert {"calibration.weight", "calibration.bias"} <= set(model.trained_state_dict())


def test_training_mode_draws_one_timestep_with_fresh_noise(tiny_model, images) -> None:
    tiny_model.train()
    torch.manual_seed(0)
    a = tiny_model(images[:2])
    b = tiny_model(images[:2])
    assert a.layer_scores.shape == (2, 1, 4)
    assert not torch.equal(a.score, b.score)


def test_save_then_load_gives_identical_scores(tiny_model, images, tmp_path) -> None:
    randomize_trained_tensors(tiny_model)
    expected = tiny_model.score(images[:2])
    folder = tiny_model.save_pretrained(tmp_path / "model")
    saved = load_file(str(folder / WEIGHTS_NAME))
    assert set(saved) == set(tiny_model.trained_state_dict())
    assert all("lora_" in k or k == "prompts.ctx" for k in saved)
    assert (folder / WEIGHTS_NAME).stat().st_size < 100_000  # no backbone copy
    config = json.loads((folder / CONFIG_NAME).read_text())
    assert config["backbone"]["source"] == tiny_model.config.backbone.source
    assert config["preprocess"]["resolution"] == 64
    loaded = GenzIQA.from_pretrained(folder, local_files_only=True)
    assert loaded.config == tiny_model.config
    assert np.array_equal(loaded.score(images[:2]), expected)


def test_loading_weights_into_a_different_config_fails_clearly(tiny_model, tmp_path) -> None:
    folder = tiny_model.save_pretrained(tmp_path / "model")
    data = json.loads((folder / CONFIG_NAME).read_text())
    data["lora"]["rank"] = 8
    (folder / CONFIG_NAME).write_text(json.dumps(data))
    with pytest.raises(ValueError, match="shape"):
        GenzIQA.from_pretrained(folder, local_files_only=True)
    data["calibration"] = True
    (folder / CONFIG_NAME).write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"missing \['calibration.bias'"):
        GenzIQA.from_pretrained(folder, local_files_only=True)


def test_model_not_found_messages(tmp_path) -> None:
    with pytest.raises(ModelNotFoundError, match=r"no genziqa_config\.json"):
        GenzIQA.from_pretrained(tmp_path)
    with pytest.raises(ModelNotFoundError, match="Hugging Face Hub cache"):
        GenzIQA.from_pretrained("someone/genziqa-koniq")
    with pytest.raises(ModelNotFoundError, match="no such model folder"):
        GenzIQA.from_pretrained("./missing/folder")


def test_backbone_override_points_a_model_at_another_copy(tiny_model, tiny_backbone_dir, tmp_path):
    folder = tiny_model.save_pretrained(tmp_path / "model")
    loaded = GenzIQA.from_pretrained(folder, backbone=TINY_BACKBONE, local_files_only=True)
    assert loaded.config.backbone.source == TINY_BACKBONE
    backbone = load_backbone(str(tiny_backbone_dir), local_files_only=True)
    assert GenzIQA.from_pretrained(folder, backbone=backbone).unet is backbone.unet


def test_merge_lora_scores_match_and_blocks_saving(tiny_model, images, tmp_path) -> None:
    randomize_trained_tensors(tiny_model)
    unmerged = tiny_model.score(images[:2])
    tiny_model.merge_lora()
    assert tiny_model.lora_merged
    np.testing.assert_allclose(tiny_model.score(images[:2]), unmerged, rtol=1e-5)
    with pytest.raises(RuntimeError, match="merged"):
        tiny_model.save_pretrained(tmp_path / "merged")


def test_prompt_embeddings_computed_once_for_scoring(tiny_model, images) -> None:
    calls = []
    hook = tiny_model.text_encoder.encoder.register_forward_hook(lambda *a: calls.append(1))
    tiny_model.score(images[:3], batch_size=1)
    assert len(calls) == 1
    with torch.no_grad():
        tiny_model.prompts.ctx.add_(0.1)  # a changed context invalidates the cache
    tiny_model.score(images[:1])
    assert len(calls) == 2
    hook.remove()


def test_text_encoder_runs_once_per_training_call(tiny_model, images) -> None:
    calls = []
    hook = tiny_model.text_encoder.encoder.register_forward_hook(lambda *a: calls.append(1))
    tiny_model.train()
    tiny_model.unet_batch_size = 2  # many U-Net calls, one prompt encoding
    tiny_model(images[:3]).score.sum().backward()
    hook.remove()
    assert len(calls) == 1


def test_unet_batch_size_below_the_prompt_count_is_a_clear_error(tiny_model, images) -> None:
    tiny_model.unet_batch_size = 1
    with pytest.raises(ValueError, match="at least the number of prompts"):
        tiny_model.score(images[:1])


def test_a_backbone_serves_one_model(tiny_backbone_dir) -> None:
    backbone = load_backbone(str(tiny_backbone_dir))
    GenzIQA(zero_shot_config(str(tiny_backbone_dir)), backbone)
    with pytest.raises(ValueError, match="fresh backbone"):
        GenzIQA(zero_shot_config(str(tiny_backbone_dir)), backbone)


def test_vae_runs_once_per_image(tiny_model, images) -> None:
    rows = []
    hook = tiny_model.vae.encoder.register_forward_hook(lambda m, a, o: rows.append(a[0].shape[0]))
    tiny_model.score(images[:3])
    hook.remove()
    assert sum(rows) == 3


def test_inputs_pil_paths_and_tensors(tiny_model, tmp_path) -> None:
    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 256, (48, 80, 3), dtype=np.uint8) for _ in range(2)]
    pils = [Image.fromarray(a) for a in arrays]
    paths = []
    for i, image in enumerate(pils):
        paths.append(tmp_path / f"{i}.png")
        image.save(paths[-1])
    from_pil = tiny_model.score(pils)
    assert np.array_equal(tiny_model.score([str(p) for p in paths]), from_pil)
    assert np.array_equal(tiny_model.score(paths[0]), from_pil[:1])
    resized = np.stack([np.asarray(p.resize((64, 64), Image.Resampling.BICUBIC)) for p in pils])
    tensor = torch.from_numpy(resized).permute(0, 3, 1, 2).float() / 255
    assert np.array_equal(tiny_model.score(tensor), from_pil)
    # Another size is resized with antialiased bicubic interpolation: close, not identical.
    big = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float() / 255
    from_tensor = tiny_model.score(big)
    assert from_tensor.shape == (2,) and not np.array_equal(from_tensor, from_pil)
    np.testing.assert_allclose(from_tensor, from_pil, rtol=1e-5)  # measured 5e-7


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (torch.rand(2, 4, 64, 64), r"\(B, 3, H, W\)"),
        (torch.randint(0, 255, (1, 3, 64, 64), dtype=torch.uint8), "divide by 255"),
        (torch.rand(1, 3, 64, 64) * 2, r"values in \[0, 1\]"),
    ],
)
def test_bad_tensors_are_rejected(tiny_model, bad, message) -> None:
    with pytest.raises(ValueError, match=message):
        tiny_model.score(bad)


def test_zero_shot_mode(tiny_backbone_dir, images) -> None:
    config = zero_shot_config(str(tiny_backbone_dir)).replace(**{"preprocess.resolution": 64})
    model = GenzIQA.from_config(config, local_files_only=True)
    assert model.trainable_parameters() == []
    assert model.prompts.ctx is None and model.lora_modules == []
    assert "zero-shot baseline (untrained)" in repr(model)
    with torch.no_grad():
        out = model(images[:2])
    torch.testing.assert_close(out.score, -out.contrast.mean(dim=1))
    builtin = GenzIQA.from_pretrained("genziqa-tiny-zero-shot", local_files_only=True)
    assert builtin.config.zero_shot and builtin.resolution == 64


def test_v_prediction_backbone_scores(tiny_vpred_backbone_dir, images) -> None:
    config = GenzIQAConfig().replace(
        **{"backbone.source": str(tiny_vpred_backbone_dir), "preprocess.resolution": 64}
    )
    model = GenzIQA.from_config(config, local_files_only=True)
    assert model.prediction_type == "v_prediction"
    assert np.isfinite(model.score(images[:1])).all()


def test_reference_switches(tiny_config, images) -> None:
    base = GenzIQA.from_config(tiny_config, local_files_only=True).score(images[:2])
    sampled = GenzIQA.from_config(
        tiny_config.replace(**{"scoring.latent": "sample"}), local_files_only=True
    )
    a = sampled.score(images[:2])
    assert np.array_equal(a, sampled.score(images[:2])) and not np.array_equal(a, base)
    flips = GenzIQA.from_config(
        tiny_config.replace(**{"scoring.test_time_flips": True}), local_files_only=True
    )
    torch.manual_seed(0)
    runs = {tuple(flips.score(images[:1]).tolist()) for _ in range(6)}
    assert len(runs) > 1  # the reference's random test-time flips change the score
    tokens = GenzIQA.from_config(
        tiny_config.replace(**{"scoring.tokens": "non_padding"}), local_files_only=True
    )
    assert not np.array_equal(tokens.score(images[:2]), base)


def test_native_resolution_is_the_default(tiny_backbone_dir) -> None:
    config = GenzIQAConfig().replace(**{"backbone.source": str(tiny_backbone_dir)})
    model = GenzIQA.from_config(config, local_files_only=True)
    assert model.resolution == 64 and model.config.preprocess.resolution == 64


def test_gradient_checkpointing_gives_the_same_gradients(tiny_config, images) -> None:
    assert_same_gradients(
        trained_gradients(tiny_config, images),
        trained_gradients(tiny_config, images, checkpointing=True),
    )


def test_parameter_counts(tiny_model) -> None:
    counts = count_parameters(tiny_model)
    assert set(counts) == {"context", "lora", "head"}
    assert counts["context"] == 16 * 32 and counts["head"] == 0
    expected_lora = sum(p.numel() for n, p in tiny_model.unet.named_parameters() if "lora_" in n)
    assert counts["lora"] == expected_lora > 0


class _QueryMeans(Recorder):
    """The spatial mean of each layer's (LoRA-adapted) query, as the video modulator needs."""

    def reduce(self, logits: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        return query.mean(dim=1)


def test_extra_recorders_come_back_per_prompt_image_and_timestep(tiny_model, images) -> None:
    """What a recorder keeps is returned in (P, B, T, ...) order, padding rows dropped, and it
    does not depend on the batch or on how rows are cut into U-Net calls."""
    randomize_trained_tensors(tiny_model)
    tiny_model.unet_batch_size = 6  # calls that hold 3 timesteps of one image: padding, groups
    latents = tiny_model.encode_images(images[:3])
    with torch.no_grad():
        out = tiny_model.score_latents(latents, recorders={"q": _QueryMeans()})
        alone = tiny_model.score_latents(latents[1:2], recorders={"q": _QueryMeans()})
    recorded = out.recorded["q"]
    assert list(recorded) == tiny_model.layer_names
    for name, value in recorded.items():
        width = tiny_model.unet.get_submodule(name.removesuffix(".processor")).to_q.out_features
        assert value.shape == (2, 3, 8, width)
        assert torch.equal(value[:, 1:2], alone.recorded["q"][name])
    # Before the first cross-attention nothing depends on the prompt: both rows are equal.
    first = recorded[tiny_model.layer_names[0]]
    torch.testing.assert_close(first[0], first[1])
    assert torch.equal(out.score[1:2], alone.score)
    assert tiny_model(images[:1]).recorded == {}  # nothing is kept unless asked for


THREADS_SCRIPT = """
import sys, torch
torch.set_num_threads(int(sys.argv[1]))
from genziqa import GenzIQA
model = GenzIQA.from_pretrained("genziqa-tiny")
images = torch.rand(3, 3, 64, 64, generator=torch.Generator().manual_seed(0))
print(repr(model.score(images).tolist()))
"""
THREAD_TOLERANCE = 1e-5  # the README's promise across thread counts, machines and versions


def test_scores_across_thread_counts_agree_to_the_stated_tolerance() -> None:
    """Bit-identical for a fixed thread count; across thread counts within 1e-5 relative
    (CPU kernels split their reductions by thread, so rounding differs)."""
    import ast
    import os
    import subprocess
    import sys

    def run(threads: int) -> np.ndarray:
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        done = subprocess.run(
            [sys.executable, "-c", THREADS_SCRIPT, str(threads)],
            capture_output=True, text=True, env=env, timeout=300, check=True,
        )  # fmt: skip
        return np.array(ast.literal_eval(done.stdout.strip().splitlines()[-1]))

    one, two = run(1), run(2)  # (a fixed count is bit-identical: test_two_runs_and_two_builds)
    np.testing.assert_allclose(two, one, rtol=THREAD_TOLERANCE, atol=0)
    print(f"1 vs 2 threads: max relative difference {np.max(np.abs(two / one - 1)):.2e}")
