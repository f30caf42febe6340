"""End-to-end scoring speed at the real SD 2.1-base size: the reference approach against
genziqa's own path, in the same run, on the current device.

    python benchmarks/bench_score.py                 # 2 images, CPU: about 12 minutes
    python benchmarks/bench_score.py --images 8      # a GPU: seconds per image
    python benchmarks/bench_score.py --tiny          # the tiny test model: a smoke run

Paths, each from JPEG files on disk to scores:

- ``reference``: the published reference approach. One image at a time; the text encoder
  runs for every image; the VAE once; per timestep one U-Net call of batch 2 (the two
  prompts); LoRA not merged; fp32; explicit-softmax attention in every layer, as in the
  reference's vendored diffusers.
- ``reference-sdpa``: the same, but with PyTorch's fused attention in self-attention: it
  isolates how much of the gain is the attention kernel (skip it with --no-sdpa-reference).
- ``genziqa``: the package's path with its best settings for the device: decoding in
  DataLoader workers, prompt embeddings computed once, the prompt-independent U-Net prefix
  run once for both prompts, U-Net batches of several images' timesteps x prompts on a GPU
  (one timestep's two prompts per call on the CPU, where larger batches measured 25% slower
  per row), LoRA merged into the weights, bf16 on GPUs, torch.compile with --compile.

Printed: images/s, seconds per image, peak memory (RSS; CUDA peak on a GPU), the largest score
difference between the paths (fp32: must be within 1e-4 relative), and the achieved FLOP/s
as a fraction of the device's fp32 (and bf16) matmul throughput measured in the same run.
FLOPs are counted with torch.utils.flop_counter: the useful work of one image is one VAE
encoding and K x P U-Net evaluations. Weights are random: they do not change speed.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from genziqa.jobs.runtime import prepare_for_scoring, resolve_device
from genziqa.jobs.score_files import score_files
from genziqa.lora import merged_lora
from genziqa.pooling import aggregate_score
from genziqa.preprocess import prepare_images

from common import (
    matmul_peak,
    peak_memory,
    sd21_base_model,
    useful_flops_per_image,
    write_photos,
)


def reference_scores(model, paths: list[Path], explicit_attention: bool) -> list[float]:
    """The reference approach, image by image (see the module docstring)."""
    from diffusers.models.attention_processor import AttnProcessor, AttnProcessor2_0

    self_attention = AttnProcessor if explicit_attention else AttnProcessor2_0
    processors = {
        name: self_attention() if name.endswith("attn1.processor") else processor
        for name, processor in model.unet.attn_processors.items()
    }
    previous = model.unet.attn_processors
    model.unet.set_attn_processor(processors)
    model.shared_prefix.enabled = False
    steps = len(model.config.scoring.timesteps)
    scores = []
    try:
        with torch.no_grad():
            for path in paths:
                model._prompt_cache = None  # the reference runs the text encoder per image
                embeds = model.prompt_embeds()
                images = prepare_images([path], model.resolution).to(model.device)
                latents = model.encode_images(images)
                timesteps, noise = model.scoring_noise(tuple(latents.shape[1:]))
                attention, contrast = [], []
                for k in range(steps):  # one U-Net call of batch 2 (the prompts) per timestep
                    a, b = model.score_rows(
                        latents,
                        timesteps[k : k + 1].to(model.device),
                        noise[k : k + 1].to(model.device),
                        embeds,
                    )
                    attention.append(a)
                    contrast.append(b)
                _, score = aggregate_score(
                    torch.stack(attention, 1), torch.stack(contrast, 1), model.config.scoring.score
                )
                scores.append(float(score))
    finally:
        model.unet.set_attn_processor(previous)
        model.shared_prefix.enabled = True
    return scores


def tiny_model(device: str = "cpu"):
    from genziqa import GenzIQA

    return GenzIQA.from_pretrained("genziqa-tiny").to(device)


def genziqa_scores(model, paths: list[Path], batch_size: int, workers: int) -> list[float]:
    rows: list[dict] = []
    score_files(model, paths, rows.extend, batch_size=batch_size, num_workers=workers)
    if any(row["status"] != "ok" for row in rows):
        raise RuntimeError(f"scoring failed: {[r['error'] for r in rows if r['error']]}")
    return [float(row["score"]) for row in rows]


def timed(function, device: torch.device) -> tuple[list[float], float, dict]:
    with peak_memory(device) as memory:
        start = time.perf_counter()
        result = function()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds = time.perf_counter() - start
    return result, seconds, memory


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=2, help="images per path and round")
    parser.add_argument("--rounds", type=int, default=1, help="alternating rounds")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--compile", action="store_true", help="torch.compile the U-Net")
    parser.add_argument("--no-sdpa-reference", action="store_true")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--tiny", action="store_true", help="the tiny test model (checks the paths, not speed)"
    )
    args = parser.parse_args(argv)

    device = resolve_device(args.device)
    gpu = device.type == "cuda"
    print(
        f"device: {torch.cuda.get_device_name(device) if gpu else 'CPU'}; "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads",
        flush=True,
    )
    matmul_size = 1024 if args.tiny else 4096
    peak32 = matmul_peak(device, torch.float32, matmul_size)
    peak16 = matmul_peak(device, torch.bfloat16, matmul_size) if gpu else None
    print(
        f"matmul peak: fp32 {peak32 / 1e9:.1f} GFLOP/s"
        + (f", bf16 {peak16 / 1e12:.1f} TFLOP/s" if peak16 else ""),
        flush=True,
    )
    build = tiny_model if args.tiny else sd21_base_model
    started = time.perf_counter()
    model = build(device=str(device))
    flops = useful_flops_per_image(model=model if args.tiny else None)
    print(
        f"useful work per image: {flops['per_image'] / 1e12:.3g} TFLOP (VAE "
        f"{flops['vae'] / 1e12:.3g} + {flops['unet_rows_per_image']} U-Net rows x "
        f"{flops['unet_row'] / 1e12:.3g})",
        flush=True,
    )

    print(f"model built in {time.perf_counter() - started:.0f} s", flush=True)
    # On a GPU the timed genziqa path runs a bf16 copy (same seeded weights); the fp32 model
    # serves the reference paths and the exactness check.
    ours = model
    if gpu:
        ours = build(device=str(device)).to(torch.bfloat16)
    compiled = None
    if args.compile:
        compiled = torch.compile(ours.unet, dynamic=False, options={"freezing": True})

    with tempfile.TemporaryDirectory() as folder:
        paths = write_photos(Path(folder), args.images)
        results: dict[str, dict] = {}

        def record(name, scores, seconds, memory):
            entry = results.setdefault(name, {"scores": [], "seconds": 0.0, "rss": 0, "cuda": 0})
            entry["scores"] += scores
            entry["seconds"] += seconds
            entry["rss"] = max(entry["rss"], memory["rss"])
            entry["cuda"] = max(entry["cuda"], memory["cuda"] or 0)
            rate = len(scores) / seconds
            print(
                f"  {name:<15} {len(scores)} images in {seconds:7.1f} s ({rate:.4f} images/s)",
                flush=True,
            )

        def run_ours(batch_paths, workers):
            # The CLI's preparation (LoRA merged, the U-Net batch it picks), undone afterwards
            # so that the reference paths keep the unmerged LoRA.
            with merged_lora(ours.unet), swapped_unet(ours, compiled):
                prepare_for_scoring(ours, device, ours.dtype)
                return genziqa_scores(ours, batch_paths, len(batch_paths), workers)

        compile_seconds = None
        if compiled is not None:
            start = time.perf_counter()
            run_ours(paths[:1], 0)
            compile_seconds = time.perf_counter() - start
            print(f"compile + first image: {compile_seconds:.0f} s (not counted)", flush=True)
        for round_index in range(args.rounds):
            order = ["reference", "genziqa"] if round_index % 2 == 0 else ["genziqa", "reference"]
            if not args.no_sdpa_reference:
                order.insert(1, "reference-sdpa")
            print(f"round {round_index + 1}: {' -> '.join(order)}", flush=True)
            for name in order:
                if name == "genziqa":
                    record(name, *timed(lambda: run_ours(paths, args.workers), device))
                else:
                    explicit = name == "reference"
                    record(
                        name, *timed(lambda e=explicit: reference_scores(model, paths, e), device)
                    )
        fp32_check = None
        if gpu:  # the exactness check runs the package's batched path in fp32
            with merged_lora(model.unet):
                prepare_for_scoring(model, device, torch.float32)
                fp32_check = genziqa_scores(model, paths, len(paths), 0)

    summary = _summarise(results, flops, peak32, peak16, fp32_check, compile_seconds, device)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    return summary


@contextmanager
def swapped_unet(model, compiled):
    """Route the model's U-Net calls through the compiled wrapper for the block."""
    if compiled is None:
        yield
        return
    original = model.unet
    model.unet = compiled
    try:
        yield
    finally:
        model.unet = original


