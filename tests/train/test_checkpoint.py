"""Resume states: optimizer state without pickle."""

from __future__ import annotations

import json

import torch

from genziqa.train.checkpoint import _flatten_optimizer, _unflatten_optimizer


def test_optimizer_state_round_trips_without_pickle() -> None:
    parameter = torch.nn.Parameter(torch.randn(3, 2))
    optimizer = torch.optim.AdamW([parameter], lr=1e-3)
    parameter.grad = torch.randn(3, 2)
    optimizer.step()
    tensors, meta = _flatten_optimizer(optimizer.state_dict())
    json.dumps(meta)  # plain JSON
    restored = _unflatten_optimizer(tensors, json.loads(json.dumps(meta)))
    other = torch.optim.AdamW([torch.nn.Parameter(parameter.detach().clone())], lr=1e-3)
    other.load_state_dict(restored)
    a, b = optimizer.state_dict(), other.state_dict()
    assert all(torch.equal(a["state"][0][k], b["state"][0][k]) for k in a["state"][0])


def test_best_and_last_folders_carry_a_model_card_with_their_metrics(tmp_path) -> None:
    from huggingface_hub import ModelCard

    from genziqa import GenzIQA
    from genziqa.provenance import provenance
    from genziqa.train import TrainConfig
    from genziqa.train.checkpoint import save_model

    from .conftest import TINY

    model = GenzIQA.from_config(TINY, local_files_only=True)
    config = TrainConfig(train=("csv=/data/mine",), out=str(tmp_path / "run"), model=TINY)
    extras = {"epoch": 3, "step": 30, "val": {"csv": {"srcc": 0.61, "plcc": 0.52, "n": 40}}}
    save_model(tmp_path / "run" / "best", model, config, extras, provenance())
    card = ModelCard.load(tmp_path / "run" / "best" / "README.md")
    assert card.data.library_name == "genziqa" and card.data.datasets == ["csv"]
    assert card.data.model_name == "run-best"  # the final folder's name, not the staging one
    (srcc,) = [r for r in card.data.eval_results if r.metric_type == "srcc"]
    assert (srcc.dataset_name, srcc.dataset_split, srcc.metric_value) == ("csv", "validation", 0.61)
    assert "this checkpoint is from epoch 3" in card.text
    assert card.data.to_dict()["genziqa"]["provenance"]["versions"]["genziqa"]
