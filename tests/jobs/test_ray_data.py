"""Scoring on Ray Data: inputs, decoding and the output folder without Ray; the pipeline on a
local cluster (``ray`` marker: see tests/jobs/conftest.py for how they run)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from genziqa.cli import EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, main
from genziqa.io.durable import _umask
from genziqa.io.images import ImageError
from genziqa.io.tables import COLUMNS
from genziqa.jobs import ray_data
from genziqa.jobs.ray_data import RayJobError, collect_inputs
from genziqa.jobs.runtime import ScoringOptions, load_for_scoring
from genziqa.preprocess import load_for_model

TINY = ScoringOptions(model="genziqa-tiny", timesteps=2, offline=True)
CLI_TINY = ["--model", "genziqa-tiny", "--timesteps", "2", "--workers", "0", "-q", "--offline"]
BAD_FILES = {
    "truncated.jpg": "truncated",
    "empty.jpg": "empty file",
    "text.png": "not an image",
    "corrupt.png": "corrupt image data",
    "tiny.png": "too small",
    "huge.png": "decompression bomb",
}
MAX_PIXELS = 20_000


def _photo(seed: int, size=(40, 32)) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def _encoded(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def _write_mixed_folder(folder: Path) -> None:
    """Good photos of many formats and modes, and one file of every bad kind."""
    folder.mkdir()
    for i, ext in enumerate(["jpg", "png", "webp", "bmp", "tiff", "gif"]):
        _photo(i).save(folder / f"photo{i}.{ext}")
    rgba = _photo(20).convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(rgba.size))
    rgba.save(folder / "alpha.png")
    gray16 = np.random.default_rng(21).integers(0, 65536, (30, 30), dtype=np.uint16)
    Image.fromarray(gray16).save(folder / "gray16.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated: width and height swap on load
    _photo(22, (48, 24)).save(folder / "rotated.jpg", exif=exif)
    data = _encoded(_photo(10, (64, 64)), "JPEG")
    (folder / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "text.png").write_text("this is not an image\n")
    corrupt = bytearray(_encoded(_photo(11, (64, 64)), "PNG"))
    start = corrupt.index(b"IDAT") + 8
    corrupt[start : start + 40] = bytes(40)
    (folder / "corrupt.png").write_bytes(bytes(corrupt))
    _photo(12, (8, 8)).save(folder / "tiny.png")
    _photo(13, (200, 200)).save(folder / "huge.png")


TAR_GOOD = {"a": "jpg", "b": "png", "c": "webp", "sub/d": "jpg"}


def _add(archive: tarfile.TarFile, name: str, payload: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    archive.addfile(info, io.BytesIO(payload))


def _write_shard(path: Path, extracted: Path) -> None:
    """A WebDataset shard: good samples with captions, a garbage image, a caption-only sample.

    The good members are also written to ``extracted`` (same bytes) for the CLI to score.
    """
    extracted.mkdir()
    formats = {"jpg": "JPEG", "png": "PNG", "webp": "WEBP"}
    with tarfile.open(path, "w") as archive:
        for seed, (key, ext) in enumerate(TAR_GOOD.items()):
            payload = _encoded(_photo(40 + seed), formats[ext])
            _add(archive, f"{key}.{ext}", payload)
            _add(archive, f"{key}.json", json.dumps({"caption": key}).encode())
            _add(archive, f"{key}.txt", key.encode())
            (extracted / f"{key.replace('/', '_')}.{ext}").write_bytes(payload)
        _add(archive, "garbage.jpg", b"\xff\xd8 this is not really a jpeg")
        _add(archive, "garbage.json", b"{}")
        _add(archive, "nocap.json", b"{}")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    _write_mixed_folder(root / "mixed")
    (root / "shards").mkdir()
    _write_shard(root / "shards" / "00000.tar", root / "extracted")
    return root


def _inputs(corpus: Path) -> list[str]:
    return [str(corpus / "mixed"), str(corpus / "shards" / "00000.tar")]


def _expected_ids(corpus: Path) -> set[str]:
    files = {str(p.resolve()) for p in (corpus / "mixed").iterdir()}
    tar = (corpus / "shards" / "00000.tar").resolve()
    return files | {f"{tar}#{key}" for key in [*TAR_GOOD, "garbage", "nocap"]}


# ------------------------------------------------------------------- without a Ray cluster


def test_inputs_are_listed_once_each_from_folders_tars_globs_and_manifests(corpus, tmp_path):
    manifest = tmp_path / "manifest.csv"
    rows = ["path", "../" + str(Path("corpus_rel") / "x.jpg")]  # relative: from its folder
    manifest.write_text("\n".join(rows) + "\n")
    again = [str(corpus / "shards" / "*.tar"), str(corpus / "mixed" / "photo0.jpg")]
    items = collect_inputs([*_inputs(corpus), *again, str(manifest)])
    ids = items["path"].to_pylist()
    missing = str((tmp_path / ".." / "corpus_rel" / "x.jpg").resolve())
    assert ids == sorted(_expected_ids(corpus) | {missing})
    by_id = {row["path"]: row for row in items.to_pylist()}
    tar = (corpus / "shards" / "00000.tar").resolve()
    assert "no image member" in by_id[f"{tar}#nocap"]["error"]
    assert by_id[f"{tar}#sub/d"]["key"] == "sub/d" and by_id[f"{tar}#sub/d"]["size"] > 0
    assert by_id[missing]["error"] == ""  # reading it later gives the error row


def test_a_folder_of_shards_contributes_its_tars(corpus):
    ids = collect_inputs([str(corpus / "shards")])["path"].to_pylist()
    assert len(ids) == len(TAR_GOOD) + 2 and all("00000.tar#" in i for i in ids)


def test_a_truncated_tar_keeps_its_whole_members_and_reports_the_cut_one(corpus, tmp_path):
    data = (corpus / "shards" / "00000.tar").read_bytes()
    with tarfile.open(corpus / "shards" / "00000.tar") as archive:
        member = archive.getmember("c.webp")
    cut = tmp_path / "cut.tar"
    cut.write_bytes(data[: member.offset_data + member.size // 2])
    rows = {row["key"]: row for row in collect_inputs([str(cut)]).to_pylist()}
    assert rows["a"]["error"] == "" and rows["b"]["error"] == ""
    assert "cut short" in rows["c"]["error"]
    assert "sub/d" not in rows  # never reached: the tar ends inside c.webp


def test_a_video_file_is_an_error_row_that_says_to_use_the_local_engine(tmp_path):
    (tmp_path / "clip.mp4").write_bytes(b"not decoded: videos are not read by this engine")
    _photo(1).save(tmp_path / "photo.png")
    rows = {Path(r["path"]).name: r for r in collect_inputs([str(tmp_path)]).to_pylist()}
    assert set(rows) == {"clip.mp4", "photo.png"}
    assert (
        rows["clip.mp4"]["media"] == "video" and "without --engine ray" in rows["clip.mp4"]["error"]
    )
    assert rows["photo.png"]["media"] == "image" and rows["photo.png"]["error"] == ""
    items = collect_inputs([str(tmp_path)])
    batch = {name: np.asarray(items[name].to_pylist(), dtype=object) for name in items.schema.names}
    batch["part"] = np.zeros(len(items), np.int32)
    decoded = ray_data.decode_batch(batch, resolution=32)
    assert list(decoded["media"]) == ["video", "image"] and decoded["sha256"][0] == ""


def test_an_unreadable_tar_is_one_error_row(tmp_path):
    bad = tmp_path / "bad.tar"
    bad.write_bytes(b"not a tar archive at all" * 40)
    (row,) = collect_inputs([str(bad)]).to_pylist()
    assert row["path"] == str(bad.resolve()) and "not a readable" in row["error"]


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (lambda p: p.write_text("file\na.jpg\n"), "expected a 'path' column, found file"),
        (lambda p: p.write_text('path\na.jpg\n""\n'), "non-path value ''"),
    ],
)
def test_bad_manifests_are_one_line_errors(tmp_path, write, message):
    manifest = tmp_path / "list.csv"
    write(manifest)
    with pytest.raises(RayJobError, match=message):
        collect_inputs([str(manifest)])


def test_missing_inputs_are_one_line_errors(tmp_path):
    with pytest.raises(RayJobError, match="no such file or folder"):
        collect_inputs([str(tmp_path / "nope")])
    with pytest.raises(RayJobError, match="matched nothing"):
        collect_inputs([str(tmp_path / "*.tar")])
    with pytest.raises(RayJobError, match="list of paths"):
        collect_inputs(str(tmp_path))


def test_decoding_bytes_gives_the_cli_pixels_and_reasons(corpus):
    items = collect_inputs(_inputs(corpus))
    batch = {name: np.asarray(items[name].to_pylist(), dtype=object) for name in items.schema.names}
    batch["part"] = np.zeros(len(items), np.int32)
    decoded = ray_data.decode_batch(batch, resolution=64, max_pixels=MAX_PIXELS)
    extracted = corpus / "extracted"
    for i, path in enumerate(decoded["path"]):
        if "#" in path:
            key = path.split("#", 1)[1]
            if key not in TAR_GOOD:
                assert decoded["error"][i], path
                continue
            file = extracted / f"{key.replace('/', '_')}.{TAR_GOOD[key]}"
        else:
            file = Path(path)
        try:
            expected = load_for_model(file, 64, max_pixels=MAX_PIXELS).numpy()
        except ImageError as error:
            assert decoded["error"][i] == error.reason
            assert not decoded["pixels"][i].any()
            continue
        assert decoded["error"][i] == ""
        np.testing.assert_array_equal(decoded["pixels"][i], expected)
        assert decoded["sha256"][i] == hashlib.sha256(file.read_bytes()).hexdigest()


def test_the_output_folder_refuses_other_settings_and_a_second_writer(tmp_path):
    folder = ray_data._OutputFolder(tmp_path / "out")
    settings = {"model": "genziqa-tiny", "timesteps": [9, 59], "resolution": 64}
    folder.prepare(settings, overwrite=False, retry=None)
    rows = pd.DataFrame(
        {
            "path": ["/a.jpg", "/b.jpg"],
            "score": [1.5, float("nan")],
            "status": ["ok", "error"],
            "error": ["", "broken"],
            "media": ["image", "image"],
            "key": [None, None],
            "sha256": ["x", "y"],
            "model_fingerprint": ["f", "f"],
        }
    )
    import pyarrow as pa
    import pyarrow.parquet as pq

    part = folder.write_part(1, 0, pa.Table.from_pandas(rows, preserve_index=False))
    assert pq.read_table(part)["score"].to_pylist() == [1.5, None]  # missing, as the CLI's
    assert oct(part.stat().st_mode & 0o777) == oct(0o666 & ~_umask())
    with pytest.raises(RayJobError, match=r"other settings \(timesteps \[9, 59\] -> \[9\]\)"):
        folder.prepare({**settings, "timesteps": [9]}, overwrite=False, retry=None)
    with folder.locked(), pytest.raises(RayJobError, match="another genziqa run"):  # noqa: SIM117
        with ray_data._OutputFolder(tmp_path / "out").locked():
            pass
    folder.prepare(settings, overwrite=False, retry=frozenset({"/b.jpg"}))
    assert ray_data.read_scores(tmp_path / "out")["path"].tolist() == ["/a.jpg"]
    folder.prepare({**settings, "timesteps": [9]}, overwrite=True, retry=None)
    assert folder.parts() == [] and len(ray_data.read_scores(tmp_path / "out")) == 0


def test_cli_ray_usage_errors_exit_2_with_one_line(corpus, tmp_path, capsys):
    assert main(["score", str(corpus / "mixed"), "--engine", "ray", *CLI_TINY]) == EXIT_USAGE
    assert "needs --output FOLDER" in capsys.readouterr().err
    args = ["score", str(corpus / "mixed"), "-o", str(tmp_path / "o"), "--engine", "spark"]
    assert main(args) == EXIT_USAGE
    assert "--engine must be local or ray" in capsys.readouterr().err
    local = ["score", str(corpus / "mixed"), "-o", str(tmp_path / "o.csv"), "--actors", "2"]
    assert main(local) == EXIT_USAGE
    assert "need --engine ray" in capsys.readouterr().err
    frames = ["score", str(corpus / "mixed"), "-o", str(tmp_path / "o"), "--engine", "ray"]
    assert main([*frames, "--frames", "4"]) == EXIT_USAGE
    assert "images only" in capsys.readouterr().err
    missing = ["score", str(corpus / "mixed"), "-o", str(tmp_path / "o"), "--engine", "ray"]
    assert main([*missing, "--model", "no-such-model", "--offline", "-q"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "no-such-model" in err and err.count("\n") == 1


# ------------------------------------------------------------------- on a local Ray cluster


@pytest.fixture(scope="module")
def one_actor(ray_cluster, corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("ray-one-actor") / "scores"
    summary = ray_data.score_to_folder(
        _inputs(corpus), out, TINY, actors=1, threads=1, max_pixels=MAX_PIXELS, part_rows=5
    )
    return summary, ray_data.read_scores(out).sort_values("path", ignore_index=True)


@pytest.fixture(scope="module")
def cli_scores(corpus, tmp_path_factory) -> pd.DataFrame:
    """``genziqa score`` on the folder and on the shard's extracted members, 1 torch thread
    (the actors' count: CPU kernels round differently for other thread counts)."""
    out = tmp_path_factory.mktemp("cli") / "scores.csv"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        args = ["score", str(corpus / "mixed"), str(corpus / "extracted"), "-o", str(out)]
        assert main([*args, "--max-pixels", str(MAX_PIXELS), *CLI_TINY]) == EXIT_SOME_FAILED
    finally:
        torch.set_num_threads(threads)
    return pd.read_csv(out, keep_default_na=False)


@pytest.mark.ray
def test_every_input_once_error_rows_for_bad_ones_and_the_cli_scores(one_actor, cli_scores, corpus):
    summary, table = one_actor
    assert list(table.columns) == ray_data.PART_SCHEMA.names
    assert ray_data.PART_SCHEMA.names[:5] == list(COLUMNS)  # the CLI's row schema first
    assert set(table["media"]) == {"image"}
    assert table["path"].is_unique and set(table["path"]) == _expected_ids(corpus)
    assert summary.total == len(table) and summary.parts_written == -(-len(table) // 5)
    by_name = {Path(row["path"]).name: row for row in table.to_dict("records")}
    for name, reason in BAD_FILES.items():
        assert by_name[name]["status"] == "error" and reason in by_name[name]["error"], name
    assert "not an image" in by_name["00000.tar#garbage"]["error"]
    assert "no image member" in by_name["00000.tar#nocap"]["error"]
    ok = table[table["status"] == "ok"]
    assert len(ok) == len(table) - len(BAD_FILES) - 2 and ok["score"].notna().all()
    assert summary.failed == summary.failed_in_folder == len(BAD_FILES) + 2

    cli = dict(zip(cli_scores["path"], cli_scores["score"], strict=True))
    tar = str((corpus / "shards" / "00000.tar").resolve())
    for row in ok.to_dict("records"):
        if row["path"].startswith(tar + "#"):
            key = row["key"]
            assert row["path"] == f"{tar}#{key}"
            source = corpus / "extracted" / f"{key.replace('/', '_')}.{TAR_GOOD[key]}"
        else:
            source = Path(row["path"])
        assert row["score"] == float(cli[str(source.resolve())]), row["path"]  # bit-identical
        assert row["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()

    model = load_for_scoring(TINY)
    assert set(table["model_fingerprint"]) == {model.fingerprint()}
    complete = json.loads((Path(summary.output) / "_SUCCESS").read_text())
    assert complete["inputs"] == len(table) and complete["resolution"] == 64


@pytest.mark.ray
def test_two_actors_give_the_same_table_as_one(one_actor, corpus):
    dataset = ray_data.score_dataset(
        _inputs(corpus), TINY, actors=2, threads=1, batch_size=3, max_pixels=MAX_PIXELS
    )
    two = dataset.to_pandas().sort_values("path", ignore_index=True)
    two["score"] = two["score"].to_numpy(np.float64, na_value=np.nan)  # Ray's frame is Arrow-typed
    pd.testing.assert_frame_equal(two, one_actor[1], check_exact=True, check_dtype=False)


@pytest.mark.ray
def test_a_rerun_scores_nothing_and_retry_errors_redoes_only_the_error_rows(one_actor, corpus):
    summary, table = one_actor
    again = ray_data.score_to_folder(
        _inputs(corpus), summary.output, TINY, threads=1, max_pixels=MAX_PIXELS
    )
    assert again.skipped == len(table) and again.parts_written == 0
    retried = ray_data.score_to_folder(
        _inputs(corpus), summary.output, TINY, threads=1, max_pixels=MAX_PIXELS, retry_errors=True
    )
    assert retried.skipped == (table["status"] == "ok").sum()
    assert retried.scored == 0 and retried.failed == (table["status"] == "error").sum()
    after = ray_data.read_scores(summary.output).sort_values("path", ignore_index=True)
    pd.testing.assert_frame_equal(after, table, check_exact=True)


@pytest.mark.ray
def test_an_actor_that_cannot_load_the_model_is_a_one_line_error(ray_cluster, corpus, tmp_path):
    options = ScoringOptions(model="genziqa-tiny", timesteps=2, offline=True, device="cuda")
    with pytest.raises(RayJobError, match=r"could not start: device 'cuda' requested") as caught:
        ray_data.score_to_folder([str(corpus / "mixed" / "photo0.jpg")], tmp_path / "o", options)
    assert "\n" not in str(caught.value)


def _cli(*args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "genziqa", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.ray
def test_sigkill_after_the_first_part_then_the_same_command_completes_it(ray_cluster, tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(24):
        _photo(100 + i).save(folder / f"img{i:02d}.png")
    out = tmp_path / "scores"
    # 24 inputs -> parts of 8 rows, blocks of 4; the default 8 timesteps keep it busy.
    args = ["score", str(folder), "--engine", "ray", "--ray-address", ray_cluster, "-o", str(out)]
    args += ["--model", "genziqa-tiny", "--batch-size", "1", "--offline", "-q"]
    first = _cli(*args)
    deadline = time.time() + 240
    while not list(out.glob("part-*.parquet")):
        if first.poll() is not None:
            pytest.fail(f"finished before it could be killed: {first.communicate()}")
        assert time.time() < deadline, "no part written in 240 s"
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=30)
    before = {p.name: p.read_bytes() for p in out.glob("part-*.parquet")}
    partial = ray_data.read_scores(out)
    assert 8 <= len(partial) < 24 and len(partial) % 8 == 0  # only whole parts on disk

    second = _cli(*args)
    _, errors = second.communicate(timeout=300)
    assert second.returncode == EXIT_OK, errors
    table = ray_data.read_scores(out)
    assert len(table) == 24 and table["path"].is_unique and set(table["status"]) == {"ok"}
    assert sorted(Path(p).name for p in table["path"]) == [f"img{i:02d}.png" for i in range(24)]
    for name, data in before.items():  # the first run's parts are kept as they were
        assert (out / name).read_bytes() == data
    runs = {name.split("-")[1] for name in os.listdir(out) if name.startswith("part-")}
    assert runs == {"00001", "00002"}


def _kill_scoring_actors() -> list[int]:
    """SIGKILL the worker processes of this session's scoring actors (as a lost node would)."""
    killed = []
    for entry in os.listdir("/proc"):
        try:
            command = Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if command.startswith("ray::") and "MapBatches(_Scorer)" in command:
            os.kill(int(entry), signal.SIGKILL)
            killed.append(int(entry))
    return killed


@pytest.mark.ray
def test_a_scoring_actor_killed_mid_run_is_replaced_and_no_row_is_lost(ray_cluster, tmp_path):
    import threading

    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(24):
        _photo(200 + i).save(folder / f"img{i:02d}.png")
    out = tmp_path / "scores"
    killed: list[int] = []

    def kill_after_the_first_part() -> None:
        deadline = time.time() + 240
        while not list(out.glob("part-*.parquet")) and time.time() < deadline:
            time.sleep(0.05)
        killed.extend(_kill_scoring_actors())

    killer = threading.Thread(target=kill_after_the_first_part, daemon=True)
    killer.start()
    options = ScoringOptions(model="genziqa-tiny", offline=True)  # 8 timesteps: still busy
    summary = ray_data.score_to_folder([str(folder)], out, options, batch_size=1, threads=1)
    killer.join(timeout=10)
    assert killed, "no scoring actor was running after the first part"
    table = ray_data.read_scores(out)
    assert summary.parts_written == 3 and summary.scored == 24
    assert len(table) == 24 and table["path"].is_unique and set(table["status"]) == {"ok"}


@pytest.mark.ray
def test_without_an_address_the_cli_starts_and_stops_its_own_cluster(ray_cluster, corpus, tmp_path):
    out = tmp_path / "scores"
    temp = tempfile.mkdtemp(prefix="gzr-")  # this cluster's session files, kept out of /tmp/ray
    try:
        args = ["score", str(corpus / "mixed" / "photo0.jpg"), "--engine", "ray", "-o", str(out)]
        proc = _cli(*args, "--model", "genziqa-tiny", "--timesteps", "2", env={"RAY_TMPDIR": temp})
        _, errors = proc.communicate(timeout=300)
    finally:
        import shutil

        shutil.rmtree(temp, ignore_errors=True)
    assert proc.returncode == EXIT_OK, errors
    assert "Scored 1 of 1 inputs (0 failed, 0 already done)" in errors
    assert "images/s" in errors and "Traceback" not in errors
    assert len(ray_data.read_scores(out)) == 1


def test_importing_genziqa_its_cli_and_this_module_does_not_import_ray():
    code = (
        "import sys, genziqa, genziqa.cli, genziqa.jobs.ray_data; "
        "print(sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.ray
def test_bench_ray_runs_every_path_with_the_cli_scores(ray_cluster, monkeypatch, tmp_path, capsys):
    benchmarks = Path(__file__).resolve().parents[2] / "benchmarks"
    monkeypatch.syspath_prepend(str(benchmarks))
    sys.modules.pop("bench_ray", None)
    import bench_ray

    out = tmp_path / "figures.json"
    argv = ["--images", "16", "--batch-size", "1", "--timesteps", "2", "--workers", "0"]
    bench_ray.main([*argv, "--json", str(out)])  # asserts Ray's scores equal the CLI's
    figures = json.loads(out.read_text())["paths"]
    assert set(figures) == {"cli", "ray-1", "ray-2"}
    for row in figures.values():
        assert row["images"] == 16 and row["results"] >= 4
        assert row["running_images_per_s"] > 0 and row["running_cpu_s_per_image"] > 0
        assert row["first_row_s"] <= row["total_s"]
    assert "run CPU s/img" in capsys.readouterr().out
