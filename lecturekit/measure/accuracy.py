"""How often a network names the class of fresh scenes correctly."""

from __future__ import annotations

import torch

from lecturekit import scenes
from lecturekit.models import LayeredNetwork
from lecturekit.validation import check_at_least

__all__ = ["scene_accuracy"]


@torch.no_grad()
def scene_accuracy(model: LayeredNetwork, seeds: range, batch_size: int = 250) -> float:
    """Fraction of the scenes with these seeds that ``model`` classifies correctly."""
    check_at_least("batch_size", batch_size, 1)
    if len(seeds) == 0:
        raise ValueError(f"seeds must hold at least one seed, got seeds={seeds!r}")
    correct = 0
    for start in range(0, len(seeds), batch_size):
        images, _, labels = scenes.make_batch(seeds[start:start + batch_size], size=model.input_size)
        logits = model(model.preprocess.normalise(images).to(model.device))
        correct += int((logits.argmax(1).cpu() == labels).sum())
    return correct / len(seeds)
