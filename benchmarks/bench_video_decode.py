"""Video input cost: seconds per video and peak memory of genziqa's decoding, against decoding
every frame (what the reference's ``skvideo.io.vread`` does).

It encodes its own synthetic clip (default 10 s of 1080p30 H.264 with moving content and
noise, so it is not trivially compressible), then runs each mode in a fresh subprocess so
every peak RSS is that mode's own:

- ``frames``: GenzVQA's K=8 frames (``sample_frames``, resized to 512 with the image rule);
- ``frames+motion``: the K frames and SimpleVQA's motion clips (32 frames per second at 224,
  bilinear) from ONE decoding pass, the clips streamed through ``MotionFeatureSink`` with a
  stand-in network (SlowFast itself is not timed here: on a CPU it costs seconds per clip);
- ``decode-all``: every frame decoded to full-size RGB and kept, as ``vread`` does.

    python benchmarks/bench_video_decode.py                  # a minute or two here
    python benchmarks/bench_video_decode.py --seconds 20 --fps 60 --json figures.json
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

MODES = ("frames", "frames+motion", "decode-all")


def write_clip(path: Path, seconds: float, fps: int, width: int, height: int) -> Path:
    """A moving noisy texture, H.264 (libx264 ultrafast, crf 23: B-frames off, as cheap to
    encode as possible; decoding cost is what is measured)."""
    import av

    rng = np.random.default_rng(0)
    texture = rng.integers(0, 256, (height // 4 + 64, width // 4 + 64, 3), dtype=np.uint8)
    texture = np.kron(texture, np.ones((4, 4, 1), np.uint8))  # blocks of 4 x 4 pixels
    with av.open(str(path), "w") as output:
        stream = output.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "23"}
        for i in range(int(seconds * fps)):
            dy, dx = (3 * i) % 256, (5 * i) % 256
            frame = texture[dy : dy + height, dx : dx + width]
            video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            for packet in stream.encode(video_frame):
                output.mux(packet)
        for packet in stream.encode():
            output.mux(packet)
    return path


class _StandIn:
    """A network stand-in with SlowFast's output sizes (the sink needs features() and a
    parameter for the device)."""

    def __init__(self) -> None:
        import torch

        self._parameter = torch.zeros(())

    def parameters(self):
        yield self._parameter

    def features(self, slow, fast):
        import torch

        batch = slow.shape[0]
        return torch.zeros(batch, 2048), torch.zeros(batch, 256)


def run_mode(mode: str, video: Path, k: int) -> dict[str, float]:
    """One mode in this process: seconds and peak RSS (the process's own peak)."""
    from genziqa.io.video import FrameCollector, decode_into
    from genziqa.video.frames import sample_indices
    from genziqa.video.motion import MotionFeatureSink

    start, cpu = time.perf_counter(), time.process_time()
    figures: dict[str, float] = {}
    if mode == "decode-all":
        import av

        kept = []
        with av.open(str(video)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                kept.append(frame.to_ndarray(format="rgb24"))
        figures["frames_kept"] = len(kept)
        figures["kept_bytes"] = sum(a.nbytes for a in kept)
    else:
        collector = FrameCollector(lambda info: sample_indices(info.num_frames, k), size=512)
        sinks = [collector]
        motion = None
        if mode == "frames+motion":
            motion = MotionFeatureSink(_StandIn())  # type: ignore[arg-type]
            sinks.append(motion)
        info = decode_into(video, sinks)
        figures["frames_kept"] = len(collector.frames())
        if motion is not None:
            slow, _ = motion.result()
            figures["motion_clips"] = slow.shape[0]
            figures["motion_frames_decoded_to_rgb"] = len(
                {i for clip in motion.clips for i in clip}
            )
        figures["num_frames"] = info.num_frames or 0
    figures["seconds"] = time.perf_counter() - start
    figures["cpu_seconds"] = time.process_time() - cpu
    figures["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return figures


def baseline_rss_mib() -> float:
    """Peak RSS of a process that imports the same modules and does nothing else."""
    code = (
        "import resource, av, torch, genziqa.io.video, genziqa.video.motion;"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated subset")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--mode", help=argparse.SUPPRESS)  # internal: one mode, JSON out
    parser.add_argument("--video", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.mode:
        print(json.dumps(run_mode(args.mode, args.video, args.k)))
        return {}

    modes = [m for m in args.modes.split(",") if m]
    unknown = set(modes) - set(MODES)
    if unknown:
        parser.error(f"unknown modes {sorted(unknown)}; choose from {', '.join(MODES)}")
    with tempfile.TemporaryDirectory(prefix="bench-video-") as folder:
        video = Path(folder) / "clip.mp4"
        started = time.perf_counter()
        write_clip(video, args.seconds, args.fps, args.width, args.height)
        print(
            f"clip: {args.seconds:g} s of {args.width}x{args.height} at {args.fps} fps, "
            f"{video.stat().st_size / 2**20:.1f} MiB, encoded in "
            f"{time.perf_counter() - started:.1f} s"
        )
        baseline = baseline_rss_mib()
        print(f"baseline peak RSS (imports only): {baseline:.0f} MiB")
        results = {}
        for mode in modes:
            command = [sys.executable, __file__, "--mode", mode, "--video", str(video)]
            out = subprocess.run(
                [*command, "--k", str(args.k)], capture_output=True, text=True, check=True
            )
            figures = json.loads(out.stdout.strip().splitlines()[-1])
            figures["rss_over_baseline_mib"] = figures["peak_rss_mib"] - baseline
            results[mode] = figures
            extra = ""
            if "motion_clips" in figures:
                extra = (
                    f", {figures['motion_clips']:.0f} motion clips from "
                    f"{figures['motion_frames_decoded_to_rgb']:.0f} frames"
                )
            print(
                f"{mode:>14}: {figures['seconds']:6.2f} s/video ({figures['cpu_seconds']:.2f} "
                f"CPU s), peak RSS "
                f"{figures['peak_rss_mib']:6.0f} MiB (+{figures['rss_over_baseline_mib']:.0f} "
                f"over imports){extra}"
            )
    summary = {
        "clip": {
            "seconds": args.seconds,
            "fps": args.fps,
            "width": args.width,
            "height": args.height,
        },
        "k": args.k,
        "baseline_peak_rss_mib": baseline,
        "modes": results,
    }
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    main()
