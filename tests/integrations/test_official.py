"""Importing checkpoints of the official research code, on files written in its key layout.

The official code cannot run here (it vendors diffusers 0.17 on torch 1.13), so the files are
written (by ``genziqa.testing``, which the README's demo uses too) exactly as its trainer
writes them: ``torch.save`` of the prompt
learner's state dict (``ctx``, ``token_prefix``, ``token_suffix`` from the tokenizer run on
``"X X .. X Good Photo."`` padded to 77) and of ``save_attn_procs``' dict, keyed
``<processor>.to_{q,k,v,out}_lora.{down,up}.weight`` over attn1 and attn2 of every block, the
attn1 entries at their frozen initial value (down ~ N(0, 1/rank^2), up = 0).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import UNet2DConditionModel
from safetensors.torch import save_file

from genziqa import GenzIQA, GenzIQAConfig, PromptConfig
from genziqa.backbone import load_backbone
from genziqa.integrations.official import (
    OfficialCheckpointError,
    import_official,
    load_official,
    official_lora_layout,
    read_official_lora,
    read_official_prompt_learner,
)
from genziqa.testing import SD21_BASE_UNET_CONFIG
from genziqa.testing import official_lora_state as official_lora
from genziqa.testing import official_prompt_learner_state as official_prompt_learner

from ..conftest import randomize_trained_tensors

# The official processor's attributes and the diffusers modules they adapt.
OFFICIAL_PROJECTIONS = {"to_q": "to_q", "to_k": "to_k", "to_v": "to_v", "to_out": "to_out.0"}


def scores(model: GenzIQA, images: torch.Tensor) -> np.ndarray:
    """Scores of two images at two timesteps: enough to tell models apart, and quick."""
    return model.set_scoring(timesteps=(21, 81)).score(images[:2])


@pytest.fixture()
def trained(tiny_model) -> GenzIQA:
    randomize_trained_tensors(tiny_model, seed=5)
    return tiny_model


@pytest.fixture()
def files(trained, tmp_path) -> tuple[Path, Path]:
    coop = tmp_path / "coop_Model_state_dict.pth"
    lora = tmp_path / "pytorch_model.bin"
    torch.save(official_prompt_learner(trained), coop)
    torch.save(official_lora(trained), lora)
    return coop, lora


@pytest.fixture(scope="module")
def backbone(tiny_backbone_dir):
    """One backbone for the checks that only read it (nothing here installs processors)."""
    return load_backbone(str(tiny_backbone_dir), local_files_only=True)


def test_import_gives_identical_trained_tensors_and_scores(
    trained, files, tiny_backbone_dir, tmp_path, images
) -> None:
    coop, lora = files
    result = import_official(coop, lora, str(tiny_backbone_dir), tmp_path / "model")
    assert result.folder == tmp_path / "model"
    assert (result.rank, result.n_ctx, result.notes) == (4, 16, [])
    assert result.class_words == PromptConfig().class_words
    imported = GenzIQA.from_pretrained(result.folder)
    source = trained.trained_state_dict()
    loaded = imported.trained_state_dict()
    assert set(loaded) == set(source)
    for name, tensor in source.items():
        assert torch.equal(loaded[name], tensor), name
    assert imported.config.lora.rank == 4 and imported.config.lora.alpha == 4.0
    assert np.array_equal(scores(imported, images), scores(trained, images))


def test_safetensors_lora_file_and_ddp_prefix(trained, files, tiny_backbone_dir, images) -> None:
    coop, lora = files
    safe = lora.with_name("pytorch_lora_weights.safetensors")
    save_file(torch.load(lora, weights_only=True), str(safe))
    prefixed = coop.with_name("ddp.pth")
    state = torch.load(coop, weights_only=True)
    torch.save({f"module.{k}": v for k, v in state.items()}, prefixed)
    model = load_official(prefixed, safe, str(tiny_backbone_dir)).model
    assert np.array_equal(scores(model, images), scores(trained, images))


def test_scaling_is_the_official_processors_plain_sum(files, tiny_backbone_dir) -> None:
    """The official processor adds up(down(h)) with scale 1 and no alpha: the imported
    projections must compute exactly that (any alpha/rank factor would show)."""
    coop, lora = files
    model = load_official(coop, lora, str(tiny_backbone_dir)).model
    state = torch.load(lora, weights_only=True)
    processor = next(p for p in model.unet.attn_processors if p.endswith("attn2.processor"))
    attention = model.unet.get_submodule(processor.removesuffix(".processor"))
    generator = torch.Generator().manual_seed(0)
    for name, path in OFFICIAL_PROJECTIONS.items():
        adapted = attention.get_submodule(path)
        x = torch.randn(3, adapted.base_layer.in_features, generator=generator)
        down = state[f"{processor}.{name}_lora.down.weight"]
        up = state[f"{processor}.{name}_lora.up.weight"]
        with torch.no_grad():
            expected = adapted.base_layer(x) + (x @ down.T) @ up.T
            assert not torch.allclose(expected, adapted.base_layer(x))
            torch.testing.assert_close(adapted(x), expected, rtol=1e-6, atol=1e-6)


def test_other_class_words_are_taken_over(trained, tmp_path, tiny_backbone_dir, images) -> None:
    words = ("high quality", "low quality")
    coop, lora = tmp_path / "coop.pth", tmp_path / "lora.bin"
    torch.save(official_prompt_learner(trained, words), coop)
    torch.save(official_lora(trained), lora)
    result = import_official(coop, lora, str(tiny_backbone_dir), tmp_path / "model")
    assert result.class_words == words
    assert any("class words" in note for note in result.notes)
    imported = GenzIQA.from_pretrained(result.folder)
    assert imported.config.prompts.class_words == words
    reference = GenzIQA.from_config(
        trained.config.replace(**{"prompts.class_words": words}), local_files_only=True
    )
    reference.load_trained_state_dict(trained.trained_state_dict())
    assert np.array_equal(scores(imported, images), scores(reference, images))
    assert not np.array_equal(scores(imported, images), scores(trained, images))


def test_nonzero_self_attention_query_is_applied_in_memory_not_saved(
    trained, tmp_path, tiny_backbone_dir, images
) -> None:
    coop, lora = tmp_path / "coop.pth", tmp_path / "lora.bin"
    torch.save(official_prompt_learner(trained), coop)
    state = official_lora(trained)
    key = next(k for k in state if k.endswith("attn1.processor.to_q_lora.up.weight"))
    state[key] = torch.randn(state[key].shape, generator=torch.Generator().manual_seed(1))
    torch.save(state, lora)
    with pytest.raises(OfficialCheckpointError, match=r"self-attention LoRA .*attn1.*non-zero"):
        import_official(coop, lora, str(tiny_backbone_dir), tmp_path / "model")
    assert not (tmp_path / "model").exists()

    result = load_official(coop, lora, str(tiny_backbone_dir))
    module = key.removesuffix(".processor.to_q_lora.up.weight")
    assert result.self_attention_query == [module]
    to_q = result.model.unet.get_submodule(module).to_q
    down = state[key.replace(".up.", ".down.")]
    x = torch.randn(2, down.shape[1], generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(to_q(x), to_q.base(x) + (x @ down.T) @ state[key].T)
    assert not np.array_equal(scores(result.model, images), scores(trained, images))
    with pytest.raises(OfficialCheckpointError, match="cannot hold"):
        result.model.save_pretrained(tmp_path / "elsewhere")


def test_nonzero_unused_self_attention_entries_are_ignored_with_a_note(
    trained, tmp_path, tiny_backbone_dir, images
) -> None:
    coop, lora = tmp_path / "coop.pth", tmp_path / "lora.bin"
    torch.save(official_prompt_learner(trained), coop)
    state = official_lora(trained)
    key = next(k for k in state if k.endswith("attn1.processor.to_k_lora.up.weight"))
    state[key] = torch.ones(state[key].shape)
    torch.save(state, lora)
    result = import_official(coop, lora, str(tiny_backbone_dir), tmp_path / "model")
    assert len(result.notes) == 1 and "never applies" in result.notes[0] and key in result.notes[0]
    assert np.array_equal(
        scores(GenzIQA.from_pretrained(result.folder), images), scores(trained, images)
    )


# ------------------------------------------------------------------------------ error cases


def _saved(tmp_path: Path, state: dict, name: str) -> Path:
    path = tmp_path / name
    torch.save(state, path)
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s.pop("token_suffix"), r"missing key 'token_suffix'"),
        (lambda s: s.__setitem__("extra", torch.zeros(1)), r"unexpected key 'extra'"),
        (lambda s: s.__setitem__("ctx", torch.zeros(16, 8)), r"ctx has shape \(16, 8\)"),
        (
            lambda s: s.__setitem__("token_suffix", s["token_suffix"][:, :-1]),
            r"token_suffix has shape",
        ),
        (
            lambda s: s["token_suffix"].add_(torch.randn(s["token_suffix"].shape)),
            r"token_suffix\[0, 0\] is not the embedding of any token",
        ),
        (lambda s: s["token_prefix"].mul_(2), r"token_prefix\[0, 0\] differs"),
        (
            lambda s: s["token_suffix"][1, 10].mul_(3),
            r"token_suffix\[1, 10\] differs .* 'Bad Photo'",
        ),
    ],
)
def test_prompt_learner_errors_name_file_and_key(
    trained, backbone, tmp_path, change, message
) -> None:
    state = official_prompt_learner(trained)
    change(state)
    path = _saved(tmp_path, state, "coop.pth")
    with pytest.raises(OfficialCheckpointError, match=message) as error:
        read_official_prompt_learner(path, backbone.tokenizer, backbone.text_encoder)
    assert str(path) in str(error.value)


def test_prompt_learner_with_another_layout_is_detected(trained, backbone, tmp_path) -> None:
    """Rows that are real tokens but not genziqa's layout: no full stop, or no end of text."""
    table = backbone.text_encoder.get_input_embeddings().weight.detach()
    tokenizer = backbone.tokenizer
    state = official_prompt_learner(trained)
    state["token_suffix"][0, 2] = table[tokenizer.eos_token_id]  # "good photo [EOS]", no "."
    path = _saved(tmp_path, state, "coop.pth")
    with pytest.raises(OfficialCheckpointError, match=r"token_suffix\[0\] reads 'good photo'"):
        read_official_prompt_learner(path, tokenizer, backbone.text_encoder)
    state = official_prompt_learner(trained)
    state["token_suffix"][1] = table[tokenizer("x", add_special_tokens=False)["input_ids"][0]]
    path = _saved(tmp_path, state, "coop2.pth")
    with pytest.raises(OfficialCheckpointError, match=r"token_suffix\[1\] holds no end-of-text"):
        read_official_prompt_learner(path, tokenizer, backbone.text_encoder)


