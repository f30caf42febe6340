"""The pyiqa metric, against the real pyiqa package (CI: the separate .venv-pyiqa, see .ci/run).

pyiqa needs torchvision, which the core environment does not have, so these tests carry the
``pyiqa`` marker and are skipped (with the reason shown) where pyiqa is not importable.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from genziqa import BackboneConfig, GenzIQA, GenzIQAConfig, PreprocessConfig, spaced_timesteps

from ..conftest import randomize_trained_tensors

needs_pyiqa = [
    pytest.mark.pyiqa,
    pytest.mark.skipif(
        importlib.util.find_spec("pyiqa") is None,
        reason="pyiqa is not installed here; CI runs these tests in .venv-pyiqa (see .ci/run)",
    ),
]


def _mark(test):
    for mark in needs_pyiqa:
        test = mark(test)
    return test


@pytest.fixture(scope="module")
def model_dir(tiny_backbone_dir, tmp_path_factory) -> Path:
    """A saved tiny GenzIQA model with non-trivial context and LoRA."""
    config = GenzIQAConfig(
        backbone=BackboneConfig(source=str(tiny_backbone_dir)),
        preprocess=PreprocessConfig(resolution=64),
    )
    model = GenzIQA.from_config(config, local_files_only=True)
    randomize_trained_tensors(model, seed=3)
    return model.save_pretrained(tmp_path_factory.mktemp("pyiqa-model"))


@pytest.fixture(scope="module")
def metric(model_dir):
    import pyiqa

    import genziqa.integrations.pyiqa  # noqa: F401  (registers the metric names)

    return pyiqa.create_metric(
        "genziqa", pretrained_model_path=str(model_dir), timesteps=2, device="cpu"
    )


def reference(model_dir: Path, timesteps: int = 2) -> GenzIQA:
    """The same model loaded the usual way, at the metric's settings."""
    overrides = {"scoring.timesteps": spaced_timesteps(timesteps)}
    return GenzIQA.from_pretrained(model_dir, overrides=overrides)


@_mark
def test_names_are_listed_with_pyiqa_properties(metric) -> None:
    import pyiqa

    assert {"genziqa", "genziqa-zero-shot"} <= set(pyiqa.list_models(metric_mode="NR"))
    assert metric.metric_mode == "NR" and metric.lower_better is False
    assert "MOS scale" in metric.score_range
    assert type(metric.net).__name__ == "GenzIQAArch"


@_mark
def test_tensor_scores_equal_genziqa_score_bit_for_bit(metric, model_dir, images) -> None:
    model = reference(model_dir)
    odd = torch.rand(2, 3, 72, 96, generator=torch.Generator().manual_seed(4))  # resized
    outputs = []
    for batch in (images[:3], odd):
        out = metric(batch)
        assert out.shape == (batch.shape[0],) and out.dtype == torch.float32
        assert not out.requires_grad
        assert np.array_equal(out.double().numpy(), model.score(batch))
        outputs.append(out)
    assert torch.equal(metric(images[2:3]), outputs[0][2:3])  # whatever else is in the batch


