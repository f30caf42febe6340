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
from genziqa.io.tables import read_scores

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
    assert list(table.columns) == ["path", "score", "status", "error", "media"]
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
    assert lines[0] == "path,score,status,error,media"
    assert lines[1].endswith(",ok,,image") and "photo0.jpg" in lines[1]


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
    assert "no image or video files found" in capsys.readouterr().err


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
    assert out.read_text() == "path,score,status,error,media\n"


# --------------------------------------------------------------------------------------------
# Bad inputs, concurrent runs, full disks, and resumes that must know who wrote the output
# --------------------------------------------------------------------------------------------


def _error_lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.lower().startswith("error")]


@pytest.fixture()
def linked_folder(good_folder: Path) -> Path:
    """Good photos plus a dangling link and a two-link loop, all with image names."""
    (good_folder / "dangling.jpg").symlink_to(good_folder / "gone.jpg")
    (good_folder / "loop-a.png").symlink_to(good_folder / "loop-b.png")
    (good_folder / "loop-b.png").symlink_to(good_folder / "loop-a.png")
    return good_folder


@pytest.mark.parametrize("how", ["named", "folder", "glob"])
def test_links_that_lead_nowhere_are_error_rows_and_the_run_goes_on(
    linked_folder: Path, tmp_path: Path, capsys, how: str
) -> None:
    out = tmp_path / "scores.csv"
    inputs = {
        "named": sorted(str(p) for p in linked_folder.iterdir()),  # as the shell expands dir/*
        "folder": [str(linked_folder)],
        "glob": [str(linked_folder / "*")],
    }[how]
    assert main(["score", *inputs, "-o", str(out), *FAST[:-1]]) == EXIT_SOME_FAILED
    table = read_scores(out).set_index(read_scores(out)["path"].map(lambda p: Path(p).name))
    assert len(table) == 9 and (table["status"] == "ok").sum() == 6
    assert "dangling symbolic link" in table.loc["dangling.jpg", "error"]
    assert "gone.jpg" in table.loc["dangling.jpg", "error"]
    for name in ("loop-a.png", "loop-b.png"):
        assert "symbolic link loop" in table.loc[name, "error"]
    assert "Scored 6 of 9 images (3 failed)" in capsys.readouterr().err


def test_a_16bit_png_and_its_8bit_copy_score_the_same(tmp_path: Path, capsys) -> None:
    from tests.io.test_images import _png16

    rng = np.random.default_rng(5)
    grey = rng.integers(0, 65536, (40, 48), dtype=np.uint16)
    colour = rng.integers(0, 65536, (40, 48, 3), dtype=np.uint16)
    _png16(tmp_path / "grey16.png", grey)
    _png16(tmp_path / "rgb16.png", colour)
    Image.fromarray((grey >> 8).astype(np.uint8), "L").save(tmp_path / "grey8.png")
    Image.fromarray((colour >> 8).astype(np.uint8), "RGB").save(tmp_path / "rgb8.png")
    assert main(["score", str(tmp_path), *FAST]) == EXIT_OK
    table = pd.read_csv(io.StringIO(capsys.readouterr().out))
    scores = table.set_index(table["path"].map(lambda p: Path(p).name))["score"]
    assert scores["grey16.png"] == scores["grey8.png"]
    assert scores["rgb16.png"] == scores["rgb8.png"]
    assert scores["grey16.png"] != scores["rgb16.png"]


def _refuse_writes_in(folder: Path, monkeypatch) -> None:
    """Make ``folder`` unwritable, for root too (root writes in a chmod 555 folder)."""
    import builtins

    folder.chmod(0o555)
    if not os.access(folder, os.W_OK):
        return
    real_os_open, real_open = os.open, builtins.open

    def refuse(path) -> None:
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


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_an_unwritable_output_folder_is_a_usage_error_before_the_model_loads(
    good_folder: Path, tmp_path: Path, capsys, monkeypatch, suffix: str
) -> None:
    import genziqa.cli.score as score_command

    def no_loading(*args, **kwargs):
        raise AssertionError("the model was loaded before the output was checked")

    monkeypatch.setattr(score_command, "load_model", no_loading)
    folder = tmp_path / "readonly"
    folder.mkdir()
    _refuse_writes_in(folder, monkeypatch)
    try:
        code = main(["score", str(good_folder), "-o", str(folder / f"s{suffix}"), *FAST])
    finally:
        folder.chmod(0o755)
    assert code == EXIT_USAGE
    errors = _error_lines(capsys.readouterr().err)
    assert len(errors) == 1 and "cannot write beside the output" in errors[0]


