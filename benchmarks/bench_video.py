"""Video scoring speed at the real size (SD 2.1-base + SlowFast R50, random weights): the
reference approach against genziqa's path, in the same run, split into decode, motion
features, VAE and U-Net.

    python benchmarks/bench_video.py                          # 10 s of 1080p30, K=8, 512 px
    python benchmarks/bench_video.py --seconds 2              # what fits a loaded 2-core CPU
    python benchmarks/bench_video.py --tiny                   # tiny models: a smoke run

Paths, each from the video file on disk to the score:

- ``reference``: the official pipeline's approach. The frame script decodes every frame to
  full-size RGB and keeps them (``skvideo.io.vread``), takes K by ``floor(linspace)``, resizes
  them and encodes all K with the VAE in one call; the feature script (SimpleVQA's) decodes
  the whole video again and runs SlowFast one clip at a time; then per frame and timestep one
  U-Net call of batch 2 (the two prompts), the text encoder once per video, LoRA not merged,
  explicit-softmax self-attention (the vendored diffusers'), then the modulator.
- ``genziqa``: ``GenzVQA.score`` on the file as ``genziqa score`` prepares the model: one
  decoding pass keeps only the K frames and streams the motion clips through SlowFast,
  prompt embeddings once, the prompt-independent U-Net prefix once for both prompts, LoRA
  merged, fused self-attention, U-Net calls of the CPU's best size (one timestep's two
  prompts; on a GPU several frames' rows share a call).

Stage times: ``decode`` (decoding and frame conversion: everything of the decoding pass but
the SlowFast network), ``motion`` (the SlowFast network calls), ``vae``, ``unet`` (U-Net
forward calls), ``other`` (text encoder, modulator, pooling). Both paths compute the same
numbers: the scores must agree within 1e-4 relative (VAE posterior mean in both; the
reference's VAE sample and random flips are left out so that they can be compared).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from bench_video_decode import write_clip
from genziqa import GenzVQA, GenzVQAConfig
from genziqa.io.video import FrameCollector, decode_into, resize_frame
from genziqa.jobs.runtime import prepare_for_scoring
from genziqa.lora import merged_lora
from genziqa.video.frames import sample_indices
from genziqa.video.inputs import SlowFastMotion
from genziqa.video.modulator import QueryMeans, modulated_score
from genziqa.video.motion import MotionRecipe, SlowFastR50, motion_features

from common import sd21_base_backbone


class Stages:
    """Seconds per stage, accumulated by wrapping the functions that do each stage."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    @contextmanager
    def wrap(self, owner, name: str, stage: str):
        original = getattr(owner, name)

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[stage] += time.perf_counter() - start

        setattr(owner, name, timed)
        try:
            yield
        finally:
            setattr(owner, name, original)

    @contextmanager
    def module(self, module: torch.nn.Module, stage: str):
        """Time every forward call of ``module`` (hooks, so wrappers around it still see it)."""
        started: list[float] = []

        def before(*_):
            started.append(time.perf_counter())

        def after(*_):
            self.seconds[stage] += time.perf_counter() - started.pop()

        handles = [module.register_forward_pre_hook(before), module.register_forward_hook(after)]
        try:
            yield
        finally:
            for handle in handles:
                handle.remove()


def build(tiny: bool, resolution: int | None, seed: int = 1) -> tuple[GenzVQA, SlowFastR50]:
    """The video model (random trained tensors) and SlowFast R50 (random weights)."""
    if tiny:
        model = GenzVQA.from_pretrained("genzvqa-tiny")
    else:
        model = GenzVQA(GenzVQAConfig(), sd21_base_backbone())
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.trainable_parameters():
            parameter.add_(torch.randn(parameter.shape, generator=generator) * 0.02)
        for gate in model.modulator.gates.values():
            gate.bias.fill_(1.0)  # open gates: every layer counts
    if resolution is not None:
        model.set_scoring(resolution=resolution)
    torch.manual_seed(seed)
    slowfast = SlowFastR50().eval().requires_grad_(False)
    return model, slowfast


# --------------------------------------------------------------------------------------------
# The reference approach
# --------------------------------------------------------------------------------------------


