"""``genziqa datasets``: the databases train and evaluate read, and their layouts."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table


def datasets() -> int:
    """The databases `train` and `evaluate` read, and what each expects on disk."""
    from ..datasets import describe_datasets

    out = Console(highlight=False, soft_wrap=True)
    table = Table(show_lines=True)
    table.add_column("name", no_wrap=True)  # a name is what users type: never split it
    for column in ("database", "label", "split", "expected under ROOT"):
        table.add_column(column, overflow="fold")
    for entry in describe_datasets():
        low, high = entry.native_range or (None, None)
        label = f"{entry.label_name}, {'lower' if entry.lower_better else 'higher'} is better"
        if low is not None:
            label += f", {low:g}-{high:g}"
        split = "official" if entry.has_official_split else "seeded, by content"
        table.add_row(entry.name, entry.title, label, split, entry.layout)
    out.print(table)
    out.print("Use as NAME=ROOT, e.g. `genziqa evaluate --model M --data clive=/data/ChallengeDB`.")
    return 0