def _many_photos(folder: Path, count: int, name: str = "img") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        _photo(200 + i).save(folder / f"{name}{i:02d}.png")
    return folder


def test_a_second_score_process_on_the_same_output_refuses(tmp_path: Path) -> None:
    folder = _many_photos(tmp_path / "many", 20)
    out = tmp_path / "scores.csv"
    args = ["score", str(folder), "-o", str(out), "--model", "genziqa-tiny", "--batch-size", "1"]
    first = _cli(*args, "--workers", "0", "-q")
    try:
        deadline = time.time() + 240
        while not (out.exists() and out.read_text().count("\n") >= 2):  # header + a row
            assert time.time() < deadline and first.poll() is None, first.communicate()
            time.sleep(0.05)
        second = _cli(*args, "--workers", "0")
        _, errors = second.communicate(timeout=120)
        assert first.poll() is None, "the first run ended before the second was refused"
    finally:
        _, first_errors = first.communicate(timeout=300)
    assert second.returncode == EXIT_USAGE
    assert _error_lines(errors) == [
        f"error: {out} is being written by another genziqa process (process {first.pid}); "
        "wait for it to finish or write to another output"
    ]
    assert first.returncode == EXIT_OK, first_errors
    table = pd.read_csv(out)
    assert len(table) == 20 and table["path"].is_unique  # every image exactly once
    assert "Traceback" not in errors + first_errors
    assert not out.with_name("scores.csv.lock").exists()


def test_a_full_disk_mid_run_is_one_line_and_the_same_command_resumes(tmp_path: Path) -> None:
    import resource

    from genziqa.testing import tiny_backbone_path

    tiny_backbone_path()  # built here: the child may write only small files
    folder = _many_photos(tmp_path / "many", 30)
    out = tmp_path / "scores.csv"
    args = ["score", str(folder), "-o", str(out), "--model", "genziqa-tiny", "--timesteps", "1"]
    args += ["--batch-size", "1", "--workers", "0"]

    def small_file_limit() -> None:  # a "disk" that fills after 2 kB per file
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a kill
        resource.setrlimit(resource.RLIMIT_FSIZE, (2048, 2048))

    full = _cli(*args, preexec_fn=small_file_limit)
    _, errors = full.communicate(timeout=300)
    assert full.returncode == 4, errors
    assert "Traceback" not in errors
    lines = _error_lines(errors)
    assert len(lines) == 1 and f"writing {out}" in lines[0]
    assert "the file reached the largest size allowed (File too large)" in lines[0]
    assert "run the same command again to resume" in lines[0]
    kept = pd.read_csv(out)
    assert 3 <= len(kept) < 30 and set(kept["status"]) == {"ok"}
    assert f"the {len(kept)} rows written by this run" in lines[0]
    resumed = _cli(*args)
    _, errors = resumed.communicate(timeout=300)
    assert resumed.returncode == EXIT_OK, errors
    assert f"Resuming: {len(kept)} of 30 already" in errors
    table = pd.read_csv(out)
    assert len(table) == 30 and table["path"].is_unique
    pd.testing.assert_frame_equal(table.iloc[: len(kept)], kept)


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_a_full_disk_in_process_keeps_the_rows_and_says_so(
    good_folder: Path, tmp_path: Path, capsys, monkeypatch, suffix: str
) -> None:
    out = tmp_path / f"scores{suffix}"
    _fill_the_disk_after(monkeypatch, 2)
    args = ["score", str(good_folder), "-o", str(out), "--batch-size", "2", *FAST]
    assert main(args) == 4
    lines = _error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and "the disk is full (No space left on device)" in lines[0]
    assert "the 2 rows written by this run" in lines[0] and "resume" in lines[0]
    assert len(read_scores(out)) == 2
    monkeypatch.undo()
    assert main(args) == EXIT_OK
    table = read_scores(out)
    assert len(table) == 6 and table["path"].is_unique


