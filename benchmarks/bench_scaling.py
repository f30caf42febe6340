"""How scoring cost and memory grow: with the number of images, and with resolution.

    python benchmarks/bench_scaling.py               # about 4 minutes on a 2-core CPU

1. Number of images (tiny model, the full CLI path: decoding workers, batches written to a
   CSV): seconds per image and resident memory after 64, 128, 256 and 512 images. Cost should
   be linear (constant seconds per image) and memory flat.
2. Resolution (real-size SD 2.1-base, random weights): seconds for one VAE encoding and one
   U-Net evaluation at 256, 384, 512 and 768 px, and the exponent of cost against the pixel
   count (1 = linear in pixels; self-attention grows faster at high resolution).
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from genziqa import GenzIQA
from genziqa.attention import PooledLogits, recording, score_processors
from genziqa.io.tables import ScoreWriter
from genziqa.jobs.score_files import score_files

from common import rss_bytes, sd21_base_backbone, write_photos


def images_scaling(total: int = 512) -> None:
    model = GenzIQA.from_pretrained("genziqa-tiny")
    checkpoints = {64, 128, 256, 512}
    with tempfile.TemporaryDirectory() as folder:
        paths = write_photos(Path(folder) / "photos", total, size=(320, 240))
        state = {"done": 0, "start": time.perf_counter()}
        print("| images | seconds/image (cumulative) | resident memory |")
        print("|---:|---:|---:|")

        def progress(count: int) -> None:
            state["done"] += count
            if state["done"] in checkpoints:
                elapsed = time.perf_counter() - state["start"]
                print(
                    f"| {state['done']} | {elapsed / state['done']:.3f} | "
                    f"{rss_bytes() / 2**20:.0f} MiB |",
                    flush=True,
                )

        with ScoreWriter(Path(folder) / "scores.csv") as writer:
            score_files(
                model, paths, writer.write, batch_size=16, num_workers=1, on_progress=progress
            )


def resolution_scaling(sizes=(256, 384, 512, 768)) -> None:
    backbone = sd21_base_backbone()
    unet, vae = backbone.unet, backbone.vae
    processors = score_processors(unet)
    unet.set_attn_processor({**unet.attn_processors, **processors})
    rows = []
    print("\n| resolution | VAE encode (s) | U-Net evaluation (s) |")
    print("|---:|---:|---:|")
    with torch.no_grad(), recording(processors, [PooledLogits(0.14)]):
        for size in sizes:
            latent = size // 8
            images = torch.rand(1, 3, size, size)
            vae.encode(images)  # warm-up
            start = time.perf_counter()
            vae.encode(images)
            vae_s = time.perf_counter() - start
            sample = torch.randn(1, 4, latent, latent)
            context = torch.randn(1, 77, 1024)
            unet(sample, torch.tensor([50]), context)
            start = time.perf_counter()
            unet(sample, torch.tensor([50]), context)
            unet_s = time.perf_counter() - start
            rows.append((size, vae_s, unet_s))
            print(f"| {size} | {vae_s:.2f} | {unet_s:.2f} |", flush=True)
    pixels = np.log([r[0] ** 2 for r in rows])
    for label, column in (("VAE", 1), ("U-Net", 2)):
        slope = np.polyfit(pixels, np.log([r[column] for r in rows]), 1)[0]
        print(f"{label}: cost ~ pixels^{slope:.2f}")
    ratio = rows[-1][2] / rows[0][2]
    print(
        f"U-Net {rows[-1][0]} vs {rows[0][0]} px: {ratio:.1f}x the time for "
        f"{(rows[-1][0] / rows[0][0]) ** 2:.0f}x the pixels ({math.log(ratio):.2f} log-ratio)"
    )


if __name__ == "__main__":
    print("1. number of images (tiny model, CLI path)")
    images_scaling()
    print("\n2. resolution (SD 2.1-base size)")
    resolution_scaling()
