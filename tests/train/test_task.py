"""The image task: its losses."""

from __future__ import annotations

import torch

from genziqa.train.task import plcc_loss


def test_plcc_loss_ignores_offset_and_scale() -> None:
    labels = torch.tensor([1.0, 2.0, 3.0, 5.0])
    scores = torch.tensor([0.3, 0.1, 0.7, 0.9])
    base = plcc_loss(scores, labels)
    torch.testing.assert_close(plcc_loss(scores * 40 + 7, labels), base)
    torch.testing.assert_close(plcc_loss(labels * 3 - 1, labels), torch.tensor(0.0))
    torch.testing.assert_close(plcc_loss(-labels, labels), torch.tensor(1.0))
    assert plcc_loss(torch.tensor([1.0]), torch.tensor([2.0])) == 0
