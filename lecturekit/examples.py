"""The images the lecture explains, the same in every notebook and figure.

On the ImageNet AlexNet: Chelsea the cat (scikit-image's sample photograph),
explained by the class "tabby", as in the lecture's saliency slides. On the
bundled toy model: fresh generated scenes the model classifies correctly, each
with its true class and its object's mask, so that maps can be scored against
where the object really is.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lecturekit import scenes
from lecturekit.images import sample_image
from lecturekit.models import LayeredAlexNet

__all__ = ["CAT_CLASS", "EXAMPLE_SCENES", "Example", "lecture_example"]

EXAMPLE_SCENES: tuple[int, ...] = (14, 12, 7, 2)
"""Offsets into :func:`lecturekit.scenes.test_seeds` of the toy examples: fresh scenes
(a star, a ring, a crescent, a cross) that the toy model classifies correctly."""

CAT_CLASS = "tabby"
"""The ImageNet class of the cat photograph (Chelsea is a tabby)."""


@dataclass
class Example:
    """Images to explain, with the class to explain them by.

    ``images01`` (N, 3, H, W) in [0, 1] at the model's input size, ``batch``
    the same normalised for the model, ``labels`` one class index per image,
    ``masks`` (N, H, W) the objects' pixels (toy scenes only, else None).
    """

    images01: torch.Tensor
    batch: torch.Tensor
    labels: torch.Tensor
    masks: torch.Tensor | None

    def class_names(self, model: LayeredAlexNet) -> list[str]:
        """The name of each image's class."""
        return [model.classes[int(label)] for label in self.labels]


def lecture_example(model: LayeredAlexNet, n: int = 1) -> Example:
    """The image(s) the notebooks explain on ``model``.

    ImageNet AlexNet: the cat photograph, class "tabby" (one image, whatever
    ``n``). Toy model: the first ``n`` (at most 4) of :data:`EXAMPLE_SCENES`,
    each with its true class and object mask.
    """
    if model.name == "toy":
        if not 1 <= n <= len(EXAMPLE_SCENES):
            raise ValueError(f"n must be in 1..{len(EXAMPLE_SCENES)}, got {n!r}")
        seeds = [scenes.test_seeds(1, offset)[0] for offset in EXAMPLE_SCENES[:n]]
        images01, masks, labels = scenes.make_batch(seeds, size=model.input_size)
        return Example(images01, model.preprocess.normalise(images01), labels, masks)
    batch = model.preprocess(sample_image("chelsea"))
    labels = torch.tensor([model.class_index(CAT_CLASS)])
    return Example(model.deprocess(batch), batch, labels, None)
