"""The video side of genziqa: frame selection, SlowFast motion features (GenzVQA later)."""
