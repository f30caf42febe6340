"""What each speed preset costs: its measured speed-up and its rank agreement with the full
setting.

    python benchmarks/bench_presets.py               # about 6 minutes on a 2-core CPU

Speed-up: seconds per image of the package's scoring path (eager, LoRA merged, one timestep's
prompts per U-Net call) at the real SD 2.1-base size with random weights, per preset,
relative to the reference preset.
Agreement: a tiny GenzIQA model is trained for about a minute on the synthetic benchmark
(or pass --model), every image of the benchmark is scored at each preset, and the SRCC of
each preset's scores against the reference preset's is printed, with each preset's held-out
SRCC against the labels. Random weights say nothing about agreement at real size, so the
agreement figures come from the tiny model; they show how much ranking the cheaper settings
keep, not what a trained SD 2.1 model would keep.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from genziqa import GenzIQA
from genziqa.datasets import load_table
from genziqa.evaluation.metrics import srcc
from genziqa.jobs.presets import PRESETS, preset_settings
from genziqa.jobs.runtime import prepare_for_scoring

from common import sd21_base_model, write_photos


def speedups(images: int) -> dict[str, float]:
    model = sd21_base_model()
    native = model.resolution
    seconds = {}
    with tempfile.TemporaryDirectory() as folder:
        paths = write_photos(Path(folder), images)
        for name in PRESETS:
            chosen = preset_settings(name, native)
            model.set_scoring(**chosen)
            prepare_for_scoring(model)  # the CLI's path: LoRA merged, its U-Net batch
            start = time.perf_counter()
            model.score(paths, batch_size=1)
            seconds[name] = (time.perf_counter() - start) / images
            print(
                f"  {name:<10} {chosen['resolution']} px, "
                f"{len(chosen['timesteps'])} timesteps: {seconds[name]:.1f} s/image",
                flush=True,
            )
    return seconds


def agreement(model_dir: Path | None, work: Path) -> tuple[dict[str, float], dict[str, float]]:
    from genziqa.datasets.synthetic import make_benchmark
    from genziqa.train import TrainConfig, train

    root = work / "synthetic"
    make_benchmark(root, size=64)
    if model_dir is None:
        from genziqa import BackboneConfig, GenzIQAConfig

        config = TrainConfig(
            train=(f"synthetic={root}",),
            out=str(work / "run"),
            model=GenzIQAConfig(backbone=BackboneConfig(source="genziqa-tiny-sd")),
            epochs=8,
            lr=3e-3,
            loss="plcc",
            val_every=8,
            latent_cache=str(work / "cache"),
            num_workers=0,
        )
        train(config, log=lambda _: None)
        model_dir = work / "run" / "best"
    table = load_table("synthetic", root)
    held_out = (table["split"] == "test").to_numpy()
    model = GenzIQA.from_pretrained(model_dir)
    native = model.resolution
    scores = {}
    for name in PRESETS:
        model.set_scoring(**preset_settings(name, native))
        scores[name] = model.score(list(table["path"]), batch_size=16)
    rank = {name: srcc(scores[name], scores["reference"]) for name in PRESETS}
    quality = {name: srcc(scores[name][held_out], table["mos"][held_out]) for name in PRESETS}
    return rank, quality


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=1, help="images per preset (real size)")
    parser.add_argument("--model", type=Path, help="a trained tiny model (default: train one)")
    args = parser.parse_args(argv)
    print("speed at the real SD 2.1-base size (random weights, this device):", flush=True)
    seconds = speedups(args.images)
    with tempfile.TemporaryDirectory() as work:
        rank, quality = agreement(args.model, Path(work))
    print("\n| preset | setting | speed-up | SRCC vs reference preset | held-out SRCC |")
    print("|---|---|---:|---:|---:|")
    for name, preset in PRESETS.items():
        print(
            f"| {name} | {preset.summary} | {seconds['reference'] / seconds[name]:.1f}x | "
            f"{rank[name]:.3f} | {quality[name]:.3f} |"
        )


if __name__ == "__main__":
    main()
