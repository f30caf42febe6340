"""The ``genziqa`` command line: a thin shell over the library (typer + rich).

``main(argv)`` returns the exit code instead of exiting, so tests call it in-process.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from .config import DEFAULT_BACKBONE, DEFAULT_MAX_PIXELS

EXIT_OK = 0
EXIT_CRASH = 1
EXIT_USAGE = 2
EXIT_SOME_FAILED = 3

EXIT_CODES_HELP = (
    "Exit codes: 0 every file scored; 1 unexpected error; 2 usage error (bad flags, no input "
    "found, unknown model or backbone not available); 3 finished, but some files could not be "
    "scored (see the error rows)."
)

app = typer.Typer(
    name="genziqa",
    help="No-reference image quality scores from a Stable Diffusion prior (GenzIQA).",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)
err = Console(stderr=True, highlight=False, soft_wrap=True)


try:  # typer >= 0.24 ships its own click; older typer re-exports click's exceptions
    from typer import TyperException as _CliError
except ImportError:  # pragma: no cover
    from click import ClickException as _CliError


class UsageProblem(Exception):
    """A mistake in how the command was called: reported in one line, exit code 2."""


# --------------------------------------------------------------------------------- score


@app.command(epilog=EXIT_CODES_HELP)
def score(
    paths: Annotated[
        list[str], typer.Argument(metavar="PATH", help="Image files, folders or glob patterns.")
    ],
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            help="Trained model folder, hub repo, or built-in name. Default: the untrained "
            "zero-shot baseline.",
        ),
    ] = None,
    backbone: Annotated[
        str | None,
        typer.Option(
            help="Stable Diffusion weights: hub id, diffusers folder or .safetensors file "
            "(default: the model's own).",
        ),
    ] = None,
    backbone_config: Annotated[
        str | None,
        typer.Option(help="Component configs (folder or hub id) for a single-file backbone."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write rows to .csv, .jsonl or .parquet (resumes if present)."
        ),
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Images per batch.")] = 8,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:N or mps.")] = "auto",
    dtype: Annotated[str, typer.Option(help="auto, fp32, bf16 or fp16.")] = "auto",
    timesteps: Annotated[
        int | None,
        typer.Option(min=1, help="Number of scoring timesteps (default: the model's, 8)."),
    ] = None,
    resolution: Annotated[
        int | None, typer.Option(min=8, help="Square input size (default: the model's).")
    ] = None,
    preset: Annotated[
        str | None,
        typer.Option(help="Speed preset: reference, fast (1.9x), faster (5-7x), fastest (~20x)."),
    ] = None,
    compile: Annotated[
        bool, typer.Option(help="torch.compile the U-Net (minutes once; for GPUs).")
    ] = False,
    recursive: Annotated[bool, typer.Option("--recursive", "-r", help="Descend into folders.")] = (
        False
    ),
    overwrite: Annotated[bool, typer.Option(help="Start the output afresh.")] = False,
    retry_errors: Annotated[
        bool, typer.Option(help="Score again the files that have error rows in the output.")
    ] = False,
    workers: Annotated[
        int | None, typer.Option(min=0, help="Decoding worker processes (default: up to 4).")
    ] = None,
    max_pixels: Annotated[
        int,
        typer.Option(help="Refuse larger images as decompression bombs (0: no limit)."),
    ] = DEFAULT_MAX_PIXELS,
    shard: Annotated[
        str | None,
        typer.Option(
            metavar="K/N",
            help="Score only shard K of N (by a hash of each path): run N processes, e.g. one "
            "per GPU, each with its own --output.",
        ),
    ] = None,
    offline: Annotated[bool, typer.Option(help="Never use the network.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress or notes.")] = False,
) -> int:
    """Score images. A few: a table on the terminal. Many: use --output.

    Rows hold path, score, status (ok/error) and the error message. They are written as each
    batch finishes, so an interrupted run loses at most one batch, and running the same
    command again skips what the output already holds.
    """
    from .images import find_images, parse_shard, select_shard
    from .outputs import ScoreWriter, format_for
    from .presets import check_preset
    from .score_files import score_files

    if overwrite and retry_errors:
        raise UsageProblem("--overwrite and --retry-errors exclude each other")
    if (overwrite or retry_errors) and output is None:
        raise UsageProblem("--overwrite and --retry-errors act on an --output file; none given")
    if preset is not None:
        try:
            check_preset(preset)
        except ValueError as error:
            raise UsageProblem(str(error)) from None
    try:
        shard_index, shard_count = parse_shard(shard) if shard else (1, 1)
    except ValueError as error:
        raise UsageProblem(str(error)) from None
    if output is not None:
        try:
            format_for(output)
        except ValueError as error:
            raise UsageProblem(str(error)) from None
    try:
        files = find_images(paths, recursive=recursive)
    except FileNotFoundError as error:
        raise UsageProblem(str(error)) from None
    if not files:
        raise UsageProblem(f"no image files found in {' '.join(paths)}")
    if shard_count > 1:
        found = len(files)
        files = select_shard(files, shard_index, shard_count)
        if not quiet:
            err.print(f"Shard {shard_index}/{shard_count}: {len(files)} of {found} images.")

    wanted = {str(p) for p in files}
    try:
        writer = (
            ScoreWriter(output, overwrite=overwrite, retry_errors=retry_errors and wanted)
            if output
            else None
        )
    except (ValueError, OSError) as error:
        raise UsageProblem(str(error)) from None
    try:
        todo = [p for p in files if writer is None or str(p) not in writer.done]
        if writer is not None and len(todo) < len(files) and not quiet:
            err.print(f"Resuming: {len(files) - len(todo)} of {len(files)} already in {output}.")
        rows_for_table: list[dict] = []
        summary = None
        if todo:
            scorer = _load_scoring_model(
                model,
                backbone,
                backbone_config,
                device,
                dtype,
                timesteps,
                resolution,
                offline,
                quiet,
                preset=preset,
                compile=compile,
            )
            started = time.perf_counter()  # images/s without the model's loading
            write = writer.write if writer is not None else rows_for_table.extend
            with _progress(len(todo), quiet) as advance:
                summary = score_files(
                    scorer,
                    todo,
                    write,
                    batch_size=batch_size,
                    num_workers=workers,
                    max_pixels=max_pixels or None,
                    on_progress=advance,
                )
            elapsed = time.perf_counter() - started
    finally:
        if writer is not None:
            writer.close()

    if writer is None:
        _print_rows(rows_for_table)
    failed = (summary.failed if summary else 0) + len(writer.failed & wanted if writer else ())
    if summary is not None and not quiet:
        rate = (summary.scored + summary.failed) / elapsed if elapsed > 0 else 0.0
        where = f" -> {output}" if output else ""
        err.print(
            f"Scored {summary.scored} of {summary.scored + summary.failed} images"
            f"{f' ({summary.failed} failed)' if summary.failed else ''}{where} in {elapsed:.1f} s "
            f"({rate:.2f} images/s)."
        )
    if failed:
        if not quiet:
            err.print(f"{failed} file(s) could not be scored; see the error rows.")
        return EXIT_SOME_FAILED
    return EXIT_OK


def _load_scoring_model(
    model: str | None,
    backbone: str | None,
    backbone_config: str | None,
    device: str,
    dtype: str,
    timesteps: int | None,
    resolution: int | None,
    offline: bool,
    quiet: bool,
    preset: str | None = None,
    compile: bool = False,
):
    _quiet_libraries()
    from .backbone import BackboneNotFoundError
    from .config import spaced_timesteps
    from .inference import prepare_for_scoring, resolve_device, resolve_dtype
    from .model import GenzIQA, ModelNotFoundError
    from .presets import preset_settings

    name = model or "zero-shot"
    if model is None and not quiet:
        err.print(
            f"No --model given: scoring with the zero-shot baseline on "
            f"{backbone or DEFAULT_BACKBONE} (UNTRAINED: hand-written prompts, no learned context "
            f"or LoRA)."
        )
    overrides = {} if backbone_config is None else {"backbone.config": backbone_config}
    try:
        torch_device = resolve_device(device)
        torch_dtype = resolve_dtype(dtype, torch_device)
    except ValueError as error:
        raise UsageProblem(str(error)) from None
    try:
        loaded = GenzIQA.from_pretrained(
            name,
            backbone=backbone,
            local_files_only=True if offline else None,
            overrides=overrides,
        )
    except (ModelNotFoundError, BackboneNotFoundError, ValueError) as error:
        raise UsageProblem(str(error)) from None
    settings = preset_settings(preset, loaded.resolution) if preset else {}
    if timesteps is not None:  # an explicit flag wins over the preset
        settings["timesteps"] = spaced_timesteps(timesteps)
    if resolution is not None:
        settings["resolution"] = resolution
    loaded.set_scoring(**settings)
    return prepare_for_scoring(loaded, torch_device, torch_dtype, compile=compile)


class _progress:
    """A rich progress bar on stderr with images/s and time left; silent when not a terminal."""

    def __init__(self, total: int, quiet: bool) -> None:
        self.total = total
        self.enabled = not quiet and err.is_terminal

    def __enter__(self):
        if not self.enabled:
            return lambda n: None
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.bar = Progress(
            TextColumn("scoring"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn("[progress.data.speed]{task.fields[rate]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("left"),
            console=err,
        )
        self.bar.start()
        self.task = self.bar.add_task("score", total=self.total, rate="")
        self.started = time.perf_counter()
        self.done = 0

        def advance(count: int) -> None:
            self.done += count
            rate = self.done / max(time.perf_counter() - self.started, 1e-9)
            self.bar.update(self.task, advance=count, rate=f"{rate:.2f} images/s")

        return advance

    def __exit__(self, *exc) -> None:
        if self.enabled:
            self.bar.stop()


def _print_rows(rows: list[dict]) -> None:
    """Rows as a table on a terminal, as CSV when stdout is a pipe or file."""
    out = Console(highlight=False, soft_wrap=True)
    cwd = Path.cwd()

    def shown(path: str) -> str:
        try:
            return str(Path(path).relative_to(cwd))
        except ValueError:
            return path

    if not out.is_terminal:
        import csv

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["path", "score", "status", "error"])
        for row in rows:
            score = "" if row["status"] == "error" else repr(float(row["score"]))
            writer.writerow([shown(str(row["path"])), score, row["status"], row["error"]])
        sys.stdout.flush()
        return
    table = Table(show_edge=False)
    table.add_column("path")
    table.add_column("score", justify="right")
    table.add_column("status")
    table.add_column("error", overflow="fold")
    for row in rows:
        ok = row["status"] == "ok"
        table.add_row(
            shown(str(row["path"])),
            f"{float(row['score']):.4f}" if ok else "",
            "ok" if ok else "[red]error[/red]",
            str(row["error"]),
        )
    out.print(table)


# ---------------------------------------------------------------------------------- info


@app.command()
def info(
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Model to describe (default: zero-shot).")
    ] = None,
    backbone: Annotated[str | None, typer.Option(help="Backbone to check.")] = None,
) -> int:
    """Versions, device, the model's settings and whether its backbone is available offline."""
    import importlib.metadata as metadata
    import json
    import platform

    import torch

    from .backbone import backbone_availability, hub_cache_dir, offline_mode
    from .model import ModelNotFoundError, load_config

    out = Console(highlight=False, soft_wrap=True)
    out.print("[bold]genziqa[/bold]")
    packages = [
        "genziqa",
        "torch",
        "diffusers",
        "transformers",
        "peft",
        "accelerate",
        "safetensors",
    ]
    versions = {}
    for package in packages:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    out.print(f"  python        {platform.python_version()} ({platform.platform()})")
    for package, version in versions.items():
        out.print(f"  {package:<13} {version}")
    out.print("[bold]device[/bold]")
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(index)
            out.print(f"  cuda:{index}        {props.name}, {props.total_memory / 2**30:.1f} GiB")
    else:
        out.print("  cuda          not available")
    mps = getattr(torch.backends, "mps", None)
    out.print(f"  mps           {'available' if mps and mps.is_available() else 'not available'}")
    out.print(f"  cpu threads   {torch.get_num_threads()}")

    name = model or "zero-shot"
    try:  # from the cache only: info never downloads
        config, _ = load_config(name, backbone=backbone, local_files_only=True)
    except (ModelNotFoundError, ValueError) as error:
        raise UsageProblem(str(error)) from None
    out.print(
        f"[bold]model[/bold] {name}{' (zero-shot baseline, untrained)' if config.zero_shot else ''}"
    )
    for line in json.dumps(config.to_dict(), indent=2).splitlines()[1:-1]:
        out.print(f"  {line}")
    out.print("[bold]backbone[/bold]")
    out.print(f"  hub cache     {hub_cache_dir()}")
    out.print(f"  offline mode  {'on (HF_HUB_OFFLINE)' if offline_mode() else 'off'}")
    out.print(f"  availability  {backbone_availability(config.backbone)}")
    return EXIT_OK


