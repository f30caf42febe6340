"""Score tables written batch by batch, durable after every batch, and resumable.

A scoring run over thousands of photos can be killed at any moment (Ctrl-C, SIGKILL, a lost
machine, a full disk). :class:`ScoreWriter` therefore appends each finished batch and fsyncs
it before returning, so a killed run loses at most the batch in flight, and reopening the same
output continues where it stopped: ``.done`` holds the paths that need no scoring again.

One table, five columns (``COLUMNS``), one row per image or video:

- ``path``: str, the absolute path of the file (the caller's string, used as the key).
- ``score``: float64, finite for an ``ok`` row; MISSING for an ``error`` row.
- ``status``: ``"ok"`` or ``"error"``.
- ``error``: str, why the file could not be scored; ``""`` for an ``ok`` row.
- ``media``: ``"image"`` or ``"video"``; a row written without it is an image row.

Tables written before the ``media`` column (``LEGACY_COLUMNS``, images only) stay readable:
their rows read as image rows, and a writer reopening one rewrites it with the column first
(CSV; JSON Lines lines and Parquet files are read either way).

A failed row's score has one representation, "missing", in each format's own way: an empty
field in CSV (the same as ``genziqa score`` prints on standard output), ``null`` in JSON Lines
and in Parquet. pandas reads all three as NaN (``read_csv``, ``read_json``, ``read_parquet``),
and so does :func:`read_scores`. (Tables written before this rule hold ``nan`` in CSV and NaN
in Parquet; they are read the same way.)

With ``details=True`` three more columns (``DETAIL_COLUMNS``) hold what the model computed on
the way to the score, per timestep T and cross-attention layer L: ``layer_scores`` (T x L,
A_l + b), ``attention_scores`` (T x L, A_l) and ``contrast`` (T, b); missing for an ``error``
row. In CSV each is a JSON array in one field (``json.loads`` reads it back), in JSON Lines a
JSON array, in Parquet a list column (``list<list<double>>``, ``list<double>``). Values are
written exactly (``repr``); a non-finite value inside an array is written as ``null``.

Formats, chosen by the output's extension (:func:`format_for`):

- CSV (``.csv``): a header line, then one line per row (csv module, ``QUOTE_MINIMAL``,
  ``\\n`` line ends, UTF-8, scores written with ``repr`` so they read back bit-exact). Plain
  ``pandas.read_csv`` reads it, but turns the empty ``error`` of ``ok`` rows into NaN;
  :func:`read_scores` keeps them ``""``.
- JSON Lines (``.jsonl``, ``.ndjson``): one object per line.
- Parquet (``.parquet``, ``.pq``): a Parquet file cannot be appended to safely, so batches
  go to a journal beside it, ``<name>.partial.jsonl`` (the JSON Lines format above), opened
  when the writer opens (an unwritable place fails then, not at the first batch), and
  :meth:`ScoreWriter.close` merges the existing Parquet and the journal into a new Parquet
  (temp file + ``os.replace``) and removes the journal. Fixed schema: ``SCHEMA``
  (``schema(details=True)`` with the detail columns).

Files beside the output:

- ``<name>.lock``, while a writer has it open: an OS-level lock (``fcntl.flock``, see
  ``io/durable.py``) so that a second writer of the same output refuses at once
  (:class:`OutputInUseError`) instead of doubling rows. The lock dies with its process, so a
  killed run never leaves a stale one.
- ``<name>.genziqa.json``, the record of what wrote the rows (``identity=``: for
  ``genziqa score`` the model, its weights' digest and the scoring settings). It is written
  atomically before the first row is appended; a writer opened with another identity on an
  output that holds rows refuses (:class:`RecordMismatchError`, listing each difference).
  Kept beside the table rather than inside it, because CSV and JSON Lines have no place for
  it that pandas would not read as data; move or delete the two files together.

Repair on reopen: a kill can leave the last line of a CSV/JSON Lines file (or journal) cut
short. Such a last line (no line end, or not a valid row) is truncated away before anything
is appended; an invalid row anywhere else is an error, since that is not what a kill leaves.
A write that fails (a full disk: ``ENOSPC``, a file size limit: ``EFBIG``) takes back what it
wrote of its batch and raises :class:`OutputWriteError`; every earlier batch stays, and
opening the output again resumes after it.
"""

from __future__ import annotations

import contextlib
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
from typing import IO, TYPE_CHECKING, Any

