"""Score tables written batch by batch, durable after every batch, and resumable.

A scoring run over thousands of photos can be killed at any moment (Ctrl-C, SIGKILL, a lost
machine). :class:`ScoreWriter` therefore appends each finished batch and fsyncs it before
returning, so a killed run loses at most the batch in flight, and reopening the same output
continues where it stopped: ``.done`` holds the paths that need no scoring again.

One table, five columns (``COLUMNS``), one row per image or video:

- ``path``: str, the absolute path of the file (the caller's string, used as the key).
- ``score``: float64, finite for an ``ok`` row, NaN for an ``error`` row.
- ``status``: ``"ok"`` or ``"error"``.
- ``error``: str, why the file could not be scored; ``""`` for an ``ok`` row.
- ``media``: ``"image"`` or ``"video"``; a row written without it is an image row.

Tables written before the ``media`` column (``LEGACY_COLUMNS``, images only) stay readable:
their rows read as image rows, and a writer reopening one rewrites it with the column first
(CSV; JSON Lines lines and Parquet files are read either way).

Formats, chosen by the output's extension (:func:`format_for`):

- CSV (``.csv``): a header line, then one line per row (csv module, ``QUOTE_MINIMAL``,
  ``\\n`` line ends, UTF-8, scores written with ``repr`` so they read back bit-exact; NaN is
  ``nan``). Plain ``pandas.read_csv`` reads it, but turns the empty ``error`` of ``ok`` rows
  into NaN; :func:`read_scores` keeps them ``""``.
- JSON Lines (``.jsonl``, ``.ndjson``): one object per line; NaN is written as ``null``.
- Parquet (``.parquet``, ``.pq``): a Parquet file cannot be appended to safely, so batches
  go to a journal beside it, ``<name>.partial.jsonl`` (the JSON Lines format above), and
  :meth:`ScoreWriter.close` merges the existing Parquet and the journal into a new Parquet
  (temp file + ``os.replace``) and removes the journal. Fixed schema: ``SCHEMA``.

Repair on reopen: a kill can leave the last line of a CSV/JSON Lines file (or journal) cut
short. Such a last line (no line end, or not a valid row) is truncated away before anything
is appended; an invalid row anywhere else is an error, since that is not what a kill leaves.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .durable import atomic_file, atomic_write, fsync_folder, truncate

__all__ = [
    "COLUMNS",
    "LEGACY_COLUMNS",
    "MEDIA",
    "SCHEMA",
    "ScoreWriter",
    "format_for",
    "read_scores",
]

COLUMNS: tuple[str, ...] = ("path", "score", "status", "error", "media")
LEGACY_COLUMNS: tuple[str, ...] = COLUMNS[:4]
SCHEMA = pa.schema(
    [
        ("path", pa.string()),
        ("score", pa.float64()),
        ("status", pa.string()),
        ("error", pa.string()),
        ("media", pa.string()),
    ]
)
STATUSES = ("ok", "error")
MEDIA = ("image", "video")

_FORMATS = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_JOURNAL_SUFFIX = ".partial.jsonl"

Row = dict[str, object]


def format_for(path: str | Path) -> str:
    """The table format for an output path: ``"csv"``, ``"jsonl"`` or ``"parquet"``."""
    suffix = Path(path).suffix.lower()
    if suffix not in _FORMATS:
        supported = ", ".join(_FORMATS)
        raise ValueError(
            f"unsupported output extension {suffix or '(none)'!r} in {str(path)!r}; "
            f"expected one of {supported}"
        )
    return _FORMATS[suffix]


def _journal_for(path: Path) -> Path:
    return path.with_name(path.name + _JOURNAL_SUFFIX)


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


class ScoreWriter:
    """Append score rows to a CSV, JSON Lines or Parquet table, durably and resumably.

    ``ScoreWriter(path)`` opens ``path`` (creating a CSV/JSON Lines file at once, a Parquet
    file at :meth:`close`). If the output exists, its rows are kept and their paths are in
    :attr:`done`; a cut-short last line left by a killed run is repaired first.
    ``overwrite=True`` deletes the existing output (and Parquet journal) instead.
    ``retry_errors=True`` drops the existing ``error`` rows (rewriting the file atomically),
    so that those paths are scored again and :attr:`done` holds only the ``ok`` paths; a set of
    paths drops only those paths' error rows (the files of this run), keeping the others.
    :attr:`failed` holds the paths of the error rows that stay.

    Use it as a context manager; leaving the block calls :meth:`close`, which for Parquet
    also happens when the block raises, so every written batch ends up in the Parquet file.
    """

    def __init__(
        self,
        path: str | Path,
        overwrite: bool = False,
        *,
        retry_errors: bool | AbstractSet[str] = False,
    ) -> None:
        self.path = Path(path)
        self.format = format_for(self.path)
        self.journal = _journal_for(self.path) if self.format == "parquet" else None
        if not self.path.parent.is_dir():
            raise FileNotFoundError(
                f"the folder of the output {str(self.path)!r} does not exist; create it first"
            )
        if self.path.is_dir():
            raise IsADirectoryError(f"the output {str(self.path)!r} is a folder, not a file")
        if overwrite:
            self.path.unlink(missing_ok=True)
            if self.journal is not None:
                self.journal.unlink(missing_ok=True)

        self._written: set[str] = set()
        self._handle: IO[str] | None = None
        self._closed = False
        if self.format == "parquet":
            existing = self._open_parquet(retry_errors)
        else:
            existing = self._open_text(retry_errors)
        self._done = frozenset(row["path"] for row in existing)  # type: ignore[misc]
        self.failed = frozenset(row["path"] for row in existing if row["status"] == "error")

    @property
    def done(self) -> frozenset[str]:
        """Paths already in the output when it was opened (ok and error rows; only ok ones
        with ``retry_errors``): the caller skips these."""
        return self._done

    # -- opening ---------------------------------------------------------------------------

    def _open_text(self, retry_errors: bool | AbstractSet[str]) -> list[Row]:
        """Repair or rewrite an existing CSV/JSONL file, then open it for appending."""
        parsed = _read_text_table(self.path, self.format)
        rows = parsed.rows
        kept = [row for row in rows if not _retried(row, retry_errors)]
        if len(kept) < len(rows) or parsed.legacy:  # a legacy CSV gets the media column
            rows = kept
            atomic_write(self.path, _serialise(rows, self.format, header=True))
        elif parsed.valid_end < parsed.size:
            truncate(self.path, parsed.valid_end)

        self._handle = open(self.path, "a", encoding="utf-8", newline="")  # noqa: SIM115
        if self.format == "csv" and self._handle.tell() == 0:
            self._append(_serialise([], "csv", header=True))
            fsync_folder(self.path.parent)
        return rows

    def _open_parquet(self, retry_errors: bool | AbstractSet[str]) -> list[Row]:
        """Read the existing Parquet and a leftover journal; with retry_errors, merge now."""
        assert self.journal is not None
        stored = _read_parquet_rows(self.path) if self.path.exists() else []
        journal = _read_text_table(self.journal, "jsonl")
        if journal.valid_end < journal.size:
            truncate(self.journal, journal.valid_end)
        rows = stored + _not_in(journal.rows, stored)
        kept = [row for row in rows if not _retried(row, retry_errors)]
        if len(kept) < len(rows):
            rows = kept
            _atomic_write_parquet(self.path, rows)
            self.journal.unlink(missing_ok=True)
            fsync_folder(self.path.parent)
        return rows

    # -- writing ---------------------------------------------------------------------------

    def write(self, rows: Sequence[Mapping[str, object]]) -> None:
        """Append one batch of rows and make it durable (flush + fsync) before returning.

        Each row is a mapping with exactly the keys ``COLUMNS`` (or ``LEGACY_COLUMNS``: an
        image row). Raises ``ValueError`` for a
        malformed row or a path already written (in this run or before it, see ``.done``);
        nothing of the batch is written then.
        """
        if self._closed:
            raise ValueError(f"ScoreWriter for {str(self.path)!r} is closed; open a new one")
        if isinstance(rows, Mapping):
            raise ValueError(
                "write takes a list of row dicts, got a single dict; wrap it in a list"
            )
        batch = [_check_row(row, index) for index, row in enumerate(rows)]
        seen: set[str] = set()
        for row in batch:
            path = row["path"]
            assert isinstance(path, str)
            if path in seen or path in self._written:
                raise ValueError(
                    f"path {path!r} was already written in this run; each image gets one row"
                )
            if path in self._done:
                raise ValueError(
                    f"path {path!r} is already in {str(self.path)!r}; skip the paths in .done"
                )
            seen.add(path)
        if not batch:
            return
        if self._handle is None:  # Parquet: the journal is created with the first batch.
            assert self.journal is not None
            self._handle = open(self.journal, "a", encoding="utf-8", newline="")  # noqa: SIM115
            fsync_folder(self.journal.parent)
        self._append(_serialise(batch, "csv" if self.format == "csv" else "jsonl"))
        self._written.update(seen)

    def _append(self, text: str) -> None:
        assert self._handle is not None
        self._handle.write(text)
        self._handle.flush()
        os.fsync(self._handle.fileno())

    # -- closing ---------------------------------------------------------------------------

    def close(self) -> None:
        """Finish the output: close the file; for Parquet, merge the journal into it."""
        if self._closed:
            return
        self._closed = True
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        if self.format == "parquet":
            self._merge_journal()

    def _merge_journal(self) -> None:
        """Write existing Parquet + journal as the new Parquet atomically, then drop the journal.

        A kill between the replace and the unlink leaves a journal whose rows are already in
        the Parquet; on reopen, journal rows whose path is in the Parquet are ignored.
        """
        assert self.journal is not None
        journal = _read_text_table(self.journal, "jsonl")
        if journal.size == 0 and self.path.exists():
            self.journal.unlink(missing_ok=True)
            return
        stored = _read_parquet_rows(self.path) if self.path.exists() else []
        _atomic_write_parquet(self.path, stored + _not_in(journal.rows, stored))
        self.journal.unlink(missing_ok=True)
        fsync_folder(self.path.parent)

    def __enter__(self) -> ScoreWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _check_row(row: Mapping[str, object], index: int) -> Row:
    """Validate one row given to ``write`` and return it normalised (str path, float score)."""
    where = f"row {index} of the batch"
    if not isinstance(row, Mapping):
        raise ValueError(f"{where}: expected a dict with keys {COLUMNS}, got {type(row).__name__}")
    if set(row) not in (set(COLUMNS), set(LEGACY_COLUMNS)):
        raise ValueError(f"{where}: expected exactly the keys {COLUMNS}, got {tuple(row)}")
    path, score, status, error = (row[name] for name in LEGACY_COLUMNS)
    media = row.get("media", "image")
    if media not in MEDIA:
        raise ValueError(f"{where}: media must be 'image' or 'video', got {media!r}")
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    if not isinstance(path, str) or not path:
        raise ValueError(f"{where}: path must be a non-empty str, got {path!r}")
    if status not in STATUSES:
        raise ValueError(f"{where} ({path}): status must be 'ok' or 'error', got {status!r}")
    if not isinstance(error, str):
        raise ValueError(f"{where} ({path}): error must be a str, got {type(error).__name__}")
    if status == "ok":
        value = _as_float(score)
        if value is None or not math.isfinite(value):
            raise ValueError(
                f"{where} ({path}): an 'ok' row needs a finite float score, got {score!r}; "
                "write an 'error' row for an image that could not be scored"
            )
        if error:
            raise ValueError(f"{where} ({path}): an 'ok' row needs error '', got {error!r}")
    else:
        value = math.nan if score is None else _as_float(score)
        if value is None or not math.isnan(value):
            raise ValueError(f"{where} ({path}): an 'error' row needs score NaN, got {score!r}")
        if not error:
            raise ValueError(f"{where} ({path}): an 'error' row needs a non-empty error message")
    return {"path": path, "score": value, "status": status, "error": error, "media": media}


def _as_float(value: object) -> float | None:
    if isinstance(value, (bool, str, bytes)):
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _serialise(rows: list[Row], fmt: str, *, header: bool = False) -> str:
    """Rows as the text appended to a CSV or JSON Lines file (one write per batch)."""
    buffer = io.StringIO()
    if fmt == "csv":
        writer = csv.writer(buffer, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
        if header:
            writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow(
                [row["path"], repr(row["score"]), row["status"], row["error"], row["media"]]
            )
    else:
        for row in rows:
            score = row["score"]
            record = {**row, "score": None if math.isnan(score) else score}  # type: ignore[arg-type]
            buffer.write(json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n")
    return buffer.getvalue()


# --------------------------------------------------------------------------------------------
# Reading and repairing
# --------------------------------------------------------------------------------------------


@dataclass
class _TextTable:
    """The valid rows of a CSV/JSONL file and where they end (a cut tail follows)."""

    rows: list[Row] = field(default_factory=list)
    valid_end: int = 0
    size: int = 0
    legacy: bool = False  # a CSV with the header of LEGACY_COLUMNS (no media column)


class _BadRow(Exception):
    """A record that is not a valid score row (internal; becomes truncation or ValueError)."""


def _read_text_table(path: Path, fmt: str) -> _TextTable:
    if not path.exists():
        return _TextTable()
    data = path.read_bytes()
    table = _parse_csv(data, path) if fmt == "csv" else _parse_jsonl(data, path)
    table.size = len(data)
    return table


def _parse_csv(data: bytes, source: Path) -> _TextTable:
    """Parse a score CSV; stop before a cut-short last record, raise on bad data elsewhere."""
    table = _TextTable()
    consumed = 0
    last_line = b""

    def lines() -> Iterator[str]:
        nonlocal consumed, last_line
        for raw in data.splitlines(keepends=True):
            consumed += len(raw)
            last_line = raw
            yield raw.decode("utf-8")

    reader = csv.reader(lines(), strict=True)
    first = True
    while True:
        try:
            record = next(reader)
            if not last_line.endswith((b"\n", b"\r")):
                raise _BadRow("no line end")
            if first:
                if record not in (list(COLUMNS), list(LEGACY_COLUMNS)):
                    raise ValueError(
                        f"{source} is not a genziqa score table: expected the header "
                        f"{','.join(COLUMNS)}, got {','.join(record)!r}"
                    )
                table.legacy = record == list(LEGACY_COLUMNS)
                first = False
            else:
                table.rows.append(_parse_fields(record, table.legacy))
        except StopIteration:
            break
        except (_BadRow, csv.Error, UnicodeDecodeError) as error:
            if consumed == len(data):
                break  # the cut-short last record of a killed run: dropped
            raise ValueError(
                f"{source}, line {reader.line_num}: not a valid score row ({error}); "
                "fix or delete the file, or pass overwrite=True"
            ) from None
        table.valid_end = consumed
    return table


def _parse_fields(record: list[str], legacy: bool = False) -> Row:
    columns = LEGACY_COLUMNS if legacy else COLUMNS
    if len(record) != len(columns):
        raise _BadRow(f"expected {len(columns)} fields, got {len(record)}")
    path, score, status, error = record[:4]
    try:
        value = float(score)
    except ValueError:
        raise _BadRow(f"score {score!r} is not a number") from None
    return _checked_stored_row(path, value, status, error, "image" if legacy else record[4])


def _parse_jsonl(data: bytes, source: Path) -> _TextTable:
    """Parse score JSON Lines; stop before a cut-short last line, raise on bad data elsewhere."""
    table = _TextTable()
    end = 0
    for number, raw in enumerate(data.splitlines(keepends=True), start=1):
        end += len(raw)
        try:
            if not raw.endswith((b"\n", b"\r")):
                raise _BadRow("no line end")
            if raw.strip():
                table.rows.append(_parse_record(json.loads(raw)))
        except (_BadRow, ValueError) as error:  # JSONDecodeError, UnicodeDecodeError
            if end == len(data):
                break
            raise ValueError(
                f"{source}, line {number}: not a valid score row ({error}); "
                "fix or delete the file, or pass overwrite=True"
            ) from None
        table.valid_end = end
    return table


def _parse_record(record: object) -> Row:
    if not isinstance(record, dict) or set(record) not in (set(COLUMNS), set(LEGACY_COLUMNS)):
        raise _BadRow(f"expected an object with the keys {COLUMNS}")
    score = record["score"]
    if score is None:
        score = math.nan
    if isinstance(score, bool) or not isinstance(score, (int, float)):
        raise _BadRow(f"score {score!r} is not a number")
    media = record.get("media", "image")
    return _checked_stored_row(
        record["path"], float(score), record["status"], record["error"], media
    )


def _checked_stored_row(
    path: object, score: float, status: object, error: object, media: object = "image"
) -> Row:
    if not isinstance(path, str) or not path:
        raise _BadRow(f"path {path!r} is not a non-empty string")
    if status not in STATUSES:
        raise _BadRow(f"status {status!r} is not 'ok' or 'error'")
    if not isinstance(error, str):
        raise _BadRow(f"error {error!r} is not a string")
    if media not in MEDIA:
        raise _BadRow(f"media {media!r} is not 'image' or 'video'")
    return {"path": path, "score": score, "status": status, "error": error, "media": media}


def _read_parquet_rows(path: Path) -> list[Row]:
    table = pq.read_table(path)
    missing = [name for name in LEGACY_COLUMNS if name not in table.column_names]
    if missing:
        raise ValueError(
            f"{path} is not a genziqa score table: expected the columns {COLUMNS}, "
            f"got {tuple(table.column_names)}"
        )
    if "media" not in table.column_names:  # written before the media column: images
        table = table.append_column("media", pa.array(["image"] * len(table), pa.string()))
    rows = table.select(list(COLUMNS)).cast(SCHEMA).to_pylist()
    for row in rows:
        if row["score"] is None:
            row["score"] = math.nan
    return rows


def _retried(row: Row, retry_errors: bool | AbstractSet[str]) -> bool:
    """Whether ``retry_errors`` drops this row so that its file is scored again."""
    if row["status"] != "error" or not retry_errors:
        return False
    return retry_errors is True or row["path"] in retry_errors  # type: ignore[operator]


def _not_in(rows: list[Row], stored: list[Row]) -> list[Row]:
    """Rows whose path is not among ``stored``'s (the Parquet wins over its journal)."""
    known = {row["path"] for row in stored}
    return [row for row in rows if row["path"] not in known]