def test_a_resume_with_another_model_or_settings_is_refused(good_folder, tmp_path, capsys):
    out = tmp_path / "mix.csv"
    base = ["score", str(good_folder), "-o", str(out), "--workers", "0", "-q"]
    assert main([*base, "--model", "genziqa-tiny", "--timesteps", "2"]) == EXIT_OK
    before = out.read_bytes()
    refusals = {
        ("--model", "genziqa-tiny", "--preset", "fastest"): "config.scoring.timesteps: [9, 59]",
        ("--model", "genziqa-tiny-zero-shot", "--timesteps", "2"): "config.scoring.score",
        ("--model", "genziqa-tiny", "--timesteps", "2", "--dtype", "bf16"): "dtype",
        ("--model", "genziqa-tiny", "--timesteps", "2", "--details"): "details: false there",
    }
    for flags, difference in refusals.items():
        assert main([*base, *flags]) == EXIT_USAGE, flags
        errors = _error_lines(capsys.readouterr().err)
        assert len(errors) == 1 and difference in errors[0], (flags, errors)
        assert "--overwrite" in errors[0] and "another --output" in errors[0]
    assert out.read_bytes() == before  # nothing was added or repaired
    # The same settings resume; --overwrite starts afresh with the new ones.
    assert main([*base, "--model", "genziqa-tiny", "--timesteps", "2"]) == EXIT_OK
    assert main([*base, "--model", "genziqa-tiny", "--preset", "fastest", "--overwrite"]) == 0
    assert main([*base, "--model", "genziqa-tiny", "--preset", "fastest"]) == EXIT_OK


def test_a_trained_model_folder_is_known_by_its_weights(good_folder, tmp_path, capsys):
    import torch

    from genziqa import GenzIQA

    model = GenzIQA.from_pretrained("genziqa-tiny")
    model.save_pretrained(tmp_path / "v1")
    with torch.no_grad():
        model.prompts.ctx.add_(0.01)
    model.save_pretrained(tmp_path / "v2")  # the same config, other weights
    out = tmp_path / "scores.csv"
    base = ["score", str(good_folder), "-o", str(out), "--timesteps", "2", "--workers", "0"]
    assert main([*base, "--model", str(tmp_path / "v1"), "-q"]) == EXIT_OK
    assert main([*base, "--model", str(tmp_path / "v2"), "-q"]) == EXIT_USAGE
    assert "weights_sha256" in capsys.readouterr().err


