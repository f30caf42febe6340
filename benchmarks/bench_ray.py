"""What the Ray Data engine costs: images/s through Ray against the single-process CLI path on
the same cores and the same model, at 1 and 2 scoring actors, and the time to the first row.

    unshare -n sh -c 'ip link set lo up && python benchmarks/bench_ray.py'   # here: loopback only
    python benchmarks/bench_ray.py --images 32 --timesteps 8 --json figures.json

Paths, each from PNG files on disk to score rows, with the tiny test model by default
(``--model``: any model name; with a real one, expect minutes per image on a CPU):

- ``cli``: ``genziqa score``'s own path in this process (model loading, then ``score_files``
  with ``--workers`` DataLoader decoding workers) with ``--threads`` torch threads.
- ``ray-1``: ``jobs.ray_data.score_dataset``, one actor of ``--threads`` torch threads: the
  same cores as ``cli``, so its throughput over the CLI's is the cost of the engine.
- ``ray-2``: two actors of ``--threads`` threads each: twice the cores (ideal: 2x the CLI).

Printed: the time to the first row (from the start: model loading and, for Ray, starting the
actors included), the seconds in all, and the throughput once running: the rows that arrive
after each scorer's first result, over the time from the k-th arrival to the last (k = number
of actors; batches for the CLI, blocks of 4 batches for Ray), and its ratio to the CLI's
(target for ``ray-1``: >= 0.9); and the CPU time per image, once running (same window) and
over the whole run, summed over the whole process tree (this
process and every process it started: DataLoader workers, or Ray's GCS, raylet, workers and
actors), sampled from /proc (Linux), the engine's own overhead included. On a machine shared
with other work, wall-clock rates mostly measure the CPU share each process gets; the CPU
time per image does not depend on that. Scores must be bit-identical to the CLI's (asserted: same
torch thread count). Joins ``--ray-address`` or starts a local cluster with ``--cpus`` logical
CPUs; the CLI path runs first, before Ray starts, because DataLoader workers forked from a
process that runs Ray's threads can hang.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from genziqa.jobs.ray_data import score_dataset
from genziqa.jobs.runtime import ScoringOptions, load_for_scoring
from genziqa.jobs.score_files import score_files


def write_photos(folder: Path, count: int, size: int, seed: int = 0) -> list[Path]:
    """Seeded smooth-plus-noise photos as PNG files."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        base = Image.fromarray((rng.random((8, 8, 3)) * 255).astype(np.uint8))
        smooth = np.asarray(base.resize((size, size), Image.Resampling.BICUBIC), dtype=float)
        noisy = np.clip(smooth + rng.normal(0, 12, smooth.shape), 0, 255).astype(np.uint8)
        path = folder / f"img{i:04d}.png"
        Image.fromarray(noisy).save(path)
        paths.append(path)
    return paths


class TreeCpu:
    """CPU seconds (user + system) used by this process and its descendants while active.

    A thread samples /proc every 0.2 s and keeps each process's last value, so processes that
    exit during the run (Ray's actors at the end of a dataset) still count, less at most 0.2 s.
    """

    def __init__(self) -> None:
        self.tick = os.sysconf("SC_CLK_TCK")
        self.start = self._sample()
        self.seen: dict[int, float] = {}
        self.lock = threading.Lock()
        self.running = True
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _sample(self) -> dict[int, float]:
        parents, cpu = {}, {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry)] = int(fields[1])
            cpu[int(entry)] = (int(fields[11]) + int(fields[12])) / self.tick
        tree, root = {}, os.getpid()
        for pid in cpu:
            ancestor = pid
            while ancestor not in (0, 1, root) and ancestor in parents:
                ancestor = parents[ancestor]
            if ancestor == root:
                tree[pid] = cpu[pid]
        return tree

    def _loop(self) -> None:
        while self.running:
            self.now()
            time.sleep(0.2)

    def now(self) -> float:
        """CPU seconds used so far by the tree (since this sampler started)."""
        sample = self._sample()
        with self.lock:
            self.seen.update(sample)
            return sum(value - self.start.get(pid, 0.0) for pid, value in self.seen.items())

    def stop(self) -> float:
        self.running = False
        self.thread.join()
        return self.now()


def run_cli(paths: list[Path], options: ScoringOptions, args, cpu: TreeCpu) -> tuple[list, dict]:
    """Arrivals [(seconds since the start, rows, tree CPU seconds)] and scores, CLI path."""
    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        return _score_cli(paths, options, args, cpu)
    finally:
        torch.set_num_threads(threads)


def _score_cli(paths: list[Path], options: ScoringOptions, args, cpu: TreeCpu):
    start = time.perf_counter()
    model = load_for_scoring(options)
    arrivals: list[tuple[float, int]] = []
    scores: dict[str, float] = {}

    def write(rows):
        arrivals.append((time.perf_counter() - start, len(rows), cpu.now()))
        scores.update((str(r["path"]), float(r["score"])) for r in rows)

    score_files(model, paths, write, batch_size=args.batch_size, num_workers=args.workers)
    return arrivals, scores


