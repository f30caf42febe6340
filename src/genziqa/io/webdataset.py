"""WebDataset shards read in place: samples indexed from the tar headers, image bytes read by
offset, so a shard is never unpacked and one bad member costs only its own sample.

A shard (LAION/DataComp style, as img2dataset writes them) is an uncompressed ``.tar`` whose
members are grouped into samples by key: the member name up to the first dot of its last
part, as WebDataset splits it (``00042.jpg``, ``00042.json``, ``00042.txt`` are sample
``00042``; ``sub/a.b.png`` is sample ``sub/a``, extension ``b.png``). A sample is scored from
its image member: ``jpg``, ``jpeg``, ``png``, ``webp`` first, then any other extension
``genziqa.io.images`` opens. Captions and metadata are not read.

:func:`index_shard` reads only the headers; every problem becomes the one-line ``error`` of a
sample (no image member, a member cut off by a truncated tar) or of the shard (not a tar,
unreadable after N samples). :func:`read_bytes` reads a whole file or one member's span with
``load_image``'s reasons for file errors. Tars compressed as a whole (``.tar.gz``) are not read.
"""

from __future__ import annotations

import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

from .images import IMAGE_EXTENSIONS, ImageError

__all__ = ["PREFERRED_IMAGE_EXTENSIONS", "ShardIndex", "TarSample", "index_shard", "read_bytes"]

PREFERRED_IMAGE_EXTENSIONS = ("jpg", "jpeg", "png", "webp")
_KEY = re.compile(r"^((?:.*/|)[^.]+)[.]([^/]*)$")  # WebDataset's own key / extension split


@dataclass(frozen=True)
class TarSample:
    """One sample of a shard: its key, where its image member's bytes are, or why it has none."""

    key: str
    offset: int = 0
    size: int = 0
    error: str = ""


@dataclass(frozen=True)
class ShardIndex:
    """The samples of a shard in tar order, and ``error`` when the archive itself failed (not
    a tar: no samples; cut or corrupt: the samples before the damage)."""

    samples: list[TarSample]
    error: str = ""


def index_shard(tar: str | Path) -> ShardIndex:
    """The samples of one uncompressed WebDataset shard, from its headers only."""
    tar = Path(tar)
    try:
        archive = tarfile.open(tar, mode="r:")  # noqa: SIM115 - closed by the `with` below
    except (tarfile.TarError, OSError) as error:
        return ShardIndex([], f"not a readable uncompressed tar archive ({_first_line(error)})")
    members: dict[str, dict[str, tarfile.TarInfo]] = {}
    cut = ""
    with archive:
        try:
            for member in archive:
                if not member.isfile() or Path(member.name).name.startswith("."):
                    continue
                match = _KEY.match(member.name)
                if match:
                    members.setdefault(match[1], {}).setdefault(match[2], member)
        except (tarfile.TarError, OSError) as error:
            cut = _first_line(error)
    file_size = tar.stat().st_size
    samples = []
    for key, by_extension in members.items():
        extension = _image_member(by_extension)
        if extension is None:
            found = ", ".join(f".{ext}" for ext in sorted(by_extension))
            error = f"no image member in this WebDataset sample (found {found})"
            samples.append(TarSample(key, error=error))
            continue
        member = by_extension[extension]
        error = ""
        if member.offset_data + member.size > file_size:
            error = f"tar member {member.name} is cut short (the tar is truncated)"
        samples.append(TarSample(key, member.offset_data, member.size, error))
    error = f"tar archive unreadable after {len(samples)} samples ({cut})" if cut else ""
    return ShardIndex(samples, error)


def _image_member(members: dict[str, tarfile.TarInfo]) -> str | None:
    by_lower = {ext.lower(): ext for ext in members}
    for preferred in PREFERRED_IMAGE_EXTENSIONS:
        if preferred in by_lower:
            return by_lower[preferred]
    others = sorted(ext for low, ext in by_lower.items() if f".{low}" in IMAGE_EXTENSIONS)
    return others[0] if others else None


def read_bytes(file: str | Path, offset: int = 0, size: int = -1, name: str = "") -> bytes:
    """A whole file (``size < 0``) or ``size`` bytes at ``offset`` (a tar member).

    Raises :class:`ImageError` labelled ``name`` (default: the file) with the reasons
    ``load_image`` gives for file errors, or saying the member was cut short.
    """
    label = name or str(file)
    try:
        with open(file, "rb") as handle:
            if size < 0:
                return handle.read()
            handle.seek(offset)
            data = handle.read(size)
    except FileNotFoundError:
        raise ImageError(label, "file not found") from None
    except IsADirectoryError:
        raise ImageError(label, "is a directory, not an image file") from None
    except PermissionError:
        if Path(file).is_dir():
            raise ImageError(label, "is a directory, not an image file") from None
        raise ImageError(label, "permission denied (the file cannot be read)") from None
    except OSError as error:
        raise ImageError(label, f"could not read the file ({error.strerror or error})") from None
    if len(data) < size:
        raise ImageError(label, f"tar member cut short: {len(data)} of {size} bytes")
    return data


def _first_line(error: object) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