def test_a_resume_with_nothing_left_imports_no_torch(good_folder, tmp_path) -> None:
    for suffix in (".csv", ".parquet"):
        out = tmp_path / f"scores{suffix}"
        args = ["score", str(good_folder), "-o", str(out), *FAST[:-1]]
        assert main([*args, "-q"]) == EXIT_OK
        code = (
            "import json, sys; from genziqa.cli import main; code = main(sys.argv[1:]); "
            "heavy = sorted({'torch', 'diffusers', 'transformers'} & set(sys.modules)); "
            "print(json.dumps([code, heavy]))"
        )
        result = subprocess.run(
            [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120
        )
        assert result.stdout.strip() == "[0, []]", result.stderr
        assert "Resuming: 6 of 6 already in" in result.stderr
        assert "Traceback" not in result.stderr


def test_images_only_in_subfolders_say_that_recursive_takes_them(tmp_path, capsys) -> None:
    album = tmp_path / "album"
    _many_photos(album / "2023", 2)
    _many_photos(album / "2024" / "summer", 1)
    assert main(["score", str(album), *FAST]) == EXIT_USAGE
    errors = _error_lines(capsys.readouterr().err)
    assert errors == [
        f"error: no image or video files found in {album}; 3 file(s) in subfolders were left out: "
        "--recursive (-r) takes them"
    ]
    _photo(1).save(album / "top.png")
    assert main(["score", str(album), *FAST[:-1]]) == EXIT_OK
    captured = capsys.readouterr()
    assert "3 file(s) in subfolders were left out: --recursive (-r) takes them" in (captured.err)
    assert len(pd.read_csv(io.StringIO(captured.out))) == 1
    assert main(["score", str(album), "-r", *FAST]) == EXIT_OK
    assert len(pd.read_csv(io.StringIO(capsys.readouterr().out))) == 4


def test_a_failed_row_is_empty_on_stdout_and_in_a_csv_file(good_folder, tmp_path, capsys):
    (good_folder / "broken.png").write_bytes(b"not a png")
    inputs = [str(good_folder / "broken.png"), str(good_folder / "photo0.jpg")]
    assert main(["score", *inputs, *FAST]) == EXIT_SOME_FAILED
    printed = capsys.readouterr().out.splitlines()
    out = tmp_path / "scores.csv"
    assert main(["score", *inputs, "-o", str(out), *FAST]) == EXIT_SOME_FAILED
    written = out.read_text().splitlines()
    assert printed[0] == written[0] == "path,score,status,error,media"
    assert printed[1].split(",")[1:3] == written[1].split(",")[1:3] == ["", "error"]
    assert pd.read_csv(out)["score"].isna().tolist() == [True, False]


def test_globs_ignore_case_and_dash_reads_paths_from_stdin(
    good_folder: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    album = tmp_path / "album"
    (album / "sub").mkdir(parents=True)
    _photo(1).save(album / "a.jpg")
    _photo(2).save(album / "sub" / "c.JPG", format="JPEG")
    assert main(["score", str(album / "**" / "*.jpg"), "-r", *FAST]) == EXIT_OK
    found = pd.read_csv(io.StringIO(capsys.readouterr().out))["path"].map(lambda p: Path(p).name)
    assert sorted(found) == ["a.jpg", "c.JPG"]

    listing = f"{album / 'a.jpg'}\n\n{album / 'sub' / 'c.JPG'}\r\n   \n{album / 'gone.jpg'}\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(listing.encode())))
    assert main(["score", "-", str(good_folder / "photo0.jpg"), *FAST]) == EXIT_SOME_FAILED
    table = pd.read_csv(io.StringIO(capsys.readouterr().out), keep_default_na=False)
    rows = dict(zip(table["path"].map(lambda p: Path(p).name), table["error"], strict=True))
    assert rows == {"a.jpg": "", "c.JPG": "", "gone.jpg": "file not found", "photo0.jpg": ""}
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"\n\n")))
    assert main(["score", "-", *FAST]) == EXIT_USAGE
    assert "no image or video files found in (standard input)" in capsys.readouterr().err


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_details_columns_hold_what_the_score_is_made_of(good_folder, tmp_path, suffix) -> None:
    from genziqa.io.tables import DETAIL_COLUMNS

    plain, detailed = tmp_path / f"plain{suffix}", tmp_path / f"detailed{suffix}"
    (good_folder / "broken.png").write_bytes(b"")
    assert main(["score", str(good_folder), "-o", str(plain), *FAST]) == EXIT_SOME_FAILED
    args = ["score", str(good_folder), "-o", str(detailed), "--details", *FAST]
    assert main([*args, "--batch-size", "4"]) == EXIT_SOME_FAILED
    table, scores = read_scores(detailed), read_scores(plain)
    pd.testing.assert_frame_equal(table[list(scores.columns)], scores)  # the same scores
    assert list(table.columns[5:]) == list(DETAIL_COLUMNS)
    for row in table[table["status"] == "ok"].itertuples():
        layers = np.array(row.layer_scores)
        assert layers.shape[0] == 2 and layers.shape[1] > 1  # T = 2 timesteps x L layers
        assert np.array(row.attention_scores).shape == layers.shape
        assert np.allclose(layers, np.array(row.attention_scores) + np.array(row.contrast)[:, None])
        assert np.isclose(layers.mean(), row.score)  # the score is their mean
    broken = table[table["status"] == "error"].iloc[0]
    assert broken["layer_scores"] is None and broken["contrast"] is None
    assert len(_read_with_pandas(detailed)) == 7


def _read_with_pandas(path: Path) -> pd.DataFrame:
    if path.suffix == ".csv":
        return pd.read_csv(path)
    if path.suffix == ".jsonl":
        return pd.read_json(path, lines=True)
    return pd.read_parquet(path)


def test_details_without_an_output_print_csv(good_folder: Path, capsys) -> None:
    import json

    assert main(["score", str(good_folder / "photo0.jpg"), "--details", *FAST]) == EXIT_OK
    table = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert list(table.columns)[5:] == ["layer_scores", "attention_scores", "contrast"]
    assert len(json.loads(table["contrast"].iloc[0])) == 2