def read_scores(path: str | Path) -> pd.DataFrame:
    """Read a score table of any supported format into a DataFrame with ``COLUMNS``.

    For Parquet, rows in a leftover journal (a run killed before ``close``) are included. A
    cut-short last line is ignored (the file is not changed). ``error`` is ``""`` for ok
    rows, ``score`` is float64 with NaN for error rows, ``media`` is ``"image"`` for the rows
    of tables written before that column.
    """
    path = Path(path)
    fmt = format_for(path)
    if fmt == "parquet":
        journal = _journal_for(path)
        if not path.exists() and not journal.exists():
            raise FileNotFoundError(f"no score table at {str(path)!r} (nor its journal)")
        stored = _read_parquet_rows(path) if path.exists() else []
        rows = stored + _not_in(_read_text_table(journal, "jsonl").rows, stored)
    else:
        if not path.exists():
            raise FileNotFoundError(f"no score table at {str(path)!r}")
        rows = _read_text_table(path, fmt).rows
    return pd.DataFrame(
        {
            "path": pd.Series([row["path"] for row in rows], dtype=str),
            "score": pd.Series([row["score"] for row in rows], dtype="float64"),
            "status": pd.Series([row["status"] for row in rows], dtype=str),
            "error": pd.Series([row["error"] for row in rows], dtype=str),
            "media": pd.Series([row["media"] for row in rows], dtype=str),
        }
    )


def _atomic_write_parquet(path: Path, rows: list[Row]) -> None:
    table = pa.Table.from_pylist(rows, schema=SCHEMA)
    with atomic_file(path) as handle:
        pq.write_table(table, handle)