def _summarise(results, flops, peak32, peak16, fp32_check, compile_seconds, device) -> dict:
    print("\nresults", flush=True)
    reference = np.array(results["reference"]["scores"])
    ours = np.array(fp32_check if fp32_check is not None else results["genziqa"]["scores"])
    n = len(reference)
    summary = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU",
        "matmul_peak_fp32": peak32,
        "matmul_peak_bf16": peak16,
        "useful_flops_per_image": flops["per_image"],
        "compile_seconds": compile_seconds,
        "paths": {},
    }
    for name, entry in results.items():
        images = len(entry["scores"])
        rate = images / entry["seconds"]
        achieved = flops["per_image"] * rate
        peak = peak16 if (name == "genziqa" and peak16) else peak32
        summary["paths"][name] = {
            "images_per_s": rate,
            "seconds_per_image": 1 / rate,
            "peak_rss_gib": entry["rss"] / 2**30,
            "peak_cuda_gib": entry["cuda"] / 2**30 if entry["cuda"] else None,
            "flops_per_s": achieved,
            "fraction_of_matmul_peak": achieved / peak,
        }
        cuda = f", CUDA peak {entry['cuda'] / 2**30:.1f} GiB" if entry["cuda"] else ""
        print(
            f"  {name:<15} {rate:.4f} images/s  {1 / rate:7.1f} s/image  peak RSS "
            f"{entry['rss'] / 2**30:.1f} GiB{cuda}  {achieved / 1e9:.1f} GFLOP/s = "
            f"{achieved / peak:.0%} of the measured {'bf16' if peak is peak16 else 'fp32'} "
            f"matmul peak",
            flush=True,
        )
    base = summary["paths"]["reference"]["images_per_s"]
    for entry in summary["paths"].values():
        entry["speedup_vs_reference"] = entry["images_per_s"] / base
    difference = float(np.max(np.abs(reference - ours[:n])))
    relative = difference / float(np.max(np.abs(reference)))
    summary["max_abs_score_difference_fp32"] = difference
    summary["max_relative_score_difference_fp32"] = relative
    speedups = ", ".join(
        f"{name} {entry['speedup_vs_reference']:.2f}x"
        for name, entry in summary["paths"].items()
        if name != "reference"
    )
    print(f"  speed-up over the reference approach: {speedups}")
    print(
        f"  scores, reference vs genziqa (fp32): max |diff| {difference:.3g} "
        f"({relative:.2g} relative; {'within' if relative <= 1e-4 else 'OUTSIDE'} 1e-4)"
    )
    if fp32_check is not None:
        low = np.array(results["genziqa"]["scores"])
        gap = float(np.max(np.abs(low - np.array(fp32_check[: len(low)]))))
        summary["max_abs_score_difference_bf16_vs_fp32"] = gap
        verdict = "within" if gap <= 1e-2 else "OUTSIDE"
        print(f"  genziqa bf16 vs fp32: max |diff| {gap:.3g} ({verdict} 1e-2)")
    if "reference-sdpa" in results:
        sdpa = np.array(results["reference-sdpa"]["scores"])
        print(f"  reference vs reference-sdpa: max |diff| {np.max(np.abs(reference - sdpa)):.3g}")
    return summary


if __name__ == "__main__":
    main()
