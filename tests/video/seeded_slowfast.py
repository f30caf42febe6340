"""Seeded SlowFast R50 weights and inputs made with numpy only, so any implementation (ours,
pytorchvideo's) gets the same numbers, whatever torch's own initialisers do.

``tests/video/data/slowfast_seeded_features.npz`` holds pytorchvideo 0.1.5's features for
these weights and this input (computed once in a scratch venv at 32 x 32: ``slowfast_r50()``, these
weights via ``load_state_dict``, ``blocks[:5]``, then the global average of each res5 map).
"""

from __future__ import annotations

import math

import numpy as np
import torch

SLOW_POSITIONS = [0, 4, 8, 13, 17, 22, 26, 31]


def seeded_state_dict(names_and_shapes, seed: int = 0) -> dict[str, torch.Tensor]:
    """He-scaled convolution/linear weights, BatchNorm near identity with non-trivial stats."""
    rng = np.random.RandomState(seed)
    state = {}
    for name, shape in names_and_shapes:
        shape = tuple(shape)
        if name.endswith("num_batches_tracked"):
            state[name] = torch.zeros((), dtype=torch.int64)
            continue
        if len(shape) >= 2:
            values = rng.standard_normal(shape) * math.sqrt(2.0 / math.prod(shape[1:]))
        elif name.endswith("running_var"):
            values = 1.0 + 0.2 * rng.random_sample(shape)
        elif name.endswith(".weight"):
            values = 1.0 + 0.1 * (rng.random_sample(shape) - 0.5)
        else:  # biases and running means
            values = 0.1 * (rng.random_sample(shape) - 0.5)
        state[name] = torch.from_numpy(values.astype(np.float32))
    return state


def seeded_clip(size: int = 32, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """(slow (1, 3, 8, size, size), fast (1, 3, 32, size, size)) normalised-looking input."""
    rng = np.random.RandomState(seed)
    fast = torch.from_numpy(rng.standard_normal((1, 3, 32, size, size)).astype(np.float32))
    return fast[:, :, SLOW_POSITIONS].contiguous(), fast
