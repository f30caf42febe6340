"""Tests for genziqa.io.tables: batch writing, pandas compatibility, kills and resuming."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from genziqa.io import tables as outputs
from genziqa.io.tables import (
    COLUMNS,
    DETAIL_COLUMNS,
    SCHEMA,
    OutputInUseError,
    OutputWriteError,
    RecordMismatchError,
    ScoreWriter,
    format_for,
    read_record,
    read_scores,
    record_differences,
)

SUFFIXES = (".csv", ".jsonl", ".parquet")


def _rows(start: int, stop: int, *, error_every: int = 0) -> list[dict]:
    """Rows for /img/00000.jpg...; every ``error_every``-th one is an error row."""
    rows = []
    for index in range(start, stop):
        path = f"/img/{index:05d}.jpg"
        if error_every and index % error_every == 0:
            rows.append(
                {"path": path, "score": math.nan, "status": "error", "error": f"bad, {index}"}
            )
        else:
            rows.append({"path": path, "score": index / 7 + 0.1, "status": "ok", "error": ""})
    return rows


def _pandas_read(path: Path) -> pd.DataFrame:
    fmt = format_for(path)
    if fmt == "csv":
        return pd.read_csv(path)
    if fmt == "jsonl":
        # pandas' default JSON float parser is not exact; precise_float is.
        return pd.read_json(path, lines=True, precise_float=True)
    return pd.read_parquet(path)


def _journal(path: Path) -> Path:
    return path.with_name(path.name + ".partial.jsonl")


def _assert_same(frame: pd.DataFrame, rows: list[dict]) -> None:
    assert list(frame.columns) == list(COLUMNS)
    assert frame["path"].tolist() == [r["path"] for r in rows]
    assert frame["status"].tolist() == [r["status"] for r in rows]
    for got, row in zip(frame["score"].tolist(), rows, strict=True):
        assert (math.isnan(got) and math.isnan(row["score"])) or got == row["score"]


# --------------------------------------------------------------------------------------------
# Formats
# --------------------------------------------------------------------------------------------


def test_format_for() -> None:
    assert format_for("a.csv") == "csv"
    assert format_for("A.CSV") == "csv"
    assert format_for("a.jsonl") == "jsonl"
    assert format_for(Path("a.ndjson")) == "jsonl"
    assert format_for("a.parquet") == "parquet"
    assert format_for("a.pq") == "parquet"
    with pytest.raises(ValueError, match=r"\.txt.*\.csv.*\.jsonl.*\.parquet"):
        format_for("scores.txt")
    with pytest.raises(ValueError, match="none"):
        format_for("scores")


def test_unsupported_extension_raises(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.xlsx"):
        ScoreWriter(tmp_path / "scores.xlsx")
    with pytest.raises(ValueError, match=r"\.xlsx"):
        read_scores(tmp_path / "scores.xlsx")


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_two_batches_read_back_with_pandas(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"scores{suffix}"
    first, second = _rows(0, 5, error_every=3), _rows(5, 9, error_every=3)
    with ScoreWriter(path) as writer:
        assert writer.done == frozenset()
        writer.write(first)
        writer.write(second)
    assert not _journal(path).exists()

    frame = _pandas_read(path)
    _assert_same(frame, first + second)
    assert frame["score"].dtype == "float64"
    for column in ("path", "status", "error"):
        assert pd.api.types.is_string_dtype(frame[column]), (column, frame[column].dtype)
    errors = frame[frame["status"] == "error"]
    assert errors["error"].tolist() == ["bad, 0", "bad, 3", "bad, 6"]  # commas survive in CSV

    ours = read_scores(path)
    _assert_same(ours, first + second)
    assert ours["score"].dtype == "float64"
    assert ours.loc[ours["status"] == "ok", "error"].eq("").all()
    if suffix == ".parquet":
        assert pq.read_schema(path).remove_metadata().equals(SCHEMA)


def test_csv_scores_round_trip_exactly_and_quote_when_needed(tmp_path: Path) -> None:
    path = tmp_path / "scores.csv"
    rows = [
        {"path": "/img/a, b.jpg", "score": 0.1 + 0.2, "status": "ok", "error": ""},
        {"path": '/img/"q".jpg', "score": 1e-300, "status": "ok", "error": ""},
        {"path": "/img/c.jpg", "score": math.nan, "status": "error", "error": "one\ntwo"},
    ]
    with ScoreWriter(path) as writer:
        writer.write(rows)
    assert path.read_text().splitlines()[0] == "path,score,status,error,media"
    frame = pd.read_csv(path)
    assert frame["score"].iloc[0] == 0.30000000000000004
    assert frame["score"].iloc[1] == 1e-300
    assert frame["path"].tolist() == ["/img/a, b.jpg", '/img/"q".jpg', "/img/c.jpg"]
    assert read_scores(path)["error"].tolist() == ["", "", "one\ntwo"]


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_empty_run_leaves_a_valid_empty_table(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"scores{suffix}"
    with ScoreWriter(path) as writer:
        writer.write([])
    frame = read_scores(path)
    assert list(frame.columns) == list(COLUMNS)
    assert len(frame) == 0
    assert frame["score"].dtype == "float64"


# --------------------------------------------------------------------------------------------
# Resuming and repairing
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_resume_after_close(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"scores{suffix}"
    with ScoreWriter(path) as writer:
        writer.write(_rows(0, 4, error_every=2))
    with ScoreWriter(path) as writer:
        assert writer.done == {r["path"] for r in _rows(0, 4)}  # ok and error rows
        writer.write(_rows(4, 6))
    _assert_same(read_scores(path), _rows(0, 4, error_every=2) + _rows(4, 6))


@pytest.mark.parametrize(
    ("suffix", "tail"),
    [
        (".csv", "/img/99999.jpg,0.12"),  # cut in the middle of a row
        (".csv", '/img/99999.jpg,nan,error,"first line\n'),  # cut inside a quoted newline
        (".csv", "/img/99999.jpg,0.5,ok"),  # row complete but the line end is missing
        (".jsonl", '{"path": "/img/99999.jpg", "sco'),
        (".jsonl", '{"path": "/img/99999.jpg", "score": 0.5, "status": "ok", "error": ""}'),
    ],
)
def test_truncated_last_line_is_repaired(tmp_path: Path, suffix: str, tail: str) -> None:
    path = tmp_path / f"scores{suffix}"
    with ScoreWriter(path) as writer:
        writer.write(_rows(0, 3))
        writer.write(_rows(3, 6, error_every=2))
    with open(path, "a", encoding="utf-8", newline="") as handle:
        handle.write(tail)

    with ScoreWriter(path) as writer:
        assert writer.done == {r["path"] for r in _rows(0, 6)}
        writer.write(_rows(6, 8))
    expected = _rows(0, 3) + _rows(3, 6, error_every=2) + _rows(6, 8)
    _assert_same(_pandas_read(path), expected)
    _assert_same(read_scores(path), expected)


def test_truncated_utf8_character_is_repaired(tmp_path: Path) -> None:
    path = tmp_path / "scores.csv"
    with ScoreWriter(path) as writer:
        writer.write(_rows(0, 2))
    with open(path, "ab") as handle:
        handle.write("/img/caf\u00e9.jpg".encode()[:-1])  # half of a two-byte character
    with ScoreWriter(path) as writer:
        assert len(writer.done) == 2
    _assert_same(pd.read_csv(path), _rows(0, 2))


def test_cut_short_header_is_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "scores.csv"
    path.write_text("path,sco")
    with ScoreWriter(path) as writer:
        assert writer.done == frozenset()
        writer.write(_rows(0, 2))
    _assert_same(pd.read_csv(path), _rows(0, 2))


@pytest.mark.parametrize(
    ("suffix", "bad_line"),
    [
        (".csv", "/img/x.jpg,not-a-number,ok,\n"),
        (".jsonl", "{broken\n"),
    ],
)
def test_bad_row_in_the_middle_raises(tmp_path: Path, suffix: str, bad_line: str) -> None:
    path = tmp_path / f"scores{suffix}"
    with ScoreWriter(path) as writer:
        writer.write(_rows(0, 2))
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(bad_line)
    with ScoreWriter(path) as writer:  # a bad *last* line is a cut-short row: repaired
        assert len(writer.done) == 2
        writer.write(_rows(2, 3))
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(bad_line)
    size = path.stat().st_size
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(_serialised_row(suffix, _rows(3, 4)[0]))
    bad_line_number = 5 if suffix == ".csv" else 4  # the CSV has a header line
    with pytest.raises(ValueError, match=f"line {bad_line_number}:"):
        ScoreWriter(path)
    with pytest.raises(ValueError, match="not a valid score row"):
        read_scores(path)
    assert path.stat().st_size > size  # nothing was truncated


def _serialised_row(suffix: str, row: dict) -> str:
    if suffix == ".csv":
        return f"{row['path']},{row['score']!r},{row['status']},{row['error']}\n"
    return json.dumps(row) + "\n"


def test_foreign_csv_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "scores.csv"
    path.write_text("name,value\na,1\n")
    with pytest.raises(ValueError, match="not a genziqa score table"):
        ScoreWriter(path)
    assert path.read_text() == "name,value\na,1\n"


@pytest.mark.filterwarnings("ignore::ResourceWarning")  # the "killed" writer's open file
def test_parquet_killed_before_close_resumes(tmp_path: Path) -> None:
    path = tmp_path / "scores.parquet"
    writer = ScoreWriter(path)
    writer.write(_rows(0, 3))
    writer.write(_rows(3, 5, error_every=4))
    del writer  # "killed": never closed (CPython frees it, and its file, right here)
    assert not path.exists()
    assert _journal(path).exists()
    _assert_same(read_scores(path), _rows(0, 3) + _rows(3, 5, error_every=4))

    with ScoreWriter(path) as writer:
        assert writer.done == {r["path"] for r in _rows(0, 5)}
        writer.write(_rows(5, 7))
    assert not _journal(path).exists()
    frame = pd.read_parquet(path)
    assert frame["path"].is_unique
    _assert_same(frame, _rows(0, 3) + _rows(3, 5, error_every=4) + _rows(5, 7))


def test_parquet_killed_after_merge_before_journal_removal(tmp_path: Path) -> None:
    path = tmp_path / "scores.parquet"
    with ScoreWriter(path) as writer:
        writer.write(_rows(0, 4))
    # A journal left over holding rows that are already in the Parquet, plus a cut-short line
    # and one row that is not (written by hand, as a killed run would leave it).
    lines = [json.dumps(r) for r in _rows(2, 5)]
    _journal(path).write_text("\n".join(lines) + '\n{"path": "/img/0')
    with ScoreWriter(path) as writer:
        assert writer.done == {r["path"] for r in _rows(0, 5)}
        writer.write(_rows(5, 6))
    frame = pd.read_parquet(path)
    assert frame["path"].is_unique
    _assert_same(frame, _rows(0, 6))


KILL_SCRIPT = textwrap.dedent(
    """
    import importlib, math, sys, time

    # `import genziqa` is lazy: the child loads the table writer without torch.
    outputs = importlib.import_module(sys.argv[2])
    writer = outputs.ScoreWriter(sys.argv[1])
    for batch in range(10_000):
        rows = []
        for i in range(batch * 50, batch * 50 + 50):
            if i % 5 == 0:
                row = {"path": f"/img/{i:07d}.jpg", "score": math.nan, "status": "error",
                       "error": "cannot decode,\\n" + "x" * 200}
            else:
                row = {"path": f"/img/{i:07d}.jpg", "score": i / 7, "status": "ok", "error": ""}
            rows.append(row)
        writer.write(rows)
        print(batch, flush=True)
        time.sleep(0.005)
    """
)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_sigkill_mid_run_leaves_a_resumable_table(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"scores{suffix}"
    command = [sys.executable, "-c", KILL_SCRIPT, str(path), outputs.__name__]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as child:
        try:
            assert child.stdout is not None
            for _ in range(4):  # wait until a few batches have landed
                assert child.stdout.readline(), "the writer process ended early"
        finally:
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    assert path.with_name(path.name + ".lock").exists()  # left behind, but no longer locked
    with ScoreWriter(path) as writer:
        done = writer.done
    frame = read_scores(path)
    assert len(frame) >= 4 * 50
    assert len(frame) == len(done) and frame["path"].is_unique
    for index, row in enumerate(frame.itertuples(index=False)):
        assert row.path == f"/img/{index:07d}.jpg"  # a complete prefix of the rows
        if index % 5 == 0:
            assert row.status == "error"
            assert math.isnan(row.score)
            assert row.error == "cannot decode,\n" + "x" * 200
        else:
            assert (row.status, row.score, row.error) == ("ok", index / 7, "")
    assert len(_pandas_read(path)) == len(frame)  # and a valid file for pandas too


# --------------------------------------------------------------------------------------------
# Options and caller errors
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_overwrite(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"scores{suffix}"
    with ScoreWriter(path) as writer:
        writer.write(_rows(0, 3))
    if suffix == ".parquet":
        _journal(path).write_text(json.dumps(_rows(3, 4)[0]) + "\n")
    with ScoreWriter(path, overwrite=True) as writer:
        assert writer.done == frozenset()
        writer.write(_rows(10, 12))
    _assert_same(read_scores(path), _rows(10, 12))
    assert not _journal(path).exists()


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_retry_errors(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"scores{suffix}"
    with ScoreWriter(path) as writer:
        writer.write(_rows(0, 6, error_every=3))
    with ScoreWriter(path, retry_errors=True) as writer:
        assert writer.done == {f"/img/0000{i}.jpg" for i in (1, 2, 4, 5)}
        # The error rows are gone from the file as soon as it is opened.
        assert read_scores(path)["status"].eq("ok").all()
        writer.write(_rows(0, 1) + _rows(3, 4))
    frame = read_scores(path)
    assert frame["path"].is_unique
    assert sorted(frame["path"]) == [r["path"] for r in _rows(0, 6)]
    assert frame["status"].eq("ok").all()
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.filterwarnings("ignore::ResourceWarning")  # the "killed" writer's open file
def test_retry_errors_includes_a_leftover_parquet_journal(tmp_path: Path) -> None:
    path = tmp_path / "scores.parquet"
    writer = ScoreWriter(path)
    writer.write(_rows(0, 4, error_every=2))
    del writer
    with ScoreWriter(path, retry_errors=True) as writer:
        assert writer.done == {"/img/00001.jpg", "/img/00003.jpg"}
        writer.write(_rows(0, 1) + _rows(2, 3))
    assert sorted(pd.read_parquet(path)["path"]) == [r["path"] for r in _rows(0, 4)]


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_duplicate_path_raises(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"scores{suffix}"
    with ScoreWriter(path) as writer:
        writer.write(_rows(0, 2))
        with pytest.raises(ValueError, match="already written"):
            writer.write(_rows(1, 3))  # /img/00001.jpg again, across batches
        with pytest.raises(ValueError, match="already written"):
            writer.write(_rows(5, 6) + _rows(5, 6))  # twice in one batch
    with ScoreWriter(path) as writer, pytest.raises(ValueError, match=r"\.done"):
        writer.write(_rows(0, 1))  # already in the output from the last run
    _assert_same(read_scores(path), _rows(0, 2))  # nothing of a refused batch was written


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"path": "/a.jpg", "score": math.nan, "status": "ok", "error": ""}, "finite"),
        ({"path": "/a.jpg", "score": 0.5, "status": "error", "error": "x"}, "NaN"),
        ({"path": "/a.jpg", "score": math.nan, "status": "error", "error": ""}, "non-empty"),
        ({"path": "/a.jpg", "score": 0.5, "status": "fine", "error": ""}, "'ok' or 'error'"),
        ({"path": "/a.jpg", "score": 0.5, "status": "ok"}, "exactly the keys"),
        ({"path": "/a.jpg", "score": "0.5", "status": "ok", "error": ""}, "finite"),
    ],
)
def test_malformed_row_raises(tmp_path: Path, row: dict, message: str) -> None:
    with ScoreWriter(tmp_path / "scores.jsonl") as writer:
        with pytest.raises(ValueError, match=message):
            writer.write([row])
        with pytest.raises(ValueError, match="wrap it in a list"):
            writer.write(row)  # type: ignore[arg-type]


def test_write_after_close_raises(tmp_path: Path) -> None:
    writer = ScoreWriter(tmp_path / "scores.csv")
    writer.close()
    writer.close()  # idempotent
    with pytest.raises(ValueError, match="closed"):
        writer.write(_rows(0, 1))


def test_missing_output_folder_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ScoreWriter(tmp_path / "nope" / "scores.csv")
    with pytest.raises(FileNotFoundError):
        read_scores(tmp_path / "scores.parquet")


# --------------------------------------------------------------------------------------------
# The media column (image / video), and tables written before it


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_media_column_round_trips_and_defaults_to_image(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"scores{suffix}"
    rows = [
        {"path": "/v/a.mp4", "score": 1.5, "status": "ok", "error": "", "media": "video"},
        {"path": "/i/b.jpg", "score": 2.5, "status": "ok", "error": ""},  # no media: an image
        {"path": "/v/c.mp4", "score": math.nan, "status": "error", "error": "x", "media": "video"},
    ]
    with ScoreWriter(path) as writer:
        writer.write(rows)
    frame = read_scores(path)
    assert list(frame.columns) == list(COLUMNS)
    assert frame["media"].tolist() == ["video", "image", "video"]
    assert _pandas_read(path)["media"].tolist() == ["video", "image", "video"]
    with ScoreWriter(path) as writer, pytest.raises(ValueError, match="media must be 'image'"):
        writer.write([{**rows[1], "path": "/i/d.jpg", "media": "audio"}])


def _legacy_rows() -> list[dict]:
    return [
        {"path": "/img/old0.jpg", "score": 0.25, "status": "ok", "error": ""},
        {"path": "/img/old1.jpg", "score": math.nan, "status": "error", "error": "bad"},
    ]


def _write_legacy(path: Path) -> None:
    """A table as genziqa wrote it before the media column."""
    rows = _legacy_rows()
    fmt = format_for(path)
    if fmt == "csv":
        lines = ["path,score,status,error", "/img/old0.jpg,0.25,ok,", "/img/old1.jpg,nan,error,bad"]
        path.write_text("\n".join(lines) + "\n")
    elif fmt == "jsonl":
        records = [{**r, "score": None if math.isnan(r["score"]) else r["score"]} for r in rows]
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
    else:
        import pyarrow as pa

        schema = pa.schema([(c, SCHEMA.field(c).type) for c in COLUMNS[:4]])
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_tables_without_the_media_column_read_and_resume(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"old{suffix}"
    _write_legacy(path)
    frame = read_scores(path)
    assert frame["media"].tolist() == ["image", "image"]
    assert frame["path"].tolist() == ["/img/old0.jpg", "/img/old1.jpg"]
    with ScoreWriter(path) as writer:
        assert writer.done == {"/img/old0.jpg", "/img/old1.jpg"}
        writer.write(
            [{"path": "/v/new.mp4", "score": 3.0, "status": "ok", "error": "", "media": "video"}]
        )
    frame = read_scores(path)
    assert frame["path"].tolist() == ["/img/old0.jpg", "/img/old1.jpg", "/v/new.mp4"]
    assert frame["media"].tolist() == ["image", "image", "video"]
    assert frame["score"].tolist()[0] == 0.25 and frame["error"].tolist()[1] == "bad"
    if suffix == ".csv":  # rewritten with the column before appending
        assert path.read_text().splitlines()[0] == "path,score,status,error,media"


# --------------------------------------------------------------------------------------------
# A failed row's score: one representation
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_a_failed_score_is_missing_in_every_format(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"scores{suffix}"
    rows = _rows(0, 3, error_every=2)  # rows 0 and 2 failed
    with ScoreWriter(path) as writer:
        writer.write(rows)
    if suffix == ".csv":
        assert path.read_text().splitlines()[1] == '/img/00000.jpg,,error,"bad, 0",image'
    elif suffix == ".jsonl":
        assert json.loads(path.read_text().splitlines()[0])["score"] is None
    else:
        assert pq.read_table(path).column("score").null_count == 2
    frame = _pandas_read(path)
    assert frame["score"].isna().tolist() == [True, False, True]
    assert read_scores(path)["score"].isna().tolist() == [True, False, True]


def test_a_csv_written_with_nan_scores_still_reads_and_resumes(tmp_path: Path) -> None:
    path = tmp_path / "scores.csv"
    path.write_text("path,score,status,error\n/img/0.jpg,nan,error,bad\n/img/1.jpg,0.5,ok,\n")
    with ScoreWriter(path) as writer:
        assert writer.done == {"/img/0.jpg", "/img/1.jpg"} and writer.failed == {"/img/0.jpg"}
        writer.write(_rows(2, 3, error_every=1))
    assert read_scores(path)["score"].isna().tolist() == [True, False, True]


# --------------------------------------------------------------------------------------------
# One writer per output
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_a_second_writer_of_the_same_output_is_refused(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"scores{suffix}"
    lock = path.with_name(path.name + ".lock")
    with ScoreWriter(path) as writer:
        writer.write(_rows(0, 2))
        assert lock.exists()
        with pytest.raises(
            OutputInUseError, match=f"another genziqa process .process {os.getpid()}"
        ):
            ScoreWriter(path)
        with pytest.raises(OutputInUseError):
            ScoreWriter(path, overwrite=True)  # not even to delete it
        writer.write(_rows(2, 3))
    assert not lock.exists()
    with ScoreWriter(path) as writer:  # free again once closed
        assert len(writer.done) == 3
    _assert_same(read_scores(path), _rows(0, 3))


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_an_unwritable_folder_fails_when_the_writer_opens(
    tmp_path: Path, suffix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "readonly"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        if os.access(folder, os.W_OK):  # root writes anyway: make creating files refuse
            import builtins

            real_os_open, real_open = os.open, builtins.open

            def refuse(path: object) -> None:
                if isinstance(path, (str, os.PathLike)) and Path(path).parent == folder:
                    raise PermissionError(13, "Permission denied", str(path))

            def os_open(path, *args, **kwargs):
                refuse(path)
                return real_os_open(path, *args, **kwargs)

            def open_(path, mode="r", *args, **kwargs):
                if any(c in mode for c in "wax+"):
                    refuse(path)
                return real_open(path, mode, *args, **kwargs)

            monkeypatch.setattr(os, "open", os_open)
            monkeypatch.setattr(builtins, "open", open_)
        with pytest.raises(PermissionError, match="cannot write beside the output"):
            ScoreWriter(folder / f"scores{suffix}")
    finally:
        folder.chmod(0o755)


# --------------------------------------------------------------------------------------------
# A write that fails (a full disk)
# --------------------------------------------------------------------------------------------


class _FillingDisk:
    """A file handle that writes ``room`` more bytes, then fails as a full disk does."""

    def __init__(self, handle, room: int) -> None:
        self.handle, self.room = handle, room

    def write(self, data) -> int:
        if self.room <= 0:
            raise OSError(28, "No space left on device")
        written = self.handle.write(bytes(data[: self.room]))
        self.room -= written
        return written

    def __getattr__(self, name: str):
        return getattr(self.handle, name)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_a_full_disk_keeps_earlier_batches_and_the_same_writer_resumes(
    tmp_path: Path, suffix: str
) -> None:
    path = tmp_path / f"scores{suffix}"
    writer = ScoreWriter(path)
    writer.write(_rows(0, 3))
    writer._handle = _FillingDisk(writer._handle, room=30)  # half of the next batch fits
    with pytest.raises(OutputWriteError) as info:
        writer.write(_rows(3, 6, error_every=4))
    assert info.value.errno == 28 and path.name in str(info.value)
    with pytest.raises(ValueError, match="failed"):
        writer.write(_rows(6, 7))  # no more rows after a failed write
    writer.close()
    assert not path.with_name(path.name + ".lock").exists()
    _assert_same(read_scores(path), _rows(0, 3))  # nothing of the failed batch is left
    with ScoreWriter(path) as again:
        assert again.done == {r["path"] for r in _rows(0, 3)}
        again.write(_rows(3, 6, error_every=4))
    _assert_same(read_scores(path), _rows(0, 3) + _rows(3, 6, error_every=4))
    _assert_same(_pandas_read(path), _rows(0, 3) + _rows(3, 6, error_every=4))


# --------------------------------------------------------------------------------------------
# The record of what wrote the rows
# --------------------------------------------------------------------------------------------

IDENTITY = {"config": {"scoring": {"timesteps": [9, 59]}, "seed": 0}, "weights": None}


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_a_resume_with_another_identity_is_refused_before_anything_changes(
    tmp_path: Path, suffix: str
) -> None:
    path = tmp_path / f"scores{suffix}"
    with ScoreWriter(path, identity=IDENTITY, about={"model": "tiny"}) as writer:
        assert not writer.unrecorded
        writer.write(_rows(0, 3, error_every=2))
    record = read_record(path)
    assert record["identity"] == IDENTITY and record["about"]["model"] == "tiny"
    before = path.read_bytes()
    other = {"config": {"scoring": {"timesteps": [9]}, "seed": 0}, "weights": "abc"}
    for options in ({}, {"retry_errors": True}):
        with pytest.raises(RecordMismatchError) as info:
            ScoreWriter(path, identity=other, **options)
        assert info.value.differences == [
            "config.scoring.timesteps: [9, 59] there, [9] now",
            'weights: null there, "abc" now',
        ]
    assert path.read_bytes() == before and not path.with_name(path.name + ".lock").exists()
    with ScoreWriter(path, identity=IDENTITY) as writer:  # the same identity resumes
        assert len(writer.done) == 3
    with ScoreWriter(path, identity=other, overwrite=True) as writer:
        writer.write(_rows(0, 1))
    assert read_record(path)["identity"] == other


def test_keys_learnt_later_are_checked_by_identify_and_recorded(tmp_path: Path) -> None:
    path = tmp_path / "scores.csv"
    with ScoreWriter(path, identity={**IDENTITY, "dtype": "float32"}) as writer:
        writer.write(_rows(0, 2))
    with ScoreWriter(path, identity=IDENTITY) as writer:  # dtype not known yet: not compared
        with pytest.raises(RecordMismatchError, match='dtype: "float32" there, "bfloat16" now'):
            writer.identify({**IDENTITY, "dtype": "bfloat16"})
        writer.identify({**IDENTITY, "dtype": "float32"})
        writer.write(_rows(2, 3))
    assert read_record(path)["identity"]["dtype"] == "float32"


def test_the_record_is_written_before_the_first_row(tmp_path: Path) -> None:
    path = tmp_path / "scores.jsonl"
    writer = ScoreWriter(path, identity=IDENTITY)
    assert read_record(path) is None  # opened, nothing written yet
    writer.write(_rows(0, 1))
    assert read_record(path)["identity"] == IDENTITY  # before close: a kill keeps it
    writer.close()


def test_a_table_without_a_record_is_resumed_and_recorded(tmp_path: Path) -> None:
    path = tmp_path / "scores.csv"
    with ScoreWriter(path) as writer:  # an older genziqa, or a record deleted
        writer.write(_rows(0, 2))
    with ScoreWriter(path, identity=IDENTITY) as writer:
        assert writer.unrecorded
        writer.write(_rows(2, 3))
    assert read_record(path)["identity"] == IDENTITY


def test_a_record_without_rows_says_nothing(tmp_path: Path) -> None:
    path = tmp_path / "scores.csv"
    with ScoreWriter(path, identity=IDENTITY):
        pass  # an empty table, recorded
    assert read_record(path)["identity"] == IDENTITY
    other = {**IDENTITY, "weights": "abc"}
    with ScoreWriter(path, identity=other) as writer:  # no rows: nothing to mix with
        writer.write(_rows(0, 1))
    assert read_record(path)["identity"] == other


def test_a_broken_record_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "scores.csv"
    with ScoreWriter(path, identity=IDENTITY) as writer:
        writer.write(_rows(0, 1))
    path.with_name("scores.csv.genziqa.json").write_text("{not json")
    with pytest.raises(ValueError, match="not a genziqa record"):
        ScoreWriter(path, identity=IDENTITY)


def test_record_differences_walks_sections() -> None:
    stored = {"config": {"a": 1, "b": {"c": [1, 2]}, "gone": 1}, "dtype": "float32"}
    new = {"config": {"a": 1, "b": {"c": (1, 3)}}, "details": True}
    assert record_differences(stored, new) == [
        "config.b.c: [1, 2] there, [1, 3] now",
        "config.gone: 1 there, absent now",
        "details: not recorded there, true now",
    ]
    assert record_differences(stored, {"config": {"a": 1, "b": {"c": (1, 2)}, "gone": 1}}) == []


# --------------------------------------------------------------------------------------------
# Detail columns
# --------------------------------------------------------------------------------------------


def _detail_rows(start: int, stop: int) -> list[dict]:
    rows = []
    for row in _rows(start, stop, error_every=3):
        ok = row["status"] == "ok"
        base = row["path"].__hash__() % 100 / 7 + 0.1
        rows.append(
            {
                **row,
                "layer_scores": [[base, base + 1.5], [base / 3, -base]] if ok else None,
                "attention_scores": [[base - 1, 0.1 + 0.2], [1e-300, 2.0]] if ok else None,
                "contrast": [base * 2, base / 9] if ok else None,
            }
        )
    return rows


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_details_are_written_and_read_back_exactly(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"scores{suffix}"
    rows = _detail_rows(0, 4) + _detail_rows(4, 7)
    with ScoreWriter(path, details=True) as writer:
        writer.write(rows[:4])
    with ScoreWriter(path, details=True) as writer:  # resumed
        writer.write(rows[4:])
    frame = read_scores(path)
    assert list(frame.columns) == [*COLUMNS, *DETAIL_COLUMNS]
    for name in DETAIL_COLUMNS:
        assert frame[name].tolist() == [row[name] for row in rows]
    pandas = _pandas_read(path)
    if suffix == ".csv":  # a JSON array in one field
        cell = pandas["layer_scores"].iloc[1]
        assert json.loads(cell) == rows[1]["layer_scores"]
    else:
        assert [list(map(list, v)) for v in pandas["layer_scores"].iloc[1:3]] == [
            rows[1]["layer_scores"],
            rows[2]["layer_scores"],
        ]
    assert pandas["score"].isna().tolist() == [r["status"] == "error" for r in rows]


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_a_table_never_mixes_rows_with_and_without_details(tmp_path: Path, suffix: str) -> None:
    plain, detailed = tmp_path / f"plain{suffix}", tmp_path / f"detailed{suffix}"
    with ScoreWriter(plain) as writer:
        writer.write(_rows(0, 2))
    with ScoreWriter(detailed, details=True) as writer:
        writer.write(_detail_rows(0, 2))
    with pytest.raises(ValueError, match="holds rows without the detail columns"):
        ScoreWriter(plain, details=True)
    with pytest.raises(ValueError, match="holds rows with the detail columns"):
        ScoreWriter(detailed)
    with (
        ScoreWriter(detailed, details=True) as writer,
        pytest.raises(ValueError, match="exactly the keys"),
    ):
        writer.write(_rows(5, 6))  # a row without details


def test_an_empty_csv_of_the_other_kind_gets_the_right_header(tmp_path: Path) -> None:
    path = tmp_path / "scores.csv"
    ScoreWriter(path).close()
    with ScoreWriter(path, details=True) as writer:
        writer.write(_detail_rows(1, 2))
    assert path.read_text().splitlines()[0] == ",".join([*COLUMNS, *DETAIL_COLUMNS])
    assert read_scores(path)["contrast"].tolist() == [_detail_rows(1, 2)[0]["contrast"]]


def test_detail_values_are_checked(tmp_path: Path) -> None:
    row = _detail_rows(1, 2)[0]
    with ScoreWriter(tmp_path / "scores.jsonl", details=True) as writer:
        with pytest.raises(ValueError, match="nested 2 deep"):
            writer.write([{**row, "layer_scores": [1.0, 2.0]}])
        with pytest.raises(ValueError, match="needs contrast None"):
            writer.write([{**_detail_rows(0, 1)[0], "contrast": [1.0]}])
        writer.write([{**row, "contrast": [math.inf, 1.0]}])  # non-finite -> null
    assert read_scores(tmp_path / "scores.jsonl")["contrast"].tolist() == [[None, 1.0]]
