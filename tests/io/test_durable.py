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