from .durable import FileLock, LockHeldError, atomic_file, atomic_write, fsync_folder, truncate

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = [
    "COLUMNS",
    "DETAIL_COLUMNS",
    "LEGACY_COLUMNS",
    "MEDIA",
    "SCHEMA",
    "OutputInUseError",
    "OutputWriteError",
    "RecordMismatchError",
    "ScoreWriter",
    "format_for",
    "read_record",
    "read_scores",
    "record_differences",
    "schema",
    "table_exists",
]

COLUMNS: tuple[str, ...] = ("path", "score", "status", "error", "media")
LEGACY_COLUMNS: tuple[str, ...] = COLUMNS[:4]
DETAIL_COLUMNS: tuple[str, str, str] = ("layer_scores", "attention_scores", "contrast")
_DETAIL_DEPTH = {"layer_scores": 2, "attention_scores": 2, "contrast": 1}
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
RECORD_SUFFIX = ".genziqa.json"
LOCK_SUFFIX = ".lock"
_RECORD_FORMAT = "genziqa score table"

Row = dict[str, object]


def schema(details: bool = False) -> pa.Schema:
    """The Parquet schema of a score table, with or without the detail columns."""
    import pyarrow as pa

    fields = [
        ("path", pa.string()),
        ("score", pa.float64()),
        ("status", pa.string()),
        ("error", pa.string()),
        ("media", pa.string()),
    ]
    if details:
        fields += [
            ("layer_scores", pa.list_(pa.list_(pa.float64()))),
            ("attention_scores", pa.list_(pa.list_(pa.float64()))),
            ("contrast", pa.list_(pa.float64())),
        ]
    return pa.schema(fields)


SCHEMA: pa.Schema  # ``schema(False)``, built on first use (module ``__getattr__``)


def __getattr__(name: str) -> Any:
    if name == "SCHEMA":  # pyarrow is imported only when a Parquet table is touched
        return schema(False)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def columns_for(details: bool) -> tuple[str, ...]:
    return COLUMNS + DETAIL_COLUMNS if details else COLUMNS


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


def table_exists(path: str | Path) -> bool:
    """Whether a score table (or a Parquet table's journal) is at ``path``."""
    path = Path(path)
    return path.exists() or (format_for(path) == "parquet" and _journal_for(path).exists())


def record_path_for(path: str | Path) -> Path:
    """Where the record of what wrote ``path`` lives: ``<name>.genziqa.json`` beside it."""
    path = Path(path)
    return path.with_name(path.name + RECORD_SUFFIX)


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class OutputInUseError(RuntimeError):
    """Another process is writing the same output (it holds the output's lock)."""

    def __init__(self, path: Path, holder: int | None) -> None:
        self.path = path
        self.holder = holder
        by = f" (process {holder})" if holder else ""
        super().__init__(
            f"{path} is being written by another genziqa process{by}; wait for it to finish "
            "or write to another output"
        )


class RecordMismatchError(ValueError):
    """The output holds rows written with another identity; ``differences`` says how."""

    def __init__(self, path: Path, differences: list[str]) -> None:
        self.path = path
        self.differences = differences
        super().__init__(
            f"{path} was written with other settings ({'; '.join(differences)}); "
            "start it afresh (overwrite=True) or write to another output"
        )


class OutputWriteError(OSError):
    """Writing the output failed (a full disk, a size limit, an I/O error). Every batch
    written before this one is in the output; what this batch had written was taken back."""


# --------------------------------------------------------------------------------------------
# The record of what wrote a table
# --------------------------------------------------------------------------------------------


def read_record(path: str | Path) -> dict[str, Any] | None:
    """The record beside a score table (``{"identity": ..., "about": ...}``), or None."""
    record_path = record_path_for(path)
    try:
        text = record_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        record = json.loads(text)
    except ValueError:
        record = None
    if not isinstance(record, dict) or not isinstance(record.get("identity"), dict):
        raise ValueError(
            f"{record_path} is not a genziqa record of what wrote {Path(path).name}; delete it "
            "if the table is yours, or start the table afresh"
        )
    return record


