"""Shards by path hash: disjoint, complete, stable."""

from __future__ import annotations

from pathlib import Path

import pytest

from genziqa.jobs.shard import parse_shard, select_shard


def test_shards_are_disjoint_cover_everything_and_do_not_move() -> None:
    files = [Path(f"/data/photos/img{i:03d}.png") for i in range(200)]
    shards = [select_shard(files, k, 4) for k in range(1, 5)]
    assert sorted(p for shard in shards for p in shard) == sorted(files)
    assert all(30 <= len(shard) <= 70 for shard in shards)  # a hash spreads them evenly
    # A file's shard depends on its path only, not on the other files.
    assert select_shard(files[:50], 2, 4) == [p for p in shards[1] if p in files[:50]]
    assert select_shard(files, 1, 1) == files


@pytest.mark.parametrize("text", ["0/2", "3/2", "1", "a/b", "1/0", "-1/2"])
def test_bad_shard_specs(text: str) -> None:
    with pytest.raises(ValueError, match="K/N"):
        parse_shard(text)
    assert parse_shard(" 2 / 4 ") == (2, 4)