def decode_everything(path: Path):
    """Every frame to full-size RGB, kept (``vread``); returns (frames (N, H, W, 3), fps)."""
    collector = FrameCollector(lambda info: range(info.num_frames or 0))
    info = decode_into(path, [collector])
    return np.stack(collector.frames()), info.fps


def reference_score(
    model: GenzVQA, slowfast: SlowFastR50, path: Path, recipe: MotionRecipe, stages: Stages
) -> float:
    from diffusers.models.attention_processor import AttnProcessor

    image = model.image_model
    k, resolution = model.config.frames, model.resolution
    start = time.perf_counter()
    frames_all, _ = decode_everything(path)  # the frame script's vread
    chosen = [resize_frame(frames_all[i], resolution) for i in sample_indices(len(frames_all), k)]
    del frames_all
    stages.seconds["decode"] += time.perf_counter() - start

    start = time.perf_counter()
    again, fps = decode_everything(path)  # the feature script decodes the whole video again
    network = stages.seconds["motion"]
    with stages.wrap(slowfast, "features", "motion"):
        slow, fast = motion_features(again, slowfast, recipe=recipe, fps=fps)
    del again
    network = stages.seconds["motion"] - network
    stages.seconds["decode"] += time.perf_counter() - start - network

    processors = {
        name: AttnProcessor() if name.endswith("attn1.processor") else processor
        for name, processor in image.unet.attn_processors.items()
    }
    previous = image.unet.attn_processors
    image.unet.set_attn_processor(processors)
    image.shared_prefix.enabled = False
    try:
        with torch.no_grad():
            image._prompt_cache = None  # the text encoder once per video
            embeds = image.prompt_embeds()
            pixels = torch.from_numpy(np.stack(chosen)).permute(0, 3, 1, 2).float() / 255
            image.vae_batch_size = k  # all K frames in one VAE call
            with stages.wrap(image, "encode_images", "vae"):
                latents = image.encode_images(pixels.to(image.device))
            image.vae_batch_size = 1
            timesteps, noise = image.timesteps_and_noise(
                latents[:1], scoring_timesteps=model.config.timesteps
            )
            layer_rows, queries = [], {name: [] for name in image.layer_names}
            for f in range(k):  # one frame, one timestep, batch 2 per U-Net call
                per_t = []
                for t in range(timesteps.shape[1]):
                    recorder = QueryMeans()
                    with stages.module(image.unet, "unet"):
                        a, b = image.score_rows(
                            latents[f : f + 1],
                            timesteps[0, t : t + 1],
                            noise[0, t : t + 1],
                            embeds,
                            recorders=(recorder,),
                        )
                    per_t.append(a + b.unsqueeze(-1))
                    if t == timesteps.shape[1] - 1:  # the last timestep's query means
                        for name, calls in recorder.take().items():
                            queries[name].append(calls[0])  # (P, C)
                layer_rows.append(torch.cat(per_t).mean(dim=0))  # (L,): mean over timesteps
            layer_scores = torch.stack(layer_rows).mean(dim=0)  # mean over frames
            query = [torch.stack(queries[n], dim=1) for n in image.layer_names]  # (P, K, C)
            _, _, gains = model.modulator(query, slow.to(image.device), fast.to(image.device))
            return float(modulated_score(gains, layer_scores))
    finally:
        image.unet.set_attn_processor(previous)
        image.shared_prefix.enabled = True


# --------------------------------------------------------------------------------------------
# genziqa's path
# --------------------------------------------------------------------------------------------


def genziqa_score(
    model: GenzVQA, slowfast: SlowFastR50, path: Path, recipe: MotionRecipe, stages: Stages
) -> float:
    import genziqa.io.video as video_io

    image = model.image_model
    motion = SlowFastMotion(slowfast, recipe)  # no feature cache: computed in this run
    with merged_lora(image.unet):
        start = time.perf_counter()  # load-time preparation, as `genziqa score` does it
        prepare_for_scoring(image, image.device, image.dtype)
        stages.seconds["setup"] += time.perf_counter() - start
        with (
            stages.wrap(video_io, "decode_into", "decode"),  # the pass, SlowFast included
            stages.wrap(slowfast, "features", "motion"),
            stages.wrap(image, "encode_images", "vae"),
            stages.module(image.unet, "unet"),
        ):
            score = float(model.score([path], motion=motion)[0])
    stages.seconds["decode"] -= stages.seconds["motion"]  # SlowFast ran inside the pass
    return score