def record_differences(stored: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """What differs between a stored identity and a new one, one line per differing leaf
    (``"config.scoring.timesteps: [9, 59] there, [9, 21, ...] now"``). Keys of ``new``
    missing from ``stored`` differ; keys only in ``stored`` are not known now and are skipped.
    """
    differences: list[str] = []

    def walk(there: Any, now: Any, where: str) -> None:
        if isinstance(there, Mapping) and isinstance(now, Mapping):
            for key in now:
                name = f"{where}.{key}" if where else str(key)
                if key not in there:
                    differences.append(f"{name}: not recorded there, {_shown(now[key])} now")
                else:
                    walk(there[key], now[key], name)
            for key in there:
                if key not in now and where:  # inside a section: a key this run lacks
                    differences.append(f"{where}.{key}: {_shown(there[key])} there, absent now")
        elif _normalised(there) != _normalised(now):
            differences.append(f"{where}: {_shown(there)} there, {_shown(now)} now")

    walk(stored, new, "")
    return differences


def _normalised(value: Any) -> Any:
    return json.loads(json.dumps(value, sort_keys=True))  # tuples -> lists, as stored


def _shown(value: Any) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 60 else text[:57] + "..."


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


class ScoreWriter:
    """Append score rows to a CSV, JSON Lines or Parquet table, durably and resumably.

    ``ScoreWriter(path)`` locks the output (:class:`OutputInUseError` if another process
    has it), then opens it (creating a CSV/JSON Lines file at once, a Parquet journal at once
    and the Parquet file at :meth:`close`). If the output exists, its rows are kept and their
    paths are in :attr:`done`; a cut-short last line left by a killed run is repaired first.
    ``overwrite=True`` deletes the existing output (and Parquet journal, and record) instead.
    ``retry_errors=True`` drops the existing ``error`` rows (rewriting the file atomically),
    so that those paths are scored again and :attr:`done` holds only the ``ok`` paths; a set of
    paths drops only those paths' error rows (the files of this run), keeping the others.
    :attr:`failed` holds the paths of the error rows that stay.

    ``details=True`` writes and expects the ``DETAIL_COLUMNS`` too; an output that holds rows
    of the other kind is refused (ValueError), so a table never mixes the two.

    ``identity`` (JSON-able mapping) says what writes the rows; ``about`` adds what is shown,
    not compared (e.g. the model's name as typed). On an output that holds rows and a record,
    an identity that differs raises :class:`RecordMismatchError` before anything is changed;
    :meth:`identify` checks and adopts keys learnt later. :attr:`unrecorded` is True when the
    output holds rows but no record (written before records existed, or moved without it).

    Use it as a context manager; leaving the block calls :meth:`close`, which for Parquet
    also happens when the block raises, so every written batch ends up in the Parquet file.
    """

    def __init__(
        self,
        path: str | Path,
        overwrite: bool = False,
        *,
        retry_errors: bool | AbstractSet[str] = False,
        details: bool = False,
        identity: Mapping[str, Any] | None = None,
        about: Mapping[str, Any] | None = None,
    ) -> None:
        self.path = Path(path)
        self.format = format_for(self.path)
        self.details = bool(details)
        self.columns = columns_for(self.details)
        self.journal = _journal_for(self.path) if self.format == "parquet" else None
        self.record_path = record_path_for(self.path)
        if not self.path.parent.is_dir():
            raise FileNotFoundError(
                f"the folder of the output {str(self.path)!r} does not exist; create it first"
            )
        if self.path.is_dir():
            raise IsADirectoryError(f"the output {str(self.path)!r} is a folder, not a file")
        self._written: set[str] = set()
        self._handle: IO[bytes] | None = None
        self._closed = False
        self._broken = False
        self._identity: dict[str, Any] | None = None
        self._about = dict(about or {})
        self._recorded: dict[str, Any] | None = None
        try:
            self._lock = FileLock(self.path.with_name(self.path.name + LOCK_SUFFIX))
        except LockHeldError as error:
            raise OutputInUseError(self.path, error.holder) from None
        except OSError as error:  # typically a folder we may not write in
            raise PermissionError(
                f"cannot write beside the output {str(self.path)!r} "
                f"({error.strerror or error}); choose a folder you can write in"
            ) from None
        try:
            if overwrite:
                self.path.unlink(missing_ok=True)
                self.record_path.unlink(missing_ok=True)
                if self.journal is not None:
                    self.journal.unlink(missing_ok=True)
            self._stored = read_record(self.path)
            if self.format == "parquet":
                existing = self._open_parquet(retry_errors, identity)
            else:
                existing = self._open_text(retry_errors, identity)
        except BaseException:
            self._release()
            raise
        self._done = frozenset(row["path"] for row in existing)  # type: ignore[misc]
        self.failed = frozenset(row["path"] for row in existing if row["status"] == "error")

    @property
    def done(self) -> frozenset[str]:
        """Paths already in the output when it was opened (ok and error rows; only ok ones
        with ``retry_errors``): the caller skips these."""
        return self._done

    @property
    def record(self) -> dict[str, Any] | None:
        """The record of what wrote the output's rows, when it has rows and one."""
        return self._stored

    @property
    def identity(self) -> dict[str, Any]:
        """What this writer records for its rows (the record's keys and the caller's)."""
        return dict(self._identity or {})

    @property
    def rows_written(self) -> int:
        """How many rows this writer has appended (in this run)."""
        return len(self._written)

    # -- opening ---------------------------------------------------------------------------

    def _open_text(
        self, retry_errors: bool | AbstractSet[str], identity: Mapping[str, Any] | None
    ) -> list[Row]:
        """Check, repair or rewrite an existing CSV/JSONL file, then open it for appending."""
        parsed = _read_text_table(self.path, self.format)
        rows = parsed.rows
        self._check_existing(parsed.details, rows, identity)
        kept = [row for row in rows if not _retried(row, retry_errors)]
        rewrite = parsed.legacy or (not rows and parsed.details not in (None, self.details))
        if len(kept) < len(rows) or rewrite:  # a legacy CSV gets the media column
            rows = kept
            atomic_write(self.path, _serialise(rows, self.format, self.details, header=True))
        elif parsed.valid_end < parsed.size:
            truncate(self.path, parsed.valid_end)

        self._handle = open(self.path, "ab", buffering=0)  # noqa: SIM115
        if self.format == "csv" and self._handle.tell() == 0:
            self._append(_serialise([], "csv", self.details, header=True))
            fsync_folder(self.path.parent)
        return rows

    def _open_parquet(
        self, retry_errors: bool | AbstractSet[str], identity: Mapping[str, Any] | None
    ) -> list[Row]:
        """Read the existing Parquet and a leftover journal; with retry_errors, merge now."""
        assert self.journal is not None
        stored, stored_details = _read_parquet_rows(self.path) if self.path.exists() else ([], None)
        journal = _read_text_table(self.journal, "jsonl")
        rows = stored + _not_in(journal.rows, stored)
        if stored and journal.rows and journal.details not in (None, stored_details):
            raise ValueError(
                f"{self.journal} and {self.path} hold rows of different kinds (with and without "
                "details); delete one of them"
            )
        self._check_existing(stored_details if stored else journal.details, rows, identity)
        if journal.valid_end < journal.size:
            truncate(self.journal, journal.valid_end)
        kept = [row for row in rows if not _retried(row, retry_errors)]
        if len(kept) < len(rows):
            rows = kept
            _atomic_write_parquet(self.path, rows, self.details)
            self.journal.unlink(missing_ok=True)
            fsync_folder(self.path.parent)
        self._handle = open(self.journal, "ab", buffering=0)  # noqa: SIM115
        fsync_folder(self.journal.parent)
        return rows

    def _check_existing(
        self, details: bool | None, rows: list[Row], identity: Mapping[str, Any] | None
    ) -> None:
        """Refuse rows of the other kind or of another identity; note a missing record."""
        if not rows:
            self._stored = None  # a record without rows says nothing: replaced at first write
        self.unrecorded = bool(rows) and self._stored is None and identity is not None
        if identity is not None:
            self.identify(identity)  # first: it lists every difference, details included
        if rows and details is not None and details != self.details:
            kind = "with" if details else "without"
            raise ValueError(
                f"{self.path} holds rows {kind} the detail columns ({', '.join(DETAIL_COLUMNS)})"
                f"; a table never mixes the two: write {kind} details, start it afresh "
                "(overwrite) or write to another output"
            )

    def identify(self, identity: Mapping[str, Any]) -> None:
        """Check ``identity`` against the output's record (RecordMismatchError) and keep it
        (with what the record knew that it does not) as the record of this writer's rows."""
        if self._stored is not None:
            differences = record_differences(self._stored["identity"], identity)
            if differences:
                raise RecordMismatchError(self.path, differences)
        known = dict(self._stored["identity"]) if self._stored is not None else {}
        self._identity = {**known, **_normalised(dict(identity))}

    def _ensure_record(self) -> None:
        """Write the record (atomically) before rows that it describes are appended."""
        if self._identity is None:
            return
        stored = self._stored["identity"] if self._stored is not None else None
        if stored == self._identity:
            return
        from .. import __version__

        record = {
            "format": _RECORD_FORMAT,
            "identity": self._identity,
            "about": {**self._about, "genziqa": __version__},
        }
        try:
            atomic_write(self.record_path, json.dumps(record, indent=2, sort_keys=True) + "\n")
        except OSError as error:
            self._broken = True
            raise _write_error(error, self.record_path) from None
        self._stored = record

    # -- writing ---------------------------------------------------------------------------

    def write(self, rows: Sequence[Mapping[str, object]]) -> None:
        """Append one batch of rows and make it durable (flush + fsync) before returning.

        Each row is a mapping with exactly the keys of :attr:`columns`. Raises ``ValueError``
        for a malformed row or a path already written (in this run or before it, see
        ``.done``); nothing of the batch is written then. Raises :class:`OutputWriteError`
        when the bytes cannot be written; what the batch had written is taken back and the
        writer accepts no more rows.
        """
        if self._closed:
            raise ValueError(f"ScoreWriter for {str(self.path)!r} is closed; open a new one")
        if self._broken:
            raise ValueError(f"an earlier write to {str(self.path)!r} failed; open it again")
        if isinstance(rows, Mapping):
            raise ValueError(
                "write takes a list of row dicts, got a single dict; wrap it in a list"
            )
        batch = [_check_row(row, index, self.details) for index, row in enumerate(rows)]
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
        self._ensure_record()
        fmt = "csv" if self.format == "csv" else "jsonl"
        self._append(_serialise(batch, fmt, self.details))
        self._written.update(seen)

    def _append(self, text: str) -> None:
        """Write all of ``text`` and fsync it; on failure cut the file back to where it was."""
        assert self._handle is not None
        data = memoryview(text.encode("utf-8"))
        start = os.fstat(self._handle.fileno()).st_size
        try:
            while data:
                written = self._handle.write(data)
                data = data[written or 0 :]
            os.fsync(self._handle.fileno())
        except OSError as error:
            self._broken = True
            with contextlib.suppress(OSError):
                os.ftruncate(self._handle.fileno(), start)
                os.fsync(self._handle.fileno())
            target = self.journal if self.journal is not None else self.path
            raise _write_error(error, target) from None

    # -- closing ---------------------------------------------------------------------------

    def close(self) -> None:
        """Finish the output: close the file; for Parquet, merge the journal into it; release
        the lock. After a failed write the Parquet journal is left for the next run to merge."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._handle is not None:
                self._handle.close()
                self._handle = None
            if self._broken:
                return
            if not self._done and not self._written:
                self._ensure_record()  # an empty table: what it was opened for
            if self.format == "parquet":
                try:
                    self._merge_journal()
                except OSError as error:
                    self._broken = True
                    raise _write_error(error, self.path) from None
        finally:
            self._release()

    def _release(self) -> None:
        lock = getattr(self, "_lock", None)
        if lock is not None:
            lock.release()

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
        stored = _read_parquet_rows(self.path)[0] if self.path.exists() else []
        _atomic_write_parquet(self.path, stored + _not_in(journal.rows, stored), self.details)
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


def _write_error(error: OSError, target: Path) -> OutputWriteError:
    return OutputWriteError(error.errno, error.strerror or str(error), str(target))


def _check_row(row: Mapping[str, object], index: int, details: bool = False) -> Row:
    """Validate one row given to ``write`` and return it normalised (str path, float score)."""
    where = f"row {index} of the batch"
    columns = columns_for(details)
    if not isinstance(row, Mapping):
        raise ValueError(f"{where}: expected a dict with keys {columns}, got {type(row).__name__}")
    if set(row) not in (set(columns), set(columns) - {"media"}):
        raise ValueError(f"{where}: expected exactly the keys {columns}, got {tuple(row)}")
    path, score, status, error = (row[name] for name in LEGACY_COLUMNS)
    media = row.get("media", "image")  # a row without it is an image row
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
            raise ValueError(
                f"{where} ({path}): an 'error' row needs score NaN (or None), got {score!r}"
            )
        if not error:
            raise ValueError(f"{where} ({path}): an 'error' row needs a non-empty error message")
    checked: Row = {"path": path, "score": value, "status": status, "error": error}
    checked["media"] = media
    for name in DETAIL_COLUMNS if details else ():
        checked[name] = _check_detail(row[name], name, status == "ok", f"{where} ({path})")
    return checked


def _check_detail(value: object, name: str, ok: bool, where: str) -> list | None:
    """A detail column's value as nested lists of floats (non-finite -> None); None for an
    error row."""
    if not ok:
        if value is not None:
            raise ValueError(f"{where}: an 'error' row needs {name} None, got {value!r}")
        return None
    if hasattr(value, "tolist"):
        value = value.tolist()  # numpy arrays, tensors
    depth = _DETAIL_DEPTH[name]

    def floats(item: object, level: int) -> object:
        if level == 0:
            number = _as_float(item)
            if number is None:
                raise ValueError(f"{where}: {name} holds {item!r}, not a number")
            return number if math.isfinite(number) else None
        if not isinstance(item, (list, tuple)):
            raise ValueError(
                f"{where}: {name} must be a list nested {depth} deep, got {type(item).__name__}"
            )
        return [floats(inner, level - 1) for inner in item]

    return floats(value, depth)  # type: ignore[return-value]


def _as_float(value: object) -> float | None:
    if isinstance(value, (bool, str, bytes)):
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _serialise(rows: list[Row], fmt: str, details: bool = False, *, header: bool = False) -> str:
    """Rows as the text appended to a CSV or JSON Lines file (one write per batch)."""
    buffer = io.StringIO()
    if fmt == "csv":
        writer = csv.writer(buffer, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
        if header:
            writer.writerow(columns_for(details))
        for row in rows:
            writer.writerow(csv_fields(row, details))
    else:
        for row in rows:
            score = row["score"]
            record = {**row, "score": None if math.isnan(score) else score}  # type: ignore[arg-type]
            buffer.write(json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n")
    return buffer.getvalue()


def csv_fields(row: Mapping[str, object], details: bool = False) -> list[str]:
    """One row as CSV fields: the score as ``repr`` (exact), empty for an error row; detail
    arrays as compact JSON, empty for an error row. ``genziqa score`` prints the same."""
    ok = row["status"] == "ok"
    fields = [str(row["path"]), repr(float(row["score"])) if ok else "", str(row["status"])]
    fields += [str(row["error"]), str(row.get("media", "image"))]
    for name in DETAIL_COLUMNS if details else ():
        value = row.get(name)
        fields.append("" if value is None else json.dumps(value, separators=(",", ":")))
    return fields


# --------------------------------------------------------------------------------------------
# Reading and repairing
# --------------------------------------------------------------------------------------------


@dataclass
class _TextTable:
    """The valid rows of a CSV/JSONL file and where they end (a cut tail follows); whether
    they have the detail columns (None: no header or row tells)."""

    rows: list[Row] = field(default_factory=list)
    valid_end: int = 0
    size: int = 0
    details: bool | None = None
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
                if tuple(record) not in (COLUMNS, LEGACY_COLUMNS, COLUMNS + DETAIL_COLUMNS):
                    raise ValueError(
                        f"{source} is not a genziqa score table: expected the header "
                        f"{','.join(COLUMNS)}, got {','.join(record)!r}"
                    )
                table.details = len(record) > len(COLUMNS)
                table.legacy = tuple(record) == LEGACY_COLUMNS
                first = False
            else:
                table.rows.append(_parse_fields(record, bool(table.details), table.legacy))
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


def _parse_fields(record: list[str], details: bool, legacy: bool = False) -> Row:
    columns = LEGACY_COLUMNS if legacy else columns_for(details)
    if len(record) != len(columns):
        raise _BadRow(f"expected {len(columns)} fields, got {len(record)}")
    path, score, status, error = record[:4]
    if score == "" and status == "error":
        value = math.nan
    else:
        try:
            value = float(score)
        except ValueError:
            raise _BadRow(f"score {score!r} is not a number") from None
    media = "image" if legacy else record[4]
    row = _checked_stored_row(path, value, status, error, media)
    for name, text in zip(DETAIL_COLUMNS, record[len(COLUMNS) :], strict=False):
        try:
            row[name] = json.loads(text) if text else None
        except ValueError:
            raise _BadRow(f"{name} {text[:40]!r} is not a JSON array") from None
        _check_stored_detail(row[name], name)
    return row


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
                row = _parse_record(json.loads(raw), table.details)
                table.details = len(row) > len(COLUMNS)
                table.rows.append(row)
        except (_BadRow, ValueError) as error:  # JSONDecodeError, UnicodeDecodeError
            if end == len(data):
                break
            raise ValueError(
                f"{source}, line {number}: not a valid score row ({error}); "
                "fix or delete the file, or pass overwrite=True"
            ) from None
        table.valid_end = end
    return table


def _parse_record(record: object, details: bool | None) -> Row:
    """One JSON Lines record; ``details`` (None: either) is what the rows before it had."""
    kinds = [False, True] if details is None else [details]
    allowed = [set(columns_for(k)) for k in kinds] + [
        set(columns_for(k)) - {"media"} for k in kinds
    ]
    if not isinstance(record, dict) or set(record) not in allowed:
        raise _BadRow(f"expected an object with the keys {columns_for(bool(details))}")
    score = record["score"]
    if score is None:
        score = math.nan
    if isinstance(score, bool) or not isinstance(score, (int, float)):
        raise _BadRow(f"score {score!r} is not a number")
    media = record.get("media", "image")  # written before the media column: an image
    row = _checked_stored_row(
        record["path"], float(score), record["status"], record["error"], media
    )
    for name in DETAIL_COLUMNS:
        if name in record:
            _check_stored_detail(record[name], name)
            row[name] = record[name]
    return row


def _check_stored_detail(value: object, name: str) -> None:
    if value is not None and not isinstance(value, list):
        raise _BadRow(f"{name} is not a JSON array")


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


def _read_parquet_rows(path: Path) -> tuple[list[Row], bool]:
    """The rows of a Parquet score table, and whether it has the detail columns."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    missing = [name for name in LEGACY_COLUMNS if name not in table.column_names]
    if missing:
        raise ValueError(
            f"{path} is not a genziqa score table: expected the columns {COLUMNS}, "
            f"got {tuple(table.column_names)}"
        )
    details = all(name in table.column_names for name in DETAIL_COLUMNS)
    if "media" not in table.column_names:  # written before the media column: images
        table = table.append_column("media", pa.array(["image"] * len(table), pa.string()))
    columns = list(columns_for(details))
    rows = table.select(columns).cast(schema(details)).to_pylist()
    for row in rows:
        if row["score"] is None:
            row["score"] = math.nan
    return rows, details


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
    """Read a score table of any supported format into a DataFrame with ``COLUMNS``, and
    ``DETAIL_COLUMNS`` when the table has them (each cell a list of lists, or a list, of
    floats; None for an error row).

    For Parquet, rows in a leftover journal (a run killed before ``close``) are included. A
    cut-short last line is ignored (the file is not changed). ``error`` is ``""`` for ok
    rows, ``score`` is float64 with NaN for error rows, ``media`` is ``"image"`` for the rows
    of tables written before that column.
    """
    import pandas as pd

    path = Path(path)
    fmt = format_for(path)
    if fmt == "parquet":
        journal = _journal_for(path)
        if not path.exists() and not journal.exists():
            raise FileNotFoundError(f"no score table at {str(path)!r} (nor its journal)")
        extra = _read_text_table(journal, "jsonl")
        stored, details = _read_parquet_rows(path) if path.exists() else ([], extra.details)
        rows = stored + _not_in(extra.rows, stored)
    else:
        if not path.exists():
            raise FileNotFoundError(f"no score table at {str(path)!r}")
        parsed = _read_text_table(path, fmt)
        rows, details = parsed.rows, parsed.details
    frame = pd.DataFrame(
        {
            "path": pd.Series([row["path"] for row in rows], dtype=str),
            "score": pd.Series([row["score"] for row in rows], dtype="float64"),
            "status": pd.Series([row["status"] for row in rows], dtype=str),
            "error": pd.Series([row["error"] for row in rows], dtype=str),
            "media": pd.Series([row["media"] for row in rows], dtype=str),
        }
    )
    for name in DETAIL_COLUMNS if details else ():
        frame[name] = pd.Series([row.get(name) for row in rows], dtype=object)
    return frame


def _atomic_write_parquet(path: Path, rows: list[Row], details: bool = False) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    missing_scores = [
        {**row, "score": None if math.isnan(row["score"]) else row["score"]}  # type: ignore[arg-type]
        for row in rows
    ]
    table = pa.Table.from_pylist(missing_scores, schema=schema(details))
    with atomic_file(path) as handle:
        pq.write_table(table, handle)
