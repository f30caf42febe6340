"""Writes that survive a kill or a power cut (atomic files and folders, fsync), and the content
digest that names what was written (caches are keyed by it).

Every file genziqa writes for later use (score tables, latent caches, checkpoints, the tiny
backbone) is either appended and fsynced (``io/tables.py``) or written here: to a temporary
name beside the target, flushed and fsynced, then renamed over it with ``os.replace``, so a
reader sees the old content or the new, never half of it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


def fsync_folder(folder: Path) -> None:
    """Make a created, renamed or removed directory entry durable (POSIX only)."""
    if os.name != "posix":
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def truncate(path: Path, size: int) -> None:
    """Cut ``path`` to ``size`` bytes, durably."""
    with open(path, "r+b") as handle:
        handle.truncate(size)
        handle.flush()
        os.fsync(handle.fileno())


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """A temp file beside ``path`` that replaces it, fsynced, only if the block succeeds."""
    path = Path(path)
    descriptor, temp_name = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(descriptor, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    fsync_folder(path.parent)


def atomic_write(path: str | os.PathLike[str], data: bytes | str) -> None:
    """Write ``data`` (str as UTF-8) to ``path`` atomically."""
    with atomic_file(path) as handle:
        handle.write(data.encode("utf-8") if isinstance(data, str) else data)


@contextlib.contextmanager
def atomic_folder(path: str | os.PathLike[str], *, replace: bool = True) -> Iterator[Path]:
    """A staging folder beside ``path``, filled in the block, then swapped in as ``path``.

    ``replace=True`` puts it in place of an existing folder (a checkpoint being updated);
    ``replace=False`` keeps an existing one and drops the staging copy (a cache entry that a
    concurrent process may have built first, identically). A failed block leaves ``path`` as
    it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield staging
        if replace and path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
            old.rmdir()
            path.rename(old)
            staging.rename(path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            try:
                staging.rename(path)
            except OSError:
                if not path.exists():  # not a concurrent winner: a real failure
                    raise
        fsync_folder(path.parent)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def file_digest(path: str | os.PathLike[str]) -> str:
    """sha256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cached_file_digest(path: str | os.PathLike[str], cache_file: str | os.PathLike[str]) -> str:
    """``file_digest`` of ``path``, computed once per file identity and kept in ``cache_file``.

    The identity is the resolved path, size, modification time (ns) and inode: a file that is
    replaced or rewritten gets a new identity and is read again; an unchanged multi-GB weight
    file is hashed once. The cache is a JSON object, rewritten atomically; a damaged cache is
    ignored, and entries whose file changed or vanished are dropped when it is rewritten.
    """
    import json

    real = Path(path).resolve()
    info = real.stat()
    key = f"{real}|{info.st_size}|{info.st_mtime_ns}|{info.st_ino}"
    cache_file = Path(cache_file)
    try:
        cache = json.loads(cache_file.read_text())
        if not isinstance(cache, dict):
            cache = {}
    except (OSError, ValueError):
        cache = {}
    if isinstance(cache.get(key), str):
        return cache[key]
    digest = file_digest(real)
    kept = {k: v for k, v in cache.items() if isinstance(v, str) and _still_there(k)}
    kept[key] = digest
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(cache_file, json.dumps(kept, indent=1, sort_keys=True) + "\n")
    except OSError:  # a read-only cache costs a re-read next time, nothing else
        pass
    return digest


def _still_there(key: str) -> bool:
    """Whether the file of a digest-cache key still has that identity."""
    name, _, rest = key.rpartition("|")  # rest = inode
    name, _, mtime = name.rpartition("|")
    name, _, size = name.rpartition("|")
    try:
        info = os.stat(name)
    except OSError:
        return False
    return f"{info.st_size}|{info.st_mtime_ns}|{info.st_ino}" == f"{size}|{mtime}|{rest}"
