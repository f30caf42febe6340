"""Shared pieces of the dataset adapters: the canonical table, file reading and checks.

Every adapter reads its database's official files and calls `make_table`, which owns the
contract of the canonical table (one row per image, or per video for the databases whose
`DatasetInfo.media` is "video"; the columns are the same):

    path     str    absolute path of the image or video file, which exists
    mos      float  the native label: native scale and native direction (DMOS stays DMOS)
    score    float  higher is better, in [0, 1]: min-max over the documented native range,
                    or over the data's min/max where there is none; lower-better labels
                    are flipped (1 - normalised)
    split    str    "train"/"val"/"test" for an official split, "" where there is none
    ref_id   str    reference (content) id for synthetic-distortion databases, "" otherwise
    dataset  str    the adapter's name

Rows are sorted by path unless an adapter keeps an official order (CLIVE). Anything missing,
unreadable or out of range raises DatasetError naming the file and what was expected:
nothing is skipped silently. The one exception is opt-in: video adapters take
`skip_missing=True` for databases that are rarely complete on disk (LSVQ, YouTube-UGC,
KoNViD-150k lose videos to dead links), which drops absent files with a DatasetWarning that
says how many were listed and how many were found. Where a database's own files say what a
copy should hold (LIVE's info.txt, UHD-IQA's per-split files), a partial copy is read as far
as it goes and what is missing is reported with a DatasetWarning.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

COLUMNS = ("path", "mos", "score", "split", "ref_id", "dataset")
SPLIT_NAMES = ("train", "val", "test")
KINDS = ("authentic", "synthetic", "ai-generated", "custom")
MEDIA = ("image", "video")
_SHOWN = 5  # how many offending names an error message lists


class DatasetError(ValueError):
    """A database folder does not match what its adapter expects."""


class DatasetWarning(UserWarning):
    """Part of a database copy is missing: listed files left out on request
    (``skip_missing=True``), or what a partial copy lacks (the message says which)."""


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
    media: str = "image"  # what one row's file is: "image" or "video"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, received {self.kind!r}")
        if self.media not in MEDIA:
            raise ValueError(f"media must be one of {MEDIA}, received {self.media!r}")


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


def read_csv(
    path: Path, columns: Iterable[str] = (), what: str = "a label CSV", **read_options: Any
) -> pd.DataFrame:
    """Read a CSV with the given required columns; `read_options` go to `pandas.read_csv`
    (e.g. sep=";", decimal="," or dtype={"flickr_id": str})."""
    require_file(path, what)
    try:
        frame = pd.read_csv(path, **read_options)
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
    except (OSError, ValueError, NotImplementedError, TypeError, io.matlab.MatReadError) as error:
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


def file_finder(root: Path, suffixes: Sequence[str], what: str) -> Callable[[str], Path | None]:
    """Index every file under `root` (recursively, following folder links once) whose name
    ends with one of `suffixes`; returns ``lookup(name)``: the one file of that name ignoring
    case, None when there is none, DatasetError when there are several. For databases whose
    releases nest the same files in different folders (CVD2014, YouTube-UGC, LIVE-YT-HFR)."""
    wanted = tuple(s.lower() for s in suffixes)
    index: dict[str, list[Path]] = {}
    seen: set[str] = set()
    for folder, subfolders, names in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:  # a link back up the tree: do not walk it twice
            subfolders[:] = []
            continue
        seen.add(real)
        subfolders.sort()
        for name in names:
            if name.lower().endswith(wanted):
                index.setdefault(name.lower(), []).append(Path(folder) / name)

    def lookup(name: str) -> Path | None:
        found = index.get(name.lower(), [])
        if len(found) > 1:
            raise DatasetError(
                f"{root}: {len(found)} files are named {name!r} ignoring case ({what}): "
                f"{_first(found)}; expected exactly one"
            )
        return found[0] if found else None

    return lookup


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
    skip_missing: bool | None = None,
) -> pd.DataFrame:
    """Check and assemble the canonical table (columns `COLUMNS`, one row per image/video).

    The label range and direction come from ``info``; a variant of a database (another label
    scale, a user's CSV) passes ``dataclasses.replace(INFO, ...)``. With ``skip_missing`` the
    rows whose file is absent are dropped with a DatasetWarning (listed vs found) instead of
    raising; it is an error when none is found. Adapters that offer the option pass its value
    (False by default, and the error then mentions it); the others leave it None.
    """
    name, native_range, lower_better = info.name, info.native_range, info.lower_better
    unit = info.media  # "image" or "video", for the messages
    if skip_missing is not None and not isinstance(skip_missing, bool):
        raise DatasetError(f"skip_missing must be True or False, received {skip_missing!r}")
    n = len(paths)
    mos = np.asarray(mos, dtype=np.float64).ravel()
    split = [""] * n if split is None else [str(s) for s in split]
    ref_id = [""] * n if ref_id is None else [str(r) for r in ref_id]
    for label, values in (("labels", mos), ("split values", split), ("reference ids", ref_id)):
        if len(values) != n:
            raise DatasetError(
                f"{label_file}: {n} {unit}s but {len(values)} {label}; expected one per {unit}"
            )
    if n == 0:
        raise DatasetError(f"{label_file}: lists no {unit}s; expected at least one")
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
            f"{label_file}: {len(duplicated)} {unit}(s) are listed more than once, "
            f"e.g. {_first(duplicated)}"
        )
    present = np.array([os.path.isfile(p) for p in paths], dtype=bool)
    absent = [p for p, found in zip(paths, present, strict=True) if not found]
    if absent and (not skip_missing or len(absent) == n):
        hint = " (option skip_missing=true leaves them out)" if skip_missing is False else ""
        raise DatasetError(
            f"{label_file}: {len(absent)} of {n} listed {unit}(s) are absent on disk, "
            f"e.g. {_first(absent)}{hint}"
        )
    if absent:
        warnings.warn(
            f"{label_file}: {n} {unit}s listed, {n - len(absent)} found; leaving out the "
            f"{len(absent)} absent, e.g. {_first(absent)}",
            DatasetWarning,
            stacklevel=2,
        )
        keep = np.flatnonzero(present)
        paths, mos = [paths[i] for i in keep], mos[keep]
        split, ref_id = [split[i] for i in keep], [ref_id[i] for i in keep]
        n = len(paths)

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


# --- video label files --------------------------------------------------------------------


def read_label_lines(path: Path, what: str) -> tuple[list[str], np.ndarray]:
    """A FAST-VQA/DOVER label list (`examplar_data_labels/*.txt`, also what GenzVQA's
    `lsvq.py` reads): one ``name, duration, fps, mos`` line per video (-1 where unknown),
    `name` relative to the database folder. The last three fields are split off from the
    right, so a name may itself hold commas. Returns (names, mos)."""
    require_file(path, what)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise DatasetError(f"{path}: cannot read it as text ({what}): {error}") from error
    names: list[str] = []
    values: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        fields = [f.strip() for f in line.rsplit(",", 3)]
        if len(fields) != 4 or not fields[0]:
            raise DatasetError(
                f"{path}, line {number}: expected 'name, duration, fps, mos', received {line!r}"
            )
        names.append(fields[0])
        values.append(fields[3])
    return names, to_float(values, path, "mos (4th field)")


def bool_column(frame: pd.DataFrame, column: str, source: Path) -> np.ndarray:
    """A True/False column (pandas bools, "True"/"False" text or 1/0) as a bool array."""
    mapping = {"true": True, "false": False, "1": True, "0": False, "1.0": True, "0.0": False}
    text = frame[column].astype(str).str.strip().str.lower()
    bad = sorted(set(text[~text.isin(list(mapping))]))
    if bad:
        raise DatasetError(f"{source}: column {column!r} must hold True/False, found {_first(bad)}")
    return text.map(mapping).to_numpy(dtype=bool)
