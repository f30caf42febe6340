"""The command line end to end on the tiny test model, in-process and as a subprocess."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from genziqa.cli import EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, main

FAST = ["--model", "genziqa-tiny", "--timesteps", "2", "--workers", "0", "-q"]


def _photo(seed: int, size=(40, 32)) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


@pytest.fixture()
def good_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "good"
    folder.mkdir()
    for i, ext in enumerate(["jpg", "png", "webp", "bmp", "tiff", "gif"]):
        _photo(i).save(folder / f"photo{i}.{ext}")
    return folder


@pytest.fixture()
def mixed_folder(good_folder: Path) -> Path:
    """Good photos plus one file of every bad kind the CLI must survive."""
    buffer = io.BytesIO()
    _photo(10, (64, 64)).save(buffer, format="JPEG")
    data = buffer.getvalue()
    (good_folder / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (good_folder / "empty.jpg").write_bytes(b"")
    (good_folder / "text.png").write_text("this is not an image\n")
    png = io.BytesIO()
    _photo(11, (64, 64)).save(png, format="PNG")
    corrupt = bytearray(png.getvalue())
    start = corrupt.index(b"IDAT") + 8
    corrupt[start : start + 40] = bytes(40)
    (good_folder / "corrupt.png").write_bytes(bytes(corrupt))
    _photo(12, (8, 8)).save(good_folder / "tiny.png")
    _photo(13, (200, 200)).save(good_folder / "huge.png")
    return good_folder


def test_mixed_folder_scores_good_files_and_reports_each_bad_one(mixed_folder, tmp_path):
    out = tmp_path / "scores.csv"
    code = main(["score", str(mixed_folder), "-o", str(out), "--max-pixels", "20000", *FAST])
    assert code == EXIT_SOME_FAILED
    table = pd.read_csv(out, keep_default_na=False)
    assert list(table.columns) == ["path", "score", "status", "error"]
    assert len(table) == 12 and table["path"].is_unique
    by_name = {Path(row["path"]).name: row for row in table.to_dict("records")}
    for i, ext in enumerate(["jpg", "png", "webp", "bmp", "tiff", "gif"]):
        row = by_name[f"photo{i}.{ext}"]
        assert row["status"] == "ok" and np.isfinite(float(row["score"]))
    reasons = {
        "truncated.jpg": "truncated",
        "empty.jpg": "empty file",
        "text.png": "not an image",
        "corrupt.png": "",
        "tiny.png": "too small",
        "huge.png": "decompression bomb",
    }
    for name, reason in reasons.items():
        assert by_name[name]["status"] == "error", name
        assert reason in by_name[name]["error"], (name, by_name[name]["error"])


def test_raising_the_pixel_limit_lets_a_big_image_through(mixed_folder, tmp_path):
    out = tmp_path / "scores.csv"
    main(["score", str(mixed_folder / "huge.png"), "-o", str(out), "--max-pixels", "0", *FAST])
    assert pd.read_csv(out)["status"].tolist() == ["ok"]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_every_output_format_reads_back_with_pandas(good_folder, tmp_path, suffix):
    out = tmp_path / f"scores{suffix}"
    assert main(["score", str(good_folder), "-o", str(out), "--batch-size", "4", *FAST]) == 0
    if suffix == ".csv":
        table = pd.read_csv(out)
    elif suffix == ".jsonl":
        table = pd.read_json(out, lines=True, precise_float=True)
    else:
        table = pd.read_parquet(out)
    assert len(table) == 6 and set(table["status"]) == {"ok"}
    assert table["score"].dtype == np.float64
    assert not (tmp_path / f"scores{suffix}.partial.jsonl").exists()


def test_scores_match_the_python_api(good_folder, tmp_path):
    from genziqa import GenzIQA

    out = tmp_path / "scores.csv"
    main(["score", str(good_folder), "-o", str(out), "--batch-size", "4", "--dtype", "fp32", *FAST])
    table = pd.read_csv(out)
    model = GenzIQA.from_pretrained(
        "genziqa-tiny", overrides={"scoring.timesteps": (9, 59)}, local_files_only=True
    )
    np.testing.assert_allclose(model.score(list(table["path"])), table["score"], rtol=1e-6)


def test_resume_skips_scored_files_and_overwrite_restarts(good_folder, tmp_path, capsys):
    out = tmp_path / "scores.csv"
    first = sorted(good_folder.iterdir())[:3]
    assert main(["score", *map(str, first), "-o", str(out), *FAST]) == 0
    before = pd.read_csv(out)
    assert main(["score", str(good_folder), "-o", str(out), *FAST[:-1]]) == 0
    assert "Resuming: 3 of 6 already in" in capsys.readouterr().err
    after = pd.read_csv(out)
    assert len(after) == 6 and after["path"].is_unique
    pd.testing.assert_frame_equal(after.iloc[:3], before)
    assert main(["score", str(good_folder), "-o", str(out), "--overwrite", *FAST]) == 0
    assert len(pd.read_csv(out)) == 6


def test_retry_errors_rescore_fixed_files(good_folder, tmp_path):
    out = tmp_path / "scores.csv"
    broken = good_folder / "later.png"
    broken.write_bytes(b"")
    assert main(["score", str(good_folder), "-o", str(out), *FAST]) == EXIT_SOME_FAILED
    _photo(20).save(broken)  # the user fixes the file
    assert main(["score", str(good_folder), "-o", str(out), *FAST]) == EXIT_SOME_FAILED
    assert main(["score", str(good_folder), "-o", str(out), "--retry-errors", *FAST]) == 0
    table = pd.read_csv(out)
    assert len(table) == 7 and set(table["status"]) == {"ok"}


def test_retry_errors_keeps_the_error_rows_of_files_outside_the_run(good_folder, tmp_path):
    out = tmp_path / "scores.csv"
    (good_folder / "bad.png").write_bytes(b"")
    first = [str(good_folder / "photo0.jpg"), str(good_folder / "bad.png")]
    assert main(["score", *first, "-o", str(out), *FAST]) == EXIT_SOME_FAILED
    other = str(good_folder / "photo1.png")
    assert main(["score", other, "-o", str(out), "--retry-errors", *FAST]) == EXIT_OK
    table = pd.read_csv(out).set_index("path")
    assert table.loc[str(good_folder / "bad.png"), "status"] == "error"  # not lost
    assert len(table) == 3
    # Its exit code counts only the files it was given; the whole folder includes bad.png.
    assert main(["score", str(good_folder), "-o", str(out), *FAST]) == EXIT_SOME_FAILED


def test_terminal_output_without_output_file_is_csv_when_piped(good_folder, capsys):
    assert main(["score", str(good_folder / "photo0.jpg"), *FAST]) == EXIT_OK
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "path,score,status,error"
    assert lines[1].endswith(",ok,") and "photo0.jpg" in lines[1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["score", "{folder}", "--batch-size", "0"], "--batch-size"),
        (["score", "{folder}/missing.png"], "no such file or folder"),
        (["score", "{folder}/*.xyz"], "glob pattern matched nothing"),
        (["score", "{folder}", "--model", "no-such-model"], "unknown model name"),
        (["score", "{folder}", "-o", "{folder}/out.txt"], "supported"),
        (["score", "{folder}", "--dtype", "fp8"], "unknown dtype"),
        (["score", "{folder}", "--backbone", "org/not-cached"], "not in the Hugging Face cache"),
        (["score", "{folder}", "--overwrite", "--retry-errors", "-o", "{folder}/a.csv"], "exclude"),
        (["score", "{folder}", "--device", "gpu"], "unknown device"),
        (["score", "{folder}", "-o", "{folder}/no/such/folder.csv"], "does not exist"),
        (["score", "{folder}", "-o", "{folder}/sub.csv"], "is a folder"),
        (["score", "{folder}", "--preset", "quick"], "unknown preset"),
        (["score", "{folder}", "--overwrite"], "--output file"),
        (["score", "{folder}", "--shard", "0/2"], "--shard must be K/N"),
        (["score", "{folder}", "--shard", "3/2"], "--shard must be K/N"),
        (["score", "{folder}", "--shard", "half"], "--shard must be K/N"),
        (["bogus-command"], "No such command"),
    ],
)
def test_usage_errors_exit_2_with_one_line(good_folder, capsys, args, message):
    argv = [a.format(folder=good_folder) for a in args]
    (good_folder / "sub.csv").mkdir()  # an output path that is a folder
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(argv) == EXIT_USAGE
    errors = [ln for ln in capsys.readouterr().err.splitlines() if ln.lower().startswith("error")]
    assert len(errors) == 1 and message in errors[0]
    assert [str(w.message) for w in caught] == []  # library warnings would clutter the message


def test_empty_folder_is_a_usage_error(tmp_path, capsys):
    assert main(["score", str(tmp_path)]) == EXIT_USAGE
    assert "no image files found" in capsys.readouterr().err


def test_zero_shot_without_model_says_so(good_folder, capsys):
    code = main(
        [
            "score",
            str(good_folder / "photo1.png"),
            "--backbone",
            "genziqa-tiny-sd",
            "--timesteps",
            "2",
            "--workers",
            "0",
        ]
    )
    assert code == EXIT_OK
    assert "zero-shot baseline" in capsys.readouterr().err


def test_decoding_workers_give_the_same_rows(good_folder, tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    main(["score", str(good_folder), "-o", str(a), *FAST])
    main(["score", str(good_folder), "-o", str(b), *FAST[:-3], "--workers", "2", "-q"])
    pd.testing.assert_frame_equal(pd.read_csv(a), pd.read_csv(b))


def test_help_documents_exit_codes(capsys):
    assert main(["score", "--help"]) == 0
    text = capsys.readouterr().out
    assert "Exit codes" in text and "--output" in text and "--timesteps" in text
    assert main(["--help"]) == 0
    assert "score" in capsys.readouterr().out


def _cli(*args: str, env: dict | None = None, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "genziqa", *args],
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def test_subprocess_end_to_end(mixed_folder):
    proc = _cli("score", str(mixed_folder), "--model", "genziqa-tiny", "--timesteps", "2")
    out, errors = proc.communicate(timeout=300)
    assert proc.returncode == EXIT_SOME_FAILED, errors
    table = pd.read_csv(io.StringIO(out))
    assert len(table) == 12 and (table["status"] == "ok").sum() == 7
    assert "7 of 12 images (5 failed)" in errors


def test_resume_after_a_real_kill_scores_every_image_exactly_once(tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(14):
        _photo(100 + i).save(folder / f"img{i:02d}.png")
    out = tmp_path / "scores.csv"
    args = [
        "score",
        str(folder),
        "-o",
        str(out),
        "--model",
        "genziqa-tiny",
        "--batch-size",
        "1",
        "--workers",
        "1",
        "-q",
    ]
    proc = _cli(*args)
    deadline = time.time() + 240
    while time.time() < deadline:
        if out.exists() and out.read_text().count("\n") >= 4:  # header + 3 rows
            break
        if proc.poll() is not None:
            pytest.fail(f"finished before it could be killed: {proc.communicate()}")
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)  # reaps it and closes its pipes
    partial = pd.read_csv(out)
    assert 3 <= len(partial) < 14
    resumed = _cli(*args)
    _, errors = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, errors
    table = pd.read_csv(out)
    assert len(table) == 14 and table["path"].is_unique and set(table["status"]) == {"ok"}
    assert sorted(Path(p).name for p in table["path"]) == [f"img{i:02d}.png" for i in range(14)]


def test_presets_change_timesteps_and_resolution(good_folder, tmp_path):
    from genziqa.jobs.presets import PRESETS, preset_settings

    assert preset_settings("faster", 512) == {"timesteps": (9, 59), "resolution": 384}
    assert preset_settings("fastest", 64)["resolution"] == 32
    assert set(PRESETS) == {"reference", "fast", "faster", "fastest"}
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    base = ["score", str(good_folder), "--model", "genziqa-tiny", "--workers", "0", "-q"]
    assert main([*base, "-o", str(a), "--preset", "fastest"]) == 0
    assert main([*base, "-o", str(b), "--timesteps", "1", "--resolution", "32"]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(a), pd.read_csv(b))
    # An explicit flag wins over the preset's value for it.
    c = tmp_path / "c.csv"
    assert main([*base, "-o", str(c), "--preset", "fastest", "--timesteps", "8"]) == 0
    assert main([*base, "-o", str(a), "--timesteps", "8", "--resolution", "32", "--overwrite"]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(a), pd.read_csv(c))


def test_shards_split_a_folder_into_disjoint_parts_with_the_same_scores(good_folder, tmp_path):
    from genziqa.io.images import find_images
    from genziqa.jobs.shard import select_shard

    full = tmp_path / "full.csv"
    assert main(["score", str(good_folder), "-o", str(full), *FAST]) == EXIT_OK
    parts = []
    for k in (1, 2, 3):
        out = tmp_path / f"part{k}.csv"
        assert main(["score", str(good_folder), "--shard", f"{k}/3", "-o", str(out), *FAST]) == 0
        parts.append(pd.read_csv(out))
    joined = pd.concat([p for p in parts if len(p)]).sort_values("path").reset_index(drop=True)
    assert joined["path"].is_unique
    expected = pd.read_csv(full).sort_values("path").reset_index(drop=True)
    pd.testing.assert_frame_equal(joined, expected)
    # A shard with no files still writes a valid, empty table.
    files = find_images([good_folder])
    empty = next(k for k in range(1, 51) if not select_shard(files, k, 50))
    out = tmp_path / "empty.csv"
    assert main(["score", str(good_folder), "--shard", f"{empty}/50", "-o", str(out), *FAST]) == 0
    assert out.read_text() == "path,score,status,error\n"


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--max-pixels", "-1", "--max-pixels"),
        ("--timesteps", "200", "cannot fit 200 timesteps"),
        ("--resolution", "12", "multiple of 8"),
        ("--preset", "fastes", "did you mean 'fastest'"),
    ],
)
def test_bad_values_are_usage_errors_before_any_model_loads(
    good_folder, capsys, monkeypatch, flag, value, message
):
    import genziqa.cli.score

    def no_loading(*args, **kwargs):
        raise AssertionError("a model was loaded before the flags were checked")

    monkeypatch.setattr(genziqa.cli.score, "load_model", no_loading)
    assert main(["score", str(good_folder), *FAST, flag, value]) == EXIT_USAGE
    captured = capsys.readouterr()
    assert message in captured.err and "Traceback" not in captured.err + captured.out
