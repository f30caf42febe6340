"""Writes that survive a kill or a power cut (atomic files and folders, fsync), and the content
digest that names what was written (caches are keyed by it).

:class:`FileLock` keeps two processes from writing the same output at once.

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
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import IO


def _umask() -> int:
    """The process umask, read without changing it where the system allows (Linux)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore at once
    os.umask(mask)
    return mask


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
        os.fchmod(descriptor, 0o666 & ~_umask())  # mkstemp makes 0600; open() would not
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
    staging.chmod(0o777 & ~_umask())  # mkdtemp makes 0700; a plain mkdir would not
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


class LockHeldError(RuntimeError):
    """Another process holds the lock; ``holder`` is its process id when it wrote one."""

    def __init__(self, path: Path, holder: int | None) -> None:
        self.path = Path(path)
        self.holder = holder
        by = f"process {holder}" if holder else "another process"
        super().__init__(f"{path} is locked by {by}")


class FileLock:
    """An exclusive OS-level lock (``fcntl.flock``) on a lock file, held until :meth:`release`.

    The operating system drops the lock when the process ends, however it ends (an exception,
    Ctrl-C, SIGKILL), so a killed run never leaves a stale lock: a leftover lock file is taken
    over at once. The holder's process id is written
    into the file for the message others get. :meth:`release` removes the file while still
    holding the lock; a process that opened the file before that notices (the path no longer
    names the file it locked) and tries again with a fresh one. Forked children (decoding
    workers) close their inherited copy at once, so that the lock goes when the parent does,
    not when its last worker notices. Where ``fcntl`` does not exist
    (Windows) the lock is only advisory bookkeeping: nothing is locked.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._file: IO[bytes] | None = None
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            return
        while True:
            descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _pid_in(descriptor)
                os.close(descriptor)
                raise LockHeldError(self.path, holder) from None
            except BaseException:
                os.close(descriptor)
                raise
            try:
                same = os.path.samestat(os.fstat(descriptor), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(descriptor)  # released and removed meanwhile: lock the new file
        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"{os.getpid()}\n".encode())
        # A file object, so that a lock whose owner is dropped unclosed is released with it.
        self._file = os.fdopen(descriptor, "r+b", buffering=0)
        _HELD.add(self)

    def release(self) -> None:
        """Remove the lock file and drop the lock (idempotent)."""
        if self._file is None:
            return
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        self._file.close()
        self._file = None
        _HELD.discard(self)

    def _drop_in_child(self) -> None:
        """In a forked child (a decoding worker): close the inherited descriptor. The lock is
        the parent's; a child holding a copy would keep it alive after the parent was killed,
        and a child must never remove the parent's lock file."""
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None

    def __enter__(self) -> FileLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


_HELD: weakref.WeakSet[FileLock] = weakref.WeakSet()


def _drop_locks_in_child() -> None:
    for lock in list(_HELD):
        lock._drop_in_child()
    _HELD.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_drop_locks_in_child)


def _pid_in(descriptor: int) -> int | None:
    try:
        text = os.pread(descriptor, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


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