# --------------------------------------------------------------------------------------------


def run(name: str, function, *args) -> dict:
    stages = Stages()
    start = time.perf_counter()
    score = function(*args, stages)
    total = time.perf_counter() - start - stages.seconds.get("setup", 0.0)  # not per video
    seconds = {s: stages.seconds.get(s, 0.0) for s in ("decode", "motion", "vae", "unet")}
    seconds["other"] = total - sum(seconds.values())
    parts = ", ".join(f"{s} {v:.1f}" for s, v in seconds.items())
    print(f"  {name:<9} {total:8.1f} s/video ({parts}); score {score:.6f}", flush=True)
    return {"score": score, "seconds_per_video": total, "stages": seconds}


def extrapolate(figures: dict, frames: int, to_frames: int) -> float:
    """s/video with ``to_frames`` frames: the VAE and U-Net stages scale with K, the rest
    (decoding, motion features, text encoder) does not."""
    stages = figures["stages"]
    per_frame = (stages["vae"] + stages["unet"]) / frames
    return figures["seconds_per_video"] + per_frame * (to_frames - frames)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="clip length")
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--frames", type=int, default=8, help="K frames per video")
    parser.add_argument("--timesteps", type=int, default=4, help="video scoring timesteps")
    parser.add_argument("--resolution", type=int, help="model input size (default: native)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--tiny", action="store_true", help="tiny models: checks the paths")
    args = parser.parse_args(argv)
    if args.tiny:  # a tiny clip unless asked otherwise
        args.width, args.height = min(args.width, 160), min(args.height, 96)

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads", flush=True)
    started = time.perf_counter()
    model, slowfast = build(args.tiny, args.resolution)
    from genziqa.config import spaced_timesteps

    model.set_scoring(timesteps=spaced_timesteps(args.timesteps), frames=args.frames)
    recipe = model.config.motion
    print(
        f"models built in {time.perf_counter() - started:.0f} s: "
        f"{'tiny' if args.tiny else 'SD 2.1-base'} at {model.resolution} px, K={args.frames}, "
        f"timesteps {list(model.config.timesteps)}; SlowFast R50 clips of "
        f"{recipe.clip_frames} frames at {recipe.size} px",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="bench-video-") as folder:
        video = write_clip(
            Path(folder) / "clip.mp4", args.seconds, args.fps, args.width, args.height
        )
        rows = args.frames * args.timesteps * 2
        print(
            f"clip: {args.seconds:g} s of {args.width}x{args.height} at {args.fps} fps; "
            f"{rows} U-Net rows per path",
            flush=True,
        )
        results = {
            "reference": run("reference", reference_score, model, slowfast, video, recipe),
            "genziqa": run("genziqa", genziqa_score, model, slowfast, video, recipe),
        }
    reference, ours = results["reference"]["score"], results["genziqa"]["score"]
    relative = abs(reference - ours) / max(abs(reference), 1e-12)
    speedup = results["reference"]["seconds_per_video"] / results["genziqa"]["seconds_per_video"]
    print(f"  speed-up over the reference approach: {speedup:.2f}x")
    if args.frames != 8:
        for figures in results.values():
            figures["extrapolated_seconds_per_video_k8"] = extrapolate(figures, args.frames, 8)
        ref, gen = (results[n]["extrapolated_seconds_per_video_k8"] for n in results)
        print(
            f"  extrapolated to K=8 (VAE and U-Net x {8 / args.frames:g}): reference "
            f"{ref:.1f} s/video, genziqa {gen:.1f} s/video ({ref / gen:.2f}x)"
        )
    print(
        f"  scores: reference {reference:.6f}, genziqa {ours:.6f}: {relative:.2g} relative "
        f"({'within' if relative <= 1e-4 else 'OUTSIDE'} 1e-4)"
    )
    summary = {
        "clip": {
            "seconds": args.seconds,
            "fps": args.fps,
            "width": args.width,
            "height": args.height,
        },
        "frames": args.frames,
        "timesteps": list(model.config.timesteps),
        "resolution": model.resolution,
        "tiny": args.tiny,
        "threads": torch.get_num_threads(),
        "paths": results,
        "speedup": speedup,
        "relative_score_difference": relative,
    }
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    return summary


if __name__ == "__main__":
    main()
