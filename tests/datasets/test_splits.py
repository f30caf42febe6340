"""Deterministic, order-independent, content-disjoint splits (genziqa.datasets.splits)."""

from __future__ import annotations

import pandas as pd
import pytest

from genziqa.datasets.splits import apply_split, split_by_group


def _table(n_refs: int = 40, per_ref: int = 5, root: str = "/data/db") -> pd.DataFrame:
    rows = [
        {"path": f"{root}/images/I{r:02d}_{k}.png", "ref_id": f"I{r:02d}", "split": ""}
        for r in range(n_refs)
        for k in range(per_ref)
    ]
    return pd.DataFrame(rows)


def test_hard_coded_assignment_catches_a_change_of_hashing_scheme():
    table = pd.DataFrame(
        {
            "path": [f"/data/x/img{i}.png" for i in range(10)],
            "ref_id": ["A", "A", "B", "B", "C", "C", "D", "D", "E", "E"],
        }
    )
    expected = ["train"] * 6 + ["test"] * 2 + ["train"] * 2
    assert split_by_group(table).tolist() == expected
    per_image = pd.DataFrame({"path": [f"/data/x/img{i}.png" for i in range(10)]})
    three = {"train": 0.6, "val": 0.2, "test": 0.2}
    assert split_by_group(per_image, three, group_col=None).tolist() == [
        "train",
        "val",
        "train",
        "train",
        "train",
        "train",
        "test",
        "train",
        "test",
        "val",
    ]


def test_repeated_calls_and_shuffled_input_give_the_same_assignment():
    table = _table()
    first = split_by_group(table)
    assert first.equals(split_by_group(table))
    shuffled = table.sample(frac=1.0, random_state=3)
    again = split_by_group(shuffled)
    assert again.sort_index().equals(first)


def test_groups_never_straddle_splits():
    table = _table()
    table["split"] = split_by_group(table, {"train": 0.7, "val": 0.1, "test": 0.2})
    assert (table.groupby("ref_id")["split"].nunique() == 1).all()


@pytest.mark.parametrize("fractions", [{"train": 0.8, "test": 0.2}, {"a": 0.5, "b": 0.3, "c": 0.2}])
def test_fractions_respected_within_one_group(fractions):
    per_ref = 5
    table = _table(n_refs=60, per_ref=per_ref)
    counts = split_by_group(table, fractions).value_counts()
    for name, fraction in fractions.items():
        assert abs(counts.get(name, 0) - fraction * len(table)) <= per_ref


def test_different_seeds_give_different_splits():
    table = _table()
    assert not split_by_group(table, seed=0).equals(split_by_group(table, seed=1))


def test_rows_without_reference_are_split_per_image_independently_of_the_root():
    here = _table(n_refs=30, per_ref=1, root="/data/db").drop(columns="ref_id")
    there = _table(n_refs=30, per_ref=1, root="/mnt/other/copy").drop(columns="ref_id")
    a = split_by_group(here, group_col="ref_id")  # column absent: per image
    b = split_by_group(there, group_col=None)
    assert a.tolist() == b.tolist()
    assert set(a) == {"train", "test"}


def test_empty_reference_ids_are_their_own_groups():
    table = _table(n_refs=30, per_ref=1)
    table["ref_id"] = ""
    assert set(split_by_group(table)) == {"train", "test"}  # not one giant "" group


@pytest.mark.parametrize(
    "fractions, message",
    [
        ({"train": 0.8, "test": 0.3}, "sum to 1"),
        ({"train": 1.2, "test": -0.2}, "positive"),
        ({}, "non-empty"),
        ({"": 1.0}, "non-empty strings"),
    ],
)
def test_invalid_fractions_are_rejected(fractions, message):
    with pytest.raises(ValueError, match=message):
        split_by_group(_table(), fractions)


def test_apply_split_keeps_an_official_split():
    table = _table(n_refs=4, per_ref=1)
    table["split"] = ["train", "val", "test", "train"]
    result = apply_split(table)
    assert result["split"].tolist() == ["train", "val", "test", "train"]
    assert table is not result


def test_apply_split_splits_by_reference_when_there_is_no_official_split():
    table = _table()
    result = apply_split(table, seed=5)
    assert result["split"].tolist() == split_by_group(table, seed=5).tolist()
    assert (result.groupby("ref_id")["split"].nunique() == 1).all()
    assert (table["split"] == "").all()  # the input is not modified


def test_apply_split_splits_per_image_without_reference_ids():
    table = _table(n_refs=20, per_ref=1)
    table["ref_id"] = ""
    result = apply_split(table, fractions={"train": 0.5, "test": 0.5})
    assert result["split"].tolist() == split_by_group(table, {"train": 0.5, "test": 0.5}).tolist()


def test_apply_split_rejects_a_partly_filled_split():
    table = _table(n_refs=3, per_ref=1)
    table["split"] = ["train", "", "test"]
    with pytest.raises(ValueError, match="1 of 3 rows are empty"):
        apply_split(table)
