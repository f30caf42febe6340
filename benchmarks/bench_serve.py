"""The HTTP service against offline scoring of the same images, in the same run, on loopback.

    python benchmarks/bench_serve.py                     # genziqa-tiny on the CPU
    python benchmarks/bench_serve.py --timesteps 2       # less model work: overhead shows more
    python benchmarks/bench_serve.py --threads 1         # on a CPU shared with other jobs
    python benchmarks/bench_serve.py --model M --device cuda --requests 400

1. Offline: ``GenzIQA.score(paths, batch_size=B)`` on the JPEG files, with the model loaded
   the way `genziqa score` and the service load it; images/s.
2. The service: `genziqa serve` as a subprocess (same model and settings, --max-batch-size B),
   then for each concurrency (1, 4, 16 by default) ``--requests`` single-image requests from
   that many concurrent loopback clients (httpx, asyncio): images/s, p50 and p99 latency,
   mean batch size (from /metrics), and the ratio to offline.
3. Memory: ``--memory-requests`` more requests at concurrency 4, with the server's resident
   memory (VmRSS) at the start, the peak, and the end.
4. Offline again, after the service, so that a busy machine's drift shows.

Every request must come back 200 with the offline score bit for bit: the run fails (exit 1)
if a request is lost or a score differs. The clients share the machine's cores with the
server, as they would on one host.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from common import write_photos


def _load(args):
    from genziqa.jobs.runtime import ScoringOptions, load_for_scoring

    options = ScoringOptions(args.model, device=args.device, timesteps=args.timesteps, offline=True)
    return load_for_scoring(options)


def offline(args, paths: list[Path]) -> tuple[float, dict[str, float]]:
    """images/s of GenzIQA.score on the files (decoding included), and the scores by path."""
    model = _load(args)
    model.score(paths[:1], batch_size=1)  # the first call's set-up is not throughput
    todo = [paths[i % len(paths)] for i in range(args.offline_images)]
    started = time.perf_counter()
    scores = model.score(todo, batch_size=args.max_batch_size)
    elapsed = time.perf_counter() - started
    by_path = {str(p): float(s) for p, s in zip(todo, scores, strict=True)}
    del model
    gc.collect()
    _empty_cuda_cache()
    return len(todo) / elapsed, by_path


def _empty_cuda_cache() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(args, port: int) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "genziqa", "serve", "--model", args.model,
        "--device", args.device, "--port", str(port), "--log-level", "warning",
        "--max-batch-size", str(args.max_batch_size), "--max-wait-ms", str(args.max_wait_ms),
        "--max-queue", str(max(64, 4 * max(args.concurrency))), "--offline",
    ]  # fmt: skip
    if args.timesteps:
        command += ["--timesteps", str(args.timesteps)]
    return subprocess.Popen(command, stderr=subprocess.PIPE, text=True)


def wait_ready(url: str, process: subprocess.Popen, timeout: float = 600) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited: {process.stderr.read()}")
        try:
            if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server did not become ready")


def batch_stats(url: str) -> tuple[float, float]:
    """(model calls, images) of the score batcher so far, from /metrics."""
    import httpx

    values = {}
    for line in httpx.get(f"{url}/metrics").text.splitlines():
        for name in ("count", "sum"):
            if line.startswith(f'genziqa_batch_size_{name}{{kind="score"}}'):
                values[name] = float(line.split()[-1])
    return values.get("count", 0.0), values.get("sum", 0.0)


async def load(
    url: str, payloads: list[tuple[str, bytes]], requests: int, concurrency: int
) -> tuple[float, list[float], list[tuple[str, object]]]:
    """``requests`` single-image posts from ``concurrency`` clients: wall seconds, latencies
    and (path, score or failure) per request."""
    import httpx

    latencies: list[float] = []
    answers: list[tuple[str, object]] = []
    counter = iter(range(requests))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=600) as client:

        async def worker() -> None:
            for index in counter:
                path, data = payloads[index % len(payloads)]
                started = time.perf_counter()
                try:
                    response = await client.post(
                        "/v1/score", files=[("files", (Path(path).name, data, "image/jpeg"))]
                    )
                    latencies.append(time.perf_counter() - started)
                    if response.status_code == 200:
                        answers.append((path, response.json()["results"][0]["score"]))
                    else:
                        answers.append((path, f"HTTP {response.status_code}: {response.text}"))
                except httpx.HTTPError as error:
                    answers.append((path, f"{type(error).__name__}: {error}"))

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - started
    return wall, latencies, answers


def check(answers: list[tuple[str, object]], expected: dict[str, float]) -> list[str]:
    """Problems: requests that failed, scores that differ from offline."""
    problems = []
    for path, answer in answers:
        if not isinstance(answer, float):
            problems.append(f"{path}: {answer}")
        elif answer != expected[path]:
            problems.append(f"{path}: served {answer!r} != offline {expected[path]!r}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="genziqa-tiny")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--timesteps", type=int, default=None)
    parser.add_argument("--images", type=int, default=16, help="distinct JPEG files")
    parser.add_argument("--size", type=int, nargs=2, default=(640, 480), metavar=("W", "H"))
    parser.add_argument("--requests", type=int, default=64, help="per concurrency level")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--memory-requests", type=int, default=1000)
    parser.add_argument("--offline-images", type=int, default=64)
    parser.add_argument("--max-batch-size", type=int, default=8)
    parser.add_argument("--max-wait-ms", type=float, default=10.0)
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads for both the offline model and the server (OMP_NUM_THREADS); "
        "1 on a machine shared with other jobs, where 2 threads measured 40x slower",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.threads is not None:
        import torch

        os.environ["OMP_NUM_THREADS"] = str(args.threads)  # inherited by the server
        torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        paths = write_photos(Path(tmp) / "photos", args.images, tuple(args.size))
        payloads = [(str(p), p.read_bytes()) for p in paths]
        offline_before, expected = offline(args, paths)
        print(f"offline GenzIQA.score (batch {args.max_batch_size}): {offline_before:.2f} img/s")

        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = start_server(args, port)
        problems: list[str] = []
        levels = []
        try:
            wait_ready(url, server)
            asyncio.run(load(url, payloads, 2 * max(args.concurrency), max(args.concurrency)))
            for concurrency in args.concurrency:
                calls0, images0 = batch_stats(url)
                wall, latencies, answers = asyncio.run(
                    load(url, payloads, args.requests, concurrency)
                )
                calls, images = batch_stats(url)
                problems += check(answers, expected)
                levels.append(
                    {
                        "concurrency": concurrency,
                        "requests": args.requests,
                        "answered": len(answers),
                        "images_per_s": args.requests / wall,
                        "p50_ms": 1000 * float(np.percentile(latencies, 50)),
                        "p99_ms": 1000 * float(np.percentile(latencies, 99)),
                        "mean_batch": (images - images0) / max(calls - calls0, 1),
                    }
                )
            samples: list[float] = []
            stop = threading.Event()

            def sample() -> None:
                while not stop.is_set():
                    samples.append(rss_mib(server.pid))
                    time.sleep(0.25)

            rss_start = rss_mib(server.pid)
            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            wall, _, answers = asyncio.run(load(url, payloads, args.memory_requests, 4))
            stop.set()
            sampler.join()
            rss_end = rss_mib(server.pid)
            problems += check(answers, expected)
            memory = {
                "requests": args.memory_requests,
                "answered": len(answers),
                "images_per_s": args.memory_requests / wall,
                "rss_start_mib": rss_start,
                "rss_peak_mib": max([*samples, rss_start, rss_end]),
                "rss_end_mib": rss_end,
            }
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=120)
            except subprocess.TimeoutExpired:
                server.kill()
        offline_after, _ = offline(args, paths)
        print(f"offline GenzIQA.score again, after the service: {offline_after:.2f} img/s")

    reference = (offline_before + offline_after) / 2
    print(f"\nservice vs offline ({reference:.2f} img/s, the mean of both runs):")
    print(" conc   img/s   x offline    p50 ms    p99 ms   mean batch   answered")
    for level in levels:
        level["fraction_of_offline"] = level["images_per_s"] / reference
        print(
            f"{level['concurrency']:5d} {level['images_per_s']:7.2f} "
            f"{level['fraction_of_offline']:10.2f} {level['p50_ms']:9.0f} "
            f"{level['p99_ms']:9.0f} {level['mean_batch']:11.2f}   "
            f"{level['answered']}/{level['requests']}"
        )
    print(
        f"\nmemory over {memory['requests']} requests at concurrency 4 "
        f"({memory['images_per_s']:.2f} img/s, {memory['answered']} answered): server RSS "
        f"{memory['rss_start_mib']:.0f} MiB at the start, {memory['rss_peak_mib']:.0f} peak, "
        f"{memory['rss_end_mib']:.0f} at the end"
    )
    print(f"server exit code after SIGTERM: {server.returncode}")
    if problems:
        print(f"\n{len(problems)} problem(s), e.g.: {problems[:3]}")
    else:
        print("every request answered 200 with the offline score, bit for bit")
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {
                    "model": args.model,
                    "device": args.device,
                    "timesteps": args.timesteps,
                    "max_batch_size": args.max_batch_size,
                    "threads": args.threads,
                    "offline_images_per_s": [offline_before, offline_after],
                    "levels": levels,
                    "memory": memory,
                    "server_exit_code": server.returncode,
                    "problems": problems,
                },
                indent=2,
            )
        )
    return 1 if problems or server.returncode != 0 else 0


if __name__ == "__main__":
    sys.exit(main())
