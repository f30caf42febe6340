"""Shared training fixtures: the synthetic benchmark and a small CSV database."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from genziqa import BackboneConfig, GenzIQAConfig

TINY = GenzIQAConfig(backbone=BackboneConfig(source="genziqa-tiny-sd"))


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory) -> Path:
    from genziqa.datasets.synthetic import make_benchmark

    root = tmp_path_factory.mktemp("synthetic")
    make_benchmark(root, size=64)
    return root


@pytest.fixture()
def small_csv_root(tmp_path) -> Path:
    """24 images with a score that the tiny model can see: the amount of added noise."""
    rng = np.random.default_rng(0)
    rows = []
    (tmp_path / "img").mkdir()
    for i in range(24):
        base = rng.integers(60, 200, (8, 8, 3)).astype(float)
        image = np.kron(base, np.ones((8, 8, 1)))
        level = i % 4
        image = np.clip(image + rng.normal(0, 12 * level, image.shape), 0, 255).astype(np.uint8)
        Image.fromarray(image).save(tmp_path / "img" / f"{i:02d}.png")
        rows.append({"path": f"img/{i:02d}.png", "mos": 5.0 - level, "ref": f"c{i // 4}"})
    pd.DataFrame(rows).to_csv(tmp_path / "labels.csv", index=False)
    return tmp_path


def csv_spec(root: Path) -> str:
    return f"csv={root}"