# ------------------------------------------------------------------------------ datasets


@app.command()
def datasets() -> int:
    """The databases `train` and `evaluate` read, and what each expects on disk."""
    from .datasets import describe_datasets

    out = Console(highlight=False, soft_wrap=True)
    table = Table(show_lines=True)
    for column in ("name", "database", "label", "split", "expected under ROOT"):
        table.add_column(column, overflow="fold")
    for entry in describe_datasets():
        low, high = entry.native_range or (None, None)
        label = f"{entry.label_name}, {'lower' if entry.lower_better else 'higher'} is better"
        if low is not None:
            label += f", {low:g}-{high:g}"
        split = "official" if entry.has_official_split else "seeded, by content"
        table.add_row(entry.name, entry.title, label, split, entry.layout)
    out.print(table)
    out.print("Use as NAME=ROOT, e.g. `genziqa evaluate --model M --data clive=/data/ChallengeDB`.")
    return EXIT_OK


@app.command(
    epilog="Several GPUs: accelerate launch -m genziqa train ... (same flags; "
    "--batch-size is per process)."
)
def train(
    train_data: Annotated[
        list[str], typer.Option("--train", help="Training database as NAME=ROOT (repeatable).")
    ],
    out: Annotated[Path, typer.Option(help="Run folder: checkpoints, logs, resume state.")],
    val: Annotated[
        list[str] | None,
        typer.Option(
            help="Validation database NAME=ROOT (repeatable; default: the training "
            "databases' held-out split)."
        ),
    ] = None,
    backbone: Annotated[str, typer.Option(help="Stable Diffusion backbone.")] = DEFAULT_BACKBONE,
    epochs: Annotated[int, typer.Option(min=1)] = 10,
    batch_size: Annotated[
        int, typer.Option(min=1, help="Images per step in each process (global: x processes).")
    ] = 16,
    lr: Annotated[float, typer.Option()] = 1e-4,
    weight_decay: Annotated[float, typer.Option()] = 0.01,
    grad_clip: Annotated[float, typer.Option()] = 1.0,
    target: Annotated[
        str, typer.Option(help="mos: raw MOS (reference); unit: labels scaled to [0, 1].")
    ] = "mos",
    loss: Annotated[
        str, typer.Option(help="mse (reference) or plcc: 1 - batch Pearson correlation.")
    ] = "mse",
    flips: Annotated[bool, typer.Option(help="Random horizontal/vertical flips.")] = True,
    train_split: Annotated[
        str, typer.Option(help="train: the official/seeded train split; all: whole databases.")
    ] = "train",
    seed: Annotated[int, typer.Option()] = 0,
    split_seed: Annotated[int, typer.Option()] = 0,
    resolution: Annotated[int | None, typer.Option(help="Input size (default: native).")] = None,
    n_ctx: Annotated[int, typer.Option(help="Learned context vectors.")] = 16,
    lora_rank: Annotated[int, typer.Option(help="LoRA rank (0: none).")] = 4,
    calibration: Annotated[bool, typer.Option(help="Learn an affine head a*s+b.")] = False,
    mixed_precision: Annotated[str, typer.Option(help="no, bf16 or fp16.")] = "no",
    gradient_checkpointing: Annotated[bool, typer.Option()] = False,
    latent_cache: Annotated[
        str, typer.Option(help="Latent cache folder; 'auto' (genziqa cache) or 'none'.")
    ] = "auto",
    workers: Annotated[int, typer.Option(min=0)] = 2,
    log_every: Annotated[int, typer.Option(min=1)] = 10,
    val_every: Annotated[int, typer.Option(min=1, help="Validate every N epochs.")] = 1,
    save_every: Annotated[int, typer.Option(min=0, help="Resume state every N steps.")] = 0,
    max_steps: Annotated[int | None, typer.Option(min=1, help="Stop after N steps.")] = None,
    resume: Annotated[bool, typer.Option(help="Continue the run in --out.")] = False,
    tensorboard: Annotated[bool, typer.Option(help="Also log to TensorBoard.")] = False,
    cpu: Annotated[bool, typer.Option(help="Train on the CPU even if a GPU is there.")] = False,
) -> int:
    """Train prompts and cross-attention LoRA on one or more databases (reference recipe)."""
    from .backbone import BackboneNotFoundError
    from .config import BackboneConfig, GenzIQAConfig, LoRAConfig, PreprocessConfig, PromptConfig
    from .datasets import DatasetError
    from .train import TrainConfig, TrainSetupError
    from .train import train as run_training

    _quiet_libraries()

    try:
        model_config = GenzIQAConfig(
            backbone=BackboneConfig(source=backbone),
            prompts=PromptConfig(n_ctx=n_ctx),
            preprocess=PreprocessConfig(resolution=resolution),
            lora=LoRAConfig(rank=lora_rank),
            calibration=calibration,
        )
        config = TrainConfig.from_dict(
            {
                "train": list(train_data),
                "val": list(val or []),
                "out": str(out),
                "model": model_config.to_dict(),
                "epochs": epochs,
                "batch_size": batch_size,
                "lr": lr,
                "weight_decay": weight_decay,
                "grad_clip": grad_clip,
                "target": target,
                "loss": loss,
                "flips": flips,
                "train_split": train_split,
                "seed": seed,
                "split_seed": split_seed,
                "mixed_precision": mixed_precision,
                "gradient_checkpointing": gradient_checkpointing,
                "latent_cache": None if latent_cache == "none" else latent_cache,
                "num_workers": workers,
                "log_every": log_every,
                "val_every": val_every,
                "save_every": save_every,
                "max_steps": max_steps,
                "tensorboard": tensorboard,
                "cpu": cpu,
            }
        )
    except ValueError as error:
        raise UsageProblem(str(error)) from None
    try:
        result = run_training(config, resume=resume, log=lambda text: err.print(text, markup=False))
    except (DatasetError, TrainSetupError, BackboneNotFoundError) as error:
        raise UsageProblem(str(error)) from None
    best = (
        f"epoch {result.best_epoch}, SRCC {result.best_srcc:.4f}" if result.best_epoch else "none"
    )
    if result.main_process:
        err.print(
            f"Done: {result.global_step} steps in {result.seconds:.0f} s; best checkpoint "
            f"{out / 'best'} ({best})."
        )
    return EXIT_OK


