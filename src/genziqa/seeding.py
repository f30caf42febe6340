"""Seeds and keys that are the same on every machine, Python and run.

Python's ``hash()`` is salted per process, so everything genziqa derives from names (data
order and flips in training, shard membership, content splits, the synthetic benchmark's
noise) goes through sha256 of the parts joined by ":".
"""

from __future__ import annotations

import hashlib
from typing import Literal


def stable_digest(*parts: object) -> bytes:
    """sha256 of ``":".join(str(part) for part in parts)``."""
    return hashlib.sha256(":".join(map(str, parts)).encode()).digest()


def stable_seed(*parts: object, byteorder: Literal["big", "little"] = "big") -> int:
    """A 64-bit integer from the first 8 bytes of ``stable_digest(*parts)``."""
    return int.from_bytes(stable_digest(*parts)[:8], byteorder)
