"""score_files: progress image by image while the model still scores in batches."""

from __future__ import annotations

import numpy as np
from PIL import Image

from genziqa.jobs.runtime import ScoringOptions, load_for_scoring
from genziqa.jobs.score_files import images_per_call, score_files


def test_progress_advances_per_image_and_scores_do_not_change(tmp_path) -> None:
    paths = []
    for i in range(5):
        rng = np.random.default_rng(i)
        paths.append(tmp_path / f"{i}.png")
        Image.fromarray(rng.integers(0, 256, (32, 40, 3), dtype=np.uint8)).save(paths[-1])
    (tmp_path / "bad.png").write_text("not an image")
    paths.insert(2, tmp_path / "bad.png")
    model = load_for_scoring(ScoringOptions("genziqa-tiny", timesteps=2))
    assert images_per_call(model) == 1  # on the CPU one U-Net call holds one image's rows
    rows, told = [], []
    score_files(model, paths, rows.extend, batch_size=4, num_workers=0, on_progress=told.append)
    assert told == [1, 1, 1, 1, 1, 1]  # 3 scored one by one, then the bad file; 2 more
    assert sum(told) == len(rows) == 6
    whole = model.score([Image.open(p) for p in paths if p.name != "bad.png"], batch_size=8)
    scored = [row["score"] for row in rows if row["status"] == "ok"]
    assert np.array_equal(np.array(scored), whole)  # parts of a batch score as the batch
