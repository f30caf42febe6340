"""Training data: flips and file digests."""

from __future__ import annotations

import torch

from genziqa.preprocess import flip_image
from genziqa.train import TrainConfig, train
from genziqa.train.data import LabelledImages

from .conftest import TINY, csv_spec


def test_flips_are_deterministic_and_cover_all_variants(tmp_path) -> None:
    paths = [tmp_path / f"{i}.png" for i in range(40)]
    data = LabelledImages(paths, [0.0] * 40, 64, None, "", flips=True, seed=3)
    first = [data.flip_for(i) for i in range(40)]
    assert first == [data.flip_for(i) for i in range(40)]
    assert set(first) == {"none", "h", "v", "hv"}
    data.epoch = 1
    assert [data.flip_for(i) for i in range(40)] != first
    image = torch.arange(12).view(1, 3, 4)
    assert torch.equal(flip_image(image, "hv"), image.flip(-1).flip(-2))
    assert torch.equal(flip_image(image, "none"), image)


def test_file_digests_are_computed_once_per_run(small_csv_root, tmp_path, monkeypatch) -> None:
    import genziqa.train.data

    hashed = []
    real = genziqa.train.data.file_digest
    monkeypatch.setattr(
        genziqa.train.data, "file_digest", lambda path: hashed.append(path) or real(path)
    )
    config = TrainConfig(
        train=(csv_spec(small_csv_root),),
        out=str(tmp_path / "run"),
        model=TINY,
        epochs=3,
        batch_size=4,
        latent_cache=str(tmp_path / "cache"),
        num_workers=0,
    )
    train(config, log=lambda _: None)
    assert hashed and len(hashed) == len(set(hashed))  # train and validation files, once each
    assert len(hashed) == 24