def _first(state: dict, *parts: str) -> str:
    return next(k for k in state if all(p in k for p in parts))


def _drop_attn1_v_up(s: dict) -> None:
    s.pop(_first(s, "attn1", "to_v_lora.up"))


def _add_unknown_processor(s: dict) -> None:
    s["down_blocks.9.attn2.processor.to_q_lora.up.weight"] = torch.zeros(64, 4)


def _narrow_attn2_k_down(s: dict) -> None:
    s[_first(s, "attn2", "to_k_lora.down")] = torch.zeros(4, 7)


def _rank8_attn1_out_up(s: dict) -> None:
    s[_first(s, "attn1", "to_out_lora.up")] = torch.zeros(64, 8)


def _no_attn2_q_down(s: dict) -> None:
    for key in [k for k in s if "attn2.processor.to_q_lora.down" in k]:
        s.pop(key)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_drop_attn1_v_up, r"missing key '.*attn1\.processor\.to_v_lora\.up\.weight'"),
        (_add_unknown_processor, r"unexpected key 'down_blocks\.9"),
        (_narrow_attn2_k_down, r"to_k_lora\.down\.weight has shape \(4, 7\), expected \(4, 32\)"),
        (_rank8_attn1_out_up, r"to_out_lora\.up\.weight has shape \(64, 8\), expected \(64, 4\)"),
        (_no_attn2_q_down, r"no '<\.\.\.>\.attn2\.processor\.to_q_lora\.down\.weight' entry"),
    ],
)
def test_lora_errors_name_file_and_key(trained, backbone, tmp_path, change, message) -> None:
    state = official_lora(trained)
    change(state)
    path = _saved(tmp_path, state, "lora.bin")
    with pytest.raises(OfficialCheckpointError, match=message) as error:
        read_official_lora(path, backbone.unet)
    assert str(path) in str(error.value)