@app.command()
def evaluate(
    model: Annotated[str, typer.Option("--model", "-m", help="Model folder, hub repo or name.")],
    data: Annotated[list[str], typer.Option(help="Database as NAME=ROOT (repeatable).")],
    out: Annotated[Path | None, typer.Option(help="Folder for results and plots.")] = None,
    split: Annotated[str, typer.Option(help="all (cross-database) or test.")] = "all",
    split_seed: Annotated[
        int, typer.Option(help="Seed of the held-out split (--split test): the training one.")
    ] = 0,
    overwrite: Annotated[
        bool, typer.Option(help="Score again, dropping the predictions already in --out.")
    ] = False,
    backbone: Annotated[str | None, typer.Option(help="Override the model's backbone.")] = None,
    batch_size: Annotated[int, typer.Option(min=1)] = 8,
    device: Annotated[str, typer.Option()] = "auto",
    dtype: Annotated[str, typer.Option()] = "auto",
    timesteps: Annotated[int | None, typer.Option(min=1)] = None,
    workers: Annotated[int | None, typer.Option(min=0)] = None,
    offline: Annotated[bool, typer.Option()] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> int:
    """SRCC, PLCC (raw and fitted), KRCC, RMSE and N per database; CSV, JSON and plots."""
    from .datasets import DatasetError
    from .evaluate import EvaluationFolderError, to_markdown
    from .evaluate import evaluate as run_evaluation

    if split not in ("all", "test"):
        raise UsageProblem(f"--split must be 'all' or 'test', got {split!r}")
    scorer = _load_scoring_model(
        model, backbone, None, device, dtype, timesteps, None, offline, quiet=True
    )
    if out is None:  # runs/flive/best -> eval-flive-best
        folder = Path(model)
        out = Path(
            f"eval-{folder.parent.name}-{folder.name}" if folder.is_dir() else "eval-" + folder.name
        )
    try:
        results = run_evaluation(
            scorer,
            list(data),
            out,
            split=split,
            split_seed=split_seed,
            overwrite=overwrite,
            batch_size=batch_size,
            num_workers=workers,
            log=(lambda text: None) if quiet else (lambda text: err.print(text, markup=False)),
        )
    except (DatasetError, EvaluationFolderError) as error:
        raise UsageProblem(str(error)) from None
    Console(highlight=False, soft_wrap=True).print(to_markdown(results), markup=False)
    if not quiet:
        err.print(f"Wrote {out / 'results.csv'}, {out / 'results.json'} and scatter plots.")
    return EXIT_SOME_FAILED if results["failed"].sum() else EXIT_OK


@app.command("make-synthetic")
def make_synthetic(
    root: Annotated[Path, typer.Argument(help="Folder to write the benchmark into.")],
    size: Annotated[int, typer.Option(min=32, help="Image side in pixels.")] = 256,
    seed: Annotated[int, typer.Option(help="Seed of the noise and of the content split.")] = 0,
    test_fraction: Annotated[float, typer.Option(help="Share of contents held out.")] = 0.3,
) -> int:
    """Build the synthetic benchmark (graded blur, noise, JPEG, contrast, exposure) offline."""
    from .synthetic import make_benchmark

    try:
        table = make_benchmark(root, size=size, seed=seed, test_fraction=test_fraction)
    except ValueError as error:
        raise UsageProblem(str(error)) from None
    counts = table["split"].value_counts()
    err.print(
        f"Wrote {len(table)} images of {table['ref_id'].nunique()} contents to {root} "
        f"(train {counts.get('train', 0)}, test {counts.get('test', 0)}); "
        f"use it as synthetic={root}."
    )
    return EXIT_OK


# --------------------------------------------------------------------------------- entry


def _quiet_libraries() -> None:
    """No per-file "Loading weights" bars or info logs from the model libraries."""
    import diffusers
    import transformers

    diffusers.utils.logging.disable_progress_bar()
    diffusers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit code (documented in ``genziqa score --help``)."""
    try:
        result = app(args=argv, prog_name="genziqa", standalone_mode=False)
    except UsageProblem as problem:
        err.print(f"error: {problem}", markup=False)
        return EXIT_USAGE
    except typer.Exit as done:
        return done.exit_code
    except typer.Abort:
        err.print("aborted")
        return 130
    except _CliError as error:
        error.show()
        return getattr(error, "exit_code", EXIT_USAGE)
    return result if isinstance(result, int) else EXIT_OK


# `genziqa serve` lives in its own module, which imports no FastAPI until the command runs.
from .serve.command import EPILOG as _SERVE_EPILOG  # noqa: E402
from .serve.command import serve as _serve  # noqa: E402

app.command("serve", epilog=_SERVE_EPILOG)(_serve)
