"""Dataset adapters: each turns a database's official files into one canonical table.

    load_table("kadid10k", root)  ->  ADAPTERS["kadid10k"].read  ->  datasets/kadid10k.py

One module per database, named as the database, holds its `INFO` (a DatasetInfo) and its
`read(root, **options)`;
`base.py` holds the canonical-table contract (`make_table`) and the shared checks. The table
has one row per image and exactly the columns path, mos, score, split, ref_id, dataset (see
base.py); splits.py makes seeded content-disjoint splits where there is no official one.
Video databases use the same table, one row per video (their DatasetInfo.media is "video");
low-light sets without a fixed public layout
(e.g. NNID) are read through the generic `csv` adapter.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ..config import unknown_name
from . import (
    agiqa1k,
    agiqa3k,
    aigciqa2023,
    clive,
    csiq,
    csv,
    flive,
    kadid10k,
    koniq10k,
    live,
    pipal,
    spaq,
    synthetic,
    tid2013,
    uhdiqa,
)

# isort: split
from . import (  # video databases (DatasetInfo.media == "video")
    cvd2014,
    konvid1k,
    konvid150ka,
    konvid150kb,
    livevqc,
    liveytgaming,
    liveythfr,
    lsvq,
    lsvq1080p,
    synthetic_video,
    youtubeugc,
)
from .base import COLUMNS, Adapter, DatasetError, DatasetInfo, DatasetWarning

__all__ = [
    "ADAPTERS",
    "COLUMNS",
    "Adapter",
    "DatasetError",
    "DatasetInfo",
    "DatasetWarning",
    "describe_datasets",
    "get_adapter",
    "load_spec",
    "load_specs",
    "load_table",
    "media_of",
    "parse_options",
    "parse_spec",
]

_MODULES = (
    koniq10k,
    clive,
    flive,
    spaq,
    kadid10k,
    agiqa3k,
    agiqa1k,
    aigciqa2023,
    uhdiqa,
    live,
    csiq,
    tid2013,
    pipal,
    synthetic,
    csv,
    konvid1k,
    lsvq,
    lsvq1080p,
    livevqc,
    youtubeugc,
    liveythfr,
    cvd2014,
    konvid150ka,
    konvid150kb,
    liveytgaming,
    synthetic_video,
)

ADAPTERS: dict[str, Adapter] = {m.INFO.name: Adapter(m.INFO, m.read) for m in _MODULES}


def get_adapter(name: str) -> Adapter:
    """The adapter registered under `name` (exact spelling, e.g. "koniq10k")."""
    if name not in ADAPTERS:
        raise DatasetError(unknown_name("dataset", name, sorted(ADAPTERS)))
    return ADAPTERS[name]


def load_table(name: str, root: str | os.PathLike[str], **options: Any) -> pd.DataFrame:
    """The canonical table of database `name` stored under `root`.

    `options` are the adapter's keyword options (e.g. resolution_folder for koniq10k); an
    unknown option is an error that lists the valid ones.
    """
    adapter = get_adapter(name)
    valid = [p for p in inspect.signature(adapter.read).parameters if p != "root"]
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise DatasetError(
            f"unknown option(s) {unknown} for dataset {name!r}; valid options: {valid or 'none'}"
        )
    folder = Path(os.path.abspath(os.path.expanduser(os.fspath(root))))
    if not folder.is_dir():
        raise DatasetError(
            f"expected the {adapter.info.title} folder at {folder}, but it does not exist; "
            f"layout: {adapter.info.layout}"
        )
    return adapter.read(folder, **options)


def parse_spec(spec: str) -> tuple[str, Path]:
    """Split a command-line "NAME=ROOT" into (name, root), checking that NAME is known."""
    name, sep, root = str(spec).partition("=")
    name, root = name.strip(), root.strip()
    if not sep or not name or not root:
        raise DatasetError(f"expected a dataset spec of the form NAME=ROOT, received {spec!r}")
    get_adapter(name)
    return name, Path(root).expanduser()


def parse_options(text: str) -> dict[str, Any]:
    """ "key=value,key=value" -> options; true/false, numbers and low:high ranges converted."""
    options: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key:
            raise DatasetError(f"expected an option KEY=VALUE, received {part!r}")
        options[key.strip()] = _option_value(value.strip())
    return options


def _option_value(value: str) -> Any:
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    if ":" in value:
        parts = value.split(":")
        try:
            return tuple(float(p) for p in parts)
        except ValueError:
            return value
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def load_spec(spec: str) -> tuple[str, pd.DataFrame, bool]:
    """Load "NAME=ROOT[,key=value...]": (name, canonical table, labels are lower-better).

    Options go to the adapter, e.g. ``csv=/data/nnid,path_col=image,score_col=mos,range=0:100``
    or ``csv=/data/mine,lower_better=true``.
    """
    head, _, rest = str(spec).partition(",")
    name, root = parse_spec(head)
    options = parse_options(rest)
    table = load_table(name, root, **options)
    lower_better = bool(options.get("lower_better", get_adapter(name).info.lower_better))
    return name, table, lower_better


def load_specs(specs: Sequence[str]) -> list[tuple[str, pd.DataFrame, bool]]:
    """``load_spec`` for each spec; the same adapter twice (two csv folders) gets names
    ``csv``, ``csv-2``, ... so that results and files of the two never mix."""
    loaded = []
    seen: dict[str, int] = {}
    for spec in specs:
        name, table, lower_better = load_spec(spec)
        seen[name] = seen.get(name, 0) + 1
        loaded.append((name if seen[name] == 1 else f"{name}-{seen[name]}", table, lower_better))
    return loaded


def media_of(spec: str, table: pd.DataFrame) -> str:
    """What the rows of a loaded ``NAME=ROOT`` are, "image" or "video": the adapter's
    ``DatasetInfo.media``, or, for adapters that read any files (csv, synthetic), the files'
    extensions (every row a video extension -> "video"). DatasetError for a table mixing both."""
    if get_adapter(parse_spec(str(spec).partition(",")[0])[0]).info.media == "video":
        return "video"
    from ..io.images import IMAGE_EXTENSIONS
    from ..io.video import VIDEO_EXTENSIONS

    suffixes = {os.path.splitext(str(p))[1].lower() for p in table["path"]}
    videos = {s for s in suffixes if s in VIDEO_EXTENSIONS and s not in IMAGE_EXTENSIONS}
    if videos and videos != suffixes:
        raise DatasetError(
            f"{spec}: the table mixes video files ({', '.join(sorted(videos))}) with other "
            f"files ({', '.join(sorted(suffixes - videos))}); expected images or videos only"
        )
    return "video" if videos else "image"


def describe_datasets() -> list[DatasetInfo]:
    """The DatasetInfo of every adapter, in registry order (for `genziqa datasets`)."""
    return [adapter.info for adapter in ADAPTERS.values()]