class _NotATensor:
    pass


def test_unreadable_files(tmp_path, tiny_backbone_dir, files) -> None:
    coop, lora = files
    backbone = str(tiny_backbone_dir)
    out = tmp_path / "model"
    with pytest.raises(OfficialCheckpointError, match=r"prompt-learner file .*: no such file"):
        import_official(tmp_path / "absent.pth", lora, backbone, out)
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(OfficialCheckpointError, match=r"LoRA file .*garbage\.bin: not a readable"):
        import_official(coop, garbage, backbone, out)
    pickled = _saved(tmp_path, {"ctx": _NotATensor()}, "code.pth")  # needs arbitrary unpickling
    with pytest.raises(OfficialCheckpointError, match=r"code\.pth: not a readable tensor state"):
        import_official(pickled, lora, backbone, out)
    listed = _saved(tmp_path, [torch.zeros(1)], "list.pth")
    with pytest.raises(OfficialCheckpointError, match=r"expected a state dict .* got list"):
        import_official(listed, lora, backbone, out)
    nested = _saved(tmp_path, {"ctx": {"a": torch.zeros(1)}}, "nested.pth")
    with pytest.raises(OfficialCheckpointError, match="entry 'ctx' is a dict, expected a tensor"):
        import_official(nested, lora, backbone, out)
    other = tmp_path / "weights.npz"
    other.write_bytes(b"")
    with pytest.raises(OfficialCheckpointError, match=r"unknown file type '\.npz'"):
        import_official(coop, other, backbone, out)
    assert not out.exists()


