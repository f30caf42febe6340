"""``genziqa datasets``: the databases train and evaluate read, and their layouts."""

from __future__ import annotations

from rich.console import Console

from .console import print_table


def datasets() -> int:
    """The databases `train` and `evaluate` read, and what each expects on disk."""
    from ..datasets import describe_datasets

    rows = []
    for entry in describe_datasets():
        low, high = entry.native_range or (None, None)
        label = f"{entry.label_name}, {'lower' if entry.lower_better else 'higher'} is better"
        if low is not None:
            label += f", {low:g}-{high:g}"
        split = "official" if entry.has_official_split else "seeded, by content"
        rows.append([entry.name, entry.title, label, split, entry.layout])
    print_table(["name", "database", "label", "split", "expected under ROOT"], rows, blocks=True)
    Console(highlight=False, soft_wrap=True).print(
        "Use as NAME=ROOT: genziqa evaluate --model M --data clive=/data/ChallengeDB",
        markup=False,
    )
    return 0
