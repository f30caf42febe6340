"""Deterministic, content-disjoint train/val/test splits of a canonical dataset table.

Why hashing rather than a seeded RNG: the assignment must be identical on every machine and
with every numpy/pandas version, and must not depend on the order of the table's rows. Each
group (a reference image, or a single image) gets the key sha256(f"{seed}:{group_id}"), where
group_id is the row's `ref_id` or, for rows without one, "path:<relative image path>"; the
groups are ordered by that key and cut by cumulative fractions of the rows.

- Content-disjoint: all rows of one reference (`ref_id`) go to the same split.
- Rows without a group id (column absent, None, or an empty/NaN value) are their own group;
  their path is taken relative to the deepest folder common to all such rows of the table,
  so the split does not depend on where the database lives on disk (it does depend on which
  rows the table holds, since those fix the common folder).
- Cutting: a group goes to the split whose cumulative fraction interval contains the middle
  of the group's rows, so each split's row count is within one group of its target.
"""

from __future__ import annotations

import math
import numbers
import os
from collections import Counter
from collections.abc import Mapping
from pathlib import PurePath
from types import MappingProxyType

import pandas as pd

from ..seeding import stable_digest

DEFAULT_FRACTIONS: Mapping[str, float] = MappingProxyType({"train": 0.8, "test": 0.2})


def check_fractions(fractions: Mapping[str, float]) -> dict[str, float]:
    """Validate split fractions: non-empty names, positive values summing to 1 (within 1e-6)."""
    if not isinstance(fractions, Mapping) or not fractions:
        raise ValueError(
            f"fractions must be a non-empty mapping name -> fraction, received {fractions!r}"
        )
    checked: dict[str, float] = {}
    for name, value in fractions.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"split names must be non-empty strings, received {name!r}")
        real = isinstance(value, numbers.Real) and not isinstance(value, bool)
        if not real or not math.isfinite(value) or value <= 0:
            raise ValueError(
                f"fraction of split {name!r} must be a positive number, received {value!r}"
            )
        checked[name] = float(value)
    total = sum(checked.values())
    if abs(total - 1.0) > 1e-6:
        raise ValueError(
            f"fractions must sum to 1 (within 1e-6), received {checked} summing to {total}"
        )
    return checked


def _relative_names(paths: list[str]) -> list[str]:
    """Image paths relative to the deepest folder common to all of them, in POSIX form."""
    if len(paths) == 1:
        return [PurePath(paths[0]).name]
    try:
        common = os.path.commonpath([os.path.dirname(p) for p in paths])
    except ValueError as error:
        raise ValueError(
            f"image paths must be all absolute (or all relative) on one drive: {error}"
        ) from error
    return [PurePath(os.path.relpath(p, common)).as_posix() for p in paths]


def _group_ids(table: pd.DataFrame, group_col: str | None) -> list[str]:
    """The group key of every row: its group id, else "path:" + its relative image path."""
    if group_col is not None and group_col in table.columns:
        raw = ["" if pd.isna(v) else str(v).strip() for v in table[group_col]]
    else:
        raw = [""] * len(table)
    missing = [i for i, v in enumerate(raw) if not v]
    if not missing:
        return raw
    if "path" not in table.columns:
        raise ValueError(
            f"rows without a {group_col!r} value are keyed by their 'path', but the table has "
            f"no 'path' column; columns found: {list(table.columns)}"
        )
    paths = table["path"].tolist()
    if any(pd.isna(paths[i]) or not str(paths[i]) for i in missing):
        raise ValueError("rows without a group id need a 'path' value, received an empty one")
    for i, name in zip(missing, _relative_names([str(paths[i]) for i in missing]), strict=True):
        raw[i] = "path:" + name
    return raw


def split_by_group(
    table: pd.DataFrame,
    fractions: Mapping[str, float] | None = None,
    seed: int = 0,
    group_col: str | None = "ref_id",
) -> pd.Series:
    """Assign every row a split name by hashing its group; see the module docstring.

    `fractions` defaults to {"train": 0.8, "test": 0.2}; its order is the cutting order.
    Returns a Series of split names aligned with `table.index`, named "split".
    """
    fractions = check_fractions(DEFAULT_FRACTIONS if fractions is None else fractions)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ValueError(f"seed must be an integer, received {seed!r}")
    seed = int(seed)
    ids = _group_ids(table, group_col)
    sizes = Counter(ids)
    keyed = sorted((stable_digest(seed, group).hex(), group) for group in sizes)
    names = list(fractions)
    bounds = []
    cumulative = 0.0
    for name in names:
        cumulative += fractions[name]
        bounds.append(cumulative)
    total = len(ids)
    assignment: dict[str, str] = {}
    start = 0
    for _, group in keyed:
        size = sizes[group]
        middle = (start + size / 2.0) / total
        index = next((i for i, bound in enumerate(bounds) if middle < bound), len(names) - 1)
        assignment[group] = names[index]
        start += size
    return pd.Series([assignment[g] for g in ids], index=table.index, name="split")


def apply_split(
    table: pd.DataFrame, seed: int = 0, fractions: Mapping[str, float] | None = None
) -> pd.DataFrame:
    """Return a copy of a canonical table with its `split` column filled.

    The official split is kept where the adapter supplied one (a non-empty `split` column);
    otherwise rows are split by reference (`ref_id`) where the table has reference ids, and
    image by image where it has none. A partly filled `split` column is an error.
    """
    result = table.copy()
    if "split" in result.columns:
        given = result["split"].fillna("").astype(str).str.strip()
        n_empty = int((given == "").sum())
        if n_empty == 0 and len(result) > 0:
            result["split"] = given
            return result
        if 0 < n_empty < len(result):
            raise ValueError(
                f"the 'split' column is partly filled: {n_empty} of {len(result)} rows are "
                "empty; expected an official split on every row or on none"
            )
    result["split"] = split_by_group(result, fractions=fractions, seed=seed, group_col="ref_id")
    return result
