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