def test_an_unexpected_error_is_one_line_unless_debugging(good_folder, capsys, monkeypatch):
    import genziqa.cli.score as score_command

    def broken(*args, **kwargs):
        raise KeyError("something internal")

    monkeypatch.setattr(score_command, "_input_files", broken)
    assert main(["score", str(good_folder), *FAST]) == 1
    captured = capsys.readouterr()
    assert _error_lines(captured.err) == [
        "error: unexpected KeyError: 'something internal' (GENZIQA_DEBUG=1 shows the "
        "traceback; please report it)"
    ]
    assert "Traceback" not in captured.out + captured.err
    monkeypatch.setenv("GENZIQA_DEBUG", "1")
    assert main(["score", str(good_folder), *FAST]) == 1
    assert "Traceback (most recent call last)" in capsys.readouterr().err
    assert main(["score", "--help"]) == 0
    assert "GENZIQA_DEBUG=1" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("dangling link", EXIT_SOME_FAILED),
        ("link loop", EXIT_SOME_FAILED),
        ("16-bit grey", EXIT_OK),
        ("unwritable folder", EXIT_USAGE),
        ("output in use", EXIT_USAGE),
        ("full disk", 4),
        ("other settings", EXIT_USAGE),
        ("details onto a plain table", EXIT_USAGE),
        ("only subfolders", EXIT_USAGE),
        ("empty stdin", EXIT_USAGE),
        ("missing path on stdin", EXIT_SOME_FAILED),
        ("broken record", EXIT_USAGE),
    ],
)
def test_no_bad_input_prints_a_traceback(
    good_folder: Path, tmp_path: Path, capsys, monkeypatch, case: str, expected: int
) -> None:
    from genziqa.io.tables import ScoreWriter

    out = tmp_path / "scores.csv"
    photo = str(good_folder / "photo0.jpg")
    argv = ["score", photo, "-o", str(out), *FAST]
    if case == "dangling link":
        (tmp_path / "d.jpg").symlink_to(tmp_path / "nothing.jpg")
        argv[1] = str(tmp_path / "d.jpg")
    elif case == "link loop":
        (tmp_path / "l.jpg").symlink_to(tmp_path / "l.jpg")
        argv[1] = str(tmp_path / "l.jpg")
    elif case == "16-bit grey":
        from tests.io.test_images import _png16

        argv[1] = str(_png16(tmp_path / "g.png", np.full((32, 32), 40000, dtype=np.uint16)))
    elif case == "unwritable folder":
        (tmp_path / "ro").mkdir()
        _refuse_writes_in(tmp_path / "ro", monkeypatch)
        argv[3] = str(tmp_path / "ro" / "s.parquet")
    elif case == "output in use":
        holder = ScoreWriter(out)
    elif case == "full disk":
        _fill_the_disk_after(monkeypatch, 0)
    elif case in ("other settings", "details onto a plain table", "broken record"):
        assert main(argv) == EXIT_OK
        capsys.readouterr()
        argv += {
            "other settings": ["--preset", "fastest"],
            "details onto a plain table": ["--details"],
        }.get(case, [])
        if case == "broken record":
            out.with_name("scores.csv.genziqa.json").write_text("[]")
            argv[1] = str(good_folder)
    elif case == "only subfolders":
        _many_photos(tmp_path / "a" / "b", 1)
        argv[1] = str(tmp_path / "a")
    elif case in ("empty stdin", "missing path on stdin"):
        listing = b"\n" if case == "empty stdin" else f"{tmp_path / 'gone.png'}\n".encode()
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(listing)))
        argv[1] = "-"
    try:
        code = main(argv)
    finally:
        if case == "output in use":
            holder.close()
        (tmp_path / "ro").chmod(0o755) if (tmp_path / "ro").exists() else None
    captured = capsys.readouterr()
    assert code == expected, captured.err
    assert "Traceback" not in captured.out + captured.err
    assert len(_error_lines(captured.err)) == (1 if expected in (EXIT_USAGE, 4) else 0)


def _fill_the_disk_after(monkeypatch, rows: int) -> None:
    """The disk is full once the writer has written ``rows`` rows (ENOSPC mid-batch)."""
    from genziqa.io.tables import ScoreWriter
    from tests.io.test_tables import _FillingDisk

    real_write = ScoreWriter.write

    def filling_write(self, batch):
        if self.rows_written >= rows:
            self._handle = _FillingDisk(self._handle, room=20)
        return real_write(self, batch)

    monkeypatch.setattr(ScoreWriter, "write", filling_write)


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