def test_existing_model_folder_is_not_overwritten(files, tiny_backbone_dir, tmp_path) -> None:
    coop, lora = files
    out = tmp_path / "model"
    import_official(coop, lora, "genziqa-tiny-sd", out)  # the same seeded weights, by name
    assert GenzIQAConfig.from_json_file(out / "genziqa_config.json").backbone.source == (
        "genziqa-tiny-sd"
    )
    before = (out / "genziqa_weights.safetensors").read_bytes()
    with pytest.raises(OfficialCheckpointError, match="already exists and holds a genziqa model"):
        import_official(coop, lora, str(tiny_backbone_dir), out)
    assert (out / "genziqa_weights.safetensors").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".model-")) == []


def test_official_layout_of_sd21_base_matches_the_official_file() -> None:
    """SD 2.1-base: 32 processors x 8 tensors; attn2 holds the 430,592 trained LoRA numbers,
    with k/v reading the 1024-wide text states, attn1 399,360 (VIDEO.md 1.6)."""
    with torch.device("meta"):
        unet = UNet2DConditionModel(**SD21_BASE_UNET_CONFIG)
    layout = official_lora_layout(unet, 4)
    assert len(layout) == 256
    key = "down_blocks.0.attentions.0.transformer_blocks.0.attn2.processor.to_k_lora.down.weight"
    assert layout[key] == (4, 1024)
    assert layout[key.replace("to_k_lora.down", "to_q_lora.up")] == (320, 4)
    assert layout[key.replace("attn2", "attn1")] == (4, 320)
    count = {
        a: sum(np.prod(s) for k, s in layout.items() if f".{a}." in k) for a in ("attn1", "attn2")
    }
    assert count == {"attn1": 399_360, "attn2": 430_592}
