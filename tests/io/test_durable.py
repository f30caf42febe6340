"""Atomic files and folders: a failed write leaves the old content, a finished one replaces it."""

from __future__ import annotations

from pathlib import Path

import pytest

from genziqa.io.durable import atomic_file, atomic_folder, atomic_write, truncate


def test_atomic_write_replaces_and_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "a.json"
    atomic_write(target, "first")
    atomic_write(target, b"second")
    assert target.read_bytes() == b"second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_a_failed_atomic_file_keeps_the_old_content(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="disk"), atomic_file(target) as handle:
        handle.write(b"half of the new")
        raise RuntimeError("disk went away")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_atomic_folder_replaces_a_folder_whole(tmp_path: Path) -> None:
    target = tmp_path / "best"
    with atomic_folder(target) as staging:
        (staging / "weights").write_text("1")
    with atomic_folder(target) as staging:
        assert not (target / "new").exists()  # nothing shows before the block ends
        (staging / "new").write_text("2")
    assert sorted(p.name for p in target.iterdir()) == ["new"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best"]


def test_a_failed_atomic_folder_leaves_the_old_one(tmp_path: Path) -> None:
    target = tmp_path / "best"
    with atomic_folder(target) as staging:
        (staging / "weights").write_text("1")
    with pytest.raises(ValueError, match="boom"), atomic_folder(target) as staging:
        (staging / "weights").write_text("2")
        raise ValueError("boom")
    assert (target / "weights").read_text() == "1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best"]


def test_keep_mode_leaves_a_folder_another_process_made(tmp_path: Path) -> None:
    target = tmp_path / "cache-entry"
    with atomic_folder(target, replace=False) as staging:
        (staging / "a").write_text("first")
        target.mkdir()  # a concurrent builder finished first
        (target / "a").write_text("theirs")
    assert (target / "a").read_text() == "theirs"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache-entry"]


def test_truncate(tmp_path: Path) -> None:
    target = tmp_path / "t"
    target.write_bytes(b"0123456789")
    truncate(target, 4)
    assert target.read_bytes() == b"0123"


def test_atomic_files_and_folders_get_the_usual_permissions(tmp_path: Path) -> None:
    """mkstemp/mkdtemp create 0600/0700; what we write must be as readable as open() makes it."""
    import os

    mask = os.umask(0o022)
    try:
        atomic_write(tmp_path / "a.csv", "x")
        with atomic_folder(tmp_path / "model") as staging:
            (staging / "w").write_text("1")
        plain = tmp_path / "plain"
        plain.write_text("x")
        assert (tmp_path / "a.csv").stat().st_mode & 0o777 == plain.stat().st_mode & 0o777
        assert (tmp_path / "model").stat().st_mode & 0o777 == 0o755
    finally:
        os.umask(mask)


def test_a_lock_is_exclusive_names_its_holder_and_goes_with_release(tmp_path: Path) -> None:
    import os

    from genziqa.io.durable import FileLock, LockHeldError

    path = tmp_path / "out.csv.lock"
    with FileLock(path):
        assert path.read_text().strip() == str(os.getpid())
        with pytest.raises(LockHeldError, match=f"process {os.getpid()}") as info:
            FileLock(path)
        assert info.value.holder == os.getpid()
    assert not path.exists()  # removed while still held, then released
    FileLock(path).release()


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    from genziqa.io import durable
    from genziqa.io.durable import FileLock

    path = tmp_path / "out.csv.lock"
    script = (
        "import importlib, sys, time; durable = importlib.import_module(sys.argv[2]); "
        "lock = durable.FileLock(sys.argv[1]); print('locked', flush=True); time.sleep(600)"
    )
    with subprocess.Popen(
        [sys.executable, "-c", script, str(path), durable.__name__], stdout=subprocess.PIPE
    ) as child:
        assert child.stdout is not None and child.stdout.readline() == b"locked\n"
        with pytest.raises(durable.LockHeldError, match=f"process {child.pid}"):
            FileLock(path)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    assert path.exists()  # the file stays behind, the lock does not
    with FileLock(path):
        pass


def test_a_forked_child_does_not_keep_the_lock_alive(tmp_path: Path) -> None:
    import os
    import time

    from genziqa.io.durable import FileLock

    path = tmp_path / "out.csv.lock"
    lock = FileLock(path)
    ready, started = os.pipe()
    child = os.fork()
    if child == 0:  # a decoding worker that outlives its parent for a while
        os.write(started, b"x")  # the fork hooks have run by now
        time.sleep(3)
        os._exit(0)
    try:
        assert os.read(ready, 1) == b"x"
        assert lock._file is not None
        lock._file.close()  # the parent "dies" without releasing; the child still runs
        lock._file = None
        with FileLock(path):  # free at once, not when the child ends
            assert os.waitpid(child, os.WNOHANG) == (0, 0)  # the child is still running
    finally:
        os.waitpid(child, 0)
        os.close(ready)
        os.close(started)


def test_a_file_digest_is_cached_by_file_identity(tmp_path, monkeypatch) -> None:
    import os

    from genziqa.io import durable

    target, cache = tmp_path / "weights.bin", tmp_path / "cache" / "digests.json"
    target.write_bytes(b"a" * 1000)
    first = durable.cached_file_digest(target, cache)
    assert first == durable.file_digest(target)
    reads = []
    real_digest = durable.file_digest
    monkeypatch.setattr(
        durable, "file_digest", lambda path: reads.append(path) or real_digest(path)
    )
    assert durable.cached_file_digest(target, cache) == first and reads == []  # from the cache
    target.write_bytes(b"b" * 1000)  # same size, new content and mtime: read again
    os.utime(target, ns=(1, 1))
    assert durable.cached_file_digest(target, cache) != first and len(reads) == 1
    cache.write_text("{not json")  # a damaged cache is ignored, then rewritten
    assert durable.cached_file_digest(target, cache) == real_digest(target)
