"""Do the heatmaps point at a local defect? One quadrant blurred, where does the map move?

    python benchmarks/bench_explain_quadrants.py     # 8.7 min on a busy 2-core CPU (2 with --model)

A tiny GenzIQA model is trained for about a minute and a half on the synthetic benchmark (the
README demo's recipe; or pass --model), then each of the benchmark's pristine photos is
explained as it is and with one quadrant Gaussian-blurred (each of the 4 quadrants in turn), by
the untrained tiny model and by the trained one. Figures per model and map kind, over all
(photo, quadrant) pairs, on the latent grid:

- ``change in quadrant``: the share of the map's change |map(blurred) - map(clean)| that lies
  in the blurred quadrant (0.25 = no locality, 1 = all of it);
- ``shift``: the blurred quadrant's mean change minus the other quadrants' mean change, over
  the clean map's spatial std (negative: the map drops where the image was blurred);
- ``lowest`` / ``highest``: how often the blurred quadrant has the map's lowest / highest
  quadrant mean, with no clean image to compare against (chance: 0.25 each);
- ``score drop``: mean score(clean) - score(blurred), how often it is > 0, and the drops of
  the score's two parts (the attention part, which the contribution map splits over the
  image, and the denoising contrast b, which has no map).

The tiny model is a random network trained for a minute: its figures say what this model
shows, not what a trained Stable Diffusion model would.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from genziqa import GenzIQA
from genziqa.datasets import load_table

KINDS = ("contribution", "contrast", "responsibility")


def blur_quadrant(image: Image.Image, quadrant: int, radius: float) -> Image.Image:
    """Quadrant 0..3 (top-left, top-right, bottom-left, bottom-right) Gaussian-blurred."""
    width, height = image.size
    left = (quadrant % 2) * (width // 2)
    top = (quadrant // 2) * (height // 2)
    box = (left, top, left + width // 2, top + height // 2)
    blurred = image.filter(ImageFilter.GaussianBlur(radius))
    out = image.copy()
    out.paste(blurred.crop(box), box[:2])
    return out


def quadrant_means(values: np.ndarray) -> np.ndarray:
    """(h, w) -> the 4 quadrant means, in ``blur_quadrant``'s order."""
    h, w = values.shape[0] // 2, values.shape[1] // 2
    return np.array([values[:h, :w].mean(), values[:h, w:].mean(),
                     values[h:, :w].mean(), values[h:, w:].mean()])  # fmt: skip


def quadrant_mask(shape: tuple[int, int], quadrant: int) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    h, w = shape[0] // 2, shape[1] // 2
    rows = slice(0, h) if quadrant < 2 else slice(h, None)
    cols = slice(0, w) if quadrant % 2 == 0 else slice(w, None)
    mask[rows, cols] = True
    return mask


def measure(model: GenzIQA, photos: list[Image.Image], radius: float) -> dict[str, dict]:
    images = list(photos)
    for photo in photos:
        images += [blur_quadrant(photo, q, radius) for q in range(4)]
    explanation = model.explain(images, batch_size=10)
    n = len(photos)
    figures: dict[str, dict] = {}
    for kind in KINDS:
        maps = explanation.latent_maps(kind)
        shares, shifts, lowest, highest = [], [], [], []
        for p in range(n):
            clean = maps[p]
            for q in range(4):
                change = maps[n + 4 * p + q] - clean
                mask = quadrant_mask(change.shape, q)
                shares.append(np.abs(change)[mask].sum() / max(np.abs(change).sum(), 1e-30))
                shift = change[mask].mean() - change[~mask].mean()
                shifts.append(shift / max(clean.std(), 1e-30))
                means = quadrant_means(maps[n + 4 * p + q])
                lowest.append(int(np.argmin(means) == q))
                highest.append(int(np.argmax(means) == q))
        figures[kind] = {
            "change_in_quadrant": float(np.mean(shares)),
            "shift": float(np.mean(shifts)),
            "lowest": float(np.mean(lowest)),
            "highest": float(np.mean(highest)),
        }

    def drop(values: np.ndarray) -> np.ndarray:
        return np.repeat(values[:n], 4) - values[n:]

    drops = drop(explanation.score)
    figures["score"] = {
        "drop": float(drops.mean()),
        "drop_positive": float((drops > 0).mean()),
        "attention_drop": float(drop(explanation.parts["attention"]).mean()),
        "denoising_contrast_drop": float(drop(explanation.parts["denoising_contrast"]).mean()),
    }
    return figures


def train_tiny(root: Path, work: Path) -> Path:
    from genziqa import BackboneConfig, GenzIQAConfig
    from genziqa.train import TrainConfig, train

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
    result = train(config, log=lambda _: None)
    print(f"trained {result.global_step} steps; held-out SRCC {result.best_srcc:.4f}", flush=True)
    return work / "run" / "best"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="a trained tiny model (default: train one)")
    parser.add_argument("--radius", type=float, default=2.0, help="blur radius in pixels")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--work", type=Path, help="keep the benchmark and the run here")
    args = parser.parse_args(argv)
    from genziqa.datasets.synthetic import make_benchmark

    with tempfile.TemporaryDirectory() as folder:
        work = args.work or Path(folder)
        root = work / "synthetic"
        make_benchmark(root, size=64)
        table = load_table("synthetic", root)
        pristine = table[table["mos"] == table["mos"].max()].sort_values("path")
        photos = [Image.open(path).convert("RGB") for path in pristine["path"]]
        trained = args.model or train_tiny(root, work)
        results = {
            "untrained": measure(GenzIQA.from_pretrained("genziqa-tiny"), photos, args.radius),
            "trained": measure(GenzIQA.from_pretrained(trained), photos, args.radius),
        }
    print(f"\n{len(photos)} photos x 4 quadrants, blur radius {args.radius} px at 64 px\n")
    print("| model | map | change in quadrant | shift | lowest quadrant | highest quadrant |")
    print("|---|---|---:|---:|---:|---:|")
    for name, figures in results.items():
        for kind in KINDS:
            f = figures[kind]
            print(
                f"| {name} | {kind} | {f['change_in_quadrant']:.3f} | {f['shift']:+.3f} | "
                f"{f['lowest']:.3f} | {f['highest']:.3f} |"
            )
    for name, figures in results.items():
        score = figures["score"]
        print(
            f"{name}: score drop when a quadrant is blurred {score['drop']:+.5f} "
            f"(> 0 for {score['drop_positive']:.0%} of the pairs); attention part "
            f"{score['attention_drop']:+.5f}, denoising contrast "
            f"{score['denoising_contrast_drop']:+.5f}"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
