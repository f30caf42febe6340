"""Shared pieces of the dataset adapters: the canonical table, file reading and checks.

Every adapter reads its database's official files and calls `make_table`, which owns the
contract of the canonical table (one row per image):

    path     str    absolute path of the image file, which exists
    mos      float  the native label: native scale and native direction (DMOS stays DMOS)
    score    float  higher is better, in [0, 1]: min-max over the documented native range,
                    or over the data's min/max where there is none; lower-better labels
                    are flipped (1 - normalised)
    split    str    "train"/"val"/"test" for an official split, "" where there is none
    ref_id   str    reference (content) id for synthetic-distortion databases, "" otherwise
    dataset  str    the adapter's name

Rows are sorted by path unless an adapter keeps an official order (CLIVE). Anything missing,
unreadable or out of range raises DatasetError naming the file and what was expected:
nothing is skipped silently. Where a database's own files say what a copy should hold (LIVE's
info.txt, UHD-IQA's per-split files), a partial copy is read as far as it goes and what is
missing is reported with a DatasetWarning.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

COLUMNS = ("path", "mos", "score", "split", "ref_id", "dataset")
SPLIT_NAMES = ("train", "val", "test")
KINDS = ("authentic", "synthetic", "ai-generated", "custom")
_SHOWN = 5  # how many offending names an error message lists


class DatasetError(ValueError):
    """A database folder does not match what its adapter expects."""


class DatasetWarning(UserWarning):
    """A database copy is read, but part of it is missing (the message says which)."""


def warn_missing(message: str) -> None:
    """Report what a partial copy of a database lacks (DatasetWarning)."""
    import warnings

    warnings.warn(message, DatasetWarning, stacklevel=3)


@dataclass(frozen=True)
class DatasetInfo:
    """What a database is and what its adapter expects under ROOT."""

    name: str
    title: str
    kind: str
    native_range: tuple[float, float] | None
    lower_better: bool
    label_name: str
    has_official_split: bool
    layout: str

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, received {self.kind!r}")


@dataclass(frozen=True)
class Adapter:
    """A registered database: its description and its `read(root, **options)` function."""

    info: DatasetInfo
    read: Callable[..., pd.DataFrame]


def _first(names: Iterable[Any]) -> str:
    names = [str(n) for n in names]
    shown = ", ".join(names[:_SHOWN])
    return shown + (", ..." if len(names) > _SHOWN else "")


# --- files -------------------------------------------------------------------------------


def require_dir(path: Path, what: str) -> Path:
    """`path` if it is a folder, else DatasetError saying what was expected there."""
    if not path.is_dir():
        raise DatasetError(f"expected {what} at {path}, but that folder does not exist")
    return path


def require_file(path: Path, what: str) -> Path:
    """`path` if it is a file, else DatasetError saying what was expected there."""
    if not path.is_file():
        raise DatasetError(f"expected {what} at {path}, but that file does not exist")
    return path


def find_file(candidates: Sequence[Path], what: str) -> Path:
    """The first existing file among `candidates`, else DatasetError listing them all."""
    for path in candidates:
        if path.is_file():
            return path
    listed = ", ".join(str(p) for p in candidates)
    raise DatasetError(f"expected {what} at one of: {listed}; none exists")


def require_columns(frame: pd.DataFrame, expected: Iterable[str], source: Path) -> None:
    """DatasetError listing the columns found and expected when any expected one is absent."""
    expected = list(expected)
    missing = [c for c in expected if c not in frame.columns]
    if missing:
        raise DatasetError(
            f"{source}: missing column(s) {missing}; expected columns {expected}, "
            f"found {[str(c) for c in frame.columns]}"
        )


def pick_column(frame: pd.DataFrame, candidates: Sequence[str], source: Path) -> str:
    """The first of `candidates` present in `frame` (releases differ in spelling)."""
    for name in candidates:
        if name in frame.columns:
            return name
    raise DatasetError(
        f"{source}: expected one of the columns {list(candidates)}, "
        f"found {[str(c) for c in frame.columns]}"
    )


def read_csv(path: Path, columns: Iterable[str] = (), what: str = "a label CSV") -> pd.DataFrame:
    """Read a CSV with the given required columns."""
    require_file(path, what)
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError, UnicodeDecodeError) as error:
        raise DatasetError(f"{path}: cannot read it as CSV ({what}): {error}") from error
    frame.columns = [str(c).strip() for c in frame.columns]
    require_columns(frame, columns, path)
    return frame


def read_excel_sheets(path: Path, what: str, header: int | None = 0) -> dict[str, pd.DataFrame]:
    """All sheets of an XLSX workbook (pandas + openpyxl), column names as stripped text."""
    require_file(path, what)
    try:
        sheets = pd.read_excel(path, sheet_name=None, header=header, engine="openpyxl")
    except Exception as error:  # openpyxl raises zipfile, XML and key errors on bad files
        raise DatasetError(f"{path}: cannot read it as XLSX ({what}): {error}") from error
    for frame in sheets.values():
        frame.columns = [str(c).strip() for c in frame.columns]
    return sheets


def read_excel(path: Path, what: str, *choices: Sequence[str]) -> tuple[pd.DataFrame, list[str]]:
    """The first sheet with one column of each of `choices` (alternative spellings of one
    column, in order of preference), and the column picked for each choice."""
    sheets = read_excel_sheets(path, what)
    for frame in sheets.values():
        picked = [next((c for c in choice if c in frame.columns), None) for choice in choices]
        if all(c is not None for c in picked):
            return frame, [str(c) for c in picked]
    found = {name: list(frame.columns) for name, frame in sheets.items()}
    wanted = " and ".join(f"one of {list(choice)}" for choice in choices)
    raise DatasetError(
        f"{path}: expected a sheet with columns {wanted}; sheets and columns found: {found}"
    )


def load_mat(path: Path, variables: Iterable[str], what: str) -> dict[str, np.ndarray]:
    """The named variables of a MATLAB .mat file (scipy.io.loadmat, v5 format)."""
    from scipy import io

    require_file(path, what)
    try:
        content = io.loadmat(path)
    except (OSError, ValueError, NotImplementedError, TypeError) as error:
        raise DatasetError(f"{path}: cannot read it as a MAT file ({what}): {error}") from error
    variables = list(variables)
    missing = [v for v in variables if v not in content]
    if missing:
        found = sorted(k for k in content if not k.startswith("__"))
        raise DatasetError(
            f"{path}: missing variable(s) {missing}; expected {variables}, found {found}"
        )
    return {v: content[v] for v in variables}


def mat_strings(cell: np.ndarray, source: Path, variable: str) -> list[str]:
    """A MATLAB cell array of strings (an object array from loadmat) as a flat list."""
    if cell.dtype.kind in "US":
        return [str(v).strip() for v in cell.ravel()]
    out = []
    for item in cell.ravel():
        values = np.asarray(item).ravel()
        if values.size != 1 or values.dtype.kind not in "US":
            raise DatasetError(
                f"{source}: variable {variable!r} must be a cell array of strings, "
                f"found an element {item!r}"
            )
        out.append(str(values[0]).strip())
    return out


def mat_vector(array: np.ndarray, source: Path, variable: str) -> np.ndarray:
    """A MATLAB numeric vector (1xN or Nx1) as a flat float array."""
    if array.dtype.kind not in "iuf" or sum(d > 1 for d in array.shape) > 1:
        raise DatasetError(
            f"{source}: variable {variable!r} must be a numeric vector, "
            f"found dtype {array.dtype} and shape {array.shape}"
        )
    return array.astype(np.float64).ravel()


def to_float(values: Iterable[Any], source: Path, column: str) -> np.ndarray:
    """Label values as floats; DatasetError naming the first non-numeric ones."""
    series = pd.Series(list(values), dtype=object)
    numbers = pd.to_numeric(series, errors="coerce").astype(np.float64)
    bad = series[numbers.isna() & series.notna()]
    if len(bad):
        raise DatasetError(
            f"{source}: column {column!r} must be numeric; {len(bad)} value(s) are not, "
            f"e.g. {_first(bad.tolist())}"
        )
    return numbers.to_numpy()


def folder_index(folder: Path) -> dict[str, str]:
    """Lower-cased file name -> real file name in `folder`, for case-insensitive lookups.
    Names that differ only in case map to "" (ambiguous)."""
    index: dict[str, str] = {}
    for name in os.listdir(folder):
        key = name.lower()
        index[key] = "" if key in index else name
    return index


def lookup_ignoring_case(index: dict[str, str], folder: Path, name: str, source: Path) -> Path:
    """The file of `folder` named `name` ignoring case; an absent one is returned as given,
    so that `make_table` reports it with the others."""
    real = index.get(name.lower())
    if real == "":
        raise DatasetError(
            f"{folder}: several files match {name!r} (listed in {source}) ignoring case; "
            "expected exactly one"
        )
    return folder / (real or name)


def match_case_insensitive(folder: Path, names: Sequence[str], source: Path) -> list[Path]:
    """`lookup_ignoring_case` for every name of `names` in one folder."""
    index = folder_index(folder)
    return [lookup_ignoring_case(index, folder, name, source) for name in names]


def find_image_dir(root: Path, candidates: Sequence[str], first_name: str, what: str) -> Path:
    """The first of the candidate folders under `root` that holds `first_name`."""
    for candidate in candidates:
        folder = root / candidate
        if (folder / first_name).is_file():
            return folder
    listed = ", ".join(str(root / c) for c in candidates)
    raise DatasetError(
        f"expected {what} in one of: {listed}; none holds {first_name!r}, "
        "the first image listed in the label file"
    )


# --- the canonical table ------------------------------------------------------------------


def normalise(
    mos: np.ndarray, native_range: tuple[float, float] | None, lower_better: bool
) -> np.ndarray:
    """Labels -> score in [0, 1], higher is better (see the module docstring)."""
    if native_range is None:
        low, high = float(np.min(mos)), float(np.max(mos))
    else:
        low, high = float(native_range[0]), float(native_range[1])
    if not high > low:
        raise DatasetError(
            f"cannot normalise labels over the range [{low}, {high}]: it is empty "
            "(all labels are equal)"
        )
    score = (np.asarray(mos, dtype=np.float64) - low) / (high - low)
    score = np.clip(score, 0.0, 1.0)  # only removes rounding; the range is checked first
    return 1.0 - score if lower_better else score


def text_column(frame: pd.DataFrame, column: str | None) -> list[str] | None:
    """A column as stripped strings (empty for missing cells), or None without a column."""
    if column is None:
        return None
    return frame[column].fillna("").astype(str).str.strip().tolist()


def make_table(
    info: DatasetInfo,
    paths: Sequence[Path | str],
    mos: Sequence[float] | np.ndarray,
    *,
    label_file: Path,
    split: Sequence[str] | None = None,
    ref_id: Sequence[str] | None = None,
    keep_order: bool = False,
) -> pd.DataFrame:
    """Check and assemble the canonical table (columns `COLUMNS`, one row per image).

    The label range and direction come from ``info``; a variant of a database (another label
    scale, a user's CSV) passes ``dataclasses.replace(INFO, ...)``.
    """
    name, native_range, lower_better = info.name, info.native_range, info.lower_better
    n = len(paths)
    mos = np.asarray(mos, dtype=np.float64).ravel()
    split = [""] * n if split is None else [str(s) for s in split]
    ref_id = [""] * n if ref_id is None else [str(r) for r in ref_id]
    for label, values in (("labels", mos), ("split values", split), ("reference ids", ref_id)):
        if len(values) != n:
            raise DatasetError(
                f"{label_file}: {n} images but {len(values)} {label}; expected one per image"
            )
    if n == 0:
        raise DatasetError(f"{label_file}: lists no images; expected at least one")
    paths = [os.path.abspath(os.fspath(p)) for p in paths]

    bad = [paths[i] for i in np.flatnonzero(~np.isfinite(mos))]
    if bad:
        raise DatasetError(
            f"{label_file}: {len(bad)} label(s) are empty or not finite, for {_first(bad)}"
        )
    if native_range is not None:
        low, high = native_range
        outside = np.flatnonzero((mos < low - 1e-9) | (mos > high + 1e-9))
        if len(outside):
            examples = [f"{os.path.basename(paths[i])}={mos[i]:g}" for i in outside]
            raise DatasetError(
                f"{label_file}: {len(outside)} label(s) lie outside the documented range "
                f"[{low:g}, {high:g}], e.g. {_first(examples)}"
            )
    unknown = sorted({s for s in split if s not in ("", *SPLIT_NAMES)})
    if unknown:
        raise DatasetError(
            f"{label_file}: split values must be one of {SPLIT_NAMES} (or empty), found {unknown}"
        )
    duplicated = pd.Series(paths)[pd.Series(paths).duplicated()].tolist()
    if duplicated:
        raise DatasetError(
            f"{label_file}: {len(duplicated)} image(s) are listed more than once, "
            f"e.g. {_first(duplicated)}"
        )
    absent = [p for p in paths if not os.path.isfile(p)]
    if absent:
        raise DatasetError(
            f"{label_file}: {len(absent)} of {n} listed image(s) are absent on disk, "
            f"e.g. {_first(absent)}"
        )

    table = pd.DataFrame(
        {
            "path": paths,
            "mos": mos,
            "score": normalise(mos, native_range, lower_better),
            "split": split,
            "ref_id": ref_id,
            "dataset": [name] * n,
        },
        columns=list(COLUMNS),
    )
    if not keep_order:
        table = table.sort_values("path", kind="stable")
    return table.reset_index(drop=True)