def run_ray(folder: Path, options: ScoringOptions, actors: int, args, cpu: TreeCpu):
    """Arrivals and scores through ``score_dataset`` (blocks as the actors finish them)."""
    start = time.perf_counter()
    dataset = score_dataset(
        [str(folder)], options, actors=actors, threads=args.threads, batch_size=args.batch_size
    )
    arrivals: list[tuple[float, int]] = []
    scores: dict[str, float] = {}
    blocks = dataset.iter_batches(batch_size=None, batch_format="pyarrow", prefetch_batches=0)
    for block in blocks:
        arrivals.append((time.perf_counter() - start, len(block), cpu.now()))
        scores.update(zip(block["path"].to_pylist(), block["score"].to_pylist(), strict=True))
    return arrivals, scores


def figures_of(arrivals: list[tuple[float, int, float]], scorers: int, cpu_total: float) -> dict:
    """First row, total, and once running (after each scorer's first result): images/s and
    CPU seconds per image; CPU seconds per image over the whole run."""
    rows = sum(count for _, count, _ in arrivals)
    after = sum(count for _, count, _ in arrivals[scorers:])
    kth = arrivals[min(scorers, len(arrivals)) - 1]  # too few results: no running figures
    span, cpu_span = arrivals[-1][0] - kth[0], arrivals[-1][2] - kth[2]
    return {
        "images": rows,
        "results": len(arrivals),
        "first_row_s": round(arrivals[0][0], 2),
        "total_s": round(arrivals[-1][0], 2),
        "running_images_per_s": round(after / span, 3) if after else float("nan"),
        "running_cpu_s_per_image": round(cpu_span / after, 3) if after else float("nan"),
        "cpu_s_per_image": round(cpu_total / rows, 3),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--size", type=int, default=96, help="photo side in pixels")
    parser.add_argument("--model", default="genziqa-tiny")
    parser.add_argument("--timesteps", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per scorer")
    parser.add_argument("--workers", type=int, default=1, help="CLI decoding workers")
    parser.add_argument("--cpus", type=int, default=4, help="logical CPUs of a local cluster")
    parser.add_argument("--ray-address", default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    import ray

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    options = ScoringOptions(model=args.model, timesteps=args.timesteps, offline=True)
    started_here = not ray.is_initialized()
    if not started_here and args.workers:
        parser.error("Ray runs in this process already: forked workers would hang; --workers 0")
    figures: dict = {"settings": {**vars(args), "json": None}, "paths": {}}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "photos"
        paths = write_photos(folder, args.images, args.size)
        cpu = TreeCpu()
        arrivals, cli_scores = run_cli(paths, options, args, cpu)
        figures["paths"]["cli"] = figures_of(arrivals, 1, cpu.stop())
        if started_here:
            address = args.ray_address or "local"
            local = {"num_cpus": args.cpus, "include_dashboard": False}
            extra = local if address == "local" else {}
            ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False, **extra)
        try:
            for actors in (1, 2):
                name = f"ray-{actors}"
                cpu = TreeCpu()
                arrivals, scores = run_ray(folder, options, actors, args, cpu)
                figures["paths"][name] = figures_of(arrivals, actors, cpu.stop())
                assert scores.keys() == cli_scores.keys(), f"{name}: not the same inputs"
                assert scores == cli_scores, f"{name}: scores differ from the CLI's"
        finally:
            if started_here:
                ray.shutdown()
    cli = figures["paths"]["cli"]
    for row in figures["paths"].values():
        row["running_vs_cli"] = round(row["running_images_per_s"] / cli["running_images_per_s"], 3)
        ratio = row["running_cpu_s_per_image"] / cli["running_cpu_s_per_image"]
        row["running_cpu_vs_cli"] = round(ratio, 3)
    print(
        f"{args.images} images, model {args.model}, {args.timesteps} timesteps, batch "
        f"{args.batch_size}, {args.threads} torch thread(s) per scorer, torch {torch.__version__}; "
        f"scores bit-identical on every path"
    )
    columns = ("first row s", "total s", "run img/s", "vs cli", "run CPU s/img", "vs cli")
    print(f"{'path':<6}", *(f"{c:>13}" for c in columns))
    for name, row in figures["paths"].items():
        values = (
            row["first_row_s"],
            row["total_s"],
            row["running_images_per_s"],
            row["running_vs_cli"],
            row["running_cpu_s_per_image"],
            row["running_cpu_vs_cli"],
        )
        print(f"{name:<6}", *(f"{v:>13.3f}" for v in values))
    print("CPU s per image over the whole run (start-up included):", end="")
    print(*(f" {name} {row['cpu_s_per_image']:.3f}" for name, row in figures["paths"].items()))
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2))
    return figures


if __name__ == "__main__":
    main()
