"""Split a large job into N parts by a hash of each path, with no coordination.

N processes (one per GPU or machine) given the same inputs and ``--shard K/N`` each score a
disjoint part; a file's part is a hash of its absolute path, so it keeps its part when other
files are added or removed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from ..seeding import stable_seed


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` (1 <= K <= N) -> (K, N); ValueError with the accepted form otherwise."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not match or not 1 <= int(match[1]) <= int(match[2]):
        raise ValueError(f"--shard must be K/N with 1 <= K <= N (e.g. 2/4), got {text!r}")
    return int(match[1]), int(match[2])


def select_shard(files: Sequence[Path], index: int, count: int) -> list[Path]:
    """The files of shard ``index`` of ``count`` (1-based)."""
    return [path for path in files if stable_seed(path) % count == index - 1]