@_mark
def test_path_input(metric, model_dir, images, tmp_path) -> None:
    """pyiqa reads a path with Pillow + to_tensor and passes the tensor on at its size."""
    model = reference(model_dir)
    pixels = (images[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    native = tmp_path / "native.png"
    Image.fromarray(pixels).save(native)
    assert np.array_equal(metric(str(native)).double().numpy(), model.score(native))

    other = tmp_path / "other.png"
    Image.fromarray(pixels).resize((90, 70), Image.Resampling.BICUBIC).save(other)
    decoded = torch.from_numpy(np.asarray(Image.open(other).convert("RGB")).copy())
    as_pyiqa_reads_it = decoded.permute(2, 0, 1).float().div(255).unsqueeze(0)
    assert np.array_equal(metric(str(other)).double().numpy(), model.score(as_pyiqa_reads_it))


@_mark
def test_one_channel_tensor_is_scored_as_rgb(metric, images) -> None:
    gray = images[:2].mean(dim=1, keepdim=True)
    assert torch.equal(metric(gray), metric(gray.expand(-1, 3, -1, -1).contiguous()))


@_mark
def test_as_loss_gives_gradients_to_the_input_only(model_dir, images) -> None:
    import pyiqa

    import genziqa.integrations.pyiqa  # noqa: F401

    loss = pyiqa.create_metric(
        "genziqa", as_loss=True, pretrained_model_path=str(model_dir), timesteps=1, device="cpu"
    )
    loss.train()  # a training loop switches modes: the inner model must stay in eval mode
    assert loss.net.model.training is False
    x = images[:2].clone().requires_grad_(True)
    value = loss(x)
    assert value.ndim == 0 and value.requires_grad
    value.backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in loss.parameters())
    expected = reference(model_dir, timesteps=1).score(images[:2]).mean()
    assert value.item() == pytest.approx(expected, rel=1e-6, abs=1e-6)


@_mark
def test_zero_shot_metric_on_the_tiny_backbone(images) -> None:
    import pyiqa

    import genziqa.integrations.pyiqa  # noqa: F401

    metric = pyiqa.create_metric(
        "genziqa-zero-shot", backbone="genziqa-tiny-sd", timesteps=2, device="cpu"
    )
    model = GenzIQA.from_pretrained(
        "zero-shot",
        backbone="genziqa-tiny-sd",
        overrides={"scoring.timesteps": spaced_timesteps(2)},
    )
    assert model.config.zero_shot and model.resolution == 64
    assert np.array_equal(metric(images[:2]).double().numpy(), model.score(images[:2]))
    assert "around 0" in metric.score_range


@_mark
def test_errors_are_one_line_and_typed(model_dir) -> None:
    import pyiqa

    from genziqa.integrations.pyiqa import GenzIQAMetricError

    with pytest.raises(GenzIQAMetricError, match="needs exactly one trained model"):
        pyiqa.create_metric("genziqa")
    with pytest.raises(GenzIQAMetricError, match="needs exactly one trained model"):
        pyiqa.create_metric("genziqa-zero-shot", pretrained_model_path=str(model_dir))
    with pytest.raises(GenzIQAMetricError, match="dtype must be one of"):
        pyiqa.create_metric("genziqa", pretrained_model_path=str(model_dir), dtype="fp8")
    loss = pyiqa.create_metric("genziqa", as_loss=True, pretrained_model_path=str(model_dir))
    with pytest.raises(ValueError, match=r"expected image values in \[0, 1\]"):
        loss(torch.full((1, 3, 64, 64), 1.5))  # pyiqa skips its range check for losses
    with pytest.raises(GenzIQAMetricError, match=r"expected images \(B, 3, H, W\)"):
        loss.net(torch.zeros(3, 64, 64))


@_mark
def test_entry_point_offline_and_no_pyiqa_download(model_dir) -> None:
    """In a fresh interpreter: ``import genziqa`` leaves pyiqa alone; pyiqa finds the metric
    through the entry point once a registry is queried; creating and running it touches no
    network, no pyiqa download function and none of pyiqa's own archs."""
    script = textwrap.dedent(
        """
        import json, socket, sys
        import torch, torch.hub

        def refuse(*args, **kwargs):
            raise RuntimeError("a download or network connection was attempted")

        socket.socket.connect = refuse
        torch.hub.download_url_to_file = refuse
        torch.hub.load_state_dict_from_url = refuse
        import genziqa, genziqa.integrations, genziqa.integrations.official
        result = {"pyiqa_after_import_genziqa": "pyiqa" in sys.modules}
        import pyiqa
        import pyiqa.archs.arch_util, pyiqa.utils.download_util
        pyiqa.archs.arch_util.load_file_from_url = refuse
        pyiqa.utils.download_util.load_file_from_url = refuse
        result["listed_before"] = "genziqa" in pyiqa.list_models()
        try:
            pyiqa.create_metric("genziqa-zero-shot")
        except AssertionError as error:
            result["create_before"] = str(error)
        from pyiqa.utils.registry import ARCH_REGISTRY
        result["arch_via_entry_point"] = "GenzIQAArch" in ARCH_REGISTRY
        result["listed_after"] = sorted(n for n in pyiqa.list_models() if "genziqa" in n)
        archs = {m for m in sys.modules if m.startswith("pyiqa.archs.") and m.endswith("_arch")}
        metric = pyiqa.create_metric("genziqa", pretrained_model_path=sys.argv[1], timesteps=1)
        result["score_shape"] = list(metric(torch.rand(1, 3, 64, 64)).shape)
        new = {m for m in sys.modules if m.startswith("pyiqa.archs.") and m.endswith("_arch")}
        result["pyiqa_archs_imported"] = sorted(new - archs)
        print(json.dumps(result))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(model_dir)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {
        "pyiqa_after_import_genziqa": False,
        "listed_before": False,
        "create_before": "Metric genziqa-zero-shot not implemented yet.",
        "arch_via_entry_point": True,
        "listed_after": ["genziqa", "genziqa-zero-shot"],
        "score_shape": [1],
        "pyiqa_archs_imported": [],
    }


def test_missing_pyiqa_is_a_one_line_install_hint(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "pyiqa", None)  # as if it were not installed
    monkeypatch.delitem(sys.modules, "genziqa.integrations.pyiqa", raising=False)
    with pytest.raises(ImportError, match=r"pip install 'genziqa\[pyiqa\]'"):
        importlib.import_module("genziqa.integrations.pyiqa")
