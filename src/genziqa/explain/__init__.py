"""Why an image got its score: heatmaps from the scoring pass itself (``heatmaps.py``) and
their rendering as labelled overlays (``overlay.py``). Reached through ``GenzIQA.explain``."""
